"""Writing a fairseq ``dict.txt`` for a subword vocabulary.

fairseq's Dictionary always starts with ``<s> <pad> </s> <unk>`` (ids 0-3) and reads the rest
from ``dict.txt``, one ``SYMBOL COUNT`` a line, in order: the i-th written symbol gets id 4 + i.
The pre-training and seq2seq tasks append ``<mask>`` and ``<pseudo>`` themselves and refuse a
dictionary that lists them, so those are never written either.
"""
import os

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


def check_dict(path):
    """Raise ValueError if ``path`` lists a symbol the tasks add themselves."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n").removesuffix(" #fairseq:overwrite")  # fairseq's flag after the count
            symbol = line.rsplit(" ", 1)[0]
            if symbol in TASK_SYMBOLS:
                raise ValueError(
                    f"{path}:{lineno}: lists {symbol}, which the pmlm/unilm_seq2seq tasks append themselves "
                    f"and refuse in dict.txt; remove that line"
                )
