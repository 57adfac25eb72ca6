"""recipes/finetune.sh runs the settings its header cites from s2s-ft, with the flags that make
fairseq compute what s2s-ft computes, and every flag is one fairseq's parsers accept."""
import os
import shlex
import subprocess

import pytest

from .helpers import REPO, USER_DIR

# s2s-ft's published settings (microsoft/unilm s2s-ft README: XSum unilm2-base and CNN/DM recipes;
# decode_seq2seq.py ranks with the GNMT penalty; run_seq2seq.py excludes biases and LayerNorm
# weights from weight decay and smooths labels with LabelSmoothingLoss, a KL divergence).
# SQuAD QG is not in the README: a public s2s-ft decode script's settings (unverified).
S2S_FT = {
    "xsum": {"src": 720, "tgt": 48, "mask": 0.4, "steps": 48000, "beam": 8, "lenpen": 0.9, "min_len": 1, "ngram": 3},
    "cnndm": {"src": 608, "tgt": 160, "mask": 0.7, "steps": 45000, "beam": 5, "lenpen": 0.0, "min_len": 48, "ngram": 3},
    "squad_qg": {"src": 464, "tgt": 48, "mask": 0.5, "steps": 20000, "beam": 5, "lenpen": 0.0, "min_len": 1, "ngram": 3},
}


def _commands(tmp_path, task):
    for d in ("data", "pre"):
        (tmp_path / d).mkdir(exist_ok=True)
    for s in ("train", "valid", "test"):
        for lang in ("src", "tgt"):
            (tmp_path / f"data/{s}.{lang}").write_text("a b\n")
    for f in ("checkpoint.pt", "dict.txt", "spm.model"):
        (tmp_path / f"pre/{f}").write_text("")
    env = dict(os.environ, DRY_RUN="1")
    out = subprocess.run(["bash", str(REPO / "recipes/finetune.sh"), task, "data", "pre", "work"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, check=True).stdout
    commands = {}
    for line in out.splitlines():
        argv = shlex.split(line)
        commands[argv[0]] = argv[1:]
    return commands


def _flag(argv, name):
    return argv[argv.index(name) + 1]


@pytest.mark.parametrize("task", sorted(S2S_FT))
def test_finetune_recipe_matches_s2s_ft(tmp_path, task):
    want = S2S_FT[task]
    cmds = _commands(tmp_path, task)
    train, gen = cmds["fairseq-train"], cmds["fairseq-generate"]
    assert int(_flag(train, "--max-source-positions")) == want["src"]
    assert int(_flag(train, "--max-target-positions")) == want["tgt"]
    assert float(_flag(train, "--target-mask-prob")) == want["mask"]
    assert int(_flag(train, "--max-update")) == want["steps"] == int(_flag(train, "--total-num-update"))
    assert float(_flag(train, "--lr")) == 7e-5 and int(_flag(train, "--warmup-updates")) == 1000
    assert 8 * int(_flag(train, "--update-freq")) == 64  # batch 64 on one process
    assert float(_flag(train, "--label-smoothing")) == 0.1
    assert _flag(train, "--label-smoothing-formula") == "s2s-ft"
    assert _flag(train, "--optimizer") == "unilm_adam" and float(_flag(train, "--weight-decay")) == 0.01
    assert int(_flag(gen, "--beam")) == want["beam"]
    assert float(_flag(gen, "--lenpen")) == want["lenpen"]
    assert _flag(gen, "--length-penalty-formula") == "gnmt"
    assert int(_flag(gen, "--min-len")) == want["min_len"]
    assert int(_flag(gen, "--no-repeat-ngram-size")) == want["ngram"]
    assert "." in _flag(gen, "--no-repeat-ngram-ignore")
    # s2s-ft caps hypotheses at max_tgt_length tokens; fairseq's search counts the </s> it forces
    assert int(_flag(gen, "--max-len-b")) == want["tgt"] + 1 and float(_flag(gen, "--max-len-a")) == 0
    assert int(_flag(gen, "--max-target-positions")) == want["tgt"] + 1
    assert int(_flag(gen, "--max-source-positions")) == want["src"]


def test_every_recipe_flag_is_one_fairseq_accepts(tmp_path):
    from fairseq import options

    cmds = _commands(tmp_path, "xsum")
    for name, parser in (("fairseq-train", options.get_training_parser()),
                         ("fairseq-generate", options.get_generation_parser())):
        argv = [a if a != cmds[name][cmds[name].index("--user-dir") + 1] else USER_DIR for a in cmds[name]]
        args, unknown = options.parse_args_and_arch(parser, argv, parse_known=True)
        assert unknown == [], (name, unknown)
