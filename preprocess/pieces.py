"""Pieces of one binarization run on many machines: which shards a piece holds, a line index of
the inputs so that a piece reads only its own lines, and the record a finished shard leaves.

``binarize.py --prepare`` reads every input once (the read that plan.json's line counts and
SHA-256 need anyway) and writes ``DATA_BIN/.pieces/index.json``: per input file its size,
modification time, line count, SHA-256, and per block of ``block`` bytes the number of newlines
in it and the block's SHA-256. From it a piece finds the byte offset of any line by reading one
block (``line_offset``), reads only its shards' byte ranges (``read_lines``), and checks every
block it reads against the recorded digest: an input edited since --prepare is refused where it
is read, without hashing the whole corpus in every piece. A piece holds the contiguous shards
``K*S//N ... (K+1)*S//N - 1`` of S (``piece_shards``, the rule of ``shards.shard_ranges``), so
``--piece K/S`` is shard K alone. Each finished shard gets ``DATA_BIN/.pieces/shardK.json``
(``write_stamp``): the SHA-256 of the plan.json it was binarized under, its line range and the
sizes of its files, which ``binarize.py --assemble`` checks before it writes the data path.
``shard_lock`` keeps two processes from binarizing the same shard at once (an flock, released
when its process dies, also after ``kill -9``).
"""
import contextlib
import fcntl
import hashlib
import json
import os
import re
import time

from preprocess.shards import check_line
from preprocess.textio import InputError, atomic_outputs

DEFAULT_BLOCK_BYTES = 16 << 20  # 10 000 digests for 160 GB; a piece reads at most 2 blocks beyond its range
INDEX_VERSION = 1
DEAD_HOLDER_WAIT_S = 10.0  # a killed piece's fairseq-preprocess and workers are SIGKILLed by the kernel


def parse_piece(text):
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N`` (K counts from 0: SLURM_ARRAY_TASK_ID of ``--array=0-(N-1)``)."""
    m = re.fullmatch(r"(\d+)/(\d+)", text or "")
    if not m or not int(m[2]) or int(m[1]) >= int(m[2]):
        raise InputError(f"--piece {text}: give K/N with 0 <= K < N (piece K of N, counted from 0), e.g. "
                         f"--piece $SLURM_ARRAY_TASK_ID/8 in a job array --array=0-7")
    return int(m[1]), int(m[2])


def piece_shards(k, n, shards):
    """The shards of piece ``k`` of ``n``: ``range(k*S//n, (k+1)*S//n)`` (contiguous, every shard in
    exactly one piece; ``n`` must not exceed ``shards``, else some pieces would hold none)."""
    if n > shards:
        raise InputError(f"--piece {k}/{n}: {n} pieces for {shards} shard(s); a piece holds whole shards, so give at "
                         f"most {shards} pieces (or more --shards)")
    return range(k * shards // n, (k + 1) * shards // n)


def piece_of(shard, n, shards):
    """The piece (of ``n``) that holds ``shard``: the inverse of ``piece_shards``."""
    return next(k for k in range(n) if shard in piece_shards(k, n, shards))


def index_file(path, block=DEFAULT_BLOCK_BYTES):
    """One streamed read of ``path``: ``{"lines", "sha256", "size", "mtime_ns", "block", "blocks"}``,
    ``blocks`` holding ``[newlines, sha256]`` per block of ``block`` bytes. ``lines`` counts a last
    line without a newline, as ``textio.count_lines`` does."""
    st = os.stat(path)
    whole, blocks, last = hashlib.sha256(), [], b"\n"
    with open(path, "rb") as f:
        while data := f.read(block):
            whole.update(data)
            blocks.append([data.count(b"\n"), hashlib.sha256(data).hexdigest()])
            last = data[-1:]
    lines = sum(n for n, _ in blocks) + (last != b"\n")
    return {"lines": lines, "sha256": whole.hexdigest(), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "block": block, "blocks": blocks}


def check_unchanged(path, entry, index_path):
    """Refuse ``path`` when its size or modification time differs from its ``entry`` in the index."""
    st = os.stat(path)
    if (st.st_size, st.st_mtime_ns) != (entry["size"], entry["mtime_ns"]):
        raise InputError(f"{path} changed since {index_path} was written by --prepare (size or modification time "
                         f"differs): the pieces must read the text --prepare planned; restore the file, or "
                         f"binarize the new text in a new --destdir (--prepare, the pieces, --assemble)")


def _read_block(f, path, entry, i, index_path):
    """Block ``i`` of an open input, checked against its recorded SHA-256."""
    f.seek(i * entry["block"])
    data = f.read(entry["block"])
    if hashlib.sha256(data).hexdigest() != entry["blocks"][i][1]:
        raise InputError(f"{path} changed since {index_path} was written by --prepare (bytes {i * entry['block']}-"
                         f"{i * entry['block'] + len(data)} have other content, same size and time): restore the "
                         f"file, or binarize the new text in a new --destdir")
    return data


def line_offset(path, entry, line, index_path="the piece index"):
    """Byte offset where line ``line`` (counted from 0) of ``path`` starts (its size for ``line >=
    entry["lines"]``). Reads the one block holding that line's preceding newline, checked."""
    if line <= 0:
        return 0
    if line >= entry["lines"]:
        return entry["size"]
    before = 0
    for i, (newlines, _) in enumerate(entry["blocks"]):
        if before + newlines >= line:  # the line-th newline ends in this block
            with open(path, "rb") as f:
                data = _read_block(f, path, entry, i, index_path)
            pos = -1
            for _ in range(line - before):
                pos = data.index(b"\n", pos + 1)
            return i * entry["block"] + pos + 1
        before += newlines
    raise AssertionError("unreachable: line < entry['lines']")


def read_lines(path, entry, start, end, first_lineno, index_path="the piece index"):
    """Yield the lines of ``path`` between byte offsets ``start`` and ``end`` (line starts), as bytes
    ending with a newline (a last line without one gets it), each checked (``shards.check_line``,
    FILE:LINE from ``first_lineno``, the line number of the line at ``start``). Each block is
    checked against its recorded SHA-256 before any of its lines is yielded."""
    block, lineno, rest = entry["block"], first_lineno, b""
    with open(path, "rb") as f:
        for i in range(start // block, (end + block - 1) // block):
            data = _read_block(f, path, entry, i, index_path)
            lo, hi = max(start - i * block, 0), min(end - i * block, len(data))
            lines = (rest + data[lo:hi]).split(b"\n")
            rest = lines.pop()
            for line in lines:
                line += b"\n"
                check_line(line, path, lineno)
                lineno += 1
                yield line
    if rest:  # the file's last line, without a newline
        check_line(rest, path, lineno)
        yield rest + b"\n"


def corpus_range(files, entries, lo, hi, index_path="the piece index"):
    """Lines ``lo`` to ``hi`` (not included; counted from 0 over the concatenation of ``files``, as
    ``shards.corpus_lines`` reads them) of one stream, reading only the files and byte ranges
    they fall in."""
    first = 0
    for path in files:
        entry = entries[path]
        a, b = max(lo - first, 0), min(hi - first, entry["lines"])
        if a < b:
            yield from read_lines(path, entry, line_offset(path, entry, a, index_path),
                                  line_offset(path, entry, b, index_path), a + 1, index_path)
        first += entry["lines"]
        if first >= hi:
            return


def records_range(streams, entries, lo, hi, index_path="the piece index"):
    """Aligned lines ``lo`` to ``hi`` of several streams (text, or source and target), as ``shards.records``."""
    return zip(*(corpus_range(files, entries, lo, hi, index_path) for files in streams))


# --- the piece directory: DATA_BIN/.pieces ------------------------------------------------------

def pieces_dir(destdir):
    return os.path.join(destdir, ".pieces")


def index_path(destdir):
    return os.path.join(pieces_dir(destdir), "index.json")


def stamp_path(destdir, shard):
    return os.path.join(pieces_dir(destdir), f"shard{shard}.json")


def write_json(path, obj):
    """Atomically, under a name unique to this process (pieces on several machines write side by side)."""
    tmp = f"{path}.{os.uname().nodename}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def dir_listing(directory):
    """``{file name: size}`` of a shard directory."""
    return {n: os.path.getsize(os.path.join(directory, n)) for n in sorted(os.listdir(directory))}


def write_stamp(destdir, shard, plan_sha256, lines, shard_dir, counts, piece):
    """Record a finished shard: the plan it was binarized under, its line range, its files' sizes,
    its token counts (for --assemble's <unk> rate of the whole run) and the piece that made it."""
    write_json(stamp_path(destdir, shard), {
        "plan_sha256": plan_sha256, "shard": shard, "lines": list(lines), "files": dir_listing(shard_dir),
        "tokens": counts["tokens"], "unk_tokens": counts["unk_tokens"], "bytes": counts.get("bytes", 0),
        "piece": piece,
    })


@contextlib.contextmanager
def shard_lock(destdir, shard):
    """Hold an exclusive flock on ``.pieces/shardK.lock`` (InputError when another process holds
    it: two pieces must not write the same ``shardK.tmp``); yields its descriptor, which the
    piece hands to fairseq-preprocess, so that the lock lasts while any of them runs. The kernel
    releases it when they have all ended, and they end with the piece (preprocess/lifetime.py),
    so a killed piece's lock is released with it: a lock whose holder on this machine has
    ended is waited for up to ``DEAD_HOLDER_WAIT_S`` (its children still being killed)."""
    path = os.path.join(pieces_dir(destdir), f"shard{shard}.lock")
    with open(path, "a+") as f:
        deadline = time.monotonic() + DEAD_HOLDER_WAIT_S
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                host, _, pid = holder.partition(" pid ")
                dead = host == os.uname().nodename and pid.isdigit() and not os.path.exists(f"/proc/{pid}")
                if dead and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                if dead:
                    raise InputError(f"shard{shard} is still locked ({path}) by a process that {holder} started: "
                                     f"that piece has ended (killed?), this process has not; find it with fuser "
                                     f"{path}, stop it, then rerun") from None
                raise InputError(f"shard{shard} is being binarized right now by {holder} (or by a fairseq-preprocess "
                                 f"it started, which holds {path} too): wait for it to finish, or stop it; two "
                                 f"pieces must not write the same shard") from None
        f.seek(0)
        f.truncate()
        f.write(f"{os.uname().nodename} pid {os.getpid()}\n")
        f.flush()
        try:
            yield f.fileno()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def lock_is_held(destdir, shard):
    """True when a running process holds ``shardK.lock`` (a piece is binarizing that shard now)."""
    path = os.path.join(pieces_dir(destdir), f"shard{shard}.lock")
    if not os.path.exists(path):
        return False
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def plan_digest(plan_path):
    with open(plan_path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def atomic_text(paths, rows):
    """Write aligned rows (tuples of bytes lines) to ``paths`` atomically (``textio.atomic_outputs``)."""
    with atomic_outputs(paths, binary=True) as files:
        for row in rows:
            for f, line in zip(files, row):
                f.write(line)
