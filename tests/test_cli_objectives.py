"""Every --objective trains end to end through fairseq-train on real text with falling loss;
an MAE-LM checkpoint fine-tunes with its encoder alone."""
import pytest
import torch

from .helpers import PRETRAIN, USER_DIR, check_cli, inner_logs, run_cli


def _train(workdir, objective, *extra):
    save = f"ck_{objective}"
    args = PRETRAIN + ["--objective", objective, "--save-dir", save, "--max-update", "40", *extra]
    return inner_logs(check_cli(args, cwd=workdir)), workdir / save / "checkpoint_last.pt"


@pytest.mark.parametrize("objective", ["mlm", "mpnet", "maelm"])
def test_objective_trains_with_falling_loss(workdir, objective):
    extra = ("--mae-decoder-layers", "2") if objective == "maelm" else ()
    logs, ckpt = _train(workdir, objective, *extra)
    assert len(logs) >= 6
    assert "ae_loss" not in logs[-1] and "par_loss" not in logs[-1]
    assert float(logs[-1]["loss"]) < float(logs[0]["loss"]) - 1.0, (logs[0], logs[-1])
    state = torch.load(ckpt, map_location="cpu")["model"]
    assert any(k.startswith("mae_decoder.layers.1.") for k in state) == (objective == "maelm")


def test_maelm_checkpoint_fine_tunes_with_the_encoder_alone(workdir):
    ckpt = workdir / "ck_maelm" / "checkpoint_last.pt"
    if not ckpt.exists():
        _train(workdir, "maelm", "--mae-decoder-layers", "2")
    lines = (workdir / "valid.txt").read_text().splitlines()[:20]
    (workdir / "mae.src").write_text("\n".join(" ".join(w.split()[:30]) for w in lines) + "\n")
    (workdir / "mae.tgt").write_text("\n".join(" ".join(w.split()[30:40]) for w in lines) + "\n")
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "mae", "--validpref", "mae",
               "--srcdict", "bin/dict.txt", "--joined-dictionary", "--destdir", "bin_mae"], cwd=workdir)
    out = check_cli(["fairseq-train", "bin_mae", "--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src",
                     "-t", "tgt", "--arch", "unilmv2_tiny", "--criterion", "unilm_seq2seq",
                     "--finetune-from-model", str(ckpt), "--optimizer", "adam", "--lr", "1e-4", "--batch-size", "8",
                     "--max-update", "1", "--save-dir", "ck_mae_s2s", "--num-workers", "0",
                     "--no-epoch-checkpoints"], cwd=workdir)
    assert "dropped" in out and "MAE-LM decoder tensors" in out
    pre = torch.load(ckpt, map_location="cpu")["model"]
    ft = torch.load(workdir / "ck_mae_s2s" / "checkpoint_last.pt", map_location="cpu")["model"]
    assert set(ft) == {k for k in pre if not k.startswith("mae_decoder.")}


def test_maelm_refuses_corruption_options(workdir):
    proc = run_cli(PRETRAIN + ["--objective", "maelm", "--random-token-prob", "0.1", "--max-update", "1",
                               "--save-dir", "ck_bad_mae"], cwd=workdir)
    assert proc.returncode != 0
    assert "--objective maelm removes every chosen token" in proc.stderr


def test_export_encoder_drops_the_maelm_decoder_and_reloads(workdir):
    ckpt = workdir / "ck_maelm" / "checkpoint_last.pt"
    if not ckpt.exists():
        _train(workdir, "maelm", "--mae-decoder-layers", "2")
    out = check_cli(["unilmv2-export-encoder", str(ckpt), "encoder.pt"], cwd=workdir)
    assert "wrote encoder.pt" in out and "pre-training-only tensors dropped" in out
    assert not list(workdir.glob("encoder.pt.tmp*"))

    import fairseq_unilmv2  # noqa: F401
    from fairseq import checkpoint_utils

    models, _, _ = checkpoint_utils.load_model_ensemble_and_task(
        [str(workdir / "encoder.pt")], arg_overrides={"data": str(workdir / "bin")}
    )
    assert models[0].mae_decoder is None
    pre = torch.load(ckpt, map_location="cpu")["model"]
    exported = models[0].state_dict()
    assert set(exported) == {k for k in pre if not k.startswith("mae_decoder.")}
    assert all(torch.equal(exported[k], pre[k]) for k in exported)
    assert torch.load(workdir / "encoder.pt", map_location="cpu", weights_only=False)["last_optimizer_state"] is None

    proc = run_cli(["unilmv2-export-encoder", "missing.pt", "x.pt"], cwd=workdir)
    assert proc.returncode == 2 and "missing.pt does not exist" in proc.stderr
