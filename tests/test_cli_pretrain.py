"""End to end through fairseq's own CLIs, as subprocesses, on real bundled text."""
import json

import pytest
import torch

from .helpers import USER_DIR, check_cli, lee_corpus_lines, run_cli

TRAIN = [
    "fairseq-train", "bin", "--user-dir", USER_DIR, "--task", "pmlm", "--criterion", "pmlm",
    "--arch", "unilmv2_tiny", "--tokens-per-sample", "128", "--batch-size", "16",
    "--optimizer", "adam", "--lr", "1e-3", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "10",
    "--log-format", "json", "--log-interval", "5", "--save-dir", "ck", "--no-epoch-checkpoints",
    "--seed", "7", "--num-workers", "0", "--cpu", "--dropout", "0.0", "--attention-dropout", "0.0",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """The Lee corpus, with empty and one-token lines mixed in, binarized by fairseq-preprocess."""
    d = tmp_path_factory.mktemp("pretrain")
    lines = lee_corpus_lines()
    train = lines[:270]
    for i in range(0, 270, 30):  # bad input the task must survive
        train.insert(i, "")
        train.insert(i, "word")
    (d / "train.txt").write_text("\n".join(train) + "\n")
    (d / "valid.txt").write_text("\n".join(lines[270:]) + "\n")
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--validpref",
               "valid.txt", "--destdir", "bin", "--workers", "2"], cwd=d)
    return d


def _inner_logs(output):
    rows = []
    for line in output.splitlines():
        if "| train_inner |" in line:
            rows.append(json.loads(line.split("| train_inner | ", 1)[1]))
    return rows


def test_pretrain_losses_fall_and_checkpoint_reloads_and_resumes(workdir):
    out = check_cli(TRAIN + ["--max-update", "60"], cwd=workdir)
    logs = _inner_logs(out)
    assert len(logs) >= 10
    first, last = logs[0], logs[-1]
    for key in ("ae_loss", "par_loss"):
        assert float(last[key]) < float(first[key]) - 1.0, (key, first, last)
    assert float(last["loss"]) == pytest.approx(float(last["ae_loss"]) + float(last["par_loss"]), abs=0.01)

    import fairseq_unilmv2  # noqa: F401
    from fairseq import checkpoint_utils

    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(workdir / "ck/checkpoint_last.pt")], arg_overrides={"data": str(workdir / "bin")}
    )
    assert cfg.task._name == "pmlm" and cfg.model.encoder_layers == 2
    state = torch.load(workdir / "ck/checkpoint_last.pt", map_location="cpu")["model"]
    assert torch.equal(models[0].state_dict()["transformer.embed_tokens.weight"],
                       state["transformer.embed_tokens.weight"])

    # resume: fairseq reloads checkpoint_last.pt through the same loader and carries on
    out = check_cli(TRAIN + ["--max-update", "70"], cwd=workdir)
    assert "Loaded checkpoint" in out and "num_updates 70" in out.replace('"num_updates": "70"', "num_updates 70")


def test_tokens_per_sample_beyond_positions_is_one_clear_error(workdir):
    args = [a if a != "128" else "1024" for a in TRAIN] + ["--max-update", "1", "--save-dir", "ck_bad"]
    proc = run_cli(args, cwd=workdir)
    assert proc.returncode != 0
    assert "--tokens-per-sample 1024 exceeds the model's --max-positions 512" in proc.stderr
