"""Streaming text input and atomic output: numbered lines, strict UTF-8, documents, line counts.

Nothing here reads a whole file: memory is bounded by the longest line (or, for blank-line
separated documents, by ``max_document_chars`` plus one line), never by the size of a file.
"""
import contextlib
import hashlib
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
DEFAULT_MAX_DOCUMENT_CHARS = 1 << 20  # paragraphs: a document this long is emitted as it is


def count_lines(path, block_size=1 << 24):
    """Number of lines of a file (a last line without a newline counts), reading blocks."""
    n, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(block_size):
            n += block.count(b"\n")
            last = block[-1:]
    return n + (last != b"\n")


def count_lines_and_sha256(path, block_size=1 << 24):
    """``(lines, sha256 hex)`` of a file in one streamed read (``count_lines``'s count).

    The digest lets a resume tell an edited input from the one recorded, also when the edit
    keeps the byte size and the line count. Hashing costs little next to the read: measured on
    a 400 MB file in the page cache, counting alone ran at 1.7 GB/s and counting + SHA-256 at
    0.84 GB/s, against ~4 MB/s for fairseq-preprocess on the same machine."""
    n, last, h = 0, b"\n", hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(block_size):
            n += block.count(b"\n")
            h.update(block)
            last = block[-1:]
    return n + (last != b"\n"), h.hexdigest()


def strict_utf8(raw, path, lineno, hint="or pass --invalid-utf8 skip"):
    """Strict UTF-8 decoding of one line (bytes); raises InputError naming the file and line."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x} at byte {e.start + 1} of the line); "
            f"convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8){' ' + hint if hint else ''}"
        ) from None


def decode_line(raw, path, lineno, hint="or pass --invalid-utf8 skip"):
    """One line (bytes, as split on b"\\n") as text: strict UTF-8, the line ending (LF or CRLF)
    removed, every other line-break character turned into a space."""
    return strict_utf8(raw, path, lineno, hint).rstrip("\r\n").translate(_LINE_BREAKS)


def _decoded_lines(path, invalid_utf8, stats):
    """Yield each line's text, or None for a skipped invalid line (counted in ``stats``)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            stats["bytes"] += len(raw)
            stats["lines_in"] += 1
            try:
                yield decode_line(raw, path, lineno)
            except InputError as e:
                if invalid_utf8 != "skip":
                    raise
                stats["invalid_utf8_skipped"] += 1
                if stats["invalid_utf8_skipped"] <= _REPORTED_SKIPS:
                    logger.warning("skipped: %s", str(e).split(";")[0])
                yield None


def documents(path, fmt="lines", invalid_utf8="error", stats=None, max_document_chars=DEFAULT_MAX_DOCUMENT_CHARS):
    """Yield the documents of a file (text).

    ``lines``: one document a line; empty lines are dropped and counted (``empty_dropped``).
    ``paragraphs``: documents are separated by blank lines; a document's lines are joined with
    a space. A document that reaches ``max_document_chars`` characters is emitted as it is and
    the following lines start a new one (counted: ``documents_cut``), so memory stays bounded by
    that cap plus one line even in a file without blank lines. Invalid UTF-8 lines raise
    InputError, or with ``invalid_utf8="skip"`` are left out and counted
    (``invalid_utf8_skipped``). ``stats`` (a Counter) also counts ``lines_in`` and ``bytes`` read.
    """
    stats = Counter() if stats is None else stats
    if fmt == "lines":
        for text in _decoded_lines(path, invalid_utf8, stats):
            if text is None:
                continue
            if not text.strip():
                stats["empty_dropped"] += 1
                continue
            yield text
        return
    parts, size = [], 0
    for text in _decoded_lines(path, invalid_utf8, stats):
        if text is None:
            continue
        text = text.strip()
        if not text:
            if parts:
                yield " ".join(parts)
            parts, size = [], 0
            continue
        parts.append(text)
        size += len(text) + 1
        if max_document_chars and size >= max_document_chars:
            stats["documents_cut"] += 1
            yield " ".join(parts)
            parts, size = [], 0
    if parts:
        yield " ".join(parts)


def aligned_pairs(src_path, tgt_path, invalid_utf8="error", stats=None):
    """Yield ``(source, target)`` text pairs of line-aligned parallel files (check their line
    counts first: ``check_same_line_count``; a longer file's extra lines are never read).

    A pair with an invalid UTF-8 side is an error or, with ``invalid_utf8="skip"``, skipped as a
    whole (alignment is kept) and counted once (``invalid_utf8_skipped``); a pair with an empty
    side is dropped and counted (``empty_dropped``). ``stats`` counts pairs (``lines_in``) and the
    bytes read from both files (``bytes``).
    """
    stats = Counter() if stats is None else stats
    sides = [Counter(), Counter()]
    src = _decoded_lines(src_path, invalid_utf8, sides[0])
    tgt = _decoded_lines(tgt_path, invalid_utf8, sides[1])
    try:
        for s, t in zip(src, tgt):
            stats["lines_in"] += 1
            if s is None or t is None:
                stats["invalid_utf8_skipped"] += 1
                continue
            if not s.strip() or not t.strip():
                stats["empty_dropped"] += 1
                continue
            yield s, t
    finally:
        stats["bytes"] += sides[0]["bytes"] + sides[1]["bytes"]


def input_files(prefix, langs):
    """The files of one input: ``[prefix]``, or ``[prefix.SRC, prefix.TGT]`` for a language pair;
    each must exist."""
    paths = [f"{prefix}.{lang}" for lang in langs] if langs else [prefix]
    for path in paths:
        if not os.path.isfile(path):
            raise InputError(f"{path}: no such file")
    return paths


def lang_pair(source_lang, target_lang):
    """``[]`` for monolingual data, ``[SRC, TGT]`` for parallel data; one without the other is an error."""
    if bool(source_lang) != bool(target_lang):
        raise InputError("give both --source-lang and --target-lang, or neither")
    return [source_lang, target_lang] if source_lang else []


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


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def complete(paths):
    """True when every final output exists (they are only created by a completed rename)."""
    return all(os.path.exists(p) for p in paths)
