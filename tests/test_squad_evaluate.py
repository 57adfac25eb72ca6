"""EM/F1 against the rules of the official evaluate-v1.1.py and evaluate-v2.0.py, on crafted
cases whose scores are worked out by hand, and the evaluate command's refusals."""
import json

import pytest

from fairseq_unilmv2.squad.cli import main as squad_main
from fairseq_unilmv2.squad.evaluate import (
    EvaluationError, compute_f1, evaluate_v1, evaluate_v2, exact_v1, f1_v1, normalize_answer,
)


def dataset(*qas):
    """A SQuAD ``data`` list: qas = (id, [gold texts])."""
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": [
        {"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in golds]} for qid, golds in qas
    ]}]}]


@pytest.mark.parametrize("text, normalized", [
    ("The Cat's  hat!", "cats hat"),          # lower, punctuation removed (not replaced), article gone
    ("An apple, a pear & THE fig.", "apple pear fig"),
    ("theater anthem", "theater anthem"),     # articles are whole words only
    ("a-b", "ab"),                            # punctuation is deleted, so no word boundary appears
    ("  \tspaced\n out ", "spaced out"),
    ("", ""),
])
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_f1_counts_common_tokens_with_multiplicity():
    assert f1_v1("brown fox jumps", "the brown fox") == pytest.approx(0.8)  # p 2/3, r 1
    assert f1_v1("x x y", "x y y") == pytest.approx(2 / 3)  # common: one x, one y
    assert compute_f1("x x y", "x y y") == pytest.approx(2 / 3)
    assert f1_v1("fox", "dog") == 0


def test_empty_answers_differ_between_versions():
    assert f1_v1("", "") == 0 and exact_v1("", "")  # v1.1: no common token -> F1 0, yet EM 1
    assert compute_f1("", "") == 1 and compute_f1("", "fox") == 0 and compute_f1("the", "") == 1  # "the" -> no token


def test_v1_max_over_gold_and_missing_prediction(capsys):
    data = dataset(("q1", ["Paris", "the city of Paris"]), ("q2", ["blue"]), ("q3", ["x"]))
    import sys
    out = evaluate_v1(data, {"q1": "city of Paris", "q2": "dark blue"}, warn=sys.stderr)
    # q1: EM 1 (second gold), F1 1; q2: EM 0, F1 2/3 (p 1/2, r 1); q3 unanswered: 0, still counted
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)
    assert "Unanswered question q3 will receive score 0." in capsys.readouterr().err


def test_v2_split_no_answer_and_dropped_golds():
    data = dataset(("h1", ["Paris"]), ("h2", ["a", "blue sky"]), ("n1", []), ("n2", []))
    preds = {"h1": "Paris", "h2": "sky", "n1": "", "n2": "something"}
    out = evaluate_v2(data, preds)
    # h2's gold "a" normalises to "" and is dropped: F1 vs "blue sky" = 2/3 (p 1, r 1/2)
    assert out["HasAns_exact"] == pytest.approx(50.0) and out["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert out["NoAns_exact"] == pytest.approx(50.0) and out["NoAns_f1"] == pytest.approx(50.0)
    assert (out["total"], out["HasAns_total"], out["NoAns_total"]) == (4, 2, 2)
    assert out["exact"] == pytest.approx(50.0) and out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1) / 4)
    assert list(out) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total",
                         "NoAns_exact", "NoAns_f1", "NoAns_total"]


def test_v2_only_articles_gold_counts_abstaining_as_right():
    # qa["answers"] is non-empty (HasAns), but every gold normalises to "": the gold becomes ""
    out = evaluate_v2(dataset(("q", ["The"])), {"q": ""})
    assert out["HasAns_exact"] == 100.0 and "NoAns_total" not in out
    # beside a real gold, an article-only gold is dropped: abstaining is then wrong
    out = evaluate_v2(dataset(("q", ["an", "blue sky"])), {"q": ""})
    assert out["exact"] == 0 and out["f1"] == 0


def test_v2_threshold_and_best_threshold():
    data = dataset(("h1", ["Paris"]), ("h2", ["blue"]), ("n1", []))
    preds = {"h1": "Paris", "h2": "red", "n1": "London"}
    probs = {"h1": 0.1, "h2": 0.5, "n1": 0.9}
    # threshold 0.4: h2 and n1 abstain (prob > 0.4): h1 1, h2 0 (has an answer), n1 1
    out = evaluate_v2(data, preds, probs, na_prob_thresh=0.4)
    assert out["exact"] == pytest.approx(200 / 3) and out["NoAns_exact"] == 100.0
    # best threshold: start with every question abstaining (1 right: n1); h1 (0.1) answering adds 1
    # -> 2 at 0.1; h2 adds 0; n1 answering a wrong span subtracts 1. Best: 2/3 at 0.1
    assert out["best_exact"] == pytest.approx(200 / 3) and out["best_exact_thresh"] == 0.1
    # abstaining needs a probability strictly above the threshold
    assert evaluate_v2(data, preds, probs, na_prob_thresh=0.9)["exact"] == pytest.approx(100 / 3)
    # the default threshold 1.0 never abstains
    assert evaluate_v2(data, preds, probs)["exact"] == pytest.approx(100 / 3)


def test_v2_missing_prediction_is_named():
    with pytest.raises(EvaluationError, match="no prediction for 1 of 2 questions.*n1"):
        evaluate_v2(dataset(("h1", ["Paris"]), ("n1", [])), {"h1": "Paris"})


def test_evaluate_command(tmp_path, capsys):
    data = {"version": "v2.0", "data": dataset(("h1", ["Paris"]), ("n1", []))}
    (tmp_path / "dev.json").write_text(json.dumps(data))
    (tmp_path / "pred.json").write_text(json.dumps({"h1": "paris.", "n1": ""}))
    assert squad_main(["evaluate", str(tmp_path / "dev.json"), str(tmp_path / "pred.json"),
                       "--out-file", str(tmp_path / "scores.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["exact"] == 100.0 and json.loads((tmp_path / "scores.json").read_text()) == printed

    (tmp_path / "bad.json").write_text(json.dumps(["paris"]))
    assert squad_main(["evaluate", str(tmp_path / "dev.json"), str(tmp_path / "bad.json")]) == 2
    assert "bad.json: expected a JSON object mapping each question id to its answer text" in capsys.readouterr().err

    data["version"] = "1.1"
    (tmp_path / "dev1.json").write_text(json.dumps(data))
    assert squad_main(["evaluate", str(tmp_path / "dev1.json"), str(tmp_path / "pred.json")]) == 2
    assert "question n1 has no gold answer" in capsys.readouterr().err
