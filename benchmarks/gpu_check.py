#!/usr/bin/env python
"""The GPU check's driver (run by benchmarks/gpu_check.sh, which installs what it needs first).

1. Pre-training speed in bf16 at 512 tokens: fairseq's own ``masked_lm`` task with
   ``roberta_base`` beside ``--task pmlm --arch unilmv2_base`` with ``--objective pmlm`` and
   ``mlm``, same data, batch and update count, interleaved (masked_lm, pmlm, mlm, then again for
   each repeat; the best repeat counts). Reported per run: text tokens/s (batch x 512 x
   updates/s; fairseq's train_inner ``ups`` after the first logged interval, which holds the
   start-up), the ratio to masked_lm, model FLOPs utilisation, peak GPU memory
   (torch.cuda.max_memory_allocated in the training process), and the loss of the first and the
   last logged interval (whether it falls).
2. Cached beam search (beam 5, 300 sentences, fp16: fairseq-generate converts the model with --fp16 only; its
   --bf16 leaves generation in float32): ``--task unilm_seq2seq`` (pseudo-mask and causal decoding)
   against fairseq's ``transformer`` with as many encoder and decoder layers, of the same width, on
   the same data, every hypothesis forced to the same length; sentences/s and the ratios.
3. fairseq's own --fp16 and --bf16 training of every objective (pmlm, mlm, mpnet, maelm) and of
   unilm_seq2seq fine-tuning, a few updates each (4 layers, 768 wide): losses finite and falling;
   then fairseq-generate --fp16 on the fp16-tuned model: finite hypothesis scores.
4. The attention mask, previous against current (benchmarks/attention_speed.py on the device).

Model FLOPs (the FLOPs of the model's own computation; fwd + bwd = 3 x forward), per update:

    3 * [ B * L * layers * (24 * D^2 + 4 * L * D)  +  P * (2 * D^2 + 2 * D * V) ]

with B sequences of L input positions (the packed length, padding included: PMLM appends two
tokens per masked one, so L ~ 1.3 x 512; RoBERTa's L is 512 + <s>), D the width, V the
dictionary size, and P the predicted positions (the LM head runs only there). 24 D^2 are the
four attention projections and the FFN (12 D^2 weights, 2 FLOPs each); 4 L D the two attention
products. Embedding lookups, LayerNorm, softmax and the bias are not counted. Utilisation =
FLOPs per update x updates/s / 989e12 (H200 SXM dense bf16 peak; --peak-tflops to change).

    python benchmarks/gpu_check.py [--updates 300 --batch-size 32 --repeats 2] [--dry-run]
    python benchmarks/gpu_check.py train-peak -- FAIRSEQ-TRAIN-ARGS   (internal: peak memory)

``--dry-run`` runs the same code path on CPU at toy sizes (fp32; fairseq's --bf16 needs a GPU or a
TPU) to check the script itself, in a few minutes.
"""
import argparse
import json
import logging
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from common import REPO

H200_BF16_DENSE_TFLOPS = 989.0


def run_module(module, args, cwd, env=None):
    """``python -m module args`` in this interpreter (console scripts may live elsewhere when
    the check installs into a --target folder); exits with its stderr when it fails."""
    full_env = dict(os.environ, PYTHONWARNINGS="ignore", **(env or {}))
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True)
    if proc.returncode:
        sys.exit(f"python -m {module} {' '.join(args[:10])} ... failed (exit {proc.returncode}):\n"
                 f"{proc.stderr[-4000:]}")
    return proc.stdout + proc.stderr


def train_peak(argv):
    """fairseq-train in this process, then its peak GPU memory as one JSON line."""
    import torch
    from fairseq_cli.train import cli_main

    sys.argv = ["fairseq-train", *argv]
    try:
        cli_main()
    finally:
        peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
        print(json.dumps({"peak_gpu_memory_gib": peak}), flush=True)


# ---- data ------------------------------------------------------------------------------------

def markov_corpus(path, lines, words_per_line, vocab, seed=0):
    """Text from a random sparse Markov chain (each word has 16 possible successors, Zipf-like
    weights): learnable, so the loss falls within a few hundred updates."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab)]
    successors = [rng.sample(range(vocab), 16) for _ in range(vocab)]
    weights = [1.0 / (k + 1) for k in range(16)]
    with open(path, "w") as f:
        for _ in range(lines):
            w = rng.randrange(vocab)
            out = []
            for _ in range(words_per_line):
                out.append(words[w])
                w = rng.choices(successors[w], weights)[0]
            f.write(" ".join(out) + "\n")


# ---- pre-training ----------------------------------------------------------------------------

def size_flags(a):
    return ["--encoder-layers", str(a.layers), "--encoder-embed-dim", str(a.dim),
            "--encoder-ffn-embed-dim", str(4 * a.dim), "--encoder-attention-heads", str(a.heads)]


def pretraining_runs(a):
    plugin = ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "pmlm", "--criterion", "pmlm",
              "--arch", "unilmv2_base", "--max-positions", str(a.tokens_per_sample)]
    return {
        # --user-dir only so that the pinned fairseq's --bf16 runs on CUDA, not its TPU path
        # (fairseq_unilmv2/bf16.py); masked_lm and roberta_base are fairseq's own
        "masked_lm (fairseq roberta_base)": ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "masked_lm",
                                             "--criterion", "masked_lm", "--arch", "roberta_base",
                                             "--max-positions", str(a.tokens_per_sample)],
        "pmlm": [*plugin, "--objective", "pmlm"],
        "mlm": [*plugin, "--objective", "mlm"],
    }


def common_train_flags(a):
    flags = ["bin", "--tokens-per-sample", str(a.tokens_per_sample), "--sample-break-mode", "none",
             "--batch-size", str(a.batch_size), "--optimizer", "adam", "--adam-betas", "(0.9,0.98)",
             "--lr", str(a.lr), "--lr-scheduler", "polynomial_decay", "--warmup-updates", str(a.updates // 5),
             "--total-num-update", str(a.updates), "--max-update", str(a.updates), "--clip-norm", "1.0",
             "--disable-validation", "--no-save", "--num-workers", "2", "--log-format", "json",
             "--log-interval", str(a.log_interval), "--seed", "1", *size_flags(a)]
    return flags + (["--cpu"] if a.dry_run else ["--bf16"])


def batch_shapes(a, d, flags):
    """Mean input length L (padding included) and predicted positions P per batch of the
    objective, read off the task's own collated batches (CPU, in this process)."""
    sys.path.insert(0, str(REPO))
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    cwd = os.getcwd()
    os.chdir(d)
    logging.disable(logging.WARNING)  # fairseq's and hydra's set-up chatter
    warnings.simplefilter("ignore")
    try:
        parser = options.get_training_parser()
        args = options.parse_args_and_arch(parser, [*common_train_flags(a), *flags, "--cpu"])
        cfg = convert_namespace_to_omegaconf(args)
        task = tasks.setup_task(cfg.task)
        task.load_dataset("train", epoch=1)
        ds = task.dataset("train")
        lengths, predicted = [], []
        for k in range(min(8, len(ds) // a.batch_size)):
            batch = ds.collater([ds[i] for i in range(k * a.batch_size, (k + 1) * a.batch_size)])
            lengths.append(batch["net_input"]["src_tokens"].size(1))
            predicted.append(int(batch["target"].ne(task.source_dictionary.pad()).sum()))
        return sum(lengths) / len(lengths), sum(predicted) / len(predicted), len(task.source_dictionary)
    finally:
        os.chdir(cwd)
        logging.disable(logging.NOTSET)
        warnings.resetwarnings()


def flops_per_update(a, length, predicted, vocab):
    d = a.dim
    forward = a.batch_size * length * a.layers * (24 * d * d + 4 * length * d) + predicted * (2 * d * d + 2 * d * vocab)
    return 3 * forward


def inner_rows(out):
    rows = []
    for line in out.splitlines():
        if "| train_inner |" in line:
            rows.append(json.loads(line[line.index("{"):]))
    return rows


def pretrain(a, d):
    runs = pretraining_runs(a)
    shapes = {name: batch_shapes(a, d, flags) for name, flags in runs.items()}
    best = {}
    for repeat in range(a.repeats):
        for name, flags in runs.items():
            out = run_script(["train-peak", "--", *common_train_flags(a), *flags], d)
            rows = inner_rows(out)
            if len(rows) < 2:
                sys.exit(f"{name}: fewer than 2 logged intervals; raise --updates or lower --log-interval\n{out[-3000:]}")
            ups = sum(float(r["ups"]) for r in rows[1:]) / len(rows[1:])  # the first interval holds start-up
            peak = json.loads([line for line in out.splitlines() if line.startswith('{"peak_gpu_memory_gib"')][-1])
            result = {"updates_per_s": ups, "first_loss": float(rows[0]["loss"]), "last_loss": float(rows[-1]["loss"]),
                      "peak_gpu_memory_gib": peak["peak_gpu_memory_gib"]}
            if name not in best or ups > best[name]["updates_per_s"]:
                best[name] = result
            print(f"  [{repeat + 1}/{a.repeats}] {name}: {ups:.2f} updates/s, loss {result['first_loss']:.3f} -> "
                  f"{result['last_loss']:.3f}", flush=True)
    base = best["masked_lm (fairseq roberta_base)"]["updates_per_s"]
    report = {}
    for name, r in best.items():
        length, predicted, vocab = shapes[name]
        flops = flops_per_update(a, length, predicted, vocab)
        report[name] = {
            "text_tokens_per_s": round(r["updates_per_s"] * a.batch_size * a.tokens_per_sample),
            "ratio_vs_masked_lm": round(r["updates_per_s"] / base, 3),
            "mfu": None if a.dry_run else round(flops * r["updates_per_s"] / (a.peak_tflops * 1e12), 3),
            "model_tflops_per_s": round(flops * r["updates_per_s"] / 1e12, 1),
            "input_length_L": round(length, 1), "predicted_per_batch_P": round(predicted, 1),
            "peak_gpu_memory_gib": None if r["peak_gpu_memory_gib"] is None else round(r["peak_gpu_memory_gib"], 2),
            "loss_first_interval": round(r["first_loss"], 3), "loss_last_interval": round(r["last_loss"], 3),
            "loss_falls": r["last_loss"] < r["first_loss"] - 0.1,
        }
    return report


def run_script(args, cwd):
    """This script as a subprocess (the train-peak mode)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"fairseq-train {' '.join(args[2:14])} ... failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout + proc.stderr


# ---- beam search -----------------------------------------------------------------------------

def beam_search(a, root):
    d = root / "gen"
    d.mkdir()
    rng = random.Random(0)
    words = [f"w{i}" for i in range(2000)]
    for split, n in (("train", 64), ("valid", 16), ("test", a.sentences)):
        src = [" ".join(rng.choices(words, k=rng.randint(a.src_len // 2, a.src_len))) for _ in range(n)]
        tgt = [" ".join(rng.choices(words, k=a.tgt_len)) for _ in range(n)]
        (d / f"{split}.src").write_text("\n".join(src) + "\n")
        (d / f"{split}.tgt").write_text("\n".join(tgt) + "\n")
    run_module("fairseq_cli.preprocess", ["-s", "src", "-t", "tgt", "--joined-dictionary", "--trainpref", "train",
                                          "--validpref", "valid", "--testpref", "test", "--destdir", "bin",
                                          "--workers", "4"], d)
    device = ["--cpu"] if a.dry_run else []
    ours = ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
            "--max-source-positions", str(a.src_len + 2), "--max-target-positions", str(a.tgt_len + 2)]

    def one_update(name, extra):
        run_module("fairseq_cli.train", ["bin", "--max-update", "1", "--batch-size", "8", "--optimizer", "adam",
                                         "--lr", "1e-5", "--save-dir", f"ck_{name}", "--no-epoch-checkpoints",
                                         "--no-save-optimizer-state", "--num-workers", "0", *device, *extra], d)
        return f"ck_{name}/checkpoint_last.pt"

    L, D, H = a.layers, a.dim, a.heads
    models = {
        "transformer": (one_update("transformer", [
            "--task", "translation", "-s", "src", "-t", "tgt", "--arch", "transformer", "--share-all-embeddings",
            "--encoder-layers", str(L), "--decoder-layers", str(L), "--encoder-embed-dim", str(D),
            "--decoder-embed-dim", str(D), "--encoder-ffn-embed-dim", str(4 * D), "--decoder-ffn-embed-dim",
            str(4 * D), "--encoder-attention-heads", str(H), "--decoder-attention-heads", str(H)]),
            # --user-dir only for the plugin's safe checkpoint loader (torch >= 2.6 and fairseq's pickles)
            ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "translation", "-s", "src", "-t", "tgt"]),
    }
    for mode in ("pseudo", "causal"):
        models[f"unilm_{mode}"] = (one_update(mode, [*ours, "--arch", "unilmv2_base", *size_flags(a), "--seq2seq-mode",
                                                     mode, "--criterion", "unilm_seq2seq", "--max-positions",
                                                     str(a.src_len + a.tgt_len + 4)]), ours)
    precision = [] if a.dry_run else ["--fp16"]
    speed = {name: [] for name in models}
    for _ in range(a.gen_repeats):
        for name, (ckpt, flags) in models.items():
            out = run_module("fairseq_cli.generate", [
                "bin", "--path", ckpt, *flags, *device, *precision, "--beam", "5", "--batch-size", str(a.gen_batch_size),
                "--gen-subset", "test", "--min-len", str(a.tgt_len), "--max-len-a", "0", "--max-len-b", str(a.tgt_len),
                "--num-workers", "0"], d)
            m = re.search(r"Translated (\d+) sentences .*?\(([\d.]+) sentences/s", out)
            if not m:
                sys.exit(f"fairseq-generate {name}: no 'Translated ... sentences/s' line\n{out[-3000:]}")
            speed[name].append(float(m.group(2)))
            print(f"  {name}: {speed[name][-1]:.1f} sentences/s", flush=True)
    best = {name: max(v) for name, v in speed.items()}
    return {"sentences_per_s": best,
            "ratio_vs_transformer": {n: round(best[n] / best["transformer"], 3) for n in best if n != "transformer"}}


def copy_task(d, pairs, src_len, tgt_len, seed=0):
    """Seq2seq data whose target is the first ``tgt_len`` words of the source: learnable, so a
    short fine-tuning's loss falls."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(500)]
    for split, n in (("train", pairs), ("valid", 16), ("test", 50)):
        src = [rng.choices(words, k=src_len) for _ in range(n)]
        (d / f"{split}.src").write_text("\n".join(" ".join(x) for x in src) + "\n")
        (d / f"{split}.tgt").write_text("\n".join(" ".join(x[:tgt_len]) for x in src) + "\n")


def precision(a, root):
    """Every objective, and seq2seq fine-tuning, through fairseq's own --fp16 and --bf16 paths for
    a few updates (losses finite and falling), then fairseq-generate --fp16 on the fp16-tuned
    model (every sentence gets finite-scored hypotheses). The dry run takes fairseq's
    --memory-efficient-fp16 (its --fp16 optimizer needs CUDA), on CPU. --bf16 runs on CUDA through
    the plugin's fix of fairseq's TPU flag (fairseq_unilmv2/bf16.py)."""
    d = root / "precision"
    d.mkdir()
    markov_corpus(d / "train.txt", 2000 if not a.dry_run else 64, 128, vocab=2000 if not a.dry_run else 200)
    run_module("fairseq_cli.preprocess", ["--only-source", "--trainpref", "train.txt", "--destdir", "bin",
                                          "--workers", "8"], d)
    s2s = d / "s2s"
    s2s.mkdir()
    copy_task(s2s, 2000 if not a.dry_run else 64, 60 if not a.dry_run else 20, 20 if not a.dry_run else 6)
    run_module("fairseq_cli.preprocess", ["-s", "src", "-t", "tgt", "--joined-dictionary", "--trainpref", "train",
                                          "--validpref", "valid", "--testpref", "test", "--destdir", "bin",
                                          "--workers", "8"], s2s)
    precisions = {"fp16": ["--memory-efficient-fp16", "--cpu"]} if a.dry_run else {"fp16": ["--fp16"], "bf16": ["--bf16"]}
    updates = 6 if a.dry_run else a.precision_updates
    layers = ["--encoder-layers", "2" if a.dry_run else "4", "--encoder-embed-dim", str(a.dim),
              "--encoder-ffn-embed-dim", str(4 * a.dim), "--encoder-attention-heads", str(a.heads)]
    train = ["--optimizer", "adam", "--lr", "5e-4", "--lr-scheduler", "polynomial_decay", "--warmup-updates",
             str(max(1, updates // 5)), "--total-num-update", str(updates), "--max-update", str(updates),
             "--clip-norm", "1.0", "--disable-validation", "--num-workers", "0", "--log-format", "json",
             "--log-interval", str(max(1, updates // 5)), "--seed", "1", "--arch", "unilmv2_base", *layers,
             "--user-dir", str(REPO / "fairseq_unilmv2")]
    report = {}

    def check(name, out):
        rows = inner_rows(out)
        losses = [float(r["loss"]) for r in rows]
        ok = bool(losses) and all(math.isfinite(x) for x in losses)
        report[name] = {"losses": losses, "finite": ok, "falls": ok and losses[-1] < losses[0],
                        "loss_scale": rows[-1].get("loss_scale") if rows else None}
        print(f"  {name}: loss {losses[0] if losses else None} -> {losses[-1] if losses else None}, "
              f"finite {ok}", flush=True)

    for objective in ("pmlm", "mlm", "mpnet", "maelm"):
        for prec, flags in precisions.items():
            check(f"{objective}/{prec}", run_module("fairseq_cli.train", [
                "bin", "--task", "pmlm", "--criterion", "pmlm", "--objective", objective, "--tokens-per-sample",
                str(a.tokens_per_sample), "--max-positions", str(a.tokens_per_sample), "--batch-size",
                str(min(a.batch_size, 16)), "--no-save", *train, *flags], d))
    for prec, flags in precisions.items():
        check(f"unilm_seq2seq/{prec}", run_module("fairseq_cli.train", [
            "bin", "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt", "--criterion", "unilm_seq2seq",
            "--batch-size", "32", "--save-dir", f"ck_{prec}", "--no-epoch-checkpoints", "--no-save-optimizer-state",
            *train, *flags], s2s))
    gen_flags = ["--cpu", "--fp16"] if a.dry_run else ["--fp16"]
    out = run_module("fairseq_cli.generate", [
        "bin", "--path", "ck_fp16/checkpoint_last.pt", "--user-dir", str(REPO / "fairseq_unilmv2"), "--task",
        "unilm_seq2seq", "-s", "src", "-t", "tgt", "--beam", "5", "--batch-size", "25", "--gen-subset", "test",
        "--num-workers", "0", *gen_flags], s2s)
    scores = [float(line.split("\t")[1]) for line in out.splitlines() if line.startswith("H-")]
    report["generate_fp16"] = {"hypotheses": len(scores), "sentences": 50,
                               "finite_scores": bool(scores) and all(math.isfinite(x) for x in scores)}
    print(f"  fairseq-generate --fp16: {len(scores)} hypotheses for 50 sentences, finite scores "
          f"{report['generate_fp16']['finite_scores']}", flush=True)
    return report


def attention(a):
    args = ["--layers", str(a.layers), "--dim", str(a.dim), "--heads", str(a.heads), "--text-len",
            str(a.tokens_per_sample), "--batch", str(a.batch_size if not a.dry_run else 2),
            "--iters", "2" if a.dry_run else "5", "--repeats", "1" if a.dry_run else "2",
            "--device", "cpu" if a.dry_run else "cuda"]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("attention_speed.py")), *args],
                          capture_output=True, text=True, env=env)
    if proc.returncode:
        sys.exit(f"attention_speed.py failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout[proc.stdout.index("{"):])["results"]


def environment():
    import torch

    info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["bf16_supported"] = torch.cuda.is_bf16_supported()
    import fairseq

    info["fairseq"] = getattr(fairseq, "__version__", "?")
    return info


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "train-peak":
        return train_peak(sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--log-interval", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32, help="sequences of --tokens-per-sample per update")
    p.add_argument("--tokens-per-sample", type=int, default=512)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--gen-repeats", type=int, default=1, help="beam search runs of each model (best counts)")
    p.add_argument("--sentences", type=int, default=300)
    p.add_argument("--src-len", type=int, default=400)
    p.add_argument("--tgt-len", type=int, default=64)
    p.add_argument("--gen-batch-size", type=int, default=50)
    p.add_argument("--peak-tflops", type=float, default=H200_BF16_DENSE_TFLOPS)
    p.add_argument("--precision-updates", type=int, default=30, help="updates of each --fp16/--bf16 run")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: pretrain,beam,precision,attention")
    p.add_argument("--out", default=None, help="write the JSON report here too")
    p.add_argument("--dry-run", action="store_true",
                   help="CPU, toy sizes (2 layers x 64, 64 tokens, 6 updates, 20 sentences): checks the script")
    a = p.parse_args()
    a.layers, a.dim, a.heads = 12, 768, 12  # unilmv2_base = roberta_base = base transformer width/depth
    if a.dry_run:
        a.layers, a.dim, a.heads = 2, 64, 2
        a.updates, a.log_interval, a.batch_size, a.tokens_per_sample, a.repeats, a.gen_repeats = 6, 2, 4, 64, 1, 1
        a.sentences, a.src_len, a.tgt_len, a.gen_batch_size = 20, 30, 8, 10
    else:
        import torch

        if not torch.cuda.is_available():
            sys.exit("gpu_check.py: no CUDA device visible to torch; use --dry-run for the CPU smoke check")
    skip = set(filter(None, a.skip.split(",")))
    report = {"environment": environment(), "setting": vars(a).copy()}
    root = Path(tempfile.mkdtemp(prefix="gpucheck."))
    start = time.time()
    if "pretrain" not in skip:
        d = root / "pretrain"
        d.mkdir()
        lines = max(64, a.updates * a.batch_size * a.tokens_per_sample // 128 // 4)  # ~4 epochs' worth of text
        markov_corpus(d / "train.txt", lines, 128, vocab=8000 if not a.dry_run else 200)
        run_module("fairseq_cli.preprocess", ["--only-source", "--trainpref", "train.txt", "--destdir", "bin",
                                              "--workers", "8"], d)
        print(f"pre-training, {a.updates} updates x {a.batch_size} x {a.tokens_per_sample} tokens "
              f"({'fp32, CPU, dry run' if a.dry_run else 'bf16'}):", flush=True)
        report["pretraining"] = pretrain(a, d)
    if "beam" not in skip:
        print(f"beam search (beam 5, {'fp32, CPU, dry run' if a.dry_run else 'fp16'}), {a.sentences} sentences:",
              flush=True)
        report["beam_search"] = beam_search(a, root)
    if "precision" not in skip:
        print("fairseq's --fp16/--bf16 paths, every objective and seq2seq, then fairseq-generate --fp16:", flush=True)
        report["precision"] = precision(a, root)
    if "attention" not in skip:
        print("attention mask, previous vs current:", flush=True)
        report["attention_mask"] = attention(a)
    report["wall_s"] = round(time.time() - start)
    text = json.dumps(report, indent=1)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
