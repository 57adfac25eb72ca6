"""End to end through fairseq's own CLIs, as subprocesses, on real bundled text."""
import torch

from .helpers import PRETRAIN as TRAIN
from .helpers import USER_DIR, check_cli, inner_logs, lee_corpus_lines, run_cli


def test_pretrain_losses_fall_and_checkpoint_reloads_and_resumes(workdir):
    out = check_cli(TRAIN + ["--max-update", "60"], cwd=workdir)
    logs = inner_logs(out)
    assert len(logs) >= 10
    first, last = logs[0], logs[-1]
    for key in ("ae_loss", "par_loss"):
        assert float(last[key]) < float(first[key]) - 1.0, (key, first, last)
    # loss is per chosen token; par_loss per PAR prediction, made for the ~90% of the chosen tokens
    # that are masked (kept ones are AE-only): loss = ae_loss + f * par_loss with f about 0.9
    ae, par, loss = (float(last[k]) for k in ("ae_loss", "par_loss", "loss"))
    assert ae + 0.8 * par < loss < ae + 0.97 * par, last

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


def test_pmlm_checkpoint_fine_tunes_as_seq2seq_with_extended_positions(workdir):
    """--finetune-from-model loads a pmlm checkpoint into unilm_seq2seq (same parameter names);
    a larger --max-positions tiles the pre-trained position table (s2s-ft's reuse)."""
    if not (workdir / "ck/checkpoint_last.pt").exists():
        check_cli(TRAIN + ["--max-update", "5"], cwd=workdir)
    lines = [line for line in lee_corpus_lines()[:60] if line]
    words = [line.split() for line in lines]
    (workdir / "s2s.src").write_text("\n".join(" ".join(w[:40]) for w in words) + "\n")
    (workdir / "s2s.tgt").write_text("\n".join(" ".join(w[40:50]) for w in words) + "\n")
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "s2s", "--validpref", "s2s",
               "--srcdict", "bin/dict.txt", "--joined-dictionary", "--destdir", "bin_s2s"], cwd=workdir)
    out = check_cli(["fairseq-train", "bin_s2s", "--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src",
                     "-t", "tgt", "--arch", "unilmv2_tiny", "--criterion", "unilm_seq2seq",
                     "--finetune-from-model", "ck/checkpoint_last.pt", "--max-positions", "640",
                     "--max-source-positions", "600", "--max-target-positions", "40", "--optimizer", "adam",
                     "--lr", "1e-4", "--batch-size", "8", "--max-update", "2", "--save-dir", "ck_s2s",
                     "--num-workers", "0", "--no-epoch-checkpoints"], cwd=workdir)
    assert "loading pretrained model from ck/checkpoint_last.pt" in out
    pre = torch.load(workdir / "ck/checkpoint_last.pt", map_location="cpu")["model"]
    ft = torch.load(workdir / "ck_s2s/checkpoint_last.pt", map_location="cpu")["model"]
    assert set(pre) == set(ft)
    table = ft["transformer.embed_positions.weight"]
    assert table.shape[0] == 640
    # rows 512.. started as copies of rows 0..127 and moved by two small updates only
    assert (table[512:640] - table[0:128]).abs().max() < 0.05


def test_seq2seq_rejects_a_checkpoint_with_another_vocabulary(workdir):
    words = [line.split() for line in lee_corpus_lines()[:20] if line]
    (workdir / "other.src").write_text("\n".join(" ".join(w[:5]) for w in words) + "\n")
    (workdir / "other.tgt").write_text("\n".join(" ".join(w[5:8]) for w in words) + "\n")
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "other", "--joined-dictionary",
               "--destdir", "bin_other"], cwd=workdir)
    proc = run_cli(["fairseq-train", "bin_other", "--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src",
                    "-t", "tgt", "--arch", "unilmv2_tiny", "--criterion", "unilm_seq2seq", "--optimizer", "adam",
                    "--finetune-from-model", "ck/checkpoint_last.pt", "--lr", "1e-4", "--batch-size", "8",
                    "--max-update", "1", "--save-dir", "ck_other", "--num-workers", "0", "--disable-validation"],
                   cwd=workdir)
    assert proc.returncode != 0
    assert "--task pmlm --srcdict set to the pre-training data-bin's dict.txt" in proc.stderr
