"""GLUE's metrics against values computed by hand from their definitions."""
import math

import pytest

from fairseq_unilmv2.glue import metrics
from fairseq_unilmv2.glue.tasks import TASKS

# 5 binary decisions: TP = rows 0 and 4, FP = row 1, FN = row 2, TN = row 3
PREDS = ["1", "1", "0", "0", "1"]
GOLD = ["1", "0", "1", "0", "1"]


def test_accuracy():
    assert metrics.accuracy(["a", "b", "a", "a"], ["a", "b", "b", "a"]) == 0.75


def test_f1_counts_the_positive_class():
    # 2 TP / (2 TP + FP + FN) = 4 / 6
    assert metrics.f1(PREDS, GOLD, positive="1") == pytest.approx(4 / 6)
    # class "0": TP = row 3, FP = row 2, FN = row 1 -> 2 / 4
    assert metrics.f1(PREDS, GOLD, positive="0") == pytest.approx(0.5)
    # no true and no predicted positive: 0, not an error
    assert metrics.f1(["0", "0"], ["0", "0"], positive="1") == 0.0


def test_matthews():
    # (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = (2 - 1) / sqrt(3 * 3 * 2 * 2) = 1/6
    assert metrics.matthews(PREDS, GOLD) == pytest.approx(1 / 6)
    assert metrics.matthews(["0", "1", "1"], ["1", "0", "0"]) == pytest.approx(-1.0)
    assert metrics.matthews(["1", "1", "1"], ["1", "0", "1"]) == 0.0  # constant predictions


def test_pearson():
    # d_pred = (-1, 0, 1), d_gold = (-4/3, -1/3, 5/3): cov 3, var 2 and 42/9 -> 9 / sqrt(84)
    assert metrics.pearson([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == pytest.approx(9 / math.sqrt(84))


def test_spearman_ranks_and_ties():
    # ranks of gold (1, 3, 2, 4): 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 12 / 60
    assert metrics.spearman([1.0, 2.0, 3.0, 4.0], [10.0, 30.0, 20.0, 40.0]) == pytest.approx(0.8)
    # a tie gets the mean rank (1.5, 1.5, 3): Pearson of the ranks = 1.5 / sqrt(1.5 * 2)
    assert metrics.spearman([1.0, 1.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(1.5 / math.sqrt(3.0))
    # ranks only: an outlier that Pearson feels leaves the ranks (and rho = 1) as they are
    assert metrics.spearman([1.0, 2.0, 3.0, 100.0], [1.0, 2.0, 3.0, 4.0]) == pytest.approx(1.0)
    assert metrics.pearson([1.0, 2.0, 3.0, 100.0], [1.0, 2.0, 3.0, 4.0]) < 0.8


def test_correlation_of_a_constant_is_undefined():
    assert math.isnan(metrics.pearson([2.0, 2.0, 2.0], [1.0, 2.0, 3.0]))
    assert math.isnan(metrics.spearman([1.0, 2.0, 3.0], [0.5, 0.5, 0.5]))


def test_each_task_reports_glue_metrics():
    assert TASKS["CoLA"].metrics == ("mcc",)
    assert TASKS["STS-B"].metrics == ("pearson", "spearman")
    for name in ("MRPC", "QQP"):
        task = TASKS[name]
        assert metrics.score(task.metrics, PREDS, GOLD, task.positive) == {
            "f1": pytest.approx(4 / 6), "acc": pytest.approx(0.6)}
    for name in ("SST-2", "MNLI", "QNLI", "RTE", "WNLI"):
        assert TASKS[name].metrics == ("acc",)


def test_bad_calls():
    with pytest.raises(ValueError, match="3 predictions for 2 labels"):
        metrics.accuracy(["a"] * 3, ["a"] * 2)
    with pytest.raises(ValueError, match="no example"):
        metrics.accuracy([], [])
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.score(["bleu"], ["a"], ["a"])


def test_majority_label_first_seen_wins_a_tie():
    assert metrics.majority_label(["b", "a", "a", "b", "c"]) == "b"
    assert metrics.majority_label(["b", "a", "a"]) == "a"
