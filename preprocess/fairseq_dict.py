"""Writing a fairseq ``dict.txt`` for a subword vocabulary.

fairseq's Dictionary always starts with ``<s> <pad> </s> <unk>`` (ids 0-3) and reads the rest
from ``dict.txt``, one ``SYMBOL COUNT`` a line, in order: the i-th written symbol gets id 4 + i.
The pre-training and seq2seq tasks append ``<mask>`` and ``<pseudo>`` themselves and refuse a
dictionary that lists them, so those are never written either.
"""
import os
from typing import NamedTuple

FAIRSEQ_SPECIALS = frozenset({"<s>", "<pad>", "</s>", "<unk>"})
TASK_SYMBOLS = frozenset({"<mask>", "<pseudo>"})


def write_dict(symbols, path, leave_out=frozenset()):
    """Write ``symbols`` in order (priority order: counts decrease) leaving out fairseq's
    specials, the tasks' symbols, ``leave_out``, repeats and symbols fairseq cannot read (empty,
    containing whitespace); atomic. Returns the written symbols, in order."""
    kept, seen = [], set()
    for s in symbols:
        unreadable = not s or any(c.isspace() for c in s)
        if not (unreadable or s in FAIRSEQ_SPECIALS or s in TASK_SYMBOLS or s in leave_out or s in seen):
            kept.append(s)
            seen.add(s)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for i, s in enumerate(kept):
            out.write(f"{s} {len(kept) - i}\n")
    os.replace(tmp, path)
    return kept


OVERWRITE_FLAG = "#fairseq:overwrite"
FAIRSEQ_UNK_ID = 3  # <unk>: fairseq's Dictionary adds <s> <pad> </s> <unk> first


class DictCheck(NamedTuple):
    symbols: int  # lines of dict.txt (each gets id 4 + its 0-based line index)
    unk_ids: frozenset  # ids a binarized <unk> has: 3 (a repeated <unk>, which could move it, is refused)


def check_dict(path):
    """Read ``path`` as fairseq's ``Dictionary.add_from_file`` does and raise ValueError, naming
    FILE:LINE and what to do, where it would fail or where the tasks would: a line that is not
    ``SYMBOL COUNT`` (fairseq: "Incorrect dictionary format"), a symbol listed again (fairseq:
    "Duplicate word found"; that includes its own ``<s> <pad> </s> <unk>``) with or without
    fairseq's ``#fairseq:overwrite`` flag, a symbol the pmlm/unilm_seq2seq tasks append
    themselves, a symbol holding whitespace (encoded text is split at whitespace: it could never
    match), a file that is not UTF-8 or lists no symbol. Returns a ``DictCheck``.

    Rules mirrored from fairseq/data/dictionary.py (add_from_file, add_symbol, save): the file is
    read as text with universal newlines, each line right-stripped, split at its last space into
    symbol and count (``int``); when that count field is ``#fairseq:overwrite`` the line is split
    once more. fairseq-preprocess would accept a repeated symbol carrying that flag (a second id,
    the first left unused), but it then writes ``DATA_BIN/dict.txt`` with ``Dictionary.save``,
    which writes every symbol as ``SYMBOL COUNT`` and drops the flag: the symbol is then listed
    twice without it, and every task fails loading that data-bin ("Duplicate word found"). So a
    repeat is refused with the flag too. The flag on a symbol's first listing changes nothing
    (fairseq adds it like any other line) and is accepted. Every accepted line therefore appends
    one id: line i (from 0) gets id 4 + i; ``<unk>`` (a word the dictionary lacks, or ``<unk>``
    written in the text) is always id 3 (``Dictionary.unk_index``).
    """
    vocab = _vocab_ids().read(path)  # ValueError (FILE:LINE) on a damaged header/line
    if vocab is not None:  # unilmv2-convert-hf's vocabulary-id dict.txt: ids as listed
        return DictCheck(len(vocab.symbols), frozenset({vocab.symbols.index(vocab.roles["unk"])}))
    first_seen = {s: "fairseq's Dictionary itself (ids 0-3)" for s in FAIRSEQ_SPECIALS}
    n = 0
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, raw in enumerate(f, 1):
                symbol, overwrite = _parse_dict_line(raw, path, lineno)
                where = f"{path}:{lineno}"
                if symbol in TASK_SYMBOLS:
                    raise ValueError(
                        f"{where}: lists {symbol}, which the pmlm/unilm_seq2seq tasks append themselves "
                        f"and refuse in dict.txt; remove that line"
                    )
                if any(c.isspace() for c in symbol):
                    raise ValueError(f"{where}: the symbol {symbol!r} holds whitespace; encoded text is split at "
                                     f"whitespace, so it could never match a token: remove that line")
                if symbol in first_seen and overwrite:
                    raise ValueError(
                        f"{where}: {symbol} is listed again with {OVERWRITE_FLAG} (first listed by "
                        f"{first_seen[symbol]}); fairseq-preprocess would accept it, but the DATA_BIN dict.txt "
                        f"it writes (Dictionary.save) drops the flag, so {symbol} is listed twice there and "
                        f"fairseq's Dictionary refuses to load it (\"Duplicate word found\") in every task: "
                        f"keep one line per symbol"
                    )
                if symbol in first_seen:
                    raise ValueError(
                        f"{where}: {symbol} is listed again (first listed by {first_seen[symbol]}); "
                        f"fairseq-preprocess refuses a repeated symbol: remove this line"
                    )
                first_seen[symbol] = f"line {lineno}"
                n += 1
    except UnicodeDecodeError:
        line = _vocab_ids().first_invalid_utf8_line(path) or "?"
        raise ValueError(f"{path}:{line}: not UTF-8; fairseq reads dict.txt as UTF-8: "
                         f"convert the file (e.g. iconv -f latin1 -t utf-8)") from None
    if not n:
        raise ValueError(f"{path} lists no symbol: every token would be <unk>; pass the dict.txt written by "
                         f"preprocess/spm.py train or preprocess/wordpiece.py dict")
    return DictCheck(n, frozenset({FAIRSEQ_UNK_ID}))


def _vocab_ids():
    """fairseq_unilmv2/vocab_ids.py (stdlib only), loaded by path: importing the package would
    import fairseq."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "_unilmv2_vocab_ids"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "fairseq_unilmv2" / "vocab_ids.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[name] = module
    return sys.modules[name]


def _parse_dict_line(raw, path, lineno):
    """``(symbol, overwrite)`` of one dict.txt line, split as fairseq splits it."""
    line = raw.rstrip()
    try:
        symbol, field = line.rsplit(" ", 1)
        overwrite = field == OVERWRITE_FLAG
        if overwrite:
            symbol, field = symbol.rsplit(" ", 1)
        int(field)
    except ValueError:
        raise ValueError(
            f"{path}:{lineno}: {line[:80]!r} is not 'SYMBOL COUNT' (one space before an integer count, "
            f"optionally followed by ' {OVERWRITE_FLAG}'), which fairseq-preprocess requires; fix or "
            f"remove that line"
        ) from None
    return symbol, overwrite
