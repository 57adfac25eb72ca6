"""Reading and checking the hypothesis and reference files of ``unilmv2-score``.

Text that is not detokenized scores low without any error: SentencePiece pieces
(``▁Whil e ▁brain``) make a perfect system score ROUGE-1 about 68, and fairseq-generate's
``H-``/``D-`` lines score their ids and log-probabilities as words. So the files are checked
before scoring, and each problem stops the scorer with the file, the line and what to do.
Sentence markup (``<q>``, ``<t>``...) is text to ROUGE and BLEU too; it only draws a warning,
as some setups score it on purpose. Every check is a pure function of the lines;
``--no-format-check`` skips the format checks (not the warnings).
"""
import re
from typing import Dict, List, Optional, Tuple

# SentencePiece's word-start mark U+2581 ("▁") opens a piece: "▁brain". A token made only of
# block elements U+2581..U+2588 ("▁▂▃", a sparkline) is text, not a piece.
_SENTENCEPIECE = re.compile("\u2581")
_BLOCKS_ONLY = re.compile("[\u2581-\u2588]+")
# A WordPiece continuation: a token that starts with "##" followed by a word character
# ("## Methods", a markdown heading, is not one).
_WORDPIECE = re.compile(r"##\w")
# A subword-nmt BPE piece (fairseq --bpe subword_nmt): a word character then "@@" ends the token.
_BPE = re.compile(r"\w@@$")
# Rates measured on aclsum text (first two sentences of abstracts/introductions, and the
# summaries): SentencePiece models trained by the tests (1500 pieces on the Lee corpus) and
# in-domain (3900 on aclsum) put "▁" on 20-100% of a line's tokens (file rates 32% and 63%;
# a character-level model would still give about 1 in 6); WordPiece vocabularies (2000 on Lee,
# 30000 on aclsum itself, nearly whole words) make 50% and 7% of a file's tokens "##x"
# continuations. Ordinary text with a stray "▁"/"##" stays far below: one hashtag in a
# three-word line is one token, and the rate counts the whole file.
SENTENCEPIECE_MIN_RATE = 0.10
WORDPIECE_MIN_RATE = 0.02
BPE_MIN_RATE = 0.02  # "@@" pieces are continuations, like WordPiece's "##"
MIN_PIECES = 2  # one piece-looking token alone is never enough
# fairseq-generate/interactive output: S-, T-, H-, D-, P-, ... then the example id and a tab.
_FAIRSEQ_LINE = re.compile(r"^[A-Z]-\d+\t")
# ...or its lines cut one field too early (`grep ^H | cut -f2-`): a score (a float) then a tab.
_SCORE_FIELD = re.compile(r"^\s*[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|nan)\t")
# Sentence markup of summarisation data and outputs: "<q>" between sentences (PreSumm's
# CNN/DailyMail targets, BertSum/UniLM outputs), "<t> ... </t>" around them (OpenNMT's
# CNN/DailyMail release), "<s> ... </s>" (See et al.'s, and fairseq's bos/eos symbols).
# ROUGE's tokenizer reads "<q>" as the word "q"; sacrebleu as three tokens.
_MARKUP = re.compile(r"<q>|</?t>|</?s>")


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
            # utf-8-sig on line 1: a byte-order mark (Windows editors write one) is no text;
            # kept, it glues to the first word and that word never matches (BLEU 88 for 100)
            out.append(raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r"))
        except UnicodeDecodeError as e:
            raise InputError(f"{path}:{number}: invalid UTF-8 at byte {e.start} of the line; fix or re-encode the file")
    return out


# (name, is a piece of that kind, minimum rate over the file's tokens, what to do)
PIECE_KINDS = (
    ("SentencePiece", lambda t: t.startswith("\u2581") and not _BLOCKS_ONLY.fullmatch(t), SENTENCEPIECE_MIN_RATE,
     "decode with --post-process sentencepiece (fairseq-generate/interactive) or spm_decode"),
    ("WordPiece", lambda t: bool(_WORDPIECE.match(t)), WORDPIECE_MIN_RATE, "join them first (sed 's/ ##//g')"),
    ("BPE", lambda t: bool(_BPE.search(t)), BPE_MIN_RATE,
     "decode with --post-process subword_nmt, or join them first (sed 's/@@ //g')"),
)


def _pieces(line: str) -> Tuple[int, List[int]]:
    """(tokens, count of pieces of each of ``PIECE_KINDS``) of one line."""
    tokens = line.split()
    return len(tokens), [sum(1 for t in tokens if is_piece(t)) for _, is_piece, _, _ in PIECE_KINDS]


def _fairseq_problem(line: str, number: int, path: str, what: str) -> Optional[str]:
    match = _FAIRSEQ_LINE.match(line) or _SCORE_FIELD.match(line)
    if not match:
        return None
    how = ("grep '^D-' generate.out | sort -V | cut -f3- > hyps.txt" if what == "hypothesis"
           else "the raw target text (not fairseq's T- lines)")
    return (f"{path}:{number}: this {what} file holds fairseq-generate output "
            f"({match.group(0).strip()}<TAB>...), not one example a line; use {how}")


def format_problem(lines: List[str], path: str, what: str) -> Optional[str]:
    """The first sign that ``lines`` are not plain detokenized text, as a message, else None.

    fairseq-generate lines (``H-0<TAB>``) or a leading score field (``-0.34<TAB>``) are refused
    at the first such line. Subword pieces are judged on the rate over the whole file (at least
    ``MIN_PIECES`` pieces and ``*_MIN_RATE`` of its whitespace tokens), so that a sparkline or a
    ``##hashtag`` in ordinary text passes; the message names the first line holding a piece.
    """
    tokens, pieces, first = 0, [0] * len(PIECE_KINDS), [None] * len(PIECE_KINDS)
    for number, line in enumerate(lines, start=1):
        problem = _fairseq_problem(line, number, path, what)
        if problem:
            return problem
        n, line_pieces = _pieces(line)
        tokens += n
        for k, count in enumerate(line_pieces):
            pieces[k] += count
            first[k] = first[k] or (number if count else None)
    for (name, _, min_rate, advice), count, line in zip(PIECE_KINDS, pieces, first):
        if count >= MIN_PIECES and count >= min_rate * tokens:
            return (f"{path}:{line}: {name} pieces ({count} of {tokens} tokens): this {what} file is not "
                    f"detokenized; {advice}, or ROUGE/BLEU count pieces instead of words")
    return None


def markup_warnings(lines: List[str], path: str, metric: str, separator: Optional[str] = None) -> List[str]:
    """Warnings for sentence markup (``<q>``, ``<t>``, ``</t>``, ``<s>``, ``</s>``) that would be
    scored as text: one per marker, with how many lines hold it and what to do. The ROUGE
    ``separator``, when given, is consumed by the sentence splitter and not warned about."""
    counts: Dict[str, List[int]] = {}
    for number, line in enumerate(lines, start=1):
        for marker in set(_MARKUP.findall(line)):
            if marker != separator:
                counts.setdefault(marker, []).append(number)
    warnings = []
    for marker in sorted(counts, key=lambda m: counts[m][0]):
        numbers = counts[marker]
        if metric == "rouge" and marker == "<q>" and not separator:
            how = "pass --sentence-separator '<q>' to split ROUGE-Lsum sentences at it and drop it"
        else:
            how = f"remove it first (sed 's|{marker}| |g')"
        warnings.append(f"{len(numbers)} of {len(lines)} lines of {path} hold the sentence marker '{marker}' "
                        f"({path}:{numbers[0]} is the first), scored as text ({metric} counts it as words); {how}")
    return warnings


def check_pair(hyps: List[str], refs: List[str], hyp_path: str, ref_path: str, check_format: bool = True,
               metric: str = "rouge", separator: Optional[str] = None) -> List[str]:
    """Raise InputError for a line-count mismatch or (with ``check_format``) non-detokenized
    text in either file; return warnings (empty lines, which score 0; sentence markup scored as
    text) for the caller to print."""
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
        warnings.extend(markup_warnings(lines, path, metric, separator))
    return warnings
