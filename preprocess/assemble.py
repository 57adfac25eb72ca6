"""binarize.py ``--assemble``: the last step of a run on many machines (and of the one-machine
run, which is the same steps in one process): check every shard against the plan and the
pieces' records, judge the whole run's ``<unk>`` rate, then write DATA_BIN/data-path and
README.txt and remove DATA_BIN/.text and .pieces.
"""
import contextlib
import logging
import os
import shutil
import time
from collections import Counter
from pathlib import Path

from preprocess import databin_guide as guide
from preprocess import pieces as pc
from preprocess import report
from preprocess.plan import Layout, check_counts, expected_splits, load_prepared
from preprocess.shard import check_tokens
from preprocess.shards import shard_ranges
from preprocess.textio import InputError, lang_pair

logger = logging.getLogger("preprocess.binarize")


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
                "next": guide.next_command(args.destdir, lang_pair(args.source_lang, args.target_lang))}
    plan, _, entries, digest = load_prepared(args, argv)
    shards, layout = plan["shards"], Layout(args.destdir, plan["langs"])
    ranges = shard_ranges(plan["lines"], shards, plan["valid_lines"])
    stamps = {}
    for s in range(shards):
        with contextlib.suppress(FileNotFoundError):
            stamps[s] = pc.read_json(pc.stamp_path(args.destdir, s))
    ns = {int(st["piece"].split("/")[1]) for st in stamps.values() if st.get("plan_sha256") == digest}
    n = ns.pop() if len(ns) == 1 else shards  # name the pieces as they were run (else one shard a piece)

    def rerun(s):
        return guide.step_command(argv, "--piece", f"{pc.piece_of(s, n, shards)}/{n}")

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
        check_tokens(total, args.destdir, f"all {shards} shard(s) together", args.max_unk_rate, args.dict)
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
