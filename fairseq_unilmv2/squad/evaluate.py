"""EM and F1 as the official SQuAD scripts compute them (https://rajpurkar.github.io/SQuAD-explorer/:
``evaluate-v1.1.py`` and ``evaluate-v2.0.py``), rule for rule:

- ``normalize_answer``: lower case, remove every ``string.punctuation`` character, replace the
  words a/an/the by a space, collapse whitespace;
- a question's score is the maximum over its gold answers;
- v1.1: F1 of two answers with no common token is 0 (also when both are empty); a question
  without a prediction scores 0 and counts in the total (with a message on stderr); result
  ``{"exact_match", "f1"}`` in percent;
- v2.0: gold answers that normalise to "" are dropped, and a question left with none (an
  unanswerable one) has the single gold answer "" (predict "" to abstain); F1 with an empty side
  is 1 when both are empty, else 0; a question's score becomes ``not has_answer`` when its
  no-answer probability exceeds ``na_prob_thresh`` (default 1.0: never, the probabilities
  defaulting to 0); result ``exact``, ``f1``, ``total`` and the same over answerable
  (``HasAns_*``) and unanswerable (``NoAns_*``) questions, in percent, plus
  ``best_exact``/``best_f1`` and their thresholds when no-answer probabilities are given.

Where the official v2.0 script crashes (KeyError) on a question without a prediction, this one
stops with a message naming the questions.
"""
import collections
import re
import string
import sys
from typing import Dict, List, Optional

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


class EvaluationError(ValueError):
    pass


def normalize_answer(s: str) -> str:
    """Lower text and remove punctuation, articles and extra whitespace (the official order)."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def f1_v1(prediction: str, ground_truth: str) -> float:
    """evaluate-v1.1.py ``f1_score``."""
    pred, gold = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    num_same = sum((collections.Counter(pred) & collections.Counter(gold)).values())
    if num_same == 0:
        return 0
    precision, recall = num_same / len(pred), num_same / len(gold)
    return (2 * precision * recall) / (precision + recall)


def exact_v1(prediction: str, ground_truth: str) -> bool:
    """evaluate-v1.1.py ``exact_match_score``."""
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def get_tokens(s: str) -> List[str]:
    return normalize_answer(s).split() if s else []


def compute_exact(a_gold: str, a_pred: str) -> int:
    """evaluate-v2.0.py ``compute_exact``."""
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold: str, a_pred: str) -> float:
    """evaluate-v2.0.py ``compute_f1``."""
    gold, pred = get_tokens(a_gold), get_tokens(a_pred)
    num_same = sum((collections.Counter(gold) & collections.Counter(pred)).values())
    if len(gold) == 0 or len(pred) == 0:
        return int(gold == pred)  # no-answer: 1 if both abstain, else 0
    if num_same == 0:
        return 0
    precision, recall = num_same / len(pred), num_same / len(gold)
    return (2 * precision * recall) / (precision + recall)


def _questions(dataset):
    for article in dataset:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def evaluate_v1(dataset: List[Dict], predictions: Dict[str, str], warn=sys.stderr) -> Dict[str, float]:
    """evaluate-v1.1.py ``evaluate``: ``dataset`` is the JSON file's ``data`` list."""
    f1 = exact_match = total = 0
    for qa in _questions(dataset):
        total += 1
        if qa["id"] not in predictions:
            print(f"Unanswered question {qa['id']} will receive score 0.", file=warn)
            continue
        golds = [a["text"] for a in qa["answers"]]
        if not golds:
            raise EvaluationError(f"question {qa['id']} has no gold answer, which SQuAD 1.1 has not: evaluate with --version 2.0")
        prediction = predictions[qa["id"]]
        exact_match += max(exact_v1(prediction, g) for g in golds)
        f1 += max(f1_v1(prediction, g) for g in golds)
    if total == 0:
        raise EvaluationError("the data file holds no question")
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


def _eval_dict(exact, f1, qids=None):
    qids = list(exact) if not qids else qids
    total = len(qids)
    return collections.OrderedDict([("exact", 100.0 * sum(exact[k] for k in qids) / total),
                                    ("f1", 100.0 * sum(f1[k] for k in qids) / total), ("total", total)])


def _best_thresh(preds, scores, na_probs, has_ans):
    """evaluate-v2.0.py ``find_best_thresh``: the threshold (one of the probabilities) that
    maximises the score when every question above it abstains."""
    cur = best = sum(1 for k in has_ans if not has_ans[k])
    best_thresh = 0.0
    for qid in sorted(na_probs, key=lambda k: na_probs[k]):
        if qid not in scores:
            continue
        cur += scores[qid] if has_ans[qid] else (-1 if preds[qid] else 0)
        if cur > best:
            best, best_thresh = cur, na_probs[qid]
    return 100.0 * best / len(scores), best_thresh


def evaluate_v2(dataset: List[Dict], preds: Dict[str, str], na_probs: Optional[Dict[str, float]] = None,
                na_prob_thresh: float = 1.0) -> Dict[str, float]:
    """evaluate-v2.0.py ``main``: ``dataset`` is the JSON file's ``data`` list, ``na_probs`` the
    optional ``--na-prob-file`` (question id -> probability of no answer)."""
    has_ans = {qa["id"]: bool(qa["answers"]) for qa in _questions(dataset)}
    if not has_ans:
        raise EvaluationError("the data file holds no question")
    missing = [q for q in has_ans if q not in preds]
    if missing:
        raise EvaluationError(
            f"no prediction for {len(missing)} of {len(has_ans)} questions (e.g. {', '.join(missing[:3])}): the "
            f"predictions must cover the data file (predict \"\" to abstain)")
    given_probs = na_probs is not None
    na_probs = na_probs if given_probs else {k: 0.0 for k in preds}
    lacking = [q for q in has_ans if q not in na_probs]
    if lacking:
        raise EvaluationError(f"the no-answer probabilities lack {len(lacking)} questions (e.g. {', '.join(lacking[:3])})")
    exact_raw, f1_raw = {}, {}
    for qa in _questions(dataset):
        qid = qa["id"]
        golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]
        exact_raw[qid] = max(compute_exact(a, preds[qid]) for a in golds)
        f1_raw[qid] = max(compute_f1(a, preds[qid]) for a in golds)

    def thresholded(scores):
        return {q: float(not has_ans[q]) if na_probs[q] > na_prob_thresh else s for q, s in scores.items()}

    exact, f1 = thresholded(exact_raw), thresholded(f1_raw)
    out = _eval_dict(exact, f1)
    for prefix, qids in (("HasAns", [q for q in has_ans if has_ans[q]]), ("NoAns", [q for q in has_ans if not has_ans[q]])):
        if qids:
            for k, v in _eval_dict(exact, f1, qids).items():
                out[f"{prefix}_{k}"] = v
    if given_probs:
        out["best_exact"], out["best_exact_thresh"] = _best_thresh(preds, exact_raw, na_probs, has_ans)
        out["best_f1"], out["best_f1_thresh"] = _best_thresh(preds, f1_raw, na_probs, has_ans)
    return out


def version_of(data: Dict, version: Optional[str] = None) -> str:
    """The script to apply: ``version``, else the data file's ``version`` field."""
    declared = str(data.get("version", "")).lstrip("v")
    version = version or declared
    if version not in ("1.1", "2.0"):
        raise EvaluationError(f"the data file's version is {data.get('version')!r}: pass --version 1.1 or 2.0")
    return version
