"""Streaming text input and atomic output: numbered lines, strict UTF-8, documents, line counts.

Nothing here reads a whole file: memory is bounded by the longest line (or blank-line separated
document), never by the size of a file.
"""
import contextlib
import logging
import os
from collections import Counter

logger = logging.getLogger(__name__)


class InputError(Exception):
    """Bad input that the user must fix; the CLIs print it and exit with status 2."""


# Characters some line readers treat as line breaks (Python's str.splitlines, universal-newline
# text mode used by fairseq-preprocess): inside a line they would break line alignment downstream.
_LINE_BREAKS = str.maketrans({c: " " for c in "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})

INVALID_UTF8_CHOICES = ("error", "skip")
FORMAT_CHOICES = ("lines", "paragraphs")
_REPORTED_SKIPS = 10  # invalid lines named one by one before only counting them


def count_lines(path, block_size=1 << 24):
    """Number of lines of a file (a last line without a newline counts), reading blocks."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(block_size):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def decode_line(raw, path, lineno):
    """Strict UTF-8 decoding of one line; raises InputError naming the file and line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line); "
            f"convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8) or pass --invalid-utf8 skip"
        ) from None
    return text.rstrip("\r\n").translate(_LINE_BREAKS)


def _decoded_lines(path, invalid_utf8, stats):
    """Yield (line number, text or None for a skipped invalid line)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            stats["bytes"] += len(raw)
            stats["lines_in"] += 1
            try:
                yield lineno, decode_line(raw, path, lineno)
            except InputError as e:
                if invalid_utf8 != "skip":
                    raise
                stats["invalid_utf8_skipped"] += 1
                if stats["invalid_utf8_skipped"] <= _REPORTED_SKIPS:
                    logger.warning("skipped: %s", str(e).split(";")[0])
                yield lineno, None


def documents(path, fmt="lines", invalid_utf8="error", stats=None):
    """Yield ``(first line number, document text)``.

    ``lines``: one document a line; empty lines are dropped and counted (``empty_dropped``).
    ``paragraphs``: documents are separated by blank lines; a document's lines are joined with
    a space. Invalid UTF-8 lines raise InputError, or with ``invalid_utf8="skip"`` are left out and
    counted (``invalid_utf8_skipped``). ``stats`` (a Counter) also counts ``bytes`` read.
    """
    stats = Counter() if stats is None else stats
    if fmt == "lines":
        for lineno, text in _decoded_lines(path, invalid_utf8, stats):
            if text is None:
                continue
            if not text.strip():
                stats["empty_dropped"] += 1
                continue
            yield lineno, text
        return
    start, parts = None, []
    for lineno, text in _decoded_lines(path, invalid_utf8, stats):
        if text is not None and not text.strip():
            if parts:
                yield start, " ".join(parts)
            start, parts = None, []
        elif text is not None:
            start = lineno if start is None else start
            parts.append(text.strip())
    if parts:
        yield start, " ".join(parts)


def aligned_pairs(src_path, tgt_path, invalid_utf8="error", stats=None):
    """Yield ``(line number, (source, target))`` for line-aligned parallel files.

    Check the line counts first (``check_same_line_count``). A pair with an invalid UTF-8 side is
    an error or, with ``invalid_utf8="skip"``, skipped as a whole (alignment is kept); a pair with
    an empty side is dropped and counted (``empty_dropped``).
    """
    stats = Counter() if stats is None else stats
    src = _decoded_lines(src_path, invalid_utf8, stats)
    tgt = _decoded_lines(tgt_path, invalid_utf8, stats)
    for (lineno, s), (_, t) in zip(src, tgt):
        if s is None or t is None:
            continue
        if not s.strip() or not t.strip():
            stats["empty_dropped"] += 1
            continue
        yield lineno, (s, t)


def check_same_line_count(src_path, tgt_path):
    """Raise InputError naming both files and both counts if they differ; return the count."""
    n_src, n_tgt = count_lines(src_path), count_lines(tgt_path)
    if n_src != n_tgt:
        raise InputError(
            f"{src_path} has {n_src} lines but {tgt_path} has {n_tgt}: parallel files must be line-aligned "
            f"(one source and its target on the same line number); fix the files and run again"
        )
    return n_src


@contextlib.contextmanager
def atomic_outputs(paths, binary=False):
    """Open ``path.tmp`` for each path (text, UTF-8; or bytes); on success fsync and rename every one to its
    final name, on any error remove them. A final name therefore only ever holds a complete file;
    a kill leaves at most ``.tmp`` files, which the next run overwrites."""
    tmps = [f"{p}.tmp" for p in paths]
    files = [open(t, "wb") if binary else open(t, "w", encoding="utf-8", newline="\n") for t in tmps]  # noqa: SIM115
    try:
        yield files
        for f in files:
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        for f, t in zip(files, tmps):
            f.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(t)
        raise
    for f in files:
        f.close()
    for t, p in zip(tmps, paths):
        os.replace(t, p)


def complete(paths):
    """True when every final output exists (they are only created by a completed rename)."""
    return all(os.path.exists(p) for p in paths)
