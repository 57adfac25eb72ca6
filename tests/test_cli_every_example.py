"""Every example counts, through fairseq's CLIs: training sees all of them each epoch (both
tasks, --batch-size and --max-tokens), the training split gives clean input outside
training, decoding keeps the fine-tuned position limits, and sources longer than the target
limit are decoded by fairseq-interactive and the hub interface."""
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fairseq import options, tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf

from .helpers import USER_DIR, check_cli, lee_corpus_lines
from .test_cli_seq2seq import _parse

LETTERS = [chr(ord("a") + i) for i in range(16)]
S2S = ["--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt"]
TRAIN = ["--arch", "unilmv2_tiny", "--optimizer", "adam", "--lr", "1e-3", "--batch-size", "16", "--max-epoch", "1",
         "--seed", "1", "--num-workers", "0", "--no-epoch-checkpoints", "--log-format", "json", "--log-interval", "1"]


def _epoch(output):
    """(updates, examples) of epoch 1, from the --log-interval 1 rows."""
    rows = [json.loads(line.split("| train_inner | ", 1)[1]) for line in output.splitlines() if "| train_inner | " in line]
    rows = [r for r in rows if r["epoch"] == 1]
    return int(rows[-1]["num_updates"]), sum(int(r["bsz"]) for r in rows)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """100 pairs (sources of 20..40 letters, the target their first 12 reversed), binarized as
    train, valid and test: the same pairs under three split names."""
    d = tmp_path_factory.mktemp("pairs")
    rng = random.Random(3)
    src = [[rng.choice(LETTERS) for _ in range(rng.randint(20, 40))] for _ in range(100)]
    (d / "pairs.src").write_text("".join(" ".join(s) + "\n" for s in src))
    (d / "pairs.tgt").write_text("".join(" ".join(reversed(s[:12])) + "\n" for s in src))
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "pairs", "--validpref", "pairs",
               "--testpref", "pairs", "--joined-dictionary", "--destdir", "bin", "--workers", "1"], cwd=d)
    out = check_cli(["fairseq-train", "bin", *S2S, *TRAIN, "--criterion", "unilm_seq2seq",
                     "--max-source-positions", "24", "--max-target-positions", "20", "--save-dir", "ck"], cwd=d)
    return d, out


@pytest.fixture(scope="module")
def blocks(tmp_path_factory):
    """100 lines of real text, one block each (--sample-break-mode eos)."""
    d = tmp_path_factory.mktemp("blocks")
    lines = [" ".join(line.split()[:60]) for line in lee_corpus_lines() if line.strip()][:100]
    (d / "train.txt").write_text("\n".join(lines) + "\n")
    check_cli(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--validpref", "train.txt",
               "--destdir", "bin", "--workers", "1"], cwd=d)
    return d


def test_seq2seq_trains_on_every_pair_each_epoch(pairs):
    _, out = pairs
    assert _epoch(out) == (7, 100)  # 100 pairs / 16 a batch: 6 full batches and one of 4 (fairseq: 6, 96)


@pytest.mark.parametrize("objective", ["pmlm", "maelm"])
def test_pretraining_trains_on_every_block_each_epoch(blocks, objective):
    out = check_cli(["fairseq-train", "bin", "--user-dir", USER_DIR, "--task", "pmlm", "--criterion", "pmlm",
                     "--objective", objective, "--tokens-per-sample", "128", "--sample-break-mode", "eos",
                     *TRAIN, "--save-dir", f"ck_{objective}", "--no-save"], cwd=blocks)
    assert _epoch(out) == (7, 100)


def _task(argv):
    args = options.parse_args_and_arch(options.get_training_parser(), argv)
    return tasks.setup_task(convert_namespace_to_omegaconf(args).task)


@pytest.mark.parametrize("which", ["seq2seq", "pmlm"])
def test_max_tokens_batches_cover_every_example(pairs, blocks, which):
    if which == "seq2seq":
        task = _task([str(pairs[0] / "bin"), *S2S, "--arch", "unilmv2_tiny"])
    else:
        task = _task([str(blocks / "bin"), "--user-dir", USER_DIR, "--task", "pmlm", "--arch", "unilmv2_tiny",
                      "--sample-break-mode", "eos", "--tokens-per-sample", "128"])
    for split in ("train", "valid"):
        task.load_dataset(split)
        for max_tokens in (300, 777):
            itr = task.get_batch_iterator(task.dataset(split), max_tokens=max_tokens, required_batch_size_multiple=8,
                                          seed=1)
            seen = np.concatenate(list(itr.frozen_batches))
            assert sorted(seen.tolist()) == list(range(100)), (split, max_tokens)


def test_training_split_is_clean_and_whole_outside_training(pairs):
    d, _ = pairs
    scored = {}
    for split in ("train", "test"):
        out = check_cli(["fairseq-generate", "bin", *S2S, "--path", "ck/checkpoint_last.pt", "--score-reference",
                         "--batch-size", "16", "--gen-subset", split], cwd=d)
        scored[split] = {i: float(row[0]) for i, row in _parse(out, "H").items()}
    assert len(scored["train"]) == 100
    assert scored["train"] == scored["test"]  # same pairs, same scores: no training noise
    out = check_cli(["fairseq-generate", "bin", *S2S, "--path", "ck/checkpoint_last.pt", "--beam", "2",
                     "--batch-size", "16", "--gen-subset", "train"], cwd=d)
    assert len(_parse(out, "H")) == 100


def test_decoding_uses_the_fine_tuned_position_limits(pairs):
    d, _ = pairs
    out = check_cli(["fairseq-generate", "bin", *S2S, "--path", "ck/checkpoint_last.pt", "--beam", "2",
                     "--max-len-a", "0", "--max-len-b", "1000", "--batch-size", "16", "--gen-subset", "test"], cwd=d)
    assert "position limits: source 24, target 20" in out
    sources = _parse(out, "S")
    assert max(len(row[0].split()) for row in sources.values()) == 22  # 24 minus <s> and </s> (not 40)
    assert max(len(row[1].split()) for row in _parse(out, "H").values()) <= 19  # 20 minus </s>
    out = check_cli(["fairseq-generate", "bin", *S2S, "--path", "ck/checkpoint_last.pt", "--beam", "2",
                     "--max-target-positions", "10", "--batch-size", "16", "--gen-subset", "test"], cwd=d)
    assert "--max-target-positions 10 is below the 20 the model was fine-tuned with: hypotheses are cut at 9" in out


def test_long_sources_are_decoded_by_interactive_and_hub(pairs):
    d, _ = pairs
    lines = [" ".join(LETTERS[i % 16] for i in range(n)) for n in (22, 35)]  # > target limit 20; 35 > source 24
    exe = str(Path(sys.executable).parent / "fairseq-interactive")
    proc = subprocess.run([exe, "bin", *S2S, "--path", "ck/checkpoint_last.pt", "--beam", "2"],
                          input="\n".join(lines) + "\n", cwd=d, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len([line for line in proc.stdout.splitlines() if line.startswith("H-")]) == 2
    assert "1 of 1 sources are longer than --max-source-positions 24 and are truncated" in proc.stderr

    from fairseq_unilmv2.models.seq2seq import UniLMSeq2SeqModel

    hub = UniLMSeq2SeqModel.from_pretrained(str(d / "ck"), "checkpoint_last.pt", str(d / "bin"))
    assert len(hub.sample(lines, beam=2)) == 2


@pytest.mark.parametrize("which", ["seq2seq", "pmlm"])
def test_dataloader_workers_see_each_epochs_masks(pairs, blocks, which):
    """With --num-workers >= 1 the batches of epoch 2 carry epoch 2's masks / noise (fairseq
    would reuse epoch 1's worker processes, whose dataset copy never hears of set_epoch)."""
    if which == "seq2seq":
        task = _task([str(pairs[0] / "bin"), *S2S, "--arch", "unilmv2_tiny"])
        key = ("train_net_input", "prev_output_tokens")
    else:
        task = _task([str(blocks / "bin"), "--user-dir", USER_DIR, "--task", "pmlm", "--arch", "unilmv2_tiny",
                      "--sample-break-mode", "eos", "--tokens-per-sample", "128"])
        key = ("net_input", "src_tokens")
    task.load_dataset("train")

    def epoch_batches(epoch, workers):  # as fairseq-train asks for each epoch's iterator
        itr = task.get_batch_iterator(task.dataset("train"), max_sentences=50, seed=1, num_workers=workers,
                                      epoch=epoch)
        return [b[key[0]][key[1]] for b in itr.next_epoch_itr(shuffle=False)]

    reference = {e: epoch_batches(e, 0) for e in (1, 2)}
    assert any(not a.equal(b) for a, b in zip(reference[1], reference[2]))
    for e in (1, 2):
        assert all(a.equal(b) for a, b in zip(epoch_batches(e, 1), reference[e]))


def test_limits_of_a_checkpoint_from_before_the_record_and_of_hub_overrides(pairs, caplog):
    d, _ = pairs
    import torch

    state = torch.load(d / "ck/checkpoint_last.pt", weights_only=False)  # our own file
    for name in ("max_source_positions", "max_target_positions"):
        del state["cfg"]["model"]["fine_tuned_" + name]  # as written before the model config recorded them
    (d / "ck_old").mkdir(exist_ok=True)
    torch.save(state, d / "ck_old/checkpoint_last.pt")
    out = check_cli(["fairseq-generate", "bin", *S2S, "--path", "ck_old/checkpoint_last.pt", "--beam", "2",
                     "--batch-size", "16", "--gen-subset", "test"], cwd=d)
    assert "position limits: source 24, target 20" in out  # from the checkpoint's task config

    from fairseq_unilmv2.models.seq2seq import UniLMSeq2SeqModel

    with caplog.at_level("WARNING"):
        hub = UniLMSeq2SeqModel.from_pretrained(str(d / "ck"), "checkpoint_last.pt", str(d / "bin"),
                                                max_source_positions=10, max_target_positions=8)
    assert "--max-target-positions 8 is below the 20 the model was fine-tuned with" in caplog.text
    assert "--max-source-positions 10 is below the 24 the model was fine-tuned with" in caplog.text
    assert all(len(h.split()) <= 7 for h in hub.sample(["a b c d e f g h i j k l"], beam=2))


def test_interactive_constraints_appear_in_the_output(pairs):
    d, _ = pairs
    exe = str(Path(sys.executable).parent / "fairseq-interactive")
    proc = subprocess.run([exe, "bin", *S2S, "--path", "ck/checkpoint_last.pt", "--beam", "4", "--constraints",
                           "--batch-size", "2", "--buffer-size", "2"],
                          input="a b c d e f g h\tp o\nh g f e d c b a\tn m\n", cwd=d, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hyps = [line.split("\t")[2] for line in proc.stdout.splitlines() if line.startswith("H-")]
    assert len(hyps) == 2 and "p o" in hyps[0] and "n m" in hyps[1]


def test_validating_on_the_training_split_still_trains(pairs):
    """fairseq's cached epoch iterator was used up by validating the training split
    (--valid-subset train,valid trained 0 updates and exited 0)."""
    d, _ = pairs
    out = check_cli(["fairseq-train", "bin", *S2S, *TRAIN, "--criterion", "unilm_seq2seq", "--no-save",
                     "--valid-subset", "train,valid"], cwd=d)
    assert _epoch(out) == (7, 100)
