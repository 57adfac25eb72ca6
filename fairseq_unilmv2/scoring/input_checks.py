"""Reading and checking the hypothesis and reference files of ``unilmv2-score``.

Text that is not detokenized scores low without any error: SentencePiece pieces
(``▁Whil e ▁brain``) make a perfect system score ROUGE-1 about 68, and fairseq-generate's
``H-``/``D-`` lines score their ids and log-probabilities as words. So the files are checked
before scoring, and each problem stops the scorer with the file, the line and what to do.
Every check is a pure function of the lines; ``--no-format-check`` skips the format checks.
"""
import re
from typing import List, Optional

# SentencePiece's word-start mark U+2581 ("▁"): no ordinary text contains it.
_SENTENCEPIECE = re.compile("\u2581")
# A WordPiece continuation: a token that starts with "##" followed by a word character
# ("## Methods", a markdown heading, is not one).
_WORDPIECE = re.compile(r"(?<!\S)##\w")
# fairseq-generate/interactive output: S-, T-, H-, D-, P-, ... then the example id and a tab.
_FAIRSEQ_LINE = re.compile(r"^[A-Z]-\d+\t")


class InputError(Exception):
    pass


def read_lines(path: str, what: str) -> List[str]:
    """The lines of ``path`` (split on ``\\n`` only; a final newline and CRLF endings are fine).

    Raises InputError for a missing or unreadable file, invalid UTF-8 (with the line) and an
    empty file (no line at all: nothing to score is an error, not a score of 0).
    """
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        raise InputError(f"{what} file {path} does not exist")
    except OSError as e:
        raise InputError(f"cannot read {what} file {path}: {e.strerror}")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        raise InputError(f"{what} file {path} is empty: one example a line")
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise InputError(f"{path}:{number}: invalid UTF-8 at byte {e.start} of the line; fix or re-encode the file")
    return out


def format_problem(lines: List[str], path: str, what: str) -> Optional[str]:
    """The first sign that ``lines`` are not plain detokenized text, as a message, else None."""
    for number, line in enumerate(lines, start=1):
        if _FAIRSEQ_LINE.match(line):
            how = ("grep '^D-' generate.out | sort -V | cut -f3- > hyps.txt" if what == "hypothesis"
                   else "the raw target text (not fairseq's T- lines)")
            return (f"{path}:{number}: this {what} file holds fairseq-generate output "
                    f"({line.split(chr(9))[0]}<TAB>...), not one example a line; use {how}")
        if _SENTENCEPIECE.search(line):
            return (f"{path}:{number}: SentencePiece pieces ('\u2581'): this {what} file is not detokenized; "
                    f"decode with --post-process sentencepiece (fairseq-generate/interactive) or spm_decode, "
                    f"or ROUGE/BLEU count pieces instead of words")
        if _WORDPIECE.search(line):
            return (f"{path}:{number}: WordPiece pieces ('##'): this {what} file is not detokenized; "
                    f"join them first (sed 's/ ##//g'), or ROUGE/BLEU count pieces instead of words")
    return None


def check_pair(hyps: List[str], refs: List[str], hyp_path: str, ref_path: str, check_format: bool = True) -> List[str]:
    """Raise InputError for a line-count mismatch or (with ``check_format``) non-detokenized
    text in either file; return warnings (empty lines, which score 0) for the caller to print."""
    if len(hyps) != len(refs):
        raise InputError(f"{hyp_path} has {len(hyps)} lines but {ref_path} has {len(refs)}: one example a line in both")
    if check_format:
        for lines, path, what in ((hyps, hyp_path, "hypothesis"), (refs, ref_path, "reference")):
            problem = format_problem(lines, path, what)
            if problem:
                raise InputError(problem + " (--no-format-check skips this check)")
    warnings = []
    for lines, path, what in ((hyps, hyp_path, "hypotheses"), (refs, ref_path, "references")):
        empty = [n for n, line in enumerate(lines, start=1) if not line.strip()]
        if empty:
            warnings.append(f"{len(empty)} of {len(lines)} {what} are empty and score 0 "
                            f"({path}:{empty[0]} is the first)")
    return warnings
