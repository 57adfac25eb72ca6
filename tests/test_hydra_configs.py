"""The shipped hydra configs run as documented: ``fairseq-hydra-train`` with
recipes/configs/pretrain and then recipes/configs/finetune, on the CPU torch of install.sh
(fp16 is off unless asked for), started from a directory other than the repository, with
relative data paths, writing checkpoints to each stage's own save_dir and nothing else into
the working directory; fine-tuning starts from the pre-training checkpoint. Neither common.user_dir nor
checkpoint.finetune_from_model is given: the configs' defaults must find them.

Only sizes, update counts and batch sizes are overridden (tiny, a few seconds per run)."""
from pathlib import Path

import pytest
import torch

import fairseq_unilmv2  # noqa: F401  (checkpoint loading under torch >= 2.6)
from fairseq import checkpoint_utils

from .helpers import REPO, USER_DIR, check_cli, lee_corpus_lines

CONFIGS = REPO / "recipes" / "configs"
TINY = ["model.encoder_layers=2", "model.encoder_embed_dim=32", "model.encoder_ffn_embed_dim=64",
        "model.encoder_attention_heads=2", "model.max_positions=64", "optimization.max_update=3",
        "dataset.batch_size=4", "optimization.update_freq=[1]", "common.log_interval=1"]


def _hydra_train(stage, cwd, *overrides):
    return check_cli(["fairseq-hydra-train", "--config-dir", str(CONFIGS / stage), "--config-name", "unilmv2_base",
                      *TINY, *overrides], cwd=cwd)


def _num_updates(ckpt):
    return ckpt["optimizer_history"][-1]["num_updates"]


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """Word-level data-bins of bundled real text (Lee corpus): monolingual for pre-training,
    (first 40 words -> first 10 words) pairs with the same dictionary for fine-tuning; both
    configs run in that directory, in order."""
    d = tmp_path_factory.mktemp("hydra")
    lines = [line.split() for line in lee_corpus_lines() if line.strip()]
    (d / "train.txt").write_text("".join(" ".join(w) + "\n" for w in lines[:60]))
    (d / "valid.txt").write_text("".join(" ".join(w) + "\n" for w in lines[60:70]))
    for split, rows in (("train", lines[100:140]), ("valid", lines[140:150])):
        (d / f"s2s_{split}.src").write_text("".join(" ".join(w[:40]) + "\n" for w in rows))
        (d / f"s2s_{split}.tgt").write_text("".join(" ".join(w[:10]) + "\n" for w in rows))
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--validpref", "valid.txt",
               "--destdir", "bin", "--workers", "1"], cwd=d)
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--joined-dictionary", "--srcdict", "bin/dict.txt",
               "--trainpref", "s2s_train", "--validpref", "s2s_valid", "--destdir", "bin-s2s", "--workers", "1"], cwd=d)
    before = set(p.name for p in d.iterdir())
    # seed 3: an initialisation other than fine-tuning's (seed 1), so loading it is visible
    pre_log = _hydra_train("pretrain", d, "task.data=bin", "task.tokens_per_sample=64", "common.seed=3")
    ft_log = _hydra_train("finetune", d, "task.data=bin-s2s", "task.max_source_positions=48",
                          "task.max_target_positions=16")
    return d, before, pre_log, ft_log


def test_pretrain_config_trains_on_cpu_into_its_save_dir(stages):
    d, _, log, _ = stages
    assert REPO not in d.parents and d != REPO
    ckpt = checkpoint_utils.load_checkpoint_to_cpu(str(d / "checkpoints/pretrain/checkpoint_last.pt"))
    assert _num_updates(ckpt) == 3
    cfg = ckpt["cfg"]
    assert (cfg.task._name, cfg.criterion._name, cfg.common.fp16) == ("pmlm", "pmlm", False)
    assert Path(cfg.common.user_dir).resolve() == Path(USER_DIR)  # found from --config-dir, not given
    assert '"num_updates": "3"' in log
    # hydra's record of the run sits beside the checkpoints, not in the working directory
    assert (d / "checkpoints/pretrain/.hydra/config.yaml").is_file()


def test_finetune_config_starts_from_the_pretraining_checkpoint(stages):
    d, before, _, log = stages
    pre = checkpoint_utils.load_checkpoint_to_cpu(str(d / "checkpoints/pretrain/checkpoint_last.pt"))
    ft = checkpoint_utils.load_checkpoint_to_cpu(str(d / "checkpoints/finetune/checkpoint_last.pt"))
    # a fresh run (optimizer and update count reset), not a resumed pre-training checkpoint
    assert "loading pretrained model from checkpoints/pretrain/checkpoint_last.pt" in log
    assert _num_updates(ft) == 3
    cfg = ft["cfg"]
    assert (cfg.task._name, cfg.criterion._name, cfg.criterion.label_smoothing) == ("unilm_seq2seq", "unilm_seq2seq", 0.1)
    assert cfg.common.fp16 is False
    # Every pre-trained tensor was loaded: 3 updates at lr <= 3/1000 x 7e-5 (1000 warm-up steps)
    # move no weight by 1e-5, while seed 1's fresh initialisation differs from seed 3's by far more.
    pre_w, ft_w = pre["model"], ft["model"]
    assert set(pre_w) == set(ft_w)
    moved = max((ft_w[k].float() - pre_w[k].float()).abs().max().item() for k in pre_w)
    assert 0 < moved < 1e-5, moved
    emb = "transformer.embed_tokens.weight"
    assert emb in pre_w and not torch.equal(pre_w[emb], ft_w[emb])  # and it trained
    # nothing but the two stages' save_dirs was written into the working directory
    assert set(p.name for p in d.iterdir()) - before == {"checkpoints"}
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == ["finetune", "pretrain"]
