#!/usr/bin/env python
"""Preprocessing speed and memory on real text (gensim's Lee corpus, repeated to size):

- encoding (preprocess/encode.py, SentencePiece) with 1 and 2 worker processes: lines/s, MB/s;
- binarization of the same pre-encoded text, side by side, interleaved, best of N: plain
  ``fairseq-preprocess --workers W`` into one data-bin vs preprocess/binarize.py (W shards, W
  workers; split + one fairseq-preprocess per shard);
- peak RSS (largest single process, the CLIs' worker processes and fairseq-preprocess
  included) of encoding and sharded binarization of a small and a big corpus.

Timings are wall-clock for the whole command (Python and fairseq start-up included, as a user
sees them). The corpora live in a temporary directory, deleted at the end.

    python benchmarks/preprocess_speed.py [--small-mb 10 --big-mb 200 --repeats 2]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BIN, REPO

# Runs a command, then prints its wall time and the peak RSS of the largest process it waited for.
_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "s = time.perf_counter() - t\n"
    "if p.returncode: sys.exit(p.stderr[-3000:])\n"
    "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'seconds': s, 'peak_rss_mb': kb / 1024}))\n"
)


def measure(cmd, cwd):
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, cmd)], cwd=cwd, env=env, capture_output=True,
                          text=True, check=False)
    if proc.returncode:
        sys.exit(f"{' '.join(map(str, cmd[:6]))} ... failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def repeat_text(source, dest, megabytes):
    """Write whole copies of ``source`` (newline-terminated) until ``dest`` holds ``megabytes``."""
    text = source.read_bytes().rstrip(b"\n") + b"\n"
    with open(dest, "wb") as out:
        while out.tell() < megabytes * 1e6:
            out.write(text)
    return count_lines(dest), os.path.getsize(dest)


def count_lines(path):
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def rate(lines, size, seconds):
    return {"lines_per_s": round(lines / seconds), "mb_per_s": round(size / 1e6 / seconds, 2),
            "seconds": round(seconds, 2)}


def _spin(_):
    s = 0
    for i in range(5_000_000):
        s += i
    return s


def parallel_capacity():
    """How many CPU-bound processes this machine runs at once right now (2 = two free cores; a
    machine shared with other jobs gives less), to read the 1 vs 2 worker numbers against."""
    import multiprocessing as mp
    import time

    t = time.perf_counter()
    _spin(0)
    one = time.perf_counter() - t
    with mp.Pool(2) as pool:
        t = time.perf_counter()
        pool.map(_spin, [0, 1])
        two = time.perf_counter() - t
    return round(2 * one / two, 2)


def script(name):
    return [sys.executable, str(REPO / "preprocess" / name)]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small-mb", type=float, default=10)
    p.add_argument("--big-mb", type=float, default=200)
    p.add_argument("--repeats", type=int, default=2, help="best of N for the side-by-side timings")
    p.add_argument("--vocab-size", type=int, default=4000)
    args = p.parse_args()

    import gensim

    lee = Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor"
    d = Path(tempfile.mkdtemp(prefix="ppspeed."))
    try:
        subprocess.run([*script("spm.py"), "train", "--input", str(lee), "--model-prefix", "spm", "--vocab-size",
                        str(args.vocab_size), "--character-coverage", "1.0", "--max-sentence-length", "65536"],
                       cwd=d, check=True, capture_output=True)
        corpora = {"small": repeat_text(lee, d / "small.txt", args.small_mb),
                   "big": repeat_text(lee, d / "big.txt", args.big_mb)}
        encode = [*script("encode.py"), "--spm-model", "spm.model", "--tokens-per-sample", "512"]
        results = {"corpus_mb": {k: round(v[1] / 1e6, 1) for k, v in corpora.items()},
                   "cpus": os.cpu_count(), "parallel_capacity_at_start": parallel_capacity()}

        # encoding, 1 vs 2 workers, on the small corpus
        lines, size = corpora["small"]
        best = {}
        for _ in range(args.repeats):
            for w in (1, 2):
                m = measure([*encode, "--input", "small.txt", "--output", f"enc{w}.txt", "--workers", w, "--force"], d)
                best[w] = min(best.get(w, m["seconds"]), m["seconds"])
        assert (d / "enc1.txt").read_bytes() == (d / "enc2.txt").read_bytes()
        results["encode_small"] = {f"{w} workers": rate(lines, size, s) for w, s in best.items()}
        results["encode_small"]["speed-up 2 vs 1"] = round(best[1] / best[2], 2)

        # binarization of the pre-encoded small corpus, side by side
        enc_lines = count_lines(d / "enc2.txt")
        enc_size = os.path.getsize(d / "enc2.txt")
        runs = {}
        for w in (1, 2):
            runs[f"fairseq-preprocess --workers {w}"] = lambda w=w, i=0: [
                str(BIN / "fairseq-preprocess"), "--only-source", "--srcdict", "spm.dict.txt", "--trainpref",
                "enc2.txt", "--destdir", f"plain{w}-{i}", "--workers", w]
            runs[f"binarize.py --shards {w} --workers {w}"] = lambda w=w, i=0: [
                *script("binarize.py"), "--dict", "spm.dict.txt", "--train", "enc2.txt", "--shards", w,
                "--destdir", f"sharded{w}-{i}", "--workers", w]
        best = {}
        for i in range(args.repeats):
            for name, cmd in runs.items():
                s = measure(cmd(i=i), d)["seconds"]
                best[name] = min(best.get(name, s), s)
        results["binarize_small_encoded"] = {name: rate(enc_lines, enc_size, s) for name, s in best.items()}
        results["binarize_small_encoded"]["encoded_mb"] = round(enc_size / 1e6, 1)

        # peak memory: small vs big corpus, encoding (2 workers) and sharded binarization (2 shards)
        memory = {}
        for name, (lines, size) in corpora.items():
            e = measure([*encode, "--input", f"{name}.txt", "--output", f"{name}.enc", "--workers", 2], d)
            n_enc, enc_size = count_lines(d / f"{name}.enc"), os.path.getsize(d / f"{name}.enc")
            b = measure([*script("binarize.py"), "--dict", "spm.dict.txt", "--train", f"{name}.enc", "--shards", 2,
                         "--destdir", f"{name}-bin", "--workers", 2], d)
            memory[name] = {"encode_peak_rss_mb": round(e["peak_rss_mb"], 1),
                            "binarize_peak_rss_mb": round(b["peak_rss_mb"], 1),
                            "encode (2 workers)": rate(lines, size, e["seconds"]),
                            "binarize (2 shards, 2 workers)": rate(n_enc, enc_size, b["seconds"])}
            shutil.rmtree(d / f"{name}-bin")
            os.unlink(d / f"{name}.enc")
        for key in ("encode_peak_rss_mb", "binarize_peak_rss_mb"):
            memory[f"{key} big/small"] = round(memory["big"][key] / memory["small"][key], 3)
        results["memory"] = memory
        results["parallel_capacity_at_end"] = parallel_capacity()
        results["load_average"] = os.getloadavg()
        print(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
