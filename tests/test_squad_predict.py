"""Logits -> predictions.json: BERT's span search over windows, the max-context rule, the answer
length limit, n-best and the SQuAD 2.0 null threshold, on crafted logits."""
import numpy as np
import pytest
from fairseq.data import Dictionary

from fairseq_unilmv2.squad.databin import read_split, write_meta, write_split
from fairseq_unilmv2.squad.features import Example, FeatureConfig, encode_examples
from fairseq_unilmv2.squad.predict import PredictConfig, predict_answers

from .helpers import WhitespaceTokenizer

WORDS = [f"t{i}" for i in range(10)]
CONTEXT = "  ".join(WORDS) + "."  # two spaces between words: the text between subwords is the context's own


def prepared(tmp_path, version, impossible=(False, True)):
    """Two questions on CONTEXT in windows of 6 context subwords, stride 3."""
    d = Dictionary()
    for w in WORDS + ["t9.", "q"]:
        d.add_symbol(w)
    examples = [Example(f"q{i}", "q", CONTEXT, [] if imp else [("t2", CONTEXT.index("t2"))], imp)
                for i, imp in enumerate(impossible)]
    cfg = FeatureConfig(version=version, max_seq_length=11, doc_stride=3, max_query_length=4)
    enc = encode_examples(examples, WhitespaceTokenizer(), d, cfg, "mem.json")
    write_split(str(tmp_path), "valid", enc, examples)
    write_meta(str(tmp_path), {"version": version, "splits": {"valid": {}}})
    return read_split(str(tmp_path), "valid")


def logits(split, picks):
    """Start/end logits per window: -5 everywhere, with ``picks[(window, kind, position)] = value``."""
    starts = [np.full(len(split.tokens(i)), -5.0) for i in range(len(split))]
    ends = [np.full(len(split.tokens(i)), -5.0) for i in range(len(split))]
    for (w, kind, pos), value in picks.items():
        (starts if kind == "s" else ends)[w][pos] = value
    return starts, ends


def test_windows_are_what_the_cases_assume(tmp_path):
    split = prepared(tmp_path, "1.1")
    a = split.arrays
    # per example: windows of 6 context subwords at 0, 3, 6; the context starts at token 4 (<s> q </s></s>)
    assert list(a["doc_offset"][:3]) == [0, 3, 6] and set(a["context_start"]) == {4}
    assert list(a["example"]) == [0, 0, 0, 1, 1, 1]


def test_best_span_over_windows_with_max_context_and_length(tmp_path):
    split = prepared(tmp_path, "1.1", impossible=(False, False))
    cs = 4
    picks = {
        # window 0: t1..t2 scores 8 (t1 = subword 1 has its most context in window 0)
        (0, "s", cs + 1): 4.0, (0, "e", cs + 2): 4.0,
        # window 1 starts at subword 3: subword 3 (its position 0) is better placed in window 0,
        # so its high start is ignored here
        (1, "s", cs + 0): 9.0, (1, "e", cs + 1): 9.0,
        # window 2: t7..t9. ends before it starts, and a too-long span elsewhere
        (2, "s", cs + 2): 6.0, (2, "e", cs + 1): 6.0,
        (3, "s", cs + 0): 7.0, (3, "e", cs + 5): 7.0,  # question 1: t0..t5, 6 subwords
        (3, "e", cs + 2): 1.0,
    }
    starts, ends = logits(split, picks)
    preds, nbest, odds = predict_answers(split, starts, ends, "1.1", PredictConfig(max_answer_length=5))
    assert preds["q0"] == "t1  t2"  # the context's own characters, double space included
    assert preds["q1"] == "t0  t1  t2"  # t0..t5 is over 5 subwords
    assert odds == {}
    assert nbest["q0"][0]["text"] == "t1  t2" and nbest["q0"][0]["start_logit"] == 4.0
    assert abs(sum(e["probability"] for e in nbest["q0"]) - 1) < 1e-9
    assert len({e["text"] for e in nbest["q0"]}) == len(nbest["q0"])  # distinct texts
    preds, _, _ = predict_answers(split, starts, ends, "1.1", PredictConfig(max_answer_length=6))
    assert preds["q1"] == "t0  t1  t2  t3  t4  t5"


def test_v2_null_threshold(tmp_path):
    split = prepared(tmp_path, "2.0")
    cs = 4
    picks = {(0, "s", cs + 2): 3.0, (0, "e", cs + 2): 3.0,  # q0: t2 scores 6
             (0, "s", 0): 1.0, (0, "e", 0): 1.0, (1, "s", 0): 2.5, (1, "e", 0): 2.5,  # null: min over windows 2
             (2, "s", 0): 4.0, (2, "e", 0): 4.0,
             (3, "s", cs + 1): 1.0, (3, "e", cs + 1): 1.0,  # q1: t1 scores 2, null 10 everywhere
             (3, "s", 0): 5.0, (3, "e", 0): 5.0, (4, "s", 0): 5.0, (4, "e", 0): 5.0, (5, "s", 0): 5.0, (5, "e", 0): 5.0}
    starts, ends = logits(split, picks)
    preds, nbest, odds = predict_answers(split, starts, ends, "2.0", PredictConfig())
    assert preds == {"q0": "t2", "q1": ""}
    assert odds == pytest.approx({"q0": 2.0 - 6.0, "q1": 10.0 - 2.0})
    assert "" in [e["text"] for e in nbest["q1"]] and nbest["q1"][0]["text"] == ""
    # a threshold above q1's difference answers it; one below q0's abstains there too
    assert predict_answers(split, starts, ends, "2.0", PredictConfig(null_score_diff_threshold=8.5))[0]["q1"] == "t1"
    assert predict_answers(split, starts, ends, "2.0", PredictConfig(null_score_diff_threshold=-4.5))[0]["q0"] == ""


def test_nbest_lists_distinct_texts(tmp_path):
    d = Dictionary()
    for w in ("t1", "t2", "q"):
        d.add_symbol(w)
    context = "t1 t2 t1 t2"
    examples = [Example("q0", "q", context, [("t1", 0)], False)]
    enc = encode_examples(examples, WhitespaceTokenizer(), d, FeatureConfig(max_seq_length=16), "mem.json")
    write_split(str(tmp_path), "valid", enc, examples)
    write_meta(str(tmp_path), {"version": "1.1", "splits": {"valid": {}}})
    split = read_split(str(tmp_path), "valid")
    cs = 4
    starts, ends = logits(split, {(0, "s", cs): 3.0, (0, "s", cs + 2): 3.5, (0, "e", cs + 1): 3.0, (0, "e", cs + 3): 2.0})
    _, nbest, _ = predict_answers(split, starts, ends, "1.1", PredictConfig(n_best_size=2))
    # "t1 t2" scores 6 at subwords 0-1 and 5.5 at 2-3, "t1 t2 t1 t2" 5: the repeat gives way
    assert sorted(e["text"] for e in nbest["q0"]) == ["t1 t2", "t1 t2 t1 t2"]
