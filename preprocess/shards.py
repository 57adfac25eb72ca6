"""Contiguous line ranges, streamed: which lines of the encoded corpus go to which shard.

The corpus is the concatenation of the input files in the order given. With ``H`` held-out
validation lines and ``L`` lines in all, the first ``H`` lines are the validation set and shard
``k`` of ``N`` holds lines ``H + k*(L-H)//N`` up to (not including) ``H + (k+1)*(L-H)//N``: a line
(document) is never split, and concatenating valid, shard0, ..., shardN-1 gives the corpus back.
"""
import itertools

from preprocess.textio import InputError, strict_utf8


def shard_ranges(total, shards, held_out=0):
    """``[(start, end), ...]`` line ranges of the shards, after ``held_out`` leading lines."""
    n = total - held_out
    return [(held_out + k * n // shards, held_out + (k + 1) * n // shards) for k in range(shards)]


def check_line(line, path, lineno):
    """Refuse a line fairseq-preprocess would not read as exactly one line of text: invalid UTF-8
    (a traceback there), or a carriage return other than a final CRLF's (fairseq reads text with
    universal newlines, where a lone "\\r" ends a line; the other characters str.splitlines breaks
    at, like "\\x0b", "\\x85" or "\\u2028", are only whitespace to it)."""
    strict_utf8(line, path, lineno, hint="then encode it again with preprocess/encode.py")
    body = line[:-1] if line.endswith(b"\n") else line
    if b"\r" in body.removesuffix(b"\r"):
        col = body.index(b"\r") + 1
        raise InputError(f"{path}:{lineno}: a carriage return (\\r) inside the line (byte {col}) would split it "
                         f"in fairseq-preprocess; encode the raw text with preprocess/encode.py, which turns such "
                         f"characters into spaces")


def corpus_lines(files):
    """The lines of ``files`` one after the other, as bytes, each ending with a newline; each
    line is checked (``check_line``: InputError naming FILE:LINE)."""
    for path in files:
        with open(path, "rb") as f:
            for lineno, line in enumerate(f, 1):
                check_line(line, path, lineno)
                yield line if line.endswith(b"\n") else line + b"\n"


def records(streams):
    """Aligned lines of several streams (one list of files each: text, or source and target)."""
    return zip(*(corpus_lines(files) for files in streams))


def take(iterator, n):
    return itertools.islice(iterator, n)


def skip(iterator, n):
    """Advance ``iterator`` by ``n`` items (still reads them: lines have no fixed offsets)."""
    for _ in itertools.islice(iterator, n):
        pass
