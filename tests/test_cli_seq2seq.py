"""End to end through fairseq's CLIs: fine-tune on a learnable task, beam search with the
cached decoder, score references, interactive decoding."""
import random
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import USER_DIR, check_cli

COMMON = ["--user-dir", USER_DIR, "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
          "--max-source-positions", "16", "--max-target-positions", "16"]


def _write_reversal(d, name, n, rng):
    letters = [chr(ord("a") + i) for i in range(16)]
    src, tgt = [], []
    for _ in range(n):
        s = [rng.choice(letters) for _ in range(rng.randint(3, 8))]
        src.append(" ".join(s))
        tgt.append(" ".join(reversed(s)))
    (d / f"{name}.src").write_text("\n".join(src) + "\n")
    (d / f"{name}.tgt").write_text("\n".join(tgt) + "\n")


@pytest.fixture(scope="module")
def reversal(tmp_path_factory):
    d = tmp_path_factory.mktemp("reverse")
    rng = random.Random(0)
    for name, n in (("train", 3000), ("valid", 100), ("test", 45)):
        _write_reversal(d, name, n, rng)
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--trainpref", "train", "--validpref", "valid",
               "--testpref", "test", "--joined-dictionary", "--destdir", "bin", "--workers", "2"], cwd=d)
    return d


def _train(d, mode):
    """Fine-tune once per mode and module; later tests reuse the checkpoint."""
    if (d / f"ck_{mode}/checkpoint_best.pt").exists():
        return f"ck_{mode}/checkpoint_best.pt"
    check_cli(["fairseq-train", "bin", *COMMON, "--arch", "unilmv2_tiny", "--seq2seq-mode", mode,
               "--criterion", "unilm_seq2seq", "--optimizer", "adam", "--lr", "1e-3",
               "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "50", "--batch-size", "64",
               "--max-update", "450", "--dropout", "0", "--attention-dropout", "0", "--seed", "1",
               "--save-dir", f"ck_{mode}", "--no-epoch-checkpoints", "--no-last-checkpoints",
               "--num-workers", "0", "--log-format", "simple"], cwd=d)
    return f"ck_{mode}/checkpoint_best.pt"


def _parse(output, prefix):
    rows = {}
    for line in output.splitlines():
        if line.startswith(prefix + "-"):
            parts = line.split("\t")
            rows[int(parts[0][2:])] = parts[1:]
    return rows


@pytest.mark.parametrize("mode", ["pseudo", "causal"])
def test_finetune_generate_and_score_reference(reversal, mode):
    d = reversal
    ckpt = _train(d, mode)
    out = check_cli(["fairseq-generate", "bin", *COMMON, "--path", ckpt, "--beam", "5", "--lenpen", "1",
                     "--batch-size", "16", "--gen-subset", "test"], cwd=d)
    hyps, refs = _parse(out, "H"), _parse(out, "T")
    assert len(hyps) == 45  # every example, none dropped by batching
    correct = sum(hyps[i][1] == refs[i][0] for i in hyps)
    assert correct >= 0.8 * len(hyps), f"{correct}/{len(hyps)} reversals right"

    # --score-reference on the beam's own outputs gives the beam's scores
    order = sorted(hyps)
    (d / f"hyp_{mode}.src").write_text("\n".join((d / "test.src").read_text().splitlines()[i] for i in order) + "\n")
    (d / f"hyp_{mode}.tgt").write_text("\n".join(hyps[i][1] for i in order) + "\n")
    check_cli(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--testpref", f"hyp_{mode}", "--srcdict",
               "bin/dict.src.txt", "--tgtdict", "bin/dict.tgt.txt", "--destdir", f"bin_hyp_{mode}"], cwd=d)
    scored = _parse(check_cli(["fairseq-generate", f"bin_hyp_{mode}", *COMMON, "--path", ckpt,
                               "--score-reference", "--batch-size", "16", "--gen-subset", "test"], cwd=d), "H")
    for new_id, i in enumerate(order):
        assert scored[new_id][1] == hyps[i][1]
        assert float(scored[new_id][0]) == pytest.approx(float(hyps[i][0]), abs=1e-4)


def test_interactive(reversal):
    d = reversal
    ckpt = _train(d, "pseudo")
    exe = str(Path(sys.executable).parent / "fairseq-interactive")
    proc = subprocess.run([exe, "bin", *COMMON, "--path", ckpt, "--beam", "5"], input="a b c d\nh g f e d c b a\n",
                          cwd=d, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    hyps = [line.split("\t")[2] for line in proc.stdout.splitlines() if line.startswith("H-")]
    assert hyps == ["d c b a", "a b c d e f g h"]


def test_hub_interface(reversal):
    d = reversal
    _train(d, "pseudo")
    from fairseq_unilmv2.models.seq2seq import UniLMSeq2SeqModel

    hub = UniLMSeq2SeqModel.from_pretrained(str(d / "ck_pseudo"), "checkpoint_best.pt", str(d / "bin"),
                                            max_source_positions=16, max_target_positions=16)
    assert hub.sample(["a b c d", "p o n"], beam=5) == ["d c b a", "n o p"]


def test_validation_logs_the_context_gap(reversal):
    """A model that reverses its source loses bits per target token when the source is noise."""
    d = reversal
    ckpt = _train(d, "pseudo")
    out = check_cli(["fairseq-validate", "bin", *COMMON, "--path", ckpt, "--valid-subset", "valid",
                     "--criterion", "unilm_seq2seq", "--batch-size", "16", "--cpu"], cwd=d)
    row = next(line for line in out.splitlines() if "| valid on 'valid' subset" in line)
    nll, gap = (float(row.split(f"| {key} ")[1].split()[0]) for key in ("nll_loss", "ctx_gap"))
    assert gap > 2.0 > nll, row  # 16 letters: a source-blind guess costs >= 2 bits more
    quiet = check_cli(["fairseq-validate", "bin", *COMMON, "--path", ckpt, "--valid-subset", "valid",
                       "--criterion", "unilm_seq2seq", "--no-context-gap", "--batch-size", "16", "--cpu"], cwd=d)
    assert "ctx_gap" not in quiet
