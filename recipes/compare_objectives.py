#!/usr/bin/env python
"""Summarise recipes/compare_objectives.sh: a markdown table (WORKDIR/results.md, also printed)
and the pre-training loss curves (WORKDIR/loss_curves.png).

    python recipes/compare_objectives.py WORKDIR OBJECTIVE [OBJECTIVE ...]
"""
import json
import statistics
import sys
from pathlib import Path

NAMES = {"pmlm": "PMLM (UniLMv2)", "mlm": "MLM (BERT/RoBERTa)", "mpnet": "MPNet", "maelm": "MAE-LM"}


def read_log(path: Path):
    """fairseq-train --log-format json: (train_inner rows, valid rows)."""
    train, valid = [], []
    for line in path.read_text().splitlines():
        for tag, rows in (("| train_inner | ", train), ("| valid | ", valid)):
            if tag in line:
                rows.append({k: float(v) for k, v in json.loads(line.split(tag, 1)[1]).items()
                             if isinstance(v, (int, float, str)) and _is_number(v)})
    if not train or not valid:
        raise SystemExit(f"{path}: no train_inner/valid rows; is it a fairseq-train --log-format json log?")
    return train, valid


def _is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def rouge(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def main(workdir: Path, objectives):
    rows, curves = [], {}
    for obj in objectives:
        train, valid = read_log(workdir / obj / "pretrain.log")
        start, end = map(float, (workdir / obj / "pretrain.time").read_text().split())
        curves[obj] = train
        last = valid[-1]
        scores = rouge(workdir / obj / "aclsum" / "rouge.json")
        rows.append({
            "objective": NAMES.get(obj, obj),
            "updates": int(last["valid_num_updates"]),
            "valid loss": last["valid_loss"],
            "valid AE loss": last.get("valid_ae_loss"),
            "wall s": end - start,
            # words/s of fairseq's meter: text tokens (not the appended copies) per second
            "text tok/s": statistics.median(r["wps"] for r in train[1:] or train),
            "rouge": scores,
        })
    floor = rouge(workdir / "none" / "aclsum" / "rouge.json")

    def fmt(v, spec=".3f"):
        return "-" if v is None else format(v, spec)

    lines = [
        "| objective | updates | valid loss (own task, bits/token) | valid loss on [M] (AE) | wall (s) "
        "| text tokens/s | aclsum ROUGE-1 / 2 / L |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        s = r["rouge"]
        scores = "-" if s is None else f"{s['rouge1']:.2f} / {s['rouge2']:.2f} / {s['rougeLsum']:.2f}"
        lines.append(f"| {r['objective']} | {r['updates']} | {fmt(r['valid loss'])} | {fmt(r['valid AE loss'])} "
                     f"| {r['wall s']:.0f} | {r['text tok/s']:.0f} | {scores} |")
    if floor is not None:
        lines.append(f"| no pre-training | 0 | - | - | - | - | {floor['rouge1']:.2f} / {floor['rouge2']:.2f} / "
                     f"{floor['rougeLsum']:.2f} |")
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
    ax.set_title("Pre-training objectives on one backbone (unilmv2_tiny)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2:])
