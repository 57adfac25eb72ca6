"""SQuAD end to end through the public interface: prepare -> fairseq-train --task squad -> predict
-> evaluate, on synthetic questions whose answer is recoverable: the context holds the marker
word the question names, and the answer is the word after it. SQuAD 2.0 adds questions about a
marker the context lacks (no answer). A tiny random model trained for a few dozen updates must
answer far above chance (one word among a dozen)."""
import json

import numpy as np
import pytest

from fairseq_unilmv2.squad.cli import main as squad_main

from .helpers import check_cli

FILLER = [f"w{a}{b}" for a in "abcdefgh" for b in "abcdefgh"][:40]
MARKERS = ["kappa", "sigma"]
ABSENT = "omega"  # named by the unanswerable questions; never in a context
QUESTION = ["what", "follows"]


def synthetic_squad(n, seed, version):
    """A SQuAD JSON dict of ``n`` questions, one context each."""
    rng = np.random.default_rng(seed)
    paragraphs = []
    for i in range(n):
        words = list(rng.choice(FILLER, size=int(rng.integers(8, 14))))
        marker = MARKERS[i % 2]
        where = int(rng.integers(0, len(words) - 1))
        words.insert(where, marker)  # the answer is words[where + 1]
        context = " ".join(words)
        answer = words[where + 1]
        start = len(" ".join(words[:where + 1])) + 1
        unanswerable = version == "2.0" and i % 3 == 2
        qa = {"id": f"q{seed}-{i}", "question": " ".join(QUESTION + [ABSENT if unanswerable else marker, "?"])}
        if unanswerable:
            qa.update(answers=[], is_impossible=True, plausible_answers=[{"text": answer, "answer_start": start}])
        else:
            qa.update(answers=[{"text": answer, "answer_start": start}], is_impossible=False)
        paragraphs.append({"context": context, "qas": [qa]})
    return {"version": "1.1" if version == "1.1" else "v2.0", "data": [{"title": "synthetic", "paragraphs": paragraphs}]}


def write_vocab(d):
    """A WordPiece vocab.txt holding every word, and the fairseq dict.txt of preprocess/wordpiece.py."""
    words = FILLER + MARKERS + [ABSENT] + QUESTION + ["?"]
    (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    (d / "dict.txt").write_text("".join(f"{w} 1\n" for w in words))


def train(d, updates):
    """fairseq-train --task squad on d/bin (the plugin loaded with the squad modules registered)."""
    shim = d / "squad_plugin"
    shim.mkdir(exist_ok=True)
    (shim / "__init__.py").write_text("import fairseq_unilmv2\nfrom fairseq_unilmv2.tasks import squad\n"
                                      "from fairseq_unilmv2.criterions import squad as _c\n")
    return check_cli([
        "fairseq-train", "bin", "--user-dir", str(shim), "--task", "squad", "--criterion", "squad",
        "--arch", "unilmv2_tiny", "--max-positions", "64", "--batch-size", "16",
        "--optimizer", "adam", "--lr", "2e-3", "--lr-scheduler", "polynomial_decay", "--warmup-updates", "10",
        "--total-num-update", str(updates), "--max-update", str(updates),
        "--dropout", "0", "--attention-dropout", "0", "--seed", "3", "--num-workers", "0", "--cpu",
        "--save-dir", "ck", "--no-epoch-checkpoints", "--log-format", "json", "--log-interval", "10",
    ], cwd=d)


@pytest.mark.parametrize("version", ["2.0"])
def test_squad_learns_synthetic_answers(tmp_path, monkeypatch, version, capsys):
    d = tmp_path
    write_vocab(d)
    (d / "train.json").write_text(json.dumps(synthetic_squad(240, 1, version)))
    (d / "dev.json").write_text(json.dumps(synthetic_squad(60, 2, version)))
    monkeypatch.chdir(d)
    assert squad_main(["prepare", "--train", "train.json", "--valid", "dev.json", "--dict", "dict.txt",
                       "--wordpiece-vocab", "vocab.txt", "--max-seq-length", "16", "--doc-stride", "3", "--max-query-length", "6",
                       "--destdir", "bin"]) == 0
    train(d, 150)
    assert squad_main(["predict", "--checkpoint", "ck/checkpoint_last.pt", "--data", "bin", "--output", "pred.json",
                       "--null-odds-file", "odds.json", "--cpu"]) == 0
    capsys.readouterr()
    assert squad_main(["evaluate", "dev.json", "pred.json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    print(scores)
    assert scores["HasAns_exact"] > 70 and scores["NoAns_exact"] > 70, scores
