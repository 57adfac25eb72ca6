#!/usr/bin/env python
"""The attention mask's cost: the current ``UniLMTransformer.attention_bias`` against the one it
replaced, on the same model and PMLM batches, side by side in one run (interleaved, best of N).

The previous mask (kept below as ``previous_attention_bias``, verbatim) ran the log-spaced bucket
formula on every (query, key) pair, returned the float32 bias as a permuted (B, H, L, L) view
with -inf filled in, and handed the bare bool mask to SDPA when there was no relative bias. The
current one looks the buckets up per distance, builds the mask once in the compute dtype
(autocast's bf16 here), contiguous and key-padded to 16, and opens rows without a visible key.
Both compute the same attention (tests/test_pmlm_attention.py, tests/test_half_precision.py).

Timed (on CPU: one thread, process CPU time): building the mask alone, and a training step (forward + backward) of the Transformer,
in float32 and under torch.autocast(bfloat16), with and without the relative position bias.
On a GPU the same script runs on CUDA (``--device cuda``; benchmarks/gpu_check.sh calls it).

    python benchmarks/attention_speed.py [--layers 4 --dim 256 --heads 4 --text-len 128 --batch 4]
"""
import argparse
import json
import math
import sys
import time
import types

import torch

from common import REPO


def previous_attention_bias(self, allowed, query_positions, key_positions):
    """The mask of commit adc202f (before the half-precision work), for comparison."""
    from fairseq_unilmv2.modules.relative_position import relative_position_bucket

    if self.rel_pos is None:
        return allowed.unsqueeze(1)
    rel = key_positions.unsqueeze(1) - query_positions.unsqueeze(2)
    buckets = relative_position_bucket(rel, self.rel_pos.num_buckets, self.rel_pos.max_distance)
    bias = self.rel_pos.table(buckets).permute(0, 3, 1, 2)
    return bias.masked_fill(~allowed.unsqueeze(1), float("-inf"))


def pmlm_batch(args, seed):
    sys.path.insert(0, str(REPO))
    from tests.helpers import batch_examples, pmlm_example, random_text

    from fairseq_unilmv2.masking.attention import role_attention_mask

    # the task's default --mask-prob 0.15: packed length ~1.3 x text
    examples = [pmlm_example(random_text(args.text_len, seed * 1000 + i), seed * 1000 + i, mask_prob=0.15)
                for i in range(args.batch)]
    tokens, positions, kind, step = batch_examples(examples)
    dev = torch.device(args.device)
    return tokens.to(dev), positions.to(dev), role_attention_mask(kind, step).to(dev)


def build(args, rel_pos_buckets):
    sys.path.insert(0, str(REPO))
    from fairseq_unilmv2.modules.transformer import UniLMTransformer

    torch.manual_seed(0)
    return UniLMTransformer(
        vocab_size=46, padding_idx=1, layers=args.layers, dim=args.dim, ffn_dim=4 * args.dim, heads=args.heads,
        max_positions=args.text_len + 8, num_segments=2, rel_pos_buckets=rel_pos_buckets, rel_pos_max_distance=128,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
    ).to(args.device).train()


def timed(fn, args):
    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    # On CPU: one thread and the process's CPU time, which other processes sharing the cores
    # barely disturb (wall-clock time on a shared 2-core machine varied 10x between runs).
    clock = time.process_time if args.device == "cpu" else time.perf_counter
    for _ in range(2):
        fn()
    sync()
    start = clock()
    for _ in range(args.iters):
        fn()
    sync()
    return (clock() - start) / args.iters


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--text-len", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    if args.device == "cpu":
        torch.set_num_threads(1)
    tokens, positions, allowed = pmlm_batch(args, seed=1)

    results = {}
    for rel in (32, 0):
        model = build(args, rel)
        current = model.attention_bias
        variants = {"previous": types.MethodType(previous_attention_bias, model), "current": current}
        for precision in ("float32", "autocast_bf16"):
            amp = dict(device_type=torch.device(args.device).type, dtype=torch.bfloat16,
                       enabled=precision != "float32")

            def mask_only():
                with torch.no_grad(), torch.autocast(**amp):
                    model.attention_bias(allowed, positions, positions)

            def train_step():
                model.zero_grad(set_to_none=True)
                with torch.autocast(**amp):
                    hidden = model(tokens, positions, allowed)
                hidden.float().pow(2).mean().backward()

            best = {}
            for _ in range(args.repeats):  # interleaved: the machine is shared and noisy
                for name, fn in variants.items():
                    model.attention_bias = fn
                    for what, step in (("mask", mask_only), ("train_step", train_step)):
                        t = timed(step, args)
                        key = (what, name)
                        best[key] = min(best.get(key, math.inf), t)
            model.attention_bias = current
            label = f"{'rel_bias' if rel else 'no_rel_bias'}/{precision}"
            results[label] = {
                "mask_ms": {n: round(1000 * best[("mask", n)], 2) for n in variants},
                "train_step_ms": {n: round(1000 * best[("train_step", n)], 1) for n in variants},
                "speedup_train_step": round(best[("train_step", "previous")] / best[("train_step", "current")], 3),
                "speedup_mask": round(best[("mask", "previous")] / best[("mask", "current")], 2),
            }
    print(json.dumps({"results": results, "packed_length": tokens.size(1), "setting": vars(args)}, indent=1))


if __name__ == "__main__":
    main()
