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
import shlex
import shutil
import time
from collections import Counter
from pathlib import Path

from preprocess import binarize as b
from preprocess import databin_guide as guide
from preprocess import pieces as pc
from preprocess import report
from preprocess.shards import shard_ranges
from preprocess.textio import InputError, complete

logger = logging.getLogger("preprocess.binarize")
_MODE_FLAGS = {"--prepare": 0, "--assemble": 0, "--piece": 1, "--index-block-bytes": 1}


def command(argv, *extra):
    """The binarize.py command line of ``argv`` without its step flags, plus ``extra``: what a
    message tells the user to run next."""
    kept, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in _MODE_FLAGS:
            skip = _MODE_FLAGS[name] if "=" not in arg else 0
            continue
        kept.append(arg)
    script = Path(b.__file__).resolve()
    with contextlib.suppress(ValueError):
        rel = script.relative_to(Path.cwd())
        script = rel
    return shlex.join(["python", str(script), *kept, *extra])


def run_step(args, argv):
    if args.index_block_bytes < 1:
        raise InputError("--index-block-bytes must be at least 1")
    if args.prepare:
        return prepare(args, argv)
    if args.piece:
        return run_piece(args, argv)
    return assemble(args, argv)


def prepare(args, argv):
    """Check the inputs (one read each: line count, SHA-256 and the block index), bind DATA_BIN
    to the plan as the one-machine run does, and write ``.pieces/index.json``."""
    start, entries = time.perf_counter(), {}

    def count(path):
        entry = pc.index_file(path, args.index_block_bytes)
        entries[os.path.realpath(path)] = entry
        return entry["lines"], entry["sha256"]

    plan, _ = b.make_plan(args, count)
    layout = b.Layout(args.destdir, plan["langs"])
    plan_path = b.bind(layout, plan)
    os.makedirs(pc.pieces_dir(args.destdir), exist_ok=True)
    pc.write_json(pc.index_path(args.destdir), {"version": pc.INDEX_VERSION, "plan_sha256": pc.plan_digest(plan_path),
                                                "files": entries})
    shards = plan["shards"]
    done = b.finished_shards(args.destdir)
    logger.info("prepared %s for %d shard(s) of %d lines (%d finished already)", args.destdir, shards, plan["lines"],
                len(done))
    result = report.summary(Counter(bytes=sum(e["size"] for e in entries.values()), lines=plan["lines"]),
                            time.perf_counter() - start, "lines")
    result.update(plan=plan_path, index=pc.index_path(args.destdir), shards=shards, finished=done,
                  next=f"{command(argv, '--piece', f'K/{shards}')} for K = 0 ... {shards - 1} (or --piece K/N, "
                       f"N < {shards}: N jobs of whole shards), in any order, then {command(argv, '--assemble')}")
    return result


def load_prepared(args, argv):
    """(plan, unk ids, index entries by real path, plan.json's SHA-256) of a DATA_BIN that
    ``--prepare`` wrote; InputError unless these arguments make exactly that plan."""
    plan_path, index_path = os.path.join(args.destdir, "plan.json"), pc.index_path(args.destdir)
    missing = [p for p in (plan_path, index_path) if not os.path.exists(p)]
    if missing:
        raise InputError(f"{args.destdir} is not prepared for pieces (no {missing[0]}): run once, before the pieces, "
                         f"{command(argv, '--prepare')}")
    index, digest = pc.read_json(index_path), pc.plan_digest(plan_path)
    if index.get("plan_sha256") != digest:
        raise InputError(f"{index_path} was written for another {plan_path}: run {command(argv, '--prepare')} again")
    entries = index["files"]

    def count(path):
        real = os.path.realpath(path)
        if real not in entries:
            raise InputError(f"{path} is not one of the inputs {plan_path} was prepared for ({len(entries)} file(s), "
                             f"e.g. {next(iter(entries))}): give every piece and --assemble the arguments of "
                             f"--prepare, unchanged; other text goes into a new --destdir")
        pc.check_unchanged(path, entries[real], index_path)
        return entries[real]["lines"], entries[real]["sha256"]

    plan, unk_ids = b.make_plan(args, count)
    old = pc.read_json(plan_path)
    if plan != old:
        changed = sorted(k for k in plan.keys() | old.keys() if old.get(k) != plan.get(k))
        raise InputError(f"{plan_path} was prepared with other arguments (different {', '.join(changed)}): every "
                         f"piece and --assemble take the arguments of --prepare, unchanged; to binarize other text or "
                         f"another number of shards use a new --destdir")
    return plan, unk_ids, entries, digest


def expected_splits(plan, entries, k, ranges):
    """``[(split, sentences), ...]`` of shard ``k``: its training lines; shard0 also holds the
    validation set (the held-out lines or the --valid file) and the test set."""
    lo, hi = ranges[k]
    out = [("train", hi - lo)]
    if k == 0:
        if plan["valid_lines"]:
            out.append(("valid", plan["valid_lines"]))
        elif plan["valid"]:
            out.append(("valid", entries[plan["valid"][0]]["lines"]))
        if plan.get("test"):
            out.append(("test", entries[plan["test"][0]]["lines"]))
    return out


def check_counts(layout, k, splits):
    """Problems (str) of a finished shard's .idx sentence counts against ``splits``."""
    problems = []
    for split, n in splits:
        for idx in layout.index_files(layout.shard_dir(k), split):
            if not os.path.exists(idx):
                problems.append(f"{idx} is missing")
            elif b.indexed_size(idx) != n:
                problems.append(f"{idx} holds {b.indexed_size(idx)} sentences, the plan gives it {n}")
    return problems


def run_piece(args, argv):
    """Binarize the shards of piece K/N that are not finished; record each one."""
    k, n = pc.parse_piece(args.piece)
    plan, unk_ids, entries, digest = load_prepared(args, argv)
    shards, start = plan["shards"], time.perf_counter()
    mine = list(pc.piece_shards(k, n, shards))
    layout = b.Layout(args.destdir, plan["langs"])
    ranges = shard_ranges(plan["lines"], shards, plan["valid_lines"])
    os.makedirs(layout.text, exist_ok=True)
    total, todo, lock_fds = Counter(), [], {}
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
                                     f"delete both, then rerun this piece")
            else:  # renamed, but killed before its record (or finished by a one-machine run): check, record
                problems = check_counts(layout, s, expected_splits(plan, entries, s, ranges))
                if problems:
                    raise InputError(f"{layout.shard_dir(s)}: {'; '.join(problems)}: delete it and rerun this piece")
                counts = Counter()
                for split, _ in expected_splits(plan, entries, s, ranges):
                    for idx in layout.index_files(layout.shard_dir(s), split):
                        counts.update(b.unk_counts(idx, unk_ids))
                pc.write_stamp(args.destdir, s, digest, ranges[s], layout.shard_dir(s), counts, f"{k}/{n}")
            logger.info("shard%d: complete, skipped", s)
            total["shards_skipped"] += 1
        _binarize(args, layout, plan, entries, digest, unk_ids, todo, ranges, f"{k}/{n}", total, lock_fds)
    result = report.summary(total, time.perf_counter() - start, "lines")
    result.update(piece=f"{k}/{n}", shards=mine, tokens=total["tokens"], unk_tokens=total["unk_tokens"],
                  next=f"when every piece is done: {command(argv, '--assemble')}")
    return result


def _binarize(args, layout, plan, entries, digest, unk_ids, todo, ranges, piece, total, lock_fds):
    """Write each shard's text from its own byte ranges and binarize it (``binarize.binarize_shard``,
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
        counts = b.binarize_shard(layout, s, hi - lo, valid_expected if s == 0 else 0, args.dict, per_job,
                                  args.keep_text, max_unk_rate=args.max_unk_rate, unk_ids=unk_ids, first_line=lo,
                                  test_expected=test_expected if s == 0 else 0, pass_fds=(lock_fds[s],))
        pc.write_stamp(args.destdir, s, digest, (lo, hi), layout.shard_dir(s), counts, piece)
        return counts

    with concurrent.futures.ThreadPoolExecutor(concurrent_jobs) as pool:
        jobs = []
        try:
            for s in todo:
                b._wait_until_at_most(jobs, concurrent_jobs)  # bounded disk, as in the one-machine run
                lo, hi = ranges[s]
                if not complete(layout.text_files(f"shard{s}")):
                    pc.atomic_text(layout.text_files(f"shard{s}"), pc.records_range(streams, entries, lo, hi, index_path))
                jobs.append(pool.submit(job, s))
            for j in jobs:
                total.update(j.result())
        except BaseException:  # an error, Ctrl-C, SIGTERM: no fairseq-preprocess is left running
            pool.shutdown(wait=False, cancel_futures=True)
            b.stop_children()
            raise
    if not args.keep_text:
        for p in side_files:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)


def assemble(args, argv):
    """Check every shard (there, finished, recorded under this plan.json, its line ranges,
    files and sentence counts as recorded, the same dictionary as shard0), judge the whole run's
    <unk> rate, then write what the one-machine run writes last (data-path, README.txt) and
    remove .text and .pieces."""
    start = time.perf_counter()
    data_path = os.path.join(args.destdir, "data-path")
    if not os.path.exists(pc.index_path(args.destdir)) and os.path.exists(data_path):
        # assembled before (--assemble removes .pieces): a requeued final job succeeds again
        logger.info("%s is assembled already (no .pieces, data-path written)", args.destdir)
        return {"already_assembled": True, "data": Path(data_path).read_text().strip(),
                "next": guide.next_command(args.destdir, b.lang_pair(args.source_lang, args.target_lang))}
    plan, _, entries, digest = load_prepared(args, argv)
    shards, layout = plan["shards"], b.Layout(args.destdir, plan["langs"])
    ranges = shard_ranges(plan["lines"], shards, plan["valid_lines"])
    stamps = {}
    for s in range(shards):
        with contextlib.suppress(FileNotFoundError):
            stamps[s] = pc.read_json(pc.stamp_path(args.destdir, s))
    ns = {int(st["piece"].split("/")[1]) for st in stamps.values() if st.get("plan_sha256") == digest}
    n = ns.pop() if len(ns) == 1 else shards  # name the pieces as they were run (else one shard a piece)

    def rerun(s):
        return command(argv, "--piece", f"{pc.piece_of(s, n, shards)}/{n}")

    problems, dict_name = [], guide.dict_name(plan["langs"])
    shard0_dict = os.path.join(layout.shard_dir(0), dict_name)
    dictionary = Path(shard0_dict).read_bytes() if os.path.exists(shard0_dict) else None
    for s in range(shards):
        final, stamp_file = layout.shard_dir(s), pc.stamp_path(args.destdir, s)
        if pc.lock_is_held(args.destdir, s):
            problems.append(f"shard{s} is being binarized right now (a piece holds its lock): wait for it")
        elif not os.path.isdir(final):
            why = ("unfinished (shard{s}.tmp is left: its piece was killed, or still runs elsewhere)"
                   if os.path.isdir(final + ".tmp") else "missing (its piece has not run, or failed)").format(s=s)
            problems.append(f"shard{s} is {why}: run {rerun(s)}")
        elif s not in stamps:
            problems.append(f"shard{s} has no record of a finished piece ({stamp_file}; copied from another machine "
                            f"without it?): run {rerun(s)} (it checks the shard and records it)")
        elif stamps[s].get("plan_sha256") != digest or stamps[s].get("lines") != list(ranges[s]):
            problems.append(f"shard{s} was binarized by a piece of another plan ({stamp_file} names plan.json "
                            f"{stamps[s].get('plan_sha256', '?')[:12]}..., lines {stamps[s].get('lines')}; this "
                            f"{args.destdir}/plan.json is {digest[:12]}..., lines {list(ranges[s])}): delete {final} "
                            f"and {stamp_file}, then run {rerun(s)}")
        else:
            now = pc.dir_listing(final)
            bad = check_counts(layout, s, expected_splits(plan, entries, s, ranges))
            if now != stamps[s]["files"]:
                bad.insert(0, f"its files are not those its piece recorded ({sorted(now.items() ^ stamps[s]['files'].items())[:4]})")
            mine = os.path.join(final, dict_name)
            if dictionary is not None and os.path.exists(mine) and Path(mine).read_bytes() != dictionary:
                bad.append(f"its {dict_name} differs from shard0's")
            if bad:
                problems.append(f"shard{s}: {'; '.join(bad)}: delete {final} and {stamp_file}, then run {rerun(s)}")
    if problems:
        raise InputError(f"{args.destdir}: {len(problems)} of {shards} shard(s) not ready, nothing assembled:\n  "
                         + "\n  ".join(problems))
    total = Counter()
    for st in stamps.values():
        total.update(tokens=st["tokens"], unk_tokens=st["unk_tokens"], bytes=st["bytes"])
    try:
        b.check_tokens(total, args.destdir, f"all {shards} shard(s) together", args.max_unk_rate, args.dict)
    except InputError as e:
        raise InputError(f"{e}. Each shard was too small to be judged alone, so they are written: delete "
                         f"{args.destdir} before binarizing other text") from None
    if not args.keep_text:
        shutil.rmtree(layout.text, ignore_errors=True)
    shutil.rmtree(pc.pieces_dir(args.destdir), ignore_errors=True)
    total["lines"] = plan["lines"]
    result = report.summary(total, time.perf_counter() - start, "lines")
    result["unk_rate"] = round(total["unk_tokens"] / total["tokens"], 6) if total["tokens"] else None
    result["shards"], result["pieces"] = shards, sorted({st["piece"] for st in stamps.values()})
    result["data"] = ":".join(layout.shard_dir(s) for s in range(shards))
    result.update(guide.write(args.destdir, shards, plan["langs"], bool(plan["valid_lines"] or plan["valid"]),
                              bool(plan.get("test"))))
    return result
