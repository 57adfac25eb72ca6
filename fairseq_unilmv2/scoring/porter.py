"""The Porter stemmer exactly as ROUGE-1.5.5.pl runs it (``sub stem``: Martin Porter's Perl
version with the ``logi``/``bli`` rules, plus Chin-Yew Lin's 2004 change that keeps ``-ement``
words from also trying ``-ment``/``-ent`` in the same test).

NLTK's ``ORIGINAL_ALGORITHM`` differs on about 1% of words (``agreement``, ``document``,
``representation``, ``possibly``...), enough to move ROUGE-1 by a few points on one example.
Each step below is a suffix test on the word: ``m`` is the measure of the stem before it.
"""
import re

_c = "[^aeiou]"
_v = "[aeiouy]"
_C = f"{_c}[^aeiouy]*"
_V = f"{_v}[aeiou]*"
_MGR0 = re.compile(f"^({_C})?{_V}{_C}")  # m > 0
_MEQ1 = re.compile(f"^({_C})?{_V}{_C}({_V})?$")  # m == 1
_MGR1 = re.compile(f"^({_C})?{_V}{_C}{_V}{_C}")  # m > 1
_HAS_VOWEL = re.compile(f"^({_C})?{_v}")
_CVC = re.compile(f"^{_C}{_v}[^aeiouwxy]$")

_STEP2 = {"ational": "ate", "tional": "tion", "enci": "ence", "anci": "ance", "izer": "ize", "bli": "ble",
          "alli": "al", "entli": "ent", "eli": "e", "ousli": "ous", "ization": "ize", "ation": "ate",
          "ator": "ate", "alism": "al", "iveness": "ive", "fulness": "ful", "ousness": "ous", "aliti": "al",
          "iviti": "ive", "biliti": "ble", "logi": "log"}
_STEP3 = {"icate": "ic", "ative": "", "alize": "al", "iciti": "ic", "ical": "ic", "ful": "", "ness": ""}
_STEP2_RE = re.compile("(" + "|".join(_STEP2) + ")$")
_STEP3_RE = re.compile("(" + "|".join(_STEP3) + ")$")
_STEP4_RE = re.compile("(al|ance|ence|er|ic|able|ible|ant|ement|ou|ism|ate|iti|ous|ive|ize)$")


def _before(pattern, word):
    """(prefix before the leftmost match, match) as Perl's $` and the match."""
    m = re.search(pattern, word) if isinstance(pattern, str) else pattern.search(word)
    return (word[: m.start()], m) if m else (None, None)


def stem(w: str) -> str:
    if len(w) < 3:
        return w
    y_first = w[0] == "y"
    if y_first:  # an initial y is a consonant
        w = "Y" + w[1:]

    # Step 1a
    pre, m = _before("(ss|i)es$", w)
    if m:
        w = pre + m.group(1)
    else:
        pre, m = _before("([^s])s$", w)
        if m:
            w = pre + m.group(1)
    # Step 1b
    pre, m = _before("eed$", w)
    if m:
        if _MGR0.search(pre):
            w = w[:-1]
    else:
        pre, m = _before("(ed|ing)$", w)
        if m and _HAS_VOWEL.search(pre):
            w = pre
            if re.search("(at|bl|iz)$", w):
                w += "e"
            elif re.search(r"([^aeiouylsz])\1$", w):
                w = w[:-1]
            elif _CVC.search(w):
                w += "e"
    # Step 1c
    pre, m = _before("y$", w)
    if m and _HAS_VOWEL.search(pre):
        w = pre + "i"
    # Step 2 and 3
    for pattern, table in ((_STEP2_RE, _STEP2), (_STEP3_RE, _STEP3)):
        pre, m = _before(pattern, w)
        if m and _MGR0.search(pre):
            w = pre + table[m.group(1)]
    # Step 4
    pre, m = _before(_STEP4_RE, w)
    if m and _MGR1.search(pre):
        w = pre
    pre, m = _before("ment$", w)
    if m and _MGR1.search(pre):
        w = pre
    pre, m = _before("ent$", w)
    if m:
        if _MGR1.search(pre):
            w = pre
    else:
        pre, m = _before("(s|t)(ion)$", w)
        if m and _MGR1.search(pre + m.group(1)):
            w = pre + m.group(1)
    # Step 5
    pre, m = _before("e$", w)
    if m and (_MGR1.search(pre) or (_MEQ1.search(pre) and not _CVC.search(pre))):
        w = pre
    if w.endswith("ll") and _MGR1.search(w):
        w = w[:-1]

    if y_first:
        w = "y" + w[1:]
    return w
