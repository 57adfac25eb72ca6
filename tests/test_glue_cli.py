"""End to end through the public commands: prepare a learnable MRPC-shaped pair task ->
fairseq-train --task sentence_prediction --arch unilmv2_tiny (30 updates) -> predict -> score and
the submission file; and the evaluation-time refusals (unknown label, a label file that does not
match the inputs, a head the checkpoint lacks), each one message with exit status 2."""
import json
import random
import re
import shutil
import subprocess
import sys

import pytest

from fairseq_unilmv2.glue import cli, prepare

from .helpers import REPO, USER_DIR

WORDS = [f"w{i}" for i in range(40)]
HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"


def _rows(rng, n, test=False):
    """Label 1 iff the second sentence holds the word w0 (w1 otherwise): the label is in the second
    segment only, so a model that loses it stays at chance."""
    out = []
    for i in range(n):
        label = rng.choice("01")
        first = " ".join(rng.sample(WORDS[2:], 5))
        second = rng.sample(WORDS[2:], 3) + [WORDS[0] if label == "1" else WORDS[1]]
        rng.shuffle(second)
        out.append(f"{i if test else label}\t{rng.randrange(10**6)}\t{rng.randrange(10**6)}\t{first}\t{' '.join(second)}")
    return out


def _run(cmd, cwd):
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("glue")
    rng = random.Random(0)
    (d / "MRPC").mkdir()
    for name, n in (("train", 480), ("dev", 80), ("test", 40)):
        rows = _rows(rng, n, test=name == "test")
        (d / "MRPC" / f"{name}.tsv").write_text("\n".join([HEADER.replace("Quality", "index") if name == "test"
                                                           else HEADER] + rows) + "\n")
    (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n")
    _run([sys.executable, str(REPO / "preprocess" / "wordpiece.py"), "dict", "--vocab", "vocab.txt",
          "--output", "dict.txt"], d)
    assert cli.main(["prepare", "--task", "mrpc", "--task-dir", str(d / "MRPC"), "--wordpiece-vocab",
                     str(d / "vocab.txt"), "--dict", str(d / "dict.txt"), "--destdir", str(d / "bin")]) == 0
    flags = _run([sys.executable, "-m", "fairseq_unilmv2.glue", "train-args", "bin"], d).stdout.split()
    assert flags == ["--num-classes", "2", "--init-token", "0", "--separator-token", "2"]
    _run(["fairseq-train", "bin", "--user-dir", USER_DIR, "--task", "sentence_prediction", "--arch", "unilmv2_tiny",
          "--criterion", "sentence_prediction", *flags, "--max-positions", "64", "--batch-size", "16",
          "--optimizer", "adam", "--lr", "1e-3", "--lr-scheduler", "polynomial_decay", "--warmup-updates", "3",
          "--total-num-update", "30", "--max-update", "30", "--save-dir", "ck", "--no-epoch-checkpoints",
          "--no-save-optimizer-state", "--disable-validation", "--dropout", "0", "--attention-dropout", "0",
          "--seed", "1", "--num-workers", "0", "--cpu", "--log-format", "simple"], d)
    return d


def test_predict_scores_and_writes_the_submission(trained):
    d = trained
    done = _run([sys.executable, "-m", "fairseq_unilmv2.glue", "predict", "--checkpoint", "ck/checkpoint_last.pt",
                 "--data", "bin", "--output-dir", "out", "--cpu"], d)
    scores = json.loads(done.stdout.strip().splitlines()[-1])
    assert scores == json.loads((d / "out" / "scores.json").read_text())
    valid = scores["valid"]
    assert valid["acc"] >= 0.9 and valid["f1"] >= 0.9, valid  # chance: 0.5
    assert valid["majority"]["acc"] < 0.7
    lines = (d / "out" / "MRPC.tsv").read_text().splitlines()
    assert lines[0] == "index\tprediction" and len(lines) == 41
    assert [line.split("\t")[0] for line in lines[1:]] == [str(i) for i in range(40)]
    assert {line.split("\t")[1] for line in lines[1:]} <= {"0", "1"}
    gold = ["1" if "w0" in row.split("\t")[4].split() else "0"
            for row in (d / "MRPC" / "test.tsv").read_text().splitlines()[1:]]
    assert sum(g == line.split("\t")[1] for g, line in zip(gold, lines[1:])) >= 36


def _refused(capsys, argv, match):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ")
    assert re.search(match, err[-1]), err[-1]


def test_head_absent_from_the_checkpoint(trained, capsys):
    _refused(capsys, ["predict", "--checkpoint", str(trained / "ck" / "checkpoint_last.pt"), "--data",
                      str(trained / "bin"), "--output-dir", str(trained / "out2"), "--cpu",
                      "--classification-head-name", "nope"],
             r"has no classification head 'nope' \(it has: sentence_classification_head\)")
    assert not (trained / "out2").exists()


def _bin_copy(trained, name, labels):
    """A copy of the data-bin whose label/valid holds ``labels``, binarized against its label/dict.txt."""
    from fairseq.data import Dictionary

    copy = trained / name
    shutil.copytree(trained / "bin", copy)
    prepare._binarize(labels, Dictionary.load(str(copy / "label" / "dict.txt")), str(copy / "label" / "valid"))
    return copy


def test_unknown_label_at_evaluation(trained, capsys):
    copy = _bin_copy(trained, "bin-unknown", ["0"] * 79 + ["yes"])
    _refused(capsys, ["predict", "--checkpoint", str(trained / "ck" / "checkpoint_last.pt"), "--data", str(copy),
                      "--split", "valid", "--output-dir", str(trained / "out3"), "--cpu"],
             r"bin-unknown/label/valid: row 80 holds a label that is not one of MRPC's labels \(0, 1")


def test_label_count_differs_from_inputs(trained, capsys):
    copy = _bin_copy(trained, "bin-short", ["0"] * 79)
    _refused(capsys, ["predict", "--checkpoint", str(trained / "ck" / "checkpoint_last.pt"), "--data", str(copy),
                      "--split", "valid", "--output-dir", str(trained / "out4"), "--cpu"],
             r"bin-short: split valid: .*do not have one row each")


def test_unknown_split_and_missing_checkpoint(trained, capsys):
    _refused(capsys, ["predict", "--checkpoint", str(trained / "ck" / "checkpoint_last.pt"), "--data",
                      str(trained / "bin"), "--split", "valid1", "--output-dir", str(trained / "out5")],
             r"has no split 'valid1' \(it has: train, valid, test\)")
    _refused(capsys, ["predict", "--checkpoint", str(trained / "ck" / "nope.pt"), "--data", str(trained / "bin"),
                      "--output-dir", str(trained / "out5")], r"nope\.pt: no such file")


def test_recipe_without_arguments_prints_its_usage():
    done = subprocess.run(["bash", str(REPO / "recipes" / "glue.sh")], capture_output=True, text=True)
    assert done.returncode == 2
    assert "bash recipes/glue.sh TASK GLUE_DIR PRETRAINED_DIR [WORK]" in done.stderr
    assert "MPNet/README.glue.md" in done.stderr
