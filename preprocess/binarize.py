#!/usr/bin/env python
"""Split encoded text into N shards of contiguous lines and binarize each with fairseq-preprocess
against one shared dictionary: DATA_BIN/shard0 ... shardN-1 for fairseq's epoch-sharded loading
(``fairseq-train DATA_BIN/shard0:DATA_BIN/shard1:...``; epoch e reads shard (e-1) mod N).

    python preprocess/binarize.py --dict spm.dict.txt --train encoded/*.txt --valid-lines 2000 \\
        --shards 8 --destdir DATA_BIN --workers 8
    python preprocess/binarize.py --dict spm.dict.txt --train enc/train --valid enc/valid --test enc/test \\
        -s src -t tgt --shards 2 --destdir DATA_BIN_S2S          # enc/train.src + enc/train.tgt ...

The validation set (--valid, or the first --valid-lines lines held out of the training text) and
the test set (--test) are binarized into shard0 only: fairseq loads every split but train from the
first data directory (``fairseq-generate DATA_BIN/shard0 --gen-subset test``). DATA_BIN itself is not
a fairseq data directory; DATA_BIN/data-path (the shards' absolute paths joined by ':') and
DATA_BIN/README.txt (layout, dictionary: DATA_BIN/shard0/dict.txt, the fairseq-train,
fairseq-generate, --srcdict command lines) say how to use it; see preprocess/databin_guide.py. Shards
are written as DATA_BIN/shardK.tmp and renamed to DATA_BIN/shardK once fairseq-preprocess has
finished and the number of sentences and the <unk> rate are checked; a rerun skips finished
shards and redoes the others.

Checked before anything is written (exit 2, FILE:LINE and what to do): the whole dict.txt as
fairseq reads it (a line that is not 'SYMBOL COUNT', a symbol listed twice -- also with fairseq's
'#fairseq:overwrite' flag, which fairseq-preprocess accepts but drops from the DATA_BIN dict.txt
it writes, which then no task can load --, <mask>/<pseudo>, no symbol at all), parallel files
with different line counts. DATA_BIN/plan.json records the inputs (paths, sizes and SHA-256 of
their content), the dictionary's SHA-256 and the shard count. It binds DATA_BIN once a shard is
finished: a rerun with other inputs, or with an input edited in place, is then refused; a
plan.json whose run finished no shard binds nothing and is replaced (with that run's leftover
text). A DATA_BIN with shard* directories but no plan.json is refused. A line that is not UTF-8
or holds a carriage return other than a final CRLF's (fairseq would read two lines) stops the
split with FILE:LINE (exit 2). A shard (or the validation set) with no token is refused (exit 2)
and not renamed. So is one with more than --max-unk-rate (default 0.05) of its tokens <unk>
(text that does not match the dictionary: raw or untokenized text, another tokenizer's output,
a WordPiece vocabulary of the wrong case, a corpus with many characters the vocabulary lacks)
-- when that rate is measured on at least MIN_UNK_CHECK_TOKENS (1000) tokens: a smaller split
(a few validation lines) is judged together with the rest of its shard, and only warned about
when even that is under 1000 tokens; the whole run's rate is judged at the end (exit 2, the
shards kept) for runs whose every shard was too small. The JSON summary reports tokens,
unk_tokens and unk_rate. At most (concurrent fairseq-preprocess runs + 1) shards' text is on
disk at a time. SIGTERM stops the fairseq-preprocess runs.

Many machines (preprocess/binarize_pieces.py): the same run as independent jobs sharing DATA_BIN,
each given the arguments above unchanged -- ``--prepare`` once (plan.json and a line index,
DATA_BIN/.pieces/index.json), ``--piece K/N`` for K = 0 ... N-1 in any order (shards
K*SHARDS//N ... (K+1)*SHARDS//N - 1, each atomic and resumable as above, reading only their own
lines), then ``--assemble`` once (checks every shard, writes data-path and README.txt). The
result is this one-machine run's DATA_BIN byte for byte.
"""
import argparse
import concurrent.futures
import json
import logging
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preprocess import databin_guide as guide
from preprocess import lifetime, report
from preprocess.fairseq_dict import FAIRSEQ_UNK_ID, check_dict
from preprocess.shards import records, shard_ranges, skip, take
from preprocess.textio import (
    InputError,
    atomic_outputs,
    complete,
    count_lines,
    count_lines_and_sha256,
    input_files,
    lang_pair,
    sha256,
)

logger = logging.getLogger("preprocess.binarize")
_MMAP_MAGIC = b"MMIDIDX\x00\x00"


# fairseq/data/indexed_dataset.py's _code_to_dtype (the integer ones fairseq-preprocess writes)
_MMAP_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 8: np.uint16, 9: np.uint32,
                10: np.uint64}


def _mmap_header(idx_path):
    """(dtype code, number of sentences) from a fairseq mmap .idx header: magic (9 bytes),
    version (<Q), dtype code (<B), number of sentences (<Q)."""
    with open(idx_path, "rb") as f:
        if f.read(9) != _MMAP_MAGIC:
            raise ValueError(f"{idx_path} is not a fairseq mmap index")
        f.read(8)  # version
        code = f.read(1)[0]
        return code, struct.unpack("<Q", f.read(8))[0]


def indexed_size(idx_path):
    """Number of sentences in a fairseq mmap dataset, read from its .idx header."""
    return _mmap_header(idx_path)[1]


def unk_counts(idx_path, unk_ids, block=1 << 24):
    """``Counter(tokens=..., unk_tokens=...)`` of a binarized fairseq mmap dataset: the tokens of
    its sentences without the ``</s>`` fairseq-preprocess appends to each, and how many of them
    are ``<unk>`` (any id of ``unk_ids``: a word the dictionary lacks, or ``<unk>`` written in the
    text). Counted from the .bin itself (it is the sentences' ids back to back), streamed in blocks
    of ``block`` ids, so memory stays bounded."""
    code, sentences = _mmap_header(idx_path)
    data = np.memmap(idx_path[: -len(".idx")] + ".bin", dtype=_MMAP_DTYPES[code], mode="r")
    unk = 0
    for i in range(0, len(data), block):
        unk += int(np.isin(data[i:i + block], list(unk_ids)).sum())
    return Counter(tokens=len(data) - sentences, unk_tokens=unk)


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


def plugin_dir():
    """The installed fairseq_unilmv2 package folder (found without importing it: no fairseq import here)."""
    import importlib.util
    spec = importlib.util.find_spec("fairseq_unilmv2")
    if spec is None:
        raise RuntimeError("fairseq_unilmv2 is not installed in this Python: run bash install.sh")
    return spec.submodule_search_locations[0]


def fairseq_preprocess(layout, dict_path, train_prefix, valid_prefix, destdir, workers, test_prefix=None,
                       pass_fds=()):
    """Run fairseq-preprocess into ``destdir``. ``pass_fds``: descriptors it inherits (a piece's
    shard lock, so that the lock lasts as long as a fairseq-preprocess its killed piece left running)."""
    # --task pmlm: the plugin's load_dictionary also reads the vocabulary-id dict.txt that
    # unilmv2-convert-hf writes (fairseq's own Dictionary refuses its header line)
    args = ["--user-dir", plugin_dir(), "--task", "pmlm", "--srcdict", dict_path, "--trainpref", train_prefix,
            "--destdir", destdir, "--workers", str(workers), "--dataset-impl", "mmap"]
    if layout.langs:
        args += ["-s", layout.langs[0], "-t", layout.langs[1], "--joined-dictionary"]
    else:
        args += ["--only-source"]
    if valid_prefix:
        args += ["--validpref", valid_prefix]
    if test_prefix:
        args += ["--testpref", test_prefix]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    with _children_lock:
        if _stopping.is_set():
            raise RuntimeError("stopped")
        # in this process group (a job runner's or Ctrl-C's signal to the group reaches it) and
        # bound to this process with its workers (preprocess/lifetime.py): none outlives a
        # binarize.py killed with SIGKILL, so a killed piece's shard lock is released with it
        proc = subprocess.Popen(lifetime.command("fairseq_cli.preprocess", args), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True, env=env, pass_fds=pass_fds)
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
    """Terminate every running fairseq-preprocess (its workers die with it); start no new one."""
    with _children_lock:
        _stopping.set()
        procs = list(_children)
    for proc in procs:
        proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


DEFAULT_MAX_UNK_RATE = 0.05
# A <unk> rate is judged only on at least this many tokens. A legitimate corpus has well under 1%
# <unk> and text that does not match the dictionary 70-90% (raw text against a SentencePiece
# dictionary: 72-88% measured), but a handful of lines can be anything: three lines holding 東京,
# "Zürich café" and an emoji are 6 <unk> in 32 tokens (18.8%) with the model that encodes the
# whole corpus at 0.02%. At 1000 tokens, a corpus at 1% <unk> would need five times its share of
# unknown tokens in one split to pass 5%, while a mismatched text is still far above it.
MIN_UNK_CHECK_TOKENS = 1000

_UNK_CAUSES = (
    "likely causes: raw (untokenized) text, or text encoded by another tokenizer than the one of "
    "{dict_path} (encode it with preprocess/encode.py and this dictionary's SentencePiece model or WordPiece "
    "vocabulary); a WordPiece vocabulary read with the wrong case (encode.py --cased exactly when the "
    "vocabulary is cased); or a corpus with many characters the vocabulary lacks (train the SentencePiece "
    "model on this corpus, e.g. with --character-coverage 1.0). If that many unknown tokens are expected, "
    "raise --max-unk-rate (1: no check)"
)


def unk_verdict(tokens, unk_tokens, max_unk_rate, min_tokens=MIN_UNK_CHECK_TOKENS):
    """``"ok"``, ``"refuse"`` or ``"too_few"`` for ``unk_tokens`` <unk> among ``tokens`` tokens:
    a rate above ``max_unk_rate`` refuses only when measured on at least ``min_tokens`` tokens
    (``"too_few"`` otherwise: a warning, not evidence). ``tokens`` must be positive."""
    if unk_tokens / tokens <= max_unk_rate:
        return "ok"
    return "refuse" if tokens >= min_tokens else "too_few"


def check_tokens(counts, name, what, max_unk_rate, dict_path, min_tokens=MIN_UNK_CHECK_TOKENS):
    """Refuse (InputError) a binarized split with no token, or with at least ``min_tokens`` tokens
    of which more than ``max_unk_rate`` are ``<unk>``: text that does not match the dictionary
    (raw text, another tokenizer, a WordPiece vocabulary lowercased or not against its casing)
    binarizes without an error. Above the rate on fewer tokens, return a warning (str) instead:
    so few tokens are no evidence (see MIN_UNK_CHECK_TOKENS); None when nothing is to be said."""
    if not counts["tokens"]:
        raise InputError(f"{name} ({what}) holds no token, only empty lines: give encoded text "
                         f"(preprocess/encode.py), one document a line")
    tokens, unk = counts["tokens"], counts["unk_tokens"]
    verdict = unk_verdict(tokens, unk, max_unk_rate, min_tokens)
    if verdict == "ok":
        return None
    found = (f"{name} ({what}): {100 * unk / tokens:.1f}% of its {tokens} tokens are <unk>, more than "
             f"--max-unk-rate {max_unk_rate:g}")
    causes = _UNK_CAUSES.format(dict_path=dict_path)
    if verdict == "refuse":
        raise InputError(f"{found}: this text does not match {dict_path}; {causes}")
    return (f"{found}, but {tokens} tokens are too few to judge the text by (a refusal needs at least "
            f"{min_tokens}): binarized anyway. If the whole corpus looks like this, the {causes}")


def binarize_shard(layout, k, expected, valid_expected, dict_path, workers, keep_text,
                   max_unk_rate=DEFAULT_MAX_UNK_RATE, unk_ids=frozenset({FAIRSEQ_UNK_ID}), first_line=None,
                   test_expected=0, pass_fds=()):
    """fairseq-preprocess into shardK.tmp, check sentence counts and the ``<unk>`` rate, rename to
    shardK. ``valid_expected``/``test_expected``: lines of the validation/test text binarized
    alongside (shard0 only; 0: none). Returns the counts for the summary (lines, bytes, tokens,
    unk_tokens, ...)."""
    final, t0 = layout.shard_dir(k), time.perf_counter()
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted run
    valid_prefix = layout.text_prefix("valid") if valid_expected else None
    test_prefix = layout.text_prefix("test") if test_expected else None
    fairseq_preprocess(layout, dict_path, layout.text_prefix(f"shard{k}"), valid_prefix, tmp, workers, test_prefix,
                       pass_fds)
    lines = f"lines {first_line + 1}-{first_line + expected} of the training text" if first_line is not None else ""
    checks = [(idx, expected, f"shard{k}{', ' + lines if lines else ''}") for idx in layout.index_files(tmp, "train")]
    if valid_expected:
        checks += [(idx, valid_expected, "validation set") for idx in layout.index_files(tmp, "valid")]
    if test_expected:
        checks += [(idx, test_expected, "test set") for idx in layout.index_files(tmp, "test")]
    tokens, warnings = Counter(), []
    try:
        for idx, n, what in checks:
            if indexed_size(idx) != n:
                raise RuntimeError(f"{idx} holds {indexed_size(idx)} sentences, expected {n}: the text has line "
                                   f"breaks fairseq reads differently; encode it with preprocess/encode.py")
            counts = unk_counts(idx, unk_ids)
            name = os.path.basename(idx)[: -len(".idx")]
            warnings.append(check_tokens(counts, os.path.join(final, name), what, max_unk_rate, dict_path))
            tokens.update(counts)
        if len(checks) > 1:
            # a split too small to judge alone (a short validation set, one side of a short
            # shard) is judged with the rest of its shard: more tokens, the same text
            warnings.append(check_tokens(tokens, final, f"shard{k}, its {len(checks)} splits together",
                                         max_unk_rate, dict_path))
    except InputError:
        shutil.rmtree(tmp, ignore_errors=True)  # refused: nothing of it looks finished
        raise
    for warning in filter(None, warnings):
        logger.warning("%s", warning)
    os.replace(tmp, final)
    text_bytes = sum(os.path.getsize(p) for p in layout.text_files(f"shard{k}"))
    if not keep_text:
        for p in layout.text_files(f"shard{k}"):
            os.unlink(p)
    logger.info("shard%d: %d lines binarized in %.1fs, %d of %d tokens <unk>", k, expected,
                time.perf_counter() - t0, tokens["unk_tokens"], tokens["tokens"])
    tokens.update(lines=expected, bytes=text_bytes, shards_binarized=1)
    return tokens


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


def run(args):
    plan, unk_ids = make_plan(args)
    layout = Layout(args.destdir, plan["langs"])
    bind(layout, plan)

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
            _split_and_binarize(args, layout, plan, unk_ids, todo, ranges, pool, concurrent_jobs, per_job, streams,
                                total)
        except BaseException:  # an error, Ctrl-C, SIGTERM: no fairseq-preprocess is left running
            pool.shutdown(wait=False, cancel_futures=True)
            stop_children()
            raise
    if not args.keep_text:
        shutil.rmtree(layout.text, ignore_errors=True)
    for k in range(args.shards):  # shards finished by an earlier run count in the <unk> rate too
        if k not in todo:
            splits = ["train"]
            if k == 0:
                splits += ["valid"] * bool(args.valid or args.valid_lines) + ["test"] * bool(args.test)
            for split in splits:
                for idx in layout.index_files(layout.shard_dir(k), split):
                    total.update(unk_counts(idx, unk_ids))
    if total["tokens"]:
        # every shard may have been too small to be judged alone (each only warned): judge the
        # whole run too (its too-few warning would repeat the shards' ones: not logged)
        try:
            check_tokens(total, args.destdir, f"all {args.shards} shard(s) together", args.max_unk_rate, args.dict)
        except InputError as e:
            raise InputError(f"{e}. Each shard was too small to be judged alone, so they are written: delete "
                             f"{args.destdir} before binarizing other text") from None
    result = report.summary(total, time.perf_counter() - start, "lines")
    result["tokens"], result["unk_tokens"] = total["tokens"], total["unk_tokens"]
    result["unk_rate"] = round(total["unk_tokens"] / total["tokens"], 6) if total["tokens"] else None
    result["data"] = ":".join(layout.shard_dir(k) for k in range(args.shards))
    result.update(guide.write(args.destdir, args.shards, plan["langs"], bool(args.valid or args.valid_lines),
                              bool(args.test)))
    # a data-bin --prepare'd for pieces and finished by this one-machine run ends as --assemble leaves it
    shutil.rmtree(os.path.join(args.destdir, ".pieces"), ignore_errors=True)
    return result


def _split_and_binarize(args, layout, plan, unk_ids, todo, ranges, pool, concurrent_jobs, per_job, streams, total):
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
    test_expected = 0
    if args.test and need_valid:  # shard0 holds the test set too: fairseq reads it from the first path
        _write(layout.text_files("test"), records([[p] for p in plan["test"]]))
        test_expected = count_lines(plan["test"][0])
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
                                    args.dict, per_job, args.keep_text, max_unk_rate=args.max_unk_rate,
                                    unk_ids=unk_ids, first_line=lo, test_expected=test_expected if k == 0 else 0))
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
    p.add_argument("--test", help="encoded test file (parallel data: prefix), binarized into shard0 as split 'test' "
                                   "(fairseq-generate DATA_BIN/shard0 --gen-subset test)")
    p.add_argument("--valid-lines", type=int, default=0,
                   help="instead of --valid: hold out the first this many training lines as validation set")
    p.add_argument("-s", "--source-lang", help="parallel data: source suffix")
    p.add_argument("-t", "--target-lang", help="parallel data: target suffix")
    p.add_argument("--shards", type=int, default=1, help="number of shards (fairseq epochs cycle through them)")
    p.add_argument("--destdir", required=True, help="DATA_BIN: shard0 ... shardN-1 are written here")
    p.add_argument("--workers", type=int, default=1,
                   help="processes in all: up to this many fairseq-preprocess runs at once (shards), "
                        "each with --workers WORKERS / concurrent runs")
    p.add_argument("--max-unk-rate", type=float, default=DEFAULT_MAX_UNK_RATE,
                   help="refuse a shard (or the validation set) whose binarized tokens are more than this "
                        f"fraction <unk>: text that does not match the dictionary (default %(default)s; 1: no "
                        f"check). Judged on at least {MIN_UNK_CHECK_TOKENS} tokens: a smaller split is judged "
                        f"with the rest of its shard, or only warned about; the rate is 'unk_rate' in the JSON "
                        f"summary")
    p.add_argument("--keep-text", action="store_true", help="keep the shards' text in DATA_BIN/.text")
    many = p.add_argument_group(
        "many machines", "the same run as independent jobs (a SLURM array, any job runner; DATA_BIN on a shared "
        "filesystem): 1. --prepare once, 2. --piece K/N for K = 0 ... N-1, in any order and anywhere, 3. "
        "--assemble once. Every step takes the arguments above, unchanged; the result is the one-machine "
        "run's DATA_BIN, byte for byte (see docs/preprocessing.md)")
    mode = many.add_mutually_exclusive_group()
    mode.add_argument("--prepare", action="store_true",
                      help="check the inputs, write DATA_BIN/plan.json and the line index the pieces read "
                           "(DATA_BIN/.pieces/index.json); binarizes nothing")
    mode.add_argument("--piece", metavar="K/N",
                      help="binarize piece K of N (K from 0): shards K*SHARDS//N ... (K+1)*SHARDS//N - 1, "
                           "reading only their lines; atomic and resumable like a whole run; --piece K/SHARDS is "
                           "shard K alone")
    mode.add_argument("--assemble", action="store_true",
                      help="check that every shard is there, finished under this plan, with its line counts and "
                           "the same dictionary; then write DATA_BIN/data-path and README.txt")
    many.add_argument("--index-block-bytes", type=int, default=16 << 20,
                      help="--prepare: the index records a SHA-256 per block of this many bytes; a piece checks "
                           "each block it reads (default %(default)s)")
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
        if args.prepare or args.piece or args.assemble:
            from preprocess import binarize_pieces

            result = binarize_pieces.run_step(args, sys.argv[1:] if argv is None else list(argv))
        else:
            result = run(args)
    except InputError as e:
        report.fail(e)
    except RuntimeError as e:  # fairseq-preprocess failed: its error, no traceback of ours
        print(f"error: {e}\nfinished shards are kept; rerun to redo the others", file=sys.stderr)
        sys.exit(1)
    logger.info("done: %s", result)
    if "readme" in result:
        logger.info("next: %s\n(how to use this data-bin, its dictionary and its splits: %s)", result["next"],
                    result["readme"])
    else:
        logger.info("next: %s", result["next"])
    report.emit(result)


if __name__ == "__main__":
    from unilmv2_cli import console  # a closed stdout (| head) ends quietly with 141

    sys.exit(console(main))
