#!/usr/bin/env python
"""Pre-training speed: ``--task pmlm`` with each ``--objective`` against fairseq's own
``masked_lm`` (RoBERTa) on the same model size, data, batch and block length, side by side in one
run (interleaved, best of N).

Both runs see exactly batch x tokens-per-sample source tokens an update (--sample-break-mode
none), so the ratio of updates/s is the ratio of source tokens/s. PMLM's packed input is ~1.3x
longer (15% of the tokens appended twice, as [P] and as originals) and it predicts 30% of the
positions instead of 15%, so ~0.75x is the expected ballpark on compute-bound hardware; MPNet's
packed input is as long. MAE-LM's encoder runs on 85% of the tokens, plus its decoder
(``--mae-decoder-layers``, default layers // 3: the paper's 4 under 12).

    python benchmarks/pretrain_speed.py [--layers 4 --dim 256 --updates 30]
"""
import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from common import REPO, sh


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--tokens-per-sample", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--updates", type=int, default=30)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--mae-decoder-layers", type=int, default=None)
    args = p.parse_args()
    mae_layers = args.mae_decoder_layers or max(1, args.layers // 3)

    sys.path.insert(0, str(REPO))
    from tests.helpers import lee_corpus_lines

    d = Path(tempfile.mkdtemp(prefix="ptspeed."))
    lines = lee_corpus_lines()
    (d / "train.txt").write_text("\n".join(lines) + "\n")
    sh(["fairseq-preprocess", "--only-source", "--trainpref", "train.txt", "--destdir", "bin", "--workers", "2"], d)
    common = ["bin", "--tokens-per-sample", str(args.tokens_per_sample), "--sample-break-mode", "none",
              "--batch-size", str(args.batch_size), "--optimizer", "adam", "--lr", "1e-4",
              "--max-update", str(args.updates), "--disable-validation", "--no-save", "--num-workers", "0",
              "--log-format", "json", "--log-interval", "1000", "--seed", "1",
              "--encoder-layers", str(args.layers), "--encoder-embed-dim", str(args.dim),
              "--encoder-ffn-embed-dim", str(4 * args.dim), "--encoder-attention-heads", str(args.heads)]
    plugin = ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "pmlm", "--criterion", "pmlm",
              "--arch", "unilmv2_base", "--max-positions", str(args.tokens_per_sample)]
    runs = {
        "masked_lm (fairseq roberta)": ["--task", "masked_lm", "--criterion", "masked_lm", "--arch", "roberta_base",
                                        "--max-positions", str(args.tokens_per_sample)],
        "pmlm": [*plugin, "--objective", "pmlm"],
        "pmlm, no relative bias": [*plugin, "--objective", "pmlm", "--rel-pos-buckets", "0"],
        "mlm": [*plugin, "--objective", "mlm"],
        "mpnet": [*plugin, "--objective", "mpnet"],
        "maelm": [*plugin, "--objective", "maelm", "--mae-decoder-layers", str(mae_layers)],
    }
    ups = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, flags in runs.items():
            out = sh(["fairseq-train", *common, *flags], d)
            # fairseq's updates/s meter (float; train_wall is logged in whole seconds)
            ups[name].append(float(re.findall(r'"train_ups": "([\d.]+)"', out)[-1]))
    best = {name: max(v) for name, v in ups.items()}
    base = best["masked_lm (fairseq roberta)"]
    print(json.dumps({"updates_per_s": {k: round(v, 3) for k, v in best.items()},
                      "ratio_vs_masked_lm": {k: round(v / base, 3) for k, v in best.items()},
                      "setting": vars(args)}))


if __name__ == "__main__":
    main()
