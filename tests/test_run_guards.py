"""fairseq-train / fairseq-generate refuse runs that would give a wrong result without a word:
decoding a checkpoint never fine-tuned for seq2seq, a finished run rerun, a run resumed from
another task's --save-dir."""
import os
import random

import pytest

from .helpers import USER_DIR, check_cli, run_cli

S2S = ["--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
       "--max-source-positions", "16", "--max-target-positions", "16"]
TRAIN = ["--arch", "unilmv2_tiny", "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "16", "--cpu",
         "--num-workers", "0", "--no-epoch-checkpoints", "--log-format", "simple", "--seed", "1"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A joined-dictionary seq2seq data-bin and a pmlm data-bin with the same dictionary."""
    d = tmp_path_factory.mktemp("guards")
    rng = random.Random(0)
    letters = [chr(ord("a") + i) for i in range(12)]
    for name, n in (("train", 200), ("valid", 20), ("test", 5)):
        src = [" ".join(rng.choice(letters) for _ in range(rng.randint(3, 8))) for _ in range(n)]
        (d / f"{name}.src").write_text("\n".join(src) + "\n")
        (d / f"{name}.tgt").write_text("\n".join(" ".join(reversed(s.split())) for s in src) + "\n")
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "train", "--validpref", "valid",
               "--testpref", "test", "--joined-dictionary", "--destdir", "bin", "--workers", "1"], cwd=d)
    check_cli(["fairseq-preprocess", "--only-source", "--srcdict", "bin/dict.src.txt", "--trainpref", "train.src",
               "--validpref", "valid.src", "--destdir", "pre-bin", "--workers", "1"], cwd=d)
    check_cli(["fairseq-train", "pre-bin", "--user-dir", USER_DIR, "--task", "pmlm", "--criterion", "pmlm",
               "--tokens-per-sample", "32", *TRAIN, "--max-update", "3", "--save-dir", "ck-pre"], cwd=d)
    return d


@pytest.mark.parametrize("scoring", [[], ["--score-reference"]])
def test_a_pretraining_checkpoint_is_refused_by_seq2seq_decoding_and_scoring(data, scoring):
    proc = run_cli(["fairseq-generate", "bin", *S2S, "--path", "ck-pre/checkpoint_last.pt", "--batch-size", "4",
                    "--cpu", "--beam", "2", "--gen-subset", "test", *scoring], cwd=data)
    assert proc.returncode != 0
    assert "never fine-tuned for seq2seq" in proc.stderr and "--finetune-from-model" in proc.stderr
    assert "H-0" not in proc.stdout


def test_a_finished_run_rerun_does_nothing_and_says_so(data):
    args = ["fairseq-train", "bin", *S2S, "--criterion", "unilm_seq2seq", *TRAIN, "--max-update", "4",
            "--save-dir", "ck-done"]
    check_cli(args, cwd=data)
    last = data / "ck-done/checkpoint_last.pt"
    before = (last.stat().st_mtime_ns, last.read_bytes())
    out = check_cli(args, cwd=data)
    assert "nothing to do" in out and "update 4" in out
    assert "num_updates: 5" not in out
    assert (last.stat().st_mtime_ns, last.read_bytes()) == before  # not rewritten
    more = check_cli([*args[:-4], "--max-update", "6", "--save-dir", "ck-done"], cwd=data)  # raised: trains on
    assert "num_updates: 6 >= max_update: 6" in more
    by_epoch = [*args[:-4], "--max-epoch", "1", "--save-dir", "ck-epoch"]
    check_cli(by_epoch, cwd=data)
    out = check_cli(by_epoch, cwd=data)
    assert "nothing to do" in out and "--max-epoch is 1" in out


def test_fine_tuning_into_the_pretraining_save_dir_is_refused_with_the_way_out(data):
    proc = run_cli(["fairseq-train", "bin", *S2S, "--criterion", "unilm_seq2seq", *TRAIN, "--max-update", "2",
                    "--finetune-from-model", "ck-pre/checkpoint_last.pt", "--save-dir", "ck-pre"], cwd=data)
    assert proc.returncode != 0
    message = proc.stderr.strip().splitlines()[-1]
    assert "--save-dir ck-pre holds checkpoint_last.pt of another run" in message, proc.stderr[-2000:]
    assert "--task pmlm" in message and "own --save-dir" in message
    assert "Criterion does not match" not in proc.stderr
    assert sorted(os.listdir(data / "ck-pre")) == ["checkpoint_best.pt", "checkpoint_last.pt"]


def test_a_converted_checkpoint_is_decoded_with_a_warning_not_refused():
    """unilmv2-convert-hf's checkpoints (task pmlm, segments_trained recorded) may hold a model
    fine-tuned elsewhere (s2s-ft): warned about, not refused; our own pre-training is refused."""
    from omegaconf import OmegaConf

    from fairseq_unilmv2.tasks.unilm_seq2seq import refuse_unfinetuned

    def model_cfg(**model):
        return OmegaConf.create({"task": {"_name": "pmlm", "objective": "mlm"}, "model": model}).model

    refuse_unfinetuned(model_cfg(segments_trained=2))
    with pytest.raises(ValueError, match="--task pmlm --objective mlm pre-training and never fine-tuned"):
        refuse_unfinetuned(model_cfg())
