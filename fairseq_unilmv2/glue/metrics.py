"""GLUE's metrics, as the benchmark defines them (Wang et al., 2019, GLUE, Table 1; the same
functions as transformers' ``glue_compute_metrics`` and fairseq's sentence_prediction criterion):

- ``acc``: the fraction of predictions equal to the gold label (SST-2, MNLI-m/mm, QNLI, RTE,
  WNLI; beside F1 for MRPC and QQP);
- ``f1``: F1 of the positive class (MRPC, QQP: label ``1``), ``sklearn.metrics.f1_score`` on
  the binary decision "is positive", 0 when there is no true and no predicted positive;
- ``mcc``: Matthews correlation (CoLA), ``sklearn.metrics.matthews_corrcoef``: 0 when the
  predictions or the labels are constant;
- ``pearson`` / ``spearman``: correlation of predicted and gold scores (STS-B),
  ``scipy.stats``; NaN when either side is constant (undefined).

Values are fractions in [0, 1] (correlations in [-1, 1]), not GLUE's percentages.
"""
import math
import warnings
from collections import Counter
from typing import Dict, Sequence

METRICS = ("acc", "f1", "mcc", "pearson", "spearman")


def _check(preds: Sequence, labels: Sequence):
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
    if not labels:
        raise ValueError("no example to score")


def accuracy(preds: Sequence, labels: Sequence) -> float:
    _check(preds, labels)
    return sum(p == g for p, g in zip(preds, labels)) / len(labels)


def f1(preds: Sequence, labels: Sequence, positive) -> float:
    """F1 of class ``positive``: 2 TP / (2 TP + FP + FN)."""
    from sklearn.metrics import f1_score

    _check(preds, labels)
    return float(f1_score([g == positive for g in labels], [p == positive for p in preds], zero_division=0.0))


def matthews(preds: Sequence, labels: Sequence) -> float:
    from sklearn.metrics import matthews_corrcoef

    _check(preds, labels)
    return float(matthews_corrcoef(list(labels), list(preds)))


def _correlation(fn, preds, labels) -> float:
    _check(preds, labels)
    if len(set(preds)) < 2 or len(set(labels)) < 2:
        return math.nan  # a constant side: the correlation is undefined (scipy warns and gives NaN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(fn([float(p) for p in preds], [float(g) for g in labels])[0])


def pearson(preds: Sequence[float], labels: Sequence[float]) -> float:
    from scipy.stats import pearsonr

    return _correlation(pearsonr, preds, labels)


def spearman(preds: Sequence[float], labels: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    return _correlation(spearmanr, preds, labels)


def score(metric_names: Sequence[str], preds: Sequence, labels: Sequence, positive=None) -> Dict[str, float]:
    """``{metric: value}`` for the given GLUE metric names (a task's ``metrics``)."""
    out = {}
    for name in metric_names:
        if name == "acc":
            out[name] = accuracy(preds, labels)
        elif name == "f1":
            out[name] = f1(preds, labels, positive)
        elif name == "mcc":
            out[name] = matthews(preds, labels)
        elif name == "pearson":
            out[name] = pearson(preds, labels)
        elif name == "spearman":
            out[name] = spearman(preds, labels)
        else:
            raise ValueError(f"unknown metric {name!r}: one of {', '.join(METRICS)}")
    return out


def majority_label(train_labels: Sequence):
    """The most frequent training label (ties: the first seen), the baseline's constant prediction."""
    if not train_labels:
        raise ValueError("no training label")
    return Counter(train_labels).most_common(1)[0][0]
