"""Which dictionary ids start a word, read from the subword symbols themselves (pure).

The two vocabularies the preprocessing supports mark words differently (the same rule as
``preprocess/subword.py``, which is not importable from the plugin):

* SentencePiece: a piece that starts a word carries the ``▁`` (U+2581) prefix; ``▁the``,
  ``ing`` -> word start, continuation.
* WordPiece (BERT ``vocab.txt``): a continuation carries the ``##`` prefix; ``the``, ``##ing``.

As in fairseq's ``get_whole_word_mask``, every special symbol counts as a word start, so a
word never runs across ``<s>``/``</s>``/``[M]``/``[P]``/padding.
"""
from typing import Sequence, Tuple

import numpy as np

SENTENCEPIECE = "sentencepiece"
WORDPIECE = "wordpiece"
SENTENCEPIECE_WORD_START = "\u2581"
WORDPIECE_CONTINUATION = "##"


def detect_scheme(ordinary: Sequence[str]) -> str:
    """``SENTENCEPIECE`` or ``WORDPIECE`` from the ordinary (non-special) symbols: the marker that
    more of them carry. Raises ValueError when neither marker occurs (e.g. GPT-2 BPE ids)."""
    n_spm = sum(s.startswith(SENTENCEPIECE_WORD_START) for s in ordinary)
    n_wordpiece = sum(s.startswith(WORDPIECE_CONTINUATION) for s in ordinary)
    if n_spm == 0 and n_wordpiece == 0:
        raise ValueError(
            f"none of the {len(ordinary)} ordinary symbols starts with SentencePiece's "
            f"'{SENTENCEPIECE_WORD_START}' or WordPiece's '{WORDPIECE_CONTINUATION}', so word starts are unknown"
        )
    return SENTENCEPIECE if n_spm >= n_wordpiece else WORDPIECE


def word_start_table(symbols: Sequence[str], ordinary: Tuple[int, int]) -> Tuple[np.ndarray, str]:
    """``(table, scheme)``: ``table[id]`` (bool, one entry per symbol) is True where id starts a
    word. ``ordinary`` = ``(low, high)``, the id range of the vocabulary's own pieces; every id
    outside it (fairseq's specials, ``madeupword`` fillers, [M], [P]) is special, hence a start.
    Raises ValueError as :func:`detect_scheme`."""
    low, high = ordinary
    scheme = detect_scheme(symbols[low:high])
    if scheme == SENTENCEPIECE:
        starts = [s.startswith(SENTENCEPIECE_WORD_START) for s in symbols]
    else:
        starts = [not s.startswith(WORDPIECE_CONTINUATION) for s in symbols]
    table = np.array(starts, dtype=bool)
    table[:low] = True
    table[high:] = True
    return table, scheme
