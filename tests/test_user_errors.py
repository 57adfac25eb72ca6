"""Natural mistakes end in one message that says what to do, and fairseq-train prints it as the
last line of its output (not under fairseq's "Cannot load model parameters ..." re-raise)."""
import random

import pytest
from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

from .helpers import USER_DIR, check_cli, run_cli

LETTERS = [chr(ord("a") + i) for i in range(16)]
RUN = ["--user-dir", USER_DIR, "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "4", "--max-update", "1",
       "--num-workers", "0", "--cpu", "--no-save", "--log-format", "json"]
PMLM = ["--task", "pmlm", "--tokens-per-sample", "32"]
S2S = ["--task", "unilm_seq2seq"]
TINY = ["--arch", "unilmv2_tiny"]


@pytest.fixture(scope="module")
def bins(tmp_path_factory):
    """mono: --only-source data-bin (16 letters + 4 specials = 20 entries, padded by fairseq to a
    multiple of 8: 24, and 26 with <mask> and <pseudo>); par: the same letters as src/tgt pairs;
    par_big: 10 more words (26 + 4 = 30, padded to 32, 34 with the two); pre: a unilmv2_tiny pmlm
    checkpoint of mono after one update."""
    d = tmp_path_factory.mktemp("user_errors")
    rng = random.Random(3)
    src = [[rng.choice(LETTERS) for _ in range(rng.randint(10, 20))] for _ in range(20)]
    (d / "m.txt").write_text("".join(" ".join(s) + "\n" for s in src))
    (d / "p.src").write_text("".join(" ".join(s) + "\n" for s in src))
    (d / "p.tgt").write_text("".join(" ".join(reversed(s[:6])) + "\n" for s in src))
    (d / "q.src").write_text((d / "p.src").read_text() + "zz yy xx ww vv uu tt ss rr qq\n")
    (d / "q.tgt").write_text((d / "p.tgt").read_text() + "zz yy\n")
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "m.txt", "--validpref", "m.txt",
               "--destdir", "mono", "--workers", "1"], cwd=d)
    for pref, dest in (("p", "par"), ("q", "par_big")):
        check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", pref, "--validpref", pref,
                   "--joined-dictionary", "--destdir", dest, "--workers", "1"], cwd=d)
    check_cli(["fairseq-train", "mono", *PMLM, "--criterion", "pmlm", *TINY, *RUN[:-3], "--save-dir", "pre",
               "--no-epoch-checkpoints"], cwd=d)
    return d


def last_line(args, cwd):
    """The last line fairseq-train prints: the message a user reads."""
    proc = run_cli(["fairseq-train", *args], cwd)
    assert proc.returncode != 0, proc.stdout[-2000:]
    return (proc.stdout + proc.stderr).strip().splitlines()[-1]


def _task(argv):
    cfg = convert_namespace_to_omegaconf(options.parse_args_and_arch(options.get_training_parser(), argv))
    return cfg, tasks.setup_task(cfg.task)


def test_pmlm_on_a_parallel_databin_names_the_seq2seq_task(bins):
    line = last_line(["par", *PMLM, "--criterion", "pmlm", *TINY, *RUN], bins)
    assert line == (
        "ValueError: par is a seq2seq (parallel) data-bin: it holds dict.src.txt, dict.tgt.txt and no dict.txt. "
        "Fine-tune on it with --task unilm_seq2seq --criterion unilm_seq2seq; for --task pmlm pre-training "
        "binarize monolingual text with fairseq-preprocess --only-source"
    )


# The checks below run where the one above does (setup_task, build_criterion, build_model, outside
# any try of fairseq-train's), so they run in-process, from the data's directory.


@pytest.mark.parametrize("langs", [[], ["-s", "src", "-t", "tgt"]])
def test_seq2seq_on_a_monolingual_databin_names_pmlm_and_how_to_binarize_pairs(bins, langs, monkeypatch):
    monkeypatch.chdir(bins)
    with pytest.raises(ValueError) as e:
        _task(["mono", "--user-dir", USER_DIR, *S2S, *langs, *TINY])
    assert str(e.value).startswith(
        "mono is a monolingual data-bin (dict.txt, from fairseq-preprocess --only-source): pre-train on it with "
        "--task pmlm --criterion pmlm; for --task unilm_seq2seq binarize source/target pairs with "
        "fairseq-preprocess --user-dir fairseq_unilmv2 --task pmlm -s SRC -t TGT --joined-dictionary")


def test_pretraining_without_criterion_names_criterion_pmlm(bins):
    line = last_line(["mono", *PMLM, *TINY, *RUN], bins)  # fairseq's default: cross_entropy
    assert line.startswith("ValueError: --task pmlm does not train with --criterion cross_entropy (fairseq's "
                           "default when --criterion is not given): pass --criterion pmlm")


@pytest.mark.parametrize("data,task,criterion,right", [
    ("par", S2S, "pmlm", "--criterion unilm_seq2seq"),
    ("mono", PMLM, "unilm_seq2seq", "--criterion pmlm"),
    ("mono", PMLM, "label_smoothed_cross_entropy", "--criterion pmlm"),
    ("par", S2S, "masked_lm", "--criterion unilm_seq2seq"),
])
def test_a_criterion_of_another_task_is_refused_with_the_right_one(bins, data, task, criterion, right):
    cfg, t = _task([str(bins / data), "--user-dir", USER_DIR, *task, *TINY, "--criterion", criterion])
    with pytest.raises(ValueError, match=f"does not train with --criterion {criterion}: pass {right}"):
        t.build_criterion(cfg.criterion)


@pytest.mark.parametrize("task", [PMLM, S2S])
def test_a_missing_data_directory_is_named(bins, task, monkeypatch):
    monkeypatch.chdir(bins)
    with pytest.raises(FileNotFoundError, match="^data directory nosuchdir does not exist"):
        _task(["nosuchdir", "--user-dir", USER_DIR, *task, *TINY])


def test_sharded_databin_root_points_at_its_shards(bins):
    (bins / "sharded" / "shard0").mkdir(parents=True)
    (bins / "sharded" / "shard1").mkdir()
    with pytest.raises(ValueError, match="holds the shards shard0, shard1, not a data-bin: pass them "
                                         "colon-separated, e.g. .*sharded/shard0:.*sharded/shard1$"):
        _task([str(bins / "sharded"), "--user-dir", USER_DIR, *PMLM, *TINY])


FINETUNE = [*S2S, "--criterion", "unilm_seq2seq", "--finetune-from-model", "pre/checkpoint_last.pt", *RUN]


def test_finetuning_another_arch_says_which_sizes_differ_and_which_arch(bins):
    line = last_line(["par", *FINETUNE, "--arch", "unilmv2_small"], bins)
    assert line == (
        "ValueError: --finetune-from-model pre/checkpoint_last.pt was trained as --arch unilmv2_tiny with "
        "encoder_layers 2 (this run: 6), encoder_embed_dim 128 (this run: 384), encoder_ffn_embed_dim 512 "
        "(this run: 1536), encoder_attention_heads 2 (this run: 12), so its weights do not fit --arch "
        "unilmv2_small: pass --arch unilmv2_tiny without size flags, or set --encoder-layers 2 "
        "--encoder-embed-dim 128 --encoder-ffn-embed-dim 512 --encoder-attention-heads 2"
    )


def _build_model(argv):
    cfg, task = _task(argv)
    return task.build_model(cfg.model)


def test_finetuning_with_other_heads_is_refused_though_every_shape_fits(bins, monkeypatch):
    # 2 or 4 heads of 128 dims: the same tensors, which torch would load without a word
    monkeypatch.chdir(bins)
    with pytest.raises(ValueError) as e:
        _build_model(["par", *FINETUNE, *TINY, "--encoder-attention-heads", "4"])
    assert str(e.value).endswith("encoder_attention_heads 2 (this run: 4), so its weights do not fit --arch "
                                 "unilmv2_tiny: set --encoder-attention-heads 2")


def test_a_fitting_checkpoint_passes(bins, monkeypatch):
    monkeypatch.chdir(bins)
    _build_model(["par", *FINETUNE, *TINY])
    _build_model(["mono", *PMLM, "--criterion", "pmlm", *RUN, *TINY, "--finetune-from-model", "pre/checkpoint_last.pt"])


def test_vocabulary_mismatch_is_the_last_line(bins):
    line = last_line(["par_big", *FINETUNE, *TINY], bins)
    assert line == (
        "ValueError: --finetune-from-model pre/checkpoint_last.pt has a vocabulary of 26 entries but this "
        "data-bin's dictionary (par_big/dict.src.txt) plus <mask> and <pseudo> has 34: binarize with "
        "fairseq-preprocess --user-dir fairseq_unilmv2 --task pmlm --srcdict set to the pre-training data-bin's "
        "dict.txt (and -s SRC -t TGT --joined-dictionary for seq2seq; --user-dir and --task let fairseq-preprocess "
        "read a converted checkpoint's dict.txt)"
    )


def test_resuming_another_runs_checkpoint_names_the_save_dir(bins, monkeypatch):
    # the fine-tuning run given the pre-training --save-dir resumes its checkpoint_last.pt
    monkeypatch.chdir(bins)
    with pytest.raises(ValueError, match=r"^--save-dir pre holds checkpoint_last.pt of another run, trained with "
                                         r"--task pmlm \(this run: --task unilm_seq2seq\) and --criterion pmlm "
                                         r"\(this run: --criterion unilm_seq2seq\); .* Give this run its own "
                                         r"--save-dir, and start it from that run with --finetune-from-model "
                                         r"pre/checkpoint_last.pt$"):
        _build_model(["par", *S2S, "--criterion", "unilm_seq2seq", "--save-dir", "pre", "--arch", "unilmv2_small"])
