"""fairseq-train --bf16 outside TPUs: the pinned fairseq sets its TPU flag for every --bf16 and
then stops in torch_xla's xla_device() (on GPU machines as on CPU ones); fairseq_unilmv2/bf16.py
clears that flag where torch_xla is absent. Here, on CPU, pre-training and fine-tuning train in
bfloat16: losses finite, falling, and not those of float32 (bf16 rounding) but close to them.
(fairseq saves checkpoints in float32 whatever the training dtype.)"""
import math

import torch

from .helpers import PRETRAIN, USER_DIR, check_cli, inner_logs, lee_corpus_lines


def test_bf16_pretraining_and_finetuning_train_in_bfloat16(tmp_path):
    lines = lee_corpus_lines()
    (tmp_path / "train.txt").write_text("\n".join(lines[:200]) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(lines[200:220]) + "\n")
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--validpref", "valid.txt",
               "--destdir", "bin", "--workers", "1"], cwd=tmp_path)
    run = [*PRETRAIN, "--max-update", "20", "--tokens-per-sample", "64"]
    fp32 = [float(row["loss"]) for row in inner_logs(check_cli([*run, "--save-dir", "ck32"], cwd=tmp_path))]
    bf16 = [float(row["loss"]) for row in inner_logs(check_cli([*run, "--bf16"], cwd=tmp_path))]
    assert len(bf16) == 4 and all(math.isfinite(x) for x in bf16) and bf16[-1] < bf16[0]
    assert bf16 != fp32 and all(abs(a - b) < 0.03 * a for a, b in zip(fp32, bf16))
    state = torch.load(tmp_path / "ck" / "checkpoint_last.pt", weights_only=False)
    assert state["cfg"]["common"]["bf16"] is True and state["cfg"]["common"]["tpu"] is False

    # seq2seq fine-tuning from it, in bf16 too
    for split in ("train", "valid"):
        docs = (tmp_path / f"{split}.txt").read_text().splitlines()
        (tmp_path / f"{split}.src").write_text("".join(" ".join(d.split()[:30]) + "\n" for d in docs))
        (tmp_path / f"{split}.tgt").write_text("".join(" ".join(d.split()[30:40]) + "\n" for d in docs))
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "train", "--validpref", "valid",
               "--srcdict", "bin/dict.txt", "--joined-dictionary", "--destdir", "bin-s2s", "--workers", "1"],
              cwd=tmp_path)
    out = check_cli(["fairseq-train", "bin-s2s", "--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src",
                     "-t", "tgt", "--arch", "unilmv2_tiny", "--criterion", "unilm_seq2seq", "--bf16", "--cpu",
                     "--finetune-from-model", "ck/checkpoint_last.pt", "--max-source-positions", "64",
                     "--max-target-positions", "16", "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "16",
                     "--max-update", "4", "--save-dir", "ck-s2s", "--no-epoch-checkpoints", "--num-workers", "0",
                     "--log-format", "json", "--log-interval", "2"], cwd=tmp_path)
    assert all(math.isfinite(float(row["loss"])) for row in inner_logs(out))
