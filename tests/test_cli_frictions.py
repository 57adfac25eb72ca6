"""Console scripts: --help and usage errors without importing fairseq, a scorer without fairseq,
quiet ends when stdout closes early (``| head``), and unilmv2-export-encoder refusing what it
cannot export."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .helpers import REPO, run_cli

BIN = Path(sys.executable).parent
HEAVY = ("fairseq", "torch")


def _run(args, cwd, stdout=subprocess.PIPE, **env):
    exe = str(BIN / args[0]) if (BIN / args[0]).exists() else args[0]
    return subprocess.run([exe, *args[1:]], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", **env), timeout=300)


def imported_modules(args, cwd):
    """Every module the command imports, from Python's -X importtime report on stderr."""
    proc = _run(args, cwd, PYTHONPROFILEIMPORTTIME="1")
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}


def heavy(modules):
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.fixture
def pair(tmp_path):
    (tmp_path / "hyp.txt").write_text("the cat sat on the mat .\na dog ran in the park .\n")
    (tmp_path / "ref.txt").write_text("the cat sat on a mat .\nthe dog ran in the park .\n")
    return tmp_path


HELP_AND_USAGE_ERRORS = [
    (["unilmv2-score", "--help"], 0),
    (["unilmv2-score", "rouge", "--help"], 0),
    (["unilmv2-score"], 2),                      # no metric
    (["unilmv2-score", "rouge", "--hyp", "h"], 2),  # no --ref
    (["unilmv2-score", "bleu", "--hyp", "h", "--ref", "r", "--tokenize", "nosuch"], 2),
    (["unilmv2-export-encoder", "--help"], 0),
    (["unilmv2-export-encoder"], 2),             # no checkpoint, output
]


@pytest.mark.parametrize("args,status", HELP_AND_USAGE_ERRORS, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_help_and_usage_errors_import_no_fairseq(args, status, tmp_path):
    proc = _run(args, tmp_path)
    assert proc.returncode == status, proc.stderr
    if status == 0:
        assert proc.stdout.startswith(f"usage: {args[0]}") and proc.stderr == ""
    else:  # argparse's two lines, nothing of fairseq's logging ("Please install tensorboardX")
        lines = proc.stderr.splitlines()
        assert lines[0].startswith(f"usage: {args[0]}") and lines[-1].startswith(args[0]) and ": error: " in lines[-1]
        assert "INFO" not in proc.stderr
    assert heavy(imported_modules(args, tmp_path)) == []


def test_scoring_imports_no_fairseq(pair):
    args = ["unilmv2-score", "rouge", "--hyp", "hyp.txt", "--ref", "ref.txt"]
    proc = _run(args, pair)
    assert proc.returncode == 0 and proc.stderr == ""
    # each line: 5 of 6 unigrams shared (the, cat, sat, on, mat / dog, ran, in, the, park) -> F1 5/6
    assert json.loads(proc.stdout)["rouge1"] == 83.33
    assert heavy(imported_modules(args, pair)) == []


CLOSED_STDOUT = [
    ["unilmv2-score", "rouge", "--hyp", "hyp.txt", "--ref", "ref.txt"],
    ["unilmv2-score", "bleu", "--hyp", "hyp.txt", "--ref", "ref.txt"],
    [sys.executable, "-m", "fairseq_unilmv2.scoring.score_cli", "bleu", "--hyp", "hyp.txt", "--ref", "ref.txt"],
]


@pytest.mark.parametrize("args", CLOSED_STDOUT, ids=lambda a: " ".join(a[:3]))
def test_closed_stdout_ends_quietly(args, pair):
    """As ``cmd | head -0``: stdout is a pipe whose reader is gone before the command writes
    (closed here first, so the write fails every time, not by timing). --help needs no case:
    argparse itself ignores a failed write of the help. Exit 141 as a process
    killed by SIGPIPE, no BrokenPipeError traceback or "Exception ignored" line."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = _run(args, pair, stdout=write_end, PYTHONPATH=str(REPO))
    finally:
        os.close(write_end)
    assert proc.returncode == 141, proc.stderr
    assert "BrokenPipe" not in proc.stderr and "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def _checkpoint(path, task, criterion):
    """A checkpoint as fairseq-train writes it (cfg as plain containers, one optimizer_history
    entry), with the task name under test and one tensor."""
    torch.save({"cfg": {"task": {"_name": task, "data": "bin"}, "model": {"_name": "unilmv2", "mae_decoder_layers": 0}},
                "model": {"transformer.embed_tokens.weight": torch.zeros(3, 2)}, "args": None,
                "optimizer_history": [{"criterion_name": criterion, "optimizer_name": "FairseqAdam",
                                       "lr_scheduler_state": {"best": None}, "num_updates": 1}],
                "extra_state": {}, "last_optimizer_state": None}, path)


def test_export_encoder_refuses_a_fine_tuned_seq2seq_checkpoint(tmp_path):
    _checkpoint(tmp_path / "finetuned.pt", "unilm_seq2seq", "UniLMSeq2SeqCriterion")
    proc = run_cli(["unilmv2-export-encoder", "finetuned.pt", "encoder.pt"], cwd=tmp_path)
    assert proc.returncode == 2
    message = [line for line in proc.stderr.splitlines() if line.startswith("unilmv2-export-encoder:")]
    assert len(message) == 1 and "Traceback" not in proc.stderr
    assert "finetuned.pt is a fine-tuned seq2seq checkpoint (task unilm_seq2seq)" in message[0]
    assert "exports pre-training (--task pmlm) checkpoints" in message[0]
    assert "--path finetuned.pt" in message[0] and "--finetune-from-model" in message[0]
    assert not list(tmp_path.glob("encoder.pt*"))


def test_export_encoder_refuses_other_tasks_and_exports_pmlm(tmp_path):
    _checkpoint(tmp_path / "mt.pt", "translation", "CrossEntropyCriterion")
    proc = run_cli(["unilmv2-export-encoder", "mt.pt", "encoder.pt"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "mt.pt was written by task 'translation'; this tool exports pre-training (--task pmlm)" in proc.stderr
    assert not list(tmp_path.glob("encoder.pt*"))

    _checkpoint(tmp_path / "pre.pt", "pmlm", "PMLMCriterion")
    proc = run_cli(["unilmv2-export-encoder", "pre.pt", "encoder.pt"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote encoder.pt (0 pre-training-only tensors dropped)" in proc.stderr
    assert torch.load(tmp_path / "encoder.pt", weights_only=False)["cfg"]["task"]["_name"] == "pmlm"


def test_preprocess_scripts_end_quietly_on_a_closed_stdout(tmp_path):
    """``python preprocess/spm.py encode ... | head`` and ``wordpiece.py dict --print-map | head``."""
    import sentencepiece

    text = tmp_path / "text.txt"
    text.write_text("".join(f"the cat number {i} sat on the mat and looked at dog {i % 7}\n" for i in range(300)))
    sentencepiece.SentencePieceTrainer.train(input=str(text), model_prefix=str(tmp_path / "m"), vocab_size=40,
                                             minloglevel=2)
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\n##s\n")
    for args, stdin in (
        ([str(REPO / "preprocess/spm.py"), "encode", "--model", str(tmp_path / "m.model")], text),
        ([str(REPO / "preprocess/wordpiece.py"), "dict", "--vocab", str(tmp_path / "vocab.txt"),
          "--output", str(tmp_path / "dict.txt"), "--print-map"], None),
    ):
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            with open(stdin or os.devnull) as source:
                proc = subprocess.run([sys.executable, *args], stdin=source, stdout=write_end, stderr=subprocess.PIPE,
                                      text=True, cwd=tmp_path, timeout=120)
        finally:
            os.close(write_end)
        assert proc.returncode == 141, proc.stderr
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
