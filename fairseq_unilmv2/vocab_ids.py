"""The vocabulary-id ``dict.txt``: a fairseq dictionary whose ids are those of a published vocabulary.

fairseq's ``Dictionary`` always puts ``<s> <pad> </s> <unk>`` at ids 0-3 and the listed symbols
after them, so a BERT ``vocab.txt`` read by it is shifted by 4 and its ``[PAD] [CLS] [SEP] [UNK]``
become ordinary words. A checkpoint converted from HuggingFace needs the vocabulary's own ids
(embedding row i is vocab.txt line i), so ``unilmv2-convert-hf`` writes this format instead::

    #unilmv2:vocab-ids bos=[CLS] pad=[PAD] eos=[SEP] unk=[UNK] mask=[MASK]
    [PAD] 0
    [unused0] 0
    ...

Line 2 + i holds the symbol of id i. The header names the symbols that play fairseq's roles
(``bos`` = the sentence start, ``eos`` = the end/separator, ``mask`` = the MLM mask, which the tasks
then use instead of appending ``<mask>``). fairseq's own ``Dictionary.load`` refuses the header
line ("Incorrect dictionary format"), on purpose: a tool that reads the file the fairseq way would
otherwise binarize every token 4 ids off without a word. The plugin's tasks read it
(``--task pmlm`` / ``--task unilm_seq2seq``, also in ``fairseq-preprocess --user-dir ... --task
pmlm``), and ``preprocess/binarize.py`` passes that task.

This module uses only the standard library: ``preprocess/`` loads it without fairseq.
"""
import re
from typing import Dict, List, NamedTuple, Optional

HEADER = "#unilmv2:vocab-ids"
ROLES = ("bos", "pad", "eos", "unk", "mask")
REQUIRED_ROLES = ("bos", "pad", "eos", "unk")

# Symbols that are never ordinary words in the vocabularies we convert: BERT's and RoBERTa/MPNet's
# specials and BERT's placeholder slots. Random MLM replacements and generated text avoid them.
_SPECIAL = re.compile(r"^(\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]|<s>|<pad>|</s>|<unk>|<mask>)$")


class VocabIds(NamedTuple):
    symbols: List[str]  # symbol of id i
    roles: Dict[str, str]  # role -> symbol, e.g. {"bos": "[CLS]", ...}
    ordinary_low: int  # ids [ordinary_low, ordinary_high) are ordinary words
    ordinary_high: int


def is_header(first_line: str) -> bool:
    return first_line.split(" ", 1)[0].rstrip("\n") == HEADER


def format_header(roles: Dict[str, str]) -> str:
    return " ".join([HEADER] + [f"{r}={roles[r]}" for r in ROLES if roles.get(r)])


def ordinary_range(symbols: List[str], roles: Dict[str, str]):
    """``(low, high)``: the ordinary words, for random MLM replacements. ``low`` follows the leading
    run of special symbols (roles, ``[unusedN]``, BERT's and RoBERTa's specials: 104 for BERT's
    vocabularies, 108 for MPNet's); ``high`` is the next special symbol after it, or the end
    (MPNet lists ``<mask>`` last)."""
    special = set(roles.values())

    def is_special(s):
        return s in special or bool(_SPECIAL.match(s))

    low = 0
    while low < len(symbols) and is_special(symbols[low]):
        low += 1
    high = low
    while high < len(symbols) and not is_special(symbols[high]):
        high += 1
    return low, high


def read(path: str) -> Optional[VocabIds]:
    """The vocabulary-id dictionary at ``path``, or None when the file is an ordinary fairseq
    dict.txt (no header).

    Raises:
        ValueError: naming FILE:LINE, for a malformed header (unknown role, missing role, a role
            symbol the file does not list), a line that is not ``SYMBOL COUNT``, a repeated symbol,
            or a file that is not UTF-8.
    """
    with open(path, "rb") as f:
        if not is_header(f.readline().decode("utf-8", "replace")):
            return None  # an ordinary fairseq dict.txt: not ours to judge
    try:
        with open(path, encoding="utf-8") as f:
            roles = _parse_header(f.readline(), path)
            symbols, seen = [], {}
            for lineno, raw in enumerate(f, 2):
                line = raw.rstrip("\n")
                symbol, _, count = line.rpartition(" ")
                if not symbol or not count.lstrip("-").isdigit():
                    raise ValueError(f"{path}:{lineno}: {line[:80]!r} is not 'SYMBOL COUNT': the file is damaged; "
                                     f"write it again with unilmv2-convert-hf")
                if symbol in seen:
                    raise ValueError(f"{path}:{lineno}: {symbol!r} is listed again (first on line {seen[symbol]}); "
                                     f"every id must have its own symbol: write the file again with unilmv2-convert-hf")
                seen[symbol] = lineno
                symbols.append(symbol)
    except UnicodeDecodeError:
        raise ValueError(f"{path}:{first_invalid_utf8_line(path)}: not UTF-8; write the file again with "
                         f"unilmv2-convert-hf") from None
    for role, symbol in roles.items():
        if symbol not in seen:
            raise ValueError(f"{path}:1: the header names {role}={symbol}, which the file does not list")
    low, high = ordinary_range(symbols, roles)
    if low >= high:
        raise ValueError(f"{path}: lists no ordinary word after its special symbols")
    return VocabIds(symbols, roles, low, high)


def first_invalid_utf8_line(path: str) -> int:
    """The number of the first line of ``path`` that is not UTF-8 (1-based), 0 if none."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return lineno
    return 0


def _parse_header(line: str, path: str) -> Dict[str, str]:
    roles = {}
    for field in line.split()[1:]:
        role, eq, symbol = field.partition("=")
        if not eq or role not in ROLES or not symbol:
            raise ValueError(f"{path}:1: {field!r} in the header is not ROLE=SYMBOL with ROLE one of "
                             f"{', '.join(ROLES)}")
        roles[role] = symbol
    missing = [r for r in REQUIRED_ROLES if r not in roles]
    if missing:
        raise ValueError(f"{path}:1: the header names no {', '.join(missing)} symbol ({format_header(roles)})")
    return roles


def write(path: str, symbols: List[str], roles: Dict[str, str]):
    """Write ``symbols`` (id order) with ``roles``; atomic (a temporary file renamed).

    Raises:
        ValueError: a symbol that fairseq cannot read (empty, holding whitespace), a repeat, or a
            role symbol not among ``symbols``.
    """
    import os

    seen = set()
    for i, s in enumerate(symbols):
        if not s or any(c.isspace() for c in s):
            raise ValueError(f"vocabulary id {i}: {s!r} is empty or holds whitespace, which dict.txt cannot hold")
        if s in seen:
            raise ValueError(f"vocabulary id {i}: {s!r} is listed twice")
        seen.add(s)
    for role, s in roles.items():
        if s not in seen:
            raise ValueError(f"the {role} symbol {s!r} is not in the vocabulary")
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(format_header(roles) + "\n")
        for s in symbols:
            out.write(f"{s} 0\n")
    os.replace(tmp, path)
