#!/usr/bin/env python
"""Split encoded text into N shards of contiguous lines and binarize each with fairseq-preprocess
against one shared dictionary: DATA_BIN/shard0 ... shardN-1 for fairseq's epoch-sharded loading
(``fairseq-train DATA_BIN/shard0:DATA_BIN/shard1:...``; epoch e reads shard (e-1) mod N).

    python preprocess/binarize.py --dict spm.dict.txt --train encoded/*.txt --valid-lines 2000 \\
        --shards 8 --destdir DATA_BIN --workers 8
    python preprocess/binarize.py --dict spm.dict.txt --train enc/train --valid enc/valid \\
        -s src -t tgt --shards 2 --destdir DATA_BIN_S2S          # enc/train.src + enc/train.tgt ...

The validation set (--valid, or the first --valid-lines lines held out of the training text) is
binarized into shard0 only: fairseq loads validation data from the first data directory. Shards
are written as DATA_BIN/shardK.tmp and renamed to DATA_BIN/shardK once fairseq-preprocess has
finished and the number of sentences is checked; a rerun skips finished shards and redoes the
others. DATA_BIN/plan.json records the inputs, dictionary and shard count: a rerun with others
is refused, and so is a DATA_BIN with shard* directories but no plan.json. Parallel files with
different line counts are refused before any work; a line that is not UTF-8 or holds a carriage
return other than a final CRLF's (fairseq would read two lines) stops the split with FILE:LINE
(exit 2). At most (concurrent fairseq-preprocess runs + 1) shards' text is on disk at a time.
SIGTERM stops the fairseq-preprocess runs.
"""
import argparse
import concurrent.futures
import contextlib
import json
import logging
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess import report
from preprocess.fairseq_dict import check_dict
from preprocess.shards import records, shard_ranges, skip, take
from preprocess.textio import (
    InputError,
    atomic_outputs,
    check_same_line_count,
    complete,
    count_lines,
    input_files,
    lang_pair,
    sha256,
)

logger = logging.getLogger("preprocess.binarize")
_MMAP_MAGIC = b"MMIDIDX\x00\x00"


def indexed_size(idx_path):
    """Number of sentences in a fairseq mmap dataset, read from its .idx header."""
    with open(idx_path, "rb") as f:
        if f.read(9) != _MMAP_MAGIC:
            raise ValueError(f"{idx_path} is not a fairseq mmap index")
        f.read(8 + 1)  # version, dtype code
        return struct.unpack("<Q", f.read(8))[0]


class Layout:
    """File names: text shards and their binarized directories, mono or parallel."""

    def __init__(self, destdir, langs):
        self.destdir, self.langs = destdir, langs
        self.text = os.path.join(destdir, ".text")

    def suffixes(self):
        return [f".{lang}" for lang in self.langs] if self.langs else [".txt"]

    def text_prefix(self, name):
        """fairseq-preprocess --trainpref/--validpref of a text split."""
        return os.path.join(self.text, name) + ("" if self.langs else ".txt")

    def text_files(self, name):
        return [os.path.join(self.text, name) + s for s in self.suffixes()]

    def shard_dir(self, k):
        return os.path.join(self.destdir, f"shard{k}")

    def index_files(self, directory, split):
        if self.langs:
            src, tgt = self.langs
            return [os.path.join(directory, f"{split}.{src}-{tgt}.{lang}.idx") for lang in self.langs]
        return [os.path.join(directory, f"{split}.idx")]


def make_plan(args):
    """Check every input before any work; return the plan (also the resume check)."""
    langs = lang_pair(args.source_lang, args.target_lang)
    if args.valid and args.valid_lines:
        raise InputError("give --valid or --valid-lines, not both")
    if not os.path.isfile(args.dict):
        raise InputError(f"{args.dict}: no such file (the shared dictionary, e.g. from preprocess/spm.py train)")
    try:
        check_dict(args.dict)
    except ValueError as e:
        raise InputError(str(e)) from None

    def files(prefix):
        paths = input_files(prefix, langs)
        if langs:
            check_same_line_count(*paths)
        return paths

    train = [files(p) for p in args.train]
    valid = files(args.valid) if args.valid else None
    total = sum(count_lines(t[0]) for t in train)
    if total - args.valid_lines < args.shards:
        raise InputError(f"{total} training lines (after {args.valid_lines} held out) cannot fill {args.shards} shards")
    return {
        "train": [[os.path.realpath(p) for p in t] for t in train],
        "sizes": [[os.path.getsize(p) for p in t] for t in train],
        "valid": [os.path.realpath(p) for p in valid] if valid else None,
        "valid_sizes": [os.path.getsize(p) for p in valid] if valid else None,
        "valid_lines": args.valid_lines,
        "langs": langs,
        "dict_sha256": sha256(args.dict),
        "lines": total,
        "shards": args.shards,
    }


def check_resume(plan_path, plan):
    """Refuse a DATA_BIN written by another plan, or whose shards no plan.json accounts for."""
    if not os.path.exists(plan_path):
        destdir = os.path.dirname(plan_path)
        if os.path.isdir(destdir):
            stray = sorted(n for n in os.listdir(destdir) if n.startswith("shard"))
            if stray:
                raise InputError(
                    f"{destdir} holds {', '.join(stray[:3])}{' ...' if len(stray) > 3 else ''} but no plan.json: "
                    f"they may come from other inputs; use a new --destdir or delete those shards"
                )
        return
    with open(plan_path) as f:
        old = json.load(f)
    if old != plan:
        changed = sorted(k for k in plan if old.get(k) != plan[k])
        raise InputError(
            f"{plan_path} records another run (different {', '.join(changed)}): the shards there do not "
            f"match these inputs; use a new --destdir or delete that one"
        )


def fairseq_preprocess(layout, dict_path, train_prefix, valid_prefix, destdir, workers):
    cmd = [sys.executable, "-m", "fairseq_cli.preprocess", "--srcdict", dict_path, "--trainpref", train_prefix,
           "--destdir", destdir, "--workers", str(workers), "--dataset-impl", "mmap"]
    if layout.langs:
        cmd += ["-s", layout.langs[0], "-t", layout.langs[1], "--joined-dictionary"]
    else:
        cmd += ["--only-source"]
    if valid_prefix:
        cmd += ["--validpref", valid_prefix]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with _children_lock:
        if _stopping.is_set():
            raise RuntimeError("stopped")
        # its own process group, so that stop_children also reaches fairseq-preprocess's workers
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        _children.add(proc)
    try:
        _, stderr = proc.communicate()
    finally:
        with _children_lock:
            _children.discard(proc)
    if proc.returncode:
        raise RuntimeError(f"fairseq-preprocess failed for {train_prefix}:\n{stderr[-3000:]}")


_children, _children_lock, _stopping = set(), threading.Lock(), threading.Event()


def stop_children(grace=5.0):
    """Terminate every running fairseq-preprocess (and its workers); start no new one."""
    with _children_lock:
        _stopping.set()
        procs = list(_children)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def binarize_shard(layout, k, expected, valid_expected, dict_path, workers, keep_text):
    """fairseq-preprocess into shardK.tmp, check sentence counts, rename to shardK."""
    final, t0 = layout.shard_dir(k), time.perf_counter()
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted run
    valid_prefix = layout.text_prefix("valid") if valid_expected else None
    fairseq_preprocess(layout, dict_path, layout.text_prefix(f"shard{k}"), valid_prefix, tmp, workers)
    checks = [(idx, expected) for idx in layout.index_files(tmp, "train")]
    if valid_expected:
        checks += [(idx, valid_expected) for idx in layout.index_files(tmp, "valid")]
    for idx, n in checks:
        if indexed_size(idx) != n:
            raise RuntimeError(f"{idx} holds {indexed_size(idx)} sentences, expected {n}: the text has line "
                               f"breaks fairseq reads differently; encode it with preprocess/encode.py")
    os.replace(tmp, final)
    text_bytes = sum(os.path.getsize(p) for p in layout.text_files(f"shard{k}"))
    if not keep_text:
        for p in layout.text_files(f"shard{k}"):
            os.unlink(p)
    logger.info("shard%d: %d lines binarized in %.1fs", k, expected, time.perf_counter() - t0)
    return Counter(lines=expected, bytes=text_bytes, shards_binarized=1)


def run(args):
    plan = make_plan(args)
    layout = Layout(args.destdir, plan["langs"])
    plan_path = os.path.join(args.destdir, "plan.json")
    check_resume(plan_path, plan)
    os.makedirs(layout.text, exist_ok=True)
    if not os.path.exists(plan_path):
        with atomic_outputs([plan_path]) as (f,):
            json.dump(plan, f, indent=1)

    start, total = time.perf_counter(), Counter()
    ranges = shard_ranges(plan["lines"], args.shards, args.valid_lines)
    todo = [k for k in range(args.shards) if not os.path.isdir(layout.shard_dir(k))]
    total["shards_skipped"] = args.shards - len(todo)
    for k in sorted(set(range(args.shards)) - set(todo)):
        logger.info("shard%d: complete, skipped", k)
    concurrent_jobs = max(1, min(args.workers, len(todo) or 1))
    per_job = max(1, args.workers // concurrent_jobs)
    streams = [list(s) for s in zip(*plan["train"])]  # one list of files per language

    with concurrent.futures.ThreadPoolExecutor(concurrent_jobs) as pool:
        try:
            _split_and_binarize(args, layout, plan, todo, ranges, pool, concurrent_jobs, per_job, streams, total)
        except BaseException:  # an error, Ctrl-C, SIGTERM: no fairseq-preprocess is left running
            pool.shutdown(wait=False, cancel_futures=True)
            stop_children()
            raise
    if not args.keep_text:
        shutil.rmtree(layout.text, ignore_errors=True)
    result = report.summary(total, time.perf_counter() - start, "lines")
    result["data"] = ":".join(layout.shard_dir(k) for k in range(args.shards))
    return result


def _split_and_binarize(args, layout, plan, todo, ranges, pool, concurrent_jobs, per_job, streams, total):
    """Write the shards' text (streamed, bounded) and binarize each in ``pool``; adds to ``total``."""
    valid_expected = 0
    jobs = []
    lines = records(streams)
    valid_files, need_valid = layout.text_files("valid"), 0 in todo
    if args.valid_lines:
        if need_valid and not complete(valid_files):
            _write(valid_files, take(lines, args.valid_lines))
        else:
            skip(lines, args.valid_lines)
        valid_expected = args.valid_lines if need_valid else 0
    elif args.valid and need_valid:
        _write(valid_files, records([[p] for p in plan["valid"]]))
        valid_expected = count_lines(plan["valid"][0])
    if todo:
        for k, (lo, hi) in enumerate(ranges):
            if k > todo[-1]:
                break
            if k not in todo:
                skip(lines, hi - lo)
                continue
            # bounded disk: at most concurrent_jobs shards are binarized (their text on disk)
            # while this one's text is written
            _wait_until_at_most(jobs, concurrent_jobs)
            if complete(layout.text_files(f"shard{k}")):
                skip(lines, hi - lo)
            else:
                _write(layout.text_files(f"shard{k}"), take(lines, hi - lo))
            jobs.append(pool.submit(binarize_shard, layout, k, hi - lo, valid_expected if k == 0 else 0,
                                    args.dict, per_job, args.keep_text))
    for job in jobs:
        total.update(job.result())


def _wait_until_at_most(jobs, n):
    """Block until at most ``n`` of ``jobs`` are unfinished; a failed job raises its error now."""
    while True:
        for job in jobs:
            if job.done():
                job.result()
        running = [job for job in jobs if not job.done()]
        if len(running) <= n:
            return
        concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)


def _write(paths, rows):
    with atomic_outputs(paths, binary=True) as files:
        for row in rows:
            for f, line in zip(files, row):
                f.write(line)


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dict", required=True, help="the shared fairseq dict.txt (spm.py train / wordpiece.py dict)")
    p.add_argument("--train", nargs="+", required=True,
                   help="encoded training text files, concatenated in this order (parallel data: prefixes)")
    p.add_argument("--valid", help="encoded validation file (parallel data: prefix), binarized into shard0")
    p.add_argument("--valid-lines", type=int, default=0,
                   help="instead of --valid: hold out the first this many training lines as validation set")
    p.add_argument("-s", "--source-lang", help="parallel data: source suffix")
    p.add_argument("-t", "--target-lang", help="parallel data: target suffix")
    p.add_argument("--shards", type=int, default=1, help="number of shards (fairseq epochs cycle through them)")
    p.add_argument("--destdir", required=True, help="DATA_BIN: shard0 ... shardN-1 are written here")
    p.add_argument("--workers", type=int, default=1,
                   help="processes in all: up to this many fairseq-preprocess runs at once (shards), "
                        "each with --workers WORKERS / concurrent runs")
    p.add_argument("--keep-text", action="store_true", help="keep the shards' text in DATA_BIN/.text")
    return p


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)  # SystemExit in the main thread: cleanup runs (children, .tmp files)


def main(argv=None):
    args = get_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", level=logging.INFO,
                        stream=sys.stderr)
    if args.shards < 1 or args.workers < 1 or args.valid_lines < 0:
        report.fail("--shards and --workers must be at least 1, --valid-lines at least 0")
    try:
        result = run(args)
    except InputError as e:
        report.fail(e)
    except RuntimeError as e:  # fairseq-preprocess failed: its error, no traceback of ours
        print(f"error: {e}\nfinished shards are kept; rerun to redo the others", file=sys.stderr)
        sys.exit(1)
    logger.info("done: %s", result)
    logger.info("train with: fairseq-train %s ...", result["data"])
    report.emit(result)


if __name__ == "__main__":
    main()
