"""One shard's binarization: fairseq-preprocess of its text into DATA_BIN/shardK.tmp, the checks
of what it wrote (sentence counts, the ``<unk>`` rate), the rename to shardK; and the readers of
fairseq's mmap index those checks use.

Each fairseq-preprocess runs in the caller's process group and dies with the caller
(preprocess/lifetime.py); ``stop_children`` stops the running ones (an error, Ctrl-C, SIGTERM).
"""
import logging
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np

from preprocess import lifetime
from preprocess.fairseq_dict import FAIRSEQ_UNK_ID
from preprocess.textio import InputError

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
