"""Sentence splitting for summary-level ROUGE-L (ROUGE-Lsum).

ROUGE-1.5.5 reads one sentence a line and computes the union LCS sentence by sentence, so a
summary must be cut into sentences first. Cutting after every ``.`` also cuts inside ``Mr.
Smith`` or ``the U.S. president`` and changes ROUGE-L by several points; we use pySBD
(Sadvilkar & Neumann, 2020, "PySBD: Pragmatic Sentence Boundary Disambiguation", NLP-OSS), a
rule-based splitter for English that passes the Golden Rules set, needs no model or data
download, and splits lowercased model output too (``it was happy. mr. smith agreed.``).
An explicit marker (``--sentence-separator '<q>'``, as CNN/DailyMail targets carry) is used
instead when given.
"""
import functools
import re
from typing import List, Optional

_NON_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    # clean=False: keep the text exactly as written (ROUGE must see the same tokens)
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str, separator: Optional[str] = None) -> List[str]:
    """``text`` -> its sentences, stripped, empty ones left out.

    With ``separator`` the text is cut at each occurrence of it and nowhere else; without,
    pySBD decides. Every character of ``text`` except the whitespace around cuts is kept.
    """
    if separator:
        parts = text.split(separator)
    elif not text.strip():
        return []
    else:
        parts = _segmenter().segment(text)
        if _NON_SPACE.sub("", "".join(parts)) != _NON_SPACE.sub("", text):
            parts = [text]  # never score text the splitter changed: one sentence, every token kept
    return [p.strip() for p in parts if p.strip()]
