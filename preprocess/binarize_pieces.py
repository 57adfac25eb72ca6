"""binarize.py on many machines: ``--prepare`` once, ``--piece K/N`` for every K (independent
jobs, any order, any machine that sees DATA_BIN), ``--assemble`` once. The result is the
one-machine run's DATA_BIN byte for byte: the same plan.json (written by the same code),
each shard binarized by the same ``binarize_shard`` from the same lines, the same data-path and
README.txt; ``.pieces/`` (the index, the shards' records and locks) is removed by --assemble.

Every step takes the one-machine run's arguments unchanged and checks them against
DATA_BIN/plan.json: a piece or --assemble given other inputs, another shard count or another
dictionary is refused (exit 2) before any work, naming what differs. A piece does not hash the
corpus again: it looks its inputs up in ``.pieces/index.json`` (same size and modification
time) and checks each block of its own byte ranges against the index as it reads them
(preprocess/pieces.py).

A piece is atomic and resumable as a whole run is: each shard is binarized into shardK.tmp and
renamed when checked, then recorded in ``.pieces/shardK.json``; a rerun skips recorded shards
and redoes the others (a shard renamed but not yet recorded, e.g. killed in between, is checked
and recorded). Each shard is locked (flock) while a piece works on it, so a piece started twice
by a job runner stops instead of writing the same files.
"""
import concurrent.futures
import contextlib
import logging
import os
import resource
import time
from collections import Counter

from preprocess import pieces as pc
from preprocess import report, shard
from preprocess.plan import Layout, bind, check_counts, expected_splits, finished_shards, load_prepared, make_plan
from preprocess.shards import shard_ranges
from preprocess.databin_guide import step_command
from preprocess.textio import InputError, complete

logger = logging.getLogger("preprocess.binarize")


def prepare(args, argv):
    """Check the inputs (one read each: line count, SHA-256 and the block index), bind DATA_BIN
    to the plan as the one-machine run does, and write ``.pieces/index.json``."""
    start, entries = time.perf_counter(), {}

    def count(path):
        entry = pc.index_file(path, args.index_block_bytes)
        entries[os.path.realpath(path)] = entry
        return entry["lines"], entry["sha256"]

    plan, _ = make_plan(args, count)
    layout = Layout(args.destdir, plan["langs"])
    plan_path = bind(layout, plan)
    os.makedirs(pc.pieces_dir(args.destdir), exist_ok=True)
    pc.write_json(pc.index_path(args.destdir), {"version": pc.INDEX_VERSION, "plan_sha256": pc.plan_digest(plan_path),
                                                "files": entries})
    shards = plan["shards"]
    done = finished_shards(args.destdir)
    logger.info("prepared %s for %d shard(s) of %d lines (%d finished already)", args.destdir, shards, plan["lines"],
                len(done))
    result = report.summary(Counter(bytes=sum(e["size"] for e in entries.values()), lines=plan["lines"]),
                            time.perf_counter() - start, "lines")
    result.update(plan=plan_path, index=pc.index_path(args.destdir), shards=shards, finished=done,
                  next=f"{step_command(argv, '--piece', f'K/{shards}')} for K = 0 ... {shards - 1} (or --piece K/N, "
                       f"N < {shards}: N jobs of whole shards), in any order, then {step_command(argv, '--assemble')}")
    return result


def run_piece(args, argv, k, n):
    """Binarize the shards of piece ``k`` of ``n`` that are not finished; record each one."""
    plan, unk_ids, entries, digest = load_prepared(args, argv)
    shards, start = plan["shards"], time.perf_counter()
    mine = list(pc.piece_shards(k, n, shards))
    layout = Layout(args.destdir, plan["langs"])
    ranges = shard_ranges(plan["lines"], shards, plan["valid_lines"])
    os.makedirs(layout.text, exist_ok=True)
    total, todo, lock_fds = Counter(), [], {}
    rerun = step_command(argv, *(["--piece", f"{k}/{n}"] if args.piece else []))  # a piece, or the one-machine run
    _allow_open_files(len(mine) + 256)  # a lock descriptor per shard (the one-machine run: all of them)
    with contextlib.ExitStack() as locks:
        for s in mine:
            lock_fds[s] = locks.enter_context(pc.shard_lock(args.destdir, s))
        for s in mine:
            if not os.path.isdir(layout.shard_dir(s)):
                todo.append(s)
                continue
            stamp_file = pc.stamp_path(args.destdir, s)
            if os.path.exists(stamp_file):
                if pc.read_json(stamp_file)["plan_sha256"] != digest:
                    raise InputError(f"{layout.shard_dir(s)} was binarized under another plan.json ({stamp_file}): "
                                     f"delete both, then rerun {rerun}")
            else:  # renamed, but killed before its record (or finished by a one-machine run): check, record
                problems = check_counts(layout, s, expected_splits(plan, entries, s, ranges))
                if problems:
                    raise InputError(f"{layout.shard_dir(s)}: {'; '.join(problems)}: delete it and rerun {rerun}")
                counts = Counter()
                for split, _ in expected_splits(plan, entries, s, ranges):
                    for idx in layout.index_files(layout.shard_dir(s), split):
                        counts.update(shard.unk_counts(idx, unk_ids))
                pc.write_stamp(args.destdir, s, digest, ranges[s], layout.shard_dir(s), counts, f"{k}/{n}")
            logger.info("shard%d: complete, skipped", s)
            total["shards_skipped"] += 1
        _binarize(args, layout, plan, entries, digest, unk_ids, todo, ranges, f"{k}/{n}", total, lock_fds)
    result = report.summary(total, time.perf_counter() - start, "lines")
    result.update(piece=f"{k}/{n}", shards=mine, tokens=total["tokens"], unk_tokens=total["unk_tokens"],
                  next=f"when every piece is done: {step_command(argv, '--assemble')}")
    return result


def _binarize(args, layout, plan, entries, digest, unk_ids, todo, ranges, piece, total, lock_fds):
    """Write each shard's text from its own byte ranges and binarize it (``shard.binarize_shard``,
    up to ``--workers`` at once, as the one-machine run does); record each finished shard."""
    if not todo:
        return
    concurrent_jobs = max(1, min(args.workers, len(todo)))
    per_job = max(1, args.workers // concurrent_jobs)
    index_path = pc.index_path(args.destdir)
    streams = [list(s) for s in zip(*plan["train"])]  # one list of files per language
    splits0 = dict(expected_splits(plan, entries, 0, ranges))
    valid_expected, test_expected = splits0.get("valid", 0), splits0.get("test", 0)
    side_files = []
    if 0 in todo:  # shard0 holds the validation and test sets: fairseq reads them from the first path
        if plan["valid_lines"] or plan["valid"]:
            valid_files = layout.text_files("valid")
            side_files += valid_files
            if not complete(valid_files):
                rows = (pc.records_range(streams, entries, 0, plan["valid_lines"], index_path) if plan["valid_lines"]
                        else pc.records_range([[p] for p in plan["valid"]], entries, 0, valid_expected, index_path))
                pc.atomic_text(valid_files, rows)
        if plan.get("test"):
            side_files += layout.text_files("test")
            pc.atomic_text(layout.text_files("test"),
                           pc.records_range([[p] for p in plan["test"]], entries, 0, test_expected, index_path))

    def job(s):
        lo, hi = ranges[s]
        counts = shard.binarize_shard(layout, s, hi - lo, valid_expected if s == 0 else 0, args.dict, per_job,
                                  args.keep_text, max_unk_rate=args.max_unk_rate, unk_ids=unk_ids, first_line=lo,
                                  test_expected=test_expected if s == 0 else 0, pass_fds=(lock_fds[s],))
        pc.write_stamp(args.destdir, s, digest, (lo, hi), layout.shard_dir(s), counts, piece)
        return counts

    with concurrent.futures.ThreadPoolExecutor(concurrent_jobs) as pool:
        jobs = []
        try:
            for s in todo:
                _wait_until_at_most(jobs, concurrent_jobs)  # bounded disk: at most concurrent_jobs + 1 shards of text
                lo, hi = ranges[s]
                if not complete(layout.text_files(f"shard{s}")):
                    pc.atomic_text(layout.text_files(f"shard{s}"), pc.records_range(streams, entries, lo, hi, index_path))
                jobs.append(pool.submit(job, s))
            for j in jobs:
                total.update(j.result())
        except BaseException:  # an error, Ctrl-C, SIGTERM: no fairseq-preprocess is left running
            pool.shutdown(wait=False, cancel_futures=True)
            shard.stop_children()
            raise
    if not args.keep_text:
        for p in side_files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)


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


def _allow_open_files(n):
    """Raise this process's soft limit on open files to at least ``n`` where the hard limit allows
    (a common soft limit is 1024; InputError when the hard limit is lower, naming what to give)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            raise InputError(f"this piece locks {n - 256} shards, more open files than this system allows (ulimit -Hn "
                             f"{hard}): give fewer --shards per piece (--piece K/N with a larger N)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
