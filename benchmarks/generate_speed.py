#!/usr/bin/env python
"""fairseq-generate speed: unilm_seq2seq (pseudo-mask and causal decoding) against fairseq's
``transformer`` of the same depth and width, on the same data, beam 5, side by side in one run;
then cached against uncached decoding for our model.

FLOP limits (per generated position, per layer, width D, FFN 4D; attention over cached keys is
lower order): a transformer decoder layer costs 4D^2 (self-attn) + 2D^2 (cross-attn q, out; its
keys/values are computed once) + 8D^2 (FFN) = 14D^2 for one position; a UniLM layer costs
12D^2 a position, and pseudo-mask decoding runs two positions a step (the committed token and
the new [P]): limits 14/24 = 0.58x (pseudo) and 14/12 = 1.17x (causal).

Every hypothesis is forced to the same length (--min-len = --max-len-b), so all models do the
same number of steps. Untrained weights (one update) are enough for timing.

    python benchmarks/generate_speed.py [--layers 6 --dim 512 --sentences 200 --src-len 200 --tgt-len 48]
"""
import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, sh


def make_data(d, args):
    rng = random.Random(0)
    words = [f"w{i}" for i in range(2000)]
    for split, n in (("train", 64), ("valid", 16), ("test", args.sentences)):
        src = [" ".join(rng.choices(words, k=rng.randint(args.src_len // 2, args.src_len))) for _ in range(n)]
        tgt = [" ".join(rng.choices(words, k=args.tgt_len)) for _ in range(n)]
        (d / f"{split}.src").write_text("\n".join(src) + "\n")
        (d / f"{split}.tgt").write_text("\n".join(tgt) + "\n")
    sh(["fairseq-preprocess", "-s", "src", "-t", "tgt", "--joined-dictionary", "--trainpref", "train",
        "--validpref", "valid", "--testpref", "test", "--destdir", "bin", "--workers", "2"], d)


def size_flags(args):
    return ["--encoder-layers", str(args.layers), "--encoder-embed-dim", str(args.dim),
            "--encoder-ffn-embed-dim", str(4 * args.dim), "--encoder-attention-heads", str(args.heads)]


def train_one_update(d, name, extra):
    sh(["fairseq-train", "bin", "--max-update", "1", "--batch-size", "8", "--optimizer", "adam", "--lr", "1e-5",
        "--save-dir", f"ck_{name}", "--no-epoch-checkpoints", "--no-save-optimizer-state", "--num-workers", "0",
        *extra], d)
    return f"ck_{name}/checkpoint_last.pt"


def generate(d, ckpt, task_flags, args):
    out = sh(["fairseq-generate", "bin", "--path", ckpt, *task_flags, "--beam", "5", "--batch-size",
              str(args.batch_size), "--gen-subset", "test", "--min-len", str(args.tgt_len), "--max-len-a", "0",
              "--max-len-b", str(args.tgt_len), "--num-workers", "0"], d)
    m = re.search(r"Translated (\d+) sentences .*?\(([\d.]+) sentences/s", out)
    return float(m.group(2))


def in_process_cached_vs_uncached(d, ckpt, task_flags, args):
    """Same generator, same batches; 'uncached' recomputes source + prefix at every step."""
    import torch

    sys.path.insert(0, str(REPO))
    import fairseq_unilmv2  # noqa: F401
    from fairseq import checkpoint_utils, options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    parser = options.get_generation_parser()
    gen_args = options.parse_args_and_arch(parser, [str(d / "bin"), "--path", str(d / ckpt), *task_flags,
                                                     "--beam", "5", "--min-len", str(args.tgt_len),
                                                     "--max-len-a", "0", "--max-len-b", str(args.tgt_len)])
    cfg = convert_namespace_to_omegaconf(gen_args)
    task = tasks.setup_task(cfg.task)
    task.load_dataset("test")
    models, _ = checkpoint_utils.load_model_ensemble([str(d / ckpt)], task=task)
    model = models[0].eval()
    ds = task.dataset("test")
    batches = [ds.collater([ds[i] for i in range(s, min(s + args.batch_size, len(ds)))])
               for s in range(0, min(len(ds), 4 * args.batch_size), args.batch_size)]

    def run():
        gen = task.build_generator(models, cfg.generation)
        start = time.perf_counter()
        with torch.no_grad():
            for b in batches:
                task.inference_step(gen, models, b)
        return sum(b["nsentences"] for b in batches) / (time.perf_counter() - start)

    cached = run()
    decoder = model.decoder
    original = decoder.forward

    def uncached(prev_output_tokens, encoder_out=None, incremental_state=None, **kw):
        logits, extra = original(prev_output_tokens, encoder_out=encoder_out, incremental_state=None, **kw)
        return logits[:, -1:], extra

    decoder.forward = uncached
    try:
        slow = run()
    finally:
        decoder.forward = original
    return cached, slow


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--sentences", type=int, default=200)
    p.add_argument("--src-len", type=int, default=200)
    p.add_argument("--tgt-len", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=25)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    d = Path(tempfile.mkdtemp(prefix="genspeed."))
    make_data(d, args)
    ours = ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "unilm_seq2seq", "-s", "src", "-t", "tgt",
            "--max-source-positions", str(args.src_len + 2), "--max-target-positions", str(args.tgt_len + 2)]
    ckpts = {
        "transformer": (train_one_update(d, "transformer", [
            "--task", "translation", "-s", "src", "-t", "tgt", "--arch", "transformer", "--share-all-embeddings",
            "--encoder-layers", str(args.layers), "--decoder-layers", str(args.layers),
            "--encoder-embed-dim", str(args.dim), "--decoder-embed-dim", str(args.dim),
            "--encoder-ffn-embed-dim", str(4 * args.dim), "--decoder-ffn-embed-dim", str(4 * args.dim),
            "--encoder-attention-heads", str(args.heads), "--decoder-attention-heads", str(args.heads)]),
            # --user-dir only for our safe checkpoint loader: stock fairseq cannot reload its own
            # transformer checkpoints under torch >= 2.6 (cfg.model is an argparse.Namespace)
            ["--user-dir", str(REPO / "fairseq_unilmv2"), "--task", "translation", "-s", "src", "-t", "tgt"]),
    }
    for mode in ("pseudo", "causal"):
        ckpts[f"unilm_{mode}"] = (train_one_update(d, mode, [*ours, "--arch", "unilmv2_base", *size_flags(args),
                                                             "--seq2seq-mode", mode, "--criterion", "unilm_seq2seq",
                                                             "--max-positions", str(args.src_len + args.tgt_len + 4)]),
                                  ours)
    speed = {name: [] for name in ckpts}
    for _ in range(args.repeats):  # interleaved, best of N: the machine is shared and noisy
        for name, (ckpt, flags) in ckpts.items():
            speed[name].append(generate(d, ckpt, flags, args))
    best = {name: max(v) for name, v in speed.items()}
    result = {"sentences_per_s": best,
              "ratio_vs_transformer": {n: round(best[n] / best["transformer"], 3) for n in best if n != "transformer"},
              "flop_limit": {"unilm_pseudo": round(14 / 24, 3), "unilm_causal": round(14 / 12, 3)}}
    result["fraction_of_limit"] = {n: round(result["ratio_vs_transformer"][n] / result["flop_limit"][n], 3)
                                   for n in result["flop_limit"]}
    for mode in ("pseudo", "causal"):
        cached, uncached = in_process_cached_vs_uncached(d, ckpts[f"unilm_{mode}"][0], ours, args)
        result[f"cached_over_uncached_{mode}"] = round(cached / uncached, 2)
    result["setting"] = vars(args)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
