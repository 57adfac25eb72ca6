"""The plan of a binarize.py run and its checks: which inputs (paths, sizes, SHA-256 of their
content), which dictionary, how many shards, where everything goes (``Layout``); whether a
DATA_BIN may be used by this plan (``check_resume``, ``bind``: DATA_BIN/plan.json binds it once a
shard is finished); what each shard must hold (``expected_splits``, ``check_counts``); and
whether a step's arguments make the plan ``--prepare`` wrote (``load_prepared``).

Every binarize.py run goes through here: the one-machine run and each step on many machines
(preprocess/binarize_pieces.py, preprocess/assemble.py) make and check the same plan.
"""
import json
import logging
import os
import re
import shutil

from preprocess import databin_guide as guide
from preprocess import pieces as pc
from preprocess.fairseq_dict import check_dict
from preprocess.shard import indexed_size
from preprocess.textio import InputError, atomic_outputs, count_lines_and_sha256, input_files, lang_pair, sha256

logger = logging.getLogger("preprocess.binarize")


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


def make_plan(args, count=count_lines_and_sha256):
    """Check every input before any work; return the plan (also the resume check) and the ids
    that mean ``<unk>`` in the dictionary.

    Each input file is read once here, for its line count and its SHA-256 (``count(path)`` ->
    ``(lines, sha256)``, by default ``count_lines_and_sha256``), so that a resume can refuse an
    input edited since the plan was written even when the edit kept its size and line count.
    ``--prepare`` passes a ``count`` that also indexes the file, a piece one that looks both up
    in that index (preprocess/binarize_pieces.py)."""
    langs = lang_pair(args.source_lang, args.target_lang)
    if args.valid and args.valid_lines:
        raise InputError("give --valid or --valid-lines, not both")
    if not 0 <= args.max_unk_rate <= 1:
        raise InputError(f"--max-unk-rate {args.max_unk_rate}: give a fraction from 0 to 1 (1: no check)")
    if not os.path.isfile(args.dict):
        raise InputError(f"{args.dict}: no such file (the shared dictionary, e.g. from preprocess/spm.py train)")
    try:
        unk_ids = check_dict(args.dict).unk_ids
    except ValueError as e:
        raise InputError(str(e)) from None

    def files(prefix):
        """(paths, line counts, digests) of one input; parallel files must have equal line counts."""
        paths = input_files(prefix, langs)
        counts, digests = zip(*(count(p) for p in paths))
        if langs and counts[0] != counts[1]:
            raise InputError(
                f"{paths[0]} has {counts[0]} lines but {paths[1]} has {counts[1]}: parallel files must be "
                f"line-aligned (one source and its target on the same line number); fix the files and run again"
            )
        return paths, counts[0], list(digests)

    train = [files(p) for p in args.train]
    valid = files(args.valid) if args.valid else None
    test = files(args.test) if args.test else None
    total = sum(n for _, n, _ in train)
    if total - args.valid_lines < args.shards:
        held = f", {args.valid_lines} of them held out by --valid-lines" if args.valid_lines else ""
        raise InputError(
            f"{args.shards} shard(s) need at least {args.shards} training lines; the training text has {total}"
            f"{held}: {'hold out fewer (e.g. a tenth), ' if args.valid_lines else ''}give fewer --shards or more text")
    plan = {
        "train": [[os.path.realpath(p) for p in t] for t, _, _ in train],
        "sizes": [[os.path.getsize(p) for p in t] for t, _, _ in train],
        "sha256": [d for _, _, d in train],
        "valid": [os.path.realpath(p) for p in valid[0]] if valid else None,
        "valid_sizes": [os.path.getsize(p) for p in valid[0]] if valid else None,
        "valid_sha256": valid[2] if valid else None,
        "valid_lines": args.valid_lines,
        "langs": langs,
        "dict_sha256": sha256(args.dict),
        "lines": total,
        "shards": args.shards,
    }
    if test:  # only then: plans of runs without a test set stay as binarize.py wrote them before --test
        plan.update(test=[os.path.realpath(p) for p in test[0]], test_sizes=[os.path.getsize(p) for p in test[0]],
                    test_sha256=test[2])
    return plan, unk_ids


def finished_shards(destdir):
    """Names of the finished shards in ``destdir`` (``shardK`` directories; ``shardK.tmp`` are not)."""
    if not os.path.isdir(destdir):
        return []
    return sorted(n for n in os.listdir(destdir)
                  if re.fullmatch(r"shard\d+", n) and os.path.isdir(os.path.join(destdir, n)))


def check_resume(plan_path, plan):
    """Decide whether this run may use DATA_BIN; True when plan.json is to be (re)written.

    A plan binds DATA_BIN once a shard is finished: then a rerun with another plan is refused
    (the finished shards hold the other inputs' text), naming an input whose content changed.
    A plan whose run finished no shard binds nothing: it is replaced (the caller discards that
    run's text and ``.tmp`` shards). Shards that no plan.json accounts for are refused."""
    destdir = os.path.dirname(plan_path)
    if not os.path.exists(plan_path):
        if os.path.isdir(destdir):
            stray = sorted(n for n in os.listdir(destdir) if n.startswith("shard"))
            if stray:
                raise InputError(
                    f"{destdir} holds {', '.join(stray[:3])}{' ...' if len(stray) > 3 else ''} but no plan.json: "
                    f"they may come from other inputs; use a new --destdir or delete those shards"
                )
        return True
    with open(plan_path) as f:
        old = json.load(f)
    if old == plan:
        return False
    changed = sorted(k for k in plan.keys() | old.keys() if old.get(k) != plan.get(k))
    done = finished_shards(destdir)
    if not done:
        logger.warning("%s records a run that finished no shard (different %s): replacing it", plan_path,
                       ", ".join(changed))
        return True
    edited = _edited_inputs(old, plan)
    if edited:
        raise InputError(
            f"{edited[0]} changed since {plan_path} was written (same path, other content: its SHA-256 differs"
            f"{'' if len(edited) == 1 else f'; {len(edited) - 1} more input(s) too'}); the finished shards "
            f"({', '.join(done[:3])}{' ...' if len(done) > 3 else ''}) hold the old text, so resuming would mix "
            f"two corpora: restore the file, or use a new --destdir (or delete {destdir}) to binarize the new one"
        )
    if "sha256" not in old:
        changed.append("(a plan.json of an older binarize.py, without input digests)")
    raise InputError(
        f"{plan_path} records another run (different {', '.join(changed)}): the shards there do not "
        f"match these inputs; use a new --destdir or delete that one"
    )


def _edited_inputs(old, new):
    """Input paths recorded in both plans whose recorded SHA-256 differs."""
    def digests(plan):
        pairs = zip(sum(plan.get("train") or [], []), sum(plan.get("sha256") or [], []))
        return (dict(pairs) | dict(zip(plan.get("valid") or [], plan.get("valid_sha256") or []))
                | dict(zip(plan.get("test") or [], plan.get("test_sha256") or [])))

    before, now = digests(old), digests(new)
    return [p for p in now if p in before and before[p] != now[p]]


def bind(layout, plan):
    """``check_resume``; when the plan is new, discard what an earlier run left and write
    DATA_BIN/plan.json. Returns its path. Shared by the one-machine run and ``--prepare``, so that
    both write the same plan.json."""
    plan_path = os.path.join(layout.destdir, "plan.json")
    if check_resume(plan_path, plan):
        # no finished shard: what an earlier run left (text, shardK.tmp, a piece index) may come from other inputs
        shutil.rmtree(layout.text, ignore_errors=True)
        shutil.rmtree(os.path.join(layout.destdir, ".pieces"), ignore_errors=True)
        for name in os.listdir(layout.destdir) if os.path.isdir(layout.destdir) else []:
            if re.fullmatch(r"shard\d+\.tmp", name):
                shutil.rmtree(os.path.join(layout.destdir, name), ignore_errors=True)
        os.makedirs(layout.text)
        with atomic_outputs([plan_path]) as (f,):
            json.dump(plan, f, indent=1)
    os.makedirs(layout.text, exist_ok=True)
    return plan_path


def load_prepared(args, argv):
    """(plan, unk ids, index entries by real path, plan.json's SHA-256) of a DATA_BIN that
    ``--prepare`` wrote; InputError unless these arguments make exactly that plan."""
    plan_path, index_path = os.path.join(args.destdir, "plan.json"), pc.index_path(args.destdir)
    missing = [p for p in (plan_path, index_path) if not os.path.exists(p)]
    if missing:
        raise InputError(f"{args.destdir} is not prepared for pieces (no {missing[0]}): run once, before the pieces, "
                         f"{guide.step_command(argv, '--prepare')}")
    index, digest = pc.read_json(index_path), pc.plan_digest(plan_path)
    if index.get("plan_sha256") != digest:
        raise InputError(f"{index_path} was written for another {plan_path}: run "
                         f"{guide.step_command(argv, '--prepare')} again")
    entries = index["files"]

    def count(path):
        real = os.path.realpath(path)
        if real not in entries:
            raise InputError(f"{path} is not one of the inputs {plan_path} was prepared for ({len(entries)} file(s), "
                             f"e.g. {next(iter(entries))}): give every piece and --assemble the arguments of "
                             f"--prepare, unchanged; other text goes into a new --destdir")
        pc.check_unchanged(path, entries[real], index_path)
        return entries[real]["lines"], entries[real]["sha256"]

    plan, unk_ids = make_plan(args, count)
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
            elif indexed_size(idx) != n:
                problems.append(f"{idx} holds {indexed_size(idx)} sentences, the plan gives it {n}")
    return problems
