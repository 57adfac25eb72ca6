"""What a data directory holds, so each task can say what to do when given the other task's data.

fairseq-preprocess writes ``dict.txt`` with ``--only-source`` (monolingual: ``--task pmlm``) and
``dict.SRC.txt`` / ``dict.TGT.txt`` with ``-s SRC -t TGT`` (parallel: ``--task unilm_seq2seq``);
``preprocess/binarize.py --shards N`` writes ``DATA_BIN/shard0`` ... ``shardN-1``.
"""
import glob
import os
import re

MONOLINGUAL, PARALLEL, SHARDED, MISSING_DIR, UNKNOWN = "monolingual", "parallel", "sharded", "missing", "unknown"


def databin_kind(path: str) -> str:
    """One of MONOLINGUAL, PARALLEL, SHARDED (shard* subdirectories), MISSING_DIR, UNKNOWN
    (a directory holding both kinds of dictionary is UNKNOWN: each task reads its own)."""
    if not os.path.isdir(path):
        return MISSING_DIR
    mono, langs = os.path.exists(os.path.join(path, "dict.txt")), language_dicts(path)
    if mono != bool(langs):
        return MONOLINGUAL if mono else PARALLEL
    if shard_dirs(path):
        return SHARDED
    return UNKNOWN


def language_dicts(path: str):
    """The suffixes of the ``dict.LANG.txt`` files in ``path``, sorted."""
    names = (os.path.basename(p) for p in glob.glob(os.path.join(glob.escape(path), "dict.*.txt")))
    return sorted(m.group(1) for m in (re.fullmatch(r"dict\.(.+)\.txt", n) for n in names) if m)


def shard_dirs(path: str):
    """``path``/shard0, shard1, ... in order (as preprocess/binarize.py --shards writes them)."""
    found = [d for d in os.listdir(path) if re.fullmatch(r"shard\d+", d) and os.path.isdir(os.path.join(path, d))]
    return [os.path.join(path, d) for d in sorted(found, key=lambda d: int(d[5:]))]


def check_data_dirs(paths, task: str):
    """Raise FileNotFoundError for the first of ``paths`` (colon-separated DATA) that does not exist."""
    for path in paths:
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"data directory {path} does not exist (--task {task}, positional DATA argument): pass the "
                f"--destdir of fairseq-preprocess (or of preprocess/binarize.py)"
            )


def wrong_databin_message(path: str, task: str) -> str:
    """Why ``path`` cannot serve ``--task task``, and what to do; '' when it may."""
    kind = databin_kind(path)
    if task == "pmlm" and kind == PARALLEL:
        langs = language_dicts(path)
        return (
            f"{path} is a seq2seq (parallel) data-bin: it holds {', '.join(f'dict.{l}.txt' for l in langs)} and no "
            f"dict.txt. Fine-tune on it with --task unilm_seq2seq --criterion unilm_seq2seq; for --task pmlm "
            f"pre-training binarize monolingual text with fairseq-preprocess --only-source"
        )
    if task == "unilm_seq2seq" and kind == MONOLINGUAL:
        return (
            f"{path} is a monolingual data-bin (dict.txt, from fairseq-preprocess --only-source): pre-train on it "
            f"with --task pmlm --criterion pmlm; for --task unilm_seq2seq binarize source/target pairs with "
            f"fairseq-preprocess --user-dir fairseq_unilmv2 --task pmlm -s SRC -t TGT --joined-dictionary "
            f"--srcdict PRE_TRAINING_DATA_BIN/dict.txt"
        )
    if kind == SHARDED:
        shards = shard_dirs(path)
        return (
            f"{path} holds the shards {', '.join(os.path.basename(s) for s in shards)}, not a data-bin: pass them "
            f"colon-separated, e.g. {':'.join(shards[:2])}{':...' if len(shards) > 2 else ''}"
            + (f" (all of them: \"$(cat {os.path.join(path, 'data-path')})\"; see {os.path.join(path, 'README.txt')}; "
               f"evaluate and generate on {shards[0]})" if os.path.exists(os.path.join(path, "data-path")) else "")
        )
    return ""
