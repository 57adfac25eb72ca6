#!/usr/bin/env python
"""Mean and spread over seeds of recipes/demo.sh's figures.

    for s in 1 2 3; do SEED=$s bash recipes/demo.sh runs/demo-seed$s; done
    python recipes/demo_spread.py runs/demo-seed1 runs/demo-seed2 runs/demo-seed3

Reads each WORKDIR/summary.json (demo.sh writes it last) and prints one Markdown table: every
measure as mean ± sample standard deviation over the runs, pre-trained beside random weights,
and the per-seed differences (pre-trained minus random). Exits 2 naming the folder whose
summary.json is missing or unreadable, or with the usage when no folder is given.
"""
import json
import statistics
import sys
from pathlib import Path

SEQ2SEQ = (("best valid loss (bits)", "best_valid_loss", "{:.3f}"), ("test nll, own source (bits)", "own_source_nll", "{:.3f}"),
           ("source-ablation gap (bits)", "gap", "{:+.3f}"), ("ROUGE-1", "rouge1", "{:.2f}"),
           ("ROUGE-2", "rouge2", "{:.2f}"), ("ROUGE-L", "rougeLsum", "{:.2f}"))


def load(folder: str) -> dict:
    path = Path(folder) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        fail(f"demo_spread.py: {path}: {e}; run bash recipes/demo.sh {folder} first")
    if not isinstance(summary, dict) or not isinstance(summary.get("seed"), int):
        fail(f"demo_spread.py: {path} is not a summary that recipes/demo.sh wrote (no integer 'seed')")
    return summary


def fail(message: str):
    print(message, file=sys.stderr)
    sys.exit(2)


def spread(values, fmt) -> str:
    """mean ± sd of the values present, in the measure's own format; (n=K) where some runs lack it."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    sd_fmt = fmt.replace("+", "")
    text = fmt.format(present[0]) if len(present) == 1 else (
        f"{fmt.format(statistics.mean(present))} ± {sd_fmt.format(statistics.stdev(present))}")
    return text if len(present) == len(values) else f"{text} (n={len(present)})"


def main(folders):
    if not folders:
        fail("usage:\n" + __doc__.split("\n\n")[1])
    if {"-h", "--help"} & set(folders):
        print(__doc__)
        return
    runs = [load(f) for f in folders]
    seen = [r["seed"] for r in runs]
    if len(set(seen)) < len(seen):
        fail(f"demo_spread.py: the same seed twice ({', '.join(map(str, seen))}): the spread needs different seeds")
    print(f"{len(runs)} runs (seeds {', '.join(map(str, seen))}); mean ± sd over the runs")
    print("| measure | from PMLM pre-training | from random weights | pre-trained minus random, per seed |")
    print("| --- | --- | --- | --- |")
    for label, key, fmt in (("pre-training valid ctx_gap (bits)", "pretrain_ctx_gap", "{:.3f}"),
                            ("pre-training valid AE loss (bits)", "pretrain_ae_loss", "{:.3f}"),
                            ("pre-training valid PAR loss (bits)", "pretrain_par_loss", "{:.3f}")):
        print(f"| {label} | {spread([r.get(key) for r in runs], fmt)} | - | - |")
    for label, key, fmt in SEQ2SEQ:
        pre = [r.get("seq2seq_pretrained", {}).get(key) for r in runs]
        rnd = [r.get("seq2seq_random", {}).get(key) for r in runs]
        diff = [fmt.format(p - q) if p is not None and q is not None else "-" for p, q in zip(pre, rnd)]
        print(f"| seq2seq {label} | {spread(pre, fmt)} | {spread(rnd, fmt)} | {' / '.join(diff)} |")
    for key in sorted({k for r in runs for k in r if k.startswith("nlu_lr")}):
        pre = [r.get(key, {}).get("pretrained") for r in runs]
        rnd = [r.get(key, {}).get("random") for r in runs]
        diff = [f"{p - q:+.1f}" if p is not None and q is not None else "-" for p, q in zip(pre, rnd)]
        major = runs[0].get(key, {}).get("majority")
        print(f"| NLU test accuracy %, lr {key[len('nlu_lr'):]} (majority {major}) | {spread(pre, '{:.1f}')} "
              f"| {spread(rnd, '{:.1f}')} | {' / '.join(diff)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
