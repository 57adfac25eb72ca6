#!/usr/bin/env python
"""Summarise recipes/compare_objectives.sh: a markdown table over seeds (WORKDIR/results.md, also
printed), a ranking on each downstream measure with whether the spread over seeds exceeds the
differences, and the pre-training loss curves (WORKDIR/loss_curves.png).

    python recipes/compare_objectives.py WORKDIR --seeds SEED [SEED ...] -- OBJECTIVE [OBJECTIVE ...]
"""
import json
import re
import statistics
import sys
from pathlib import Path

NAMES = {"pmlm": "PMLM (UniLMv2)", "mlm": "MLM (BERT/RoBERTa)", "mpnet": "MPNet", "maelm": "MAE-LM",
         "none": "no pre-training"}


def read_log(path: Path):
    """fairseq-train --log-format json: (train_inner rows, valid rows)."""
    train, valid = [], []
    for line in path.read_text().splitlines():
        for tag, rows in (("| train_inner | ", train), ("| valid | ", valid)):
            if tag in line:
                rows.append({k: float(v) for k, v in json.loads(line.split(tag, 1)[1]).items() if _is_number(v)})
    if not train or not valid:
        raise SystemExit(f"{path}: no train_inner/valid rows; is it a fairseq-train --log-format json log?")
    return train, valid


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def downstream(folder: Path):
    """aclsum_downstream.sh's outputs: best valid loss, ROUGE, source-ablation gap."""
    out = {}
    best = re.findall(r"best_loss ([\d.]+)", (folder / "finetune.log").read_text())
    if best:
        out["ft_loss"] = float(best[-1])
    if (folder / "rouge.json").exists():
        r = json.loads((folder / "rouge.json").read_text())
        out.update(r1=r["rouge1"], r2=r["rouge2"], rl=r["rougeLsum"])
    if (folder / "ablation.json").exists():
        out["src_gap"] = json.loads((folder / "ablation.json").read_text())["gap"]
    return out


def nlu(path: Path):
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return {"acc": rows[-1]["test_acc"], "majority": rows[-1]["majority_test_acc"]} if rows else {}


def mean_sd(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def fmt(pair, spec=".2f"):
    m, s = pair
    if m is None:
        return "-"
    return format(m, spec) + ("" if s is None else " ± " + format(s, spec))


def rank(rows, key, lower_better):
    """Names ordered best first, and whether any neighbour gap is below the larger sd of the two."""
    scored = [(r[key][0], r[key][1], r["name"]) for r in rows if r[key][0] is not None]
    scored.sort(key=lambda t: t[0], reverse=not lower_better)
    overlaps = [a[2] + " / " + b[2] for a, b in zip(scored, scored[1:])
                if a[1] is None or b[1] is None or abs(a[0] - b[0]) <= max(a[1], b[1])]
    return [t[2] for t in scored], overlaps


def main(workdir: Path, seeds, objectives):
    rows, curves = [], {}
    for obj in [*objectives, "none"]:
        runs = []
        for seed in seeds:
            base = workdir / obj / f"seed{seed}"
            r = {"seed": seed}
            if obj != "none":
                train, valid = read_log(base / "pretrain.log")
                curves.setdefault(obj, train)
                r["pt_loss"] = valid[-1]["valid_loss"]
                r["ctx_gap"] = valid[-1].get("valid_ctx_gap")
                start, end = map(float, (base / "pretrain.time").read_text().split())
                r["wall"] = end - start
            r.update(downstream(base / "aclsum"))
            r.update(nlu(workdir / "nlu" / f"{obj}-seed{seed}.json"))
            runs.append(r)
        row = {"name": NAMES.get(obj, obj), "n": len(runs)}
        for key in ("pt_loss", "ctx_gap", "wall", "ft_loss", "r1", "r2", "rl", "src_gap", "acc", "majority"):
            row[key] = mean_sd([r.get(key) for r in runs])
        rows.append(row)

    lines = [
        f"mean ± sd over seeds {' '.join(map(str, seeds))}",
        "",
        "| objective | seeds | pre-train valid loss (own task, bits) | ctx_gap (bits) | pre-train wall (s) "
        "| aclsum best valid loss | ROUGE-1 | ROUGE-2 | ROUGE-L | source ablation gap (bits) | NLU test acc (%) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['n']} | {fmt(r['pt_loss'], '.3f')} | {fmt(r['ctx_gap'], '.3f')} "
                     f"| {fmt(r['wall'], '.0f')} | {fmt(r['ft_loss'], '.3f')} | {fmt(r['r1'])} | {fmt(r['r2'])} "
                     f"| {fmt(r['rl'])} | {fmt(r['src_gap'], '.3f')} | {fmt(r['acc'], '.1f')} |")
    if rows[-1]["majority"][0] is not None:
        lines.append(f"\nNLU majority-class baseline: {rows[-1]['majority'][0]:.1f}% test accuracy.")
    lines.append("")
    for key, what, lower in (("ft_loss", "aclsum best valid loss", True), ("r1", "ROUGE-1", False),
                             ("acc", "NLU test accuracy", False)):
        order, overlaps = rank(rows, key, lower)
        if not order:
            continue
        verdict = ("the spread over seeds exceeds the difference between " + "; ".join(overlaps)
                   if overlaps else "every neighbour gap exceeds the larger sd")
        lines.append(f"- ranked on {what}: {' > '.join(order)} ({verdict})")
    table = "\n".join(lines) + "\n"
    (workdir / "results.md").write_text(table)
    plot(curves, workdir / "loss_curves.png")
    print(table, end="")


def plot(curves, out: Path):
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for obj, rows in curves.items():
        x = [r["num_updates"] for r in rows]
        name = NAMES.get(obj, obj)
        if "ae_loss" in rows[0]:  # PMLM's loss is the sum of two predictions a token: plot each
            (line,) = ax.plot(x, [r["ae_loss"] for r in rows], label=name + ": AE ([M])")
            ax.plot(x, [r["par_loss"] for r in rows], "--", color=line.get_color(), label=name + ": PAR ([P])")
        else:
            ax.plot(x, [r["loss"] for r in rows], label=name)
    ax.set_xlabel("update")
    ax.set_ylabel("training loss (bits per prediction)")
    ax.set_title("Pre-training objectives on one backbone (first seed)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    argv = sys.argv[1:]
    if len(argv) < 4 or "--seeds" not in argv or "--" not in argv:
        raise SystemExit(__doc__)
    seeds = argv[argv.index("--seeds") + 1:argv.index("--")]
    main(Path(argv[0]), seeds, argv[argv.index("--") + 1:])
