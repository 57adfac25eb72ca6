"""What a sharded data-bin says about itself: DATA_BIN/data-path and DATA_BIN/README.txt.

binarize.py writes DATA_BIN/shard0 ... shardN-1, each a fairseq data directory with the same
dictionary. DATA_BIN itself is not one (fairseq finds neither dict.txt nor data there): fairseq
takes the shards as one colon-separated DATA argument, reads epoch e's training data from shard
(e-1) mod N, and validation/test data (and the dictionary) from the first path
(fairseq/tasks/translation.py, fairseq_unilmv2/tasks/*.py: ``paths[(epoch - 1) % len(paths)]``,
epoch 1 for every split but train) -- hence valid and test go into shard0. These files say so where
a user looks, with the commands written out for this data-bin:

- ``data-path``: the shards' absolute paths joined by ':' (``fairseq-train $(cat DATA_BIN/data-path)``);
- ``README.txt``: the layout, where the dictionary is, and how to point fairseq-train,
  fairseq-generate, fairseq-preprocess --srcdict and binarize.py --dict at it.
"""
import contextlib
import os
import shlex
from pathlib import Path

from preprocess.textio import atomic_outputs

REPO = Path(__file__).resolve().parents[1]
USER_DIR = REPO / "fairseq_unilmv2"
_MODE_FLAGS = {"--prepare": 0, "--assemble": 0, "--piece": 1, "--index-block-bytes": 1}



def shard_paths(destdir, shards):
    """Absolute paths of DATA_BIN/shard0 ... shardN-1."""
    root = os.path.abspath(destdir)
    return [os.path.join(root, f"shard{k}") for k in range(shards)]


def dict_name(langs):
    """The dictionary file fairseq-preprocess writes into each shard: ``dict.txt``, or for a
    language pair binarized with --joined-dictionary ``dict.SRC.txt`` (``dict.TGT.txt`` is the same)."""
    return f"dict.{langs[0]}.txt" if langs else "dict.txt"


def _task_args(langs):
    if langs:
        return f"--task unilm_seq2seq -s {langs[0]} -t {langs[1]} --criterion unilm_seq2seq"
    return "--task pmlm --criterion pmlm"


def next_command(destdir, langs):
    """The fairseq-train command line that trains on every shard of DATA_BIN."""
    path = shlex.quote(os.path.join(os.path.abspath(destdir), "data-path"))
    return (f"fairseq-train $(cat {path}) --user-dir {shlex.quote(str(USER_DIR))} {_task_args(langs)} "
            f"--arch ... --save-dir ...")


def readme(destdir, shards, langs, has_valid, has_test):
    """The text of DATA_BIN/README.txt (pure: paths and commands from the arguments)."""
    paths = shard_paths(destdir, shards)
    root, first = os.path.abspath(destdir), paths[0]
    dictionary = os.path.join(first, dict_name(langs))
    q = shlex.quote
    user_dir = q(str(USER_DIR))
    kind = f"{langs[0]} -> {langs[1]} pairs" if langs else "monolingual text"
    if shards == 1:
        splits = ["  shard0: the training text"]
    else:
        splits = [f"  shard0 ... shard{shards - 1}: the training text in {shards} contiguous parts; "
                  f"fairseq's epoch e reads shard (e-1) mod {shards}"]
    if has_valid:
        splits.append("  shard0/valid: the validation set (fairseq reads valid and test from the first path)")
    if has_test:
        splits.append("  shard0/test: the test set (fairseq-generate ... --gen-subset test)")
    splits.append("  data-path: the shards' paths joined by ':', the DATA argument of fairseq-train")
    splits.append("  plan.json: the inputs this data-bin was binarized from (a rerun resumes from it)")
    lines = [
        f"{root}: a fairseq data-bin ({kind}) in {shards} shard{'s' * (shards > 1)}, written by "
        "preprocess/binarize.py.",
        "",
        *splits,
        "",
        "DATA_BIN itself is not a fairseq data directory: give fairseq the shards, all of them for",
        "training (data-path), or shard0 for generation. After moving this directory, list them again:",
        (":".join(f"DATA_BIN/shard{k}" for k in range(shards)) if shards <= 3
         else f"DATA_BIN/shard0:DATA_BIN/shard1:...:DATA_BIN/shard{shards - 1}") + ".",
        "",
        f"Dictionary: {dictionary}",
        "(every shard holds the same copy"
        + (f"; dict.{langs[1]}.txt is the same dictionary)." if langs else ")."),
        "A model trained on this data reads only text binarized against this dictionary (e.g. the",
        "fine-tuning pairs for a model pre-trained here; that data-bin's README.txt then says how to fine-tune):",
        f"  python {q(str(REPO / 'preprocess' / 'binarize.py'))} --dict {q(dictionary)} --train ENCODED "
        "[--valid ENCODED_VALID] [--test ENCODED_TEST] [-s SRC -t TGT] --destdir NEW_DATA_BIN",
        f"  fairseq-preprocess --srcdict {q(dictionary)} --only-source ...            (one text)",
        f"  fairseq-preprocess --srcdict {q(dictionary)} --joined-dictionary -s SRC -t TGT ...   (pairs)",
        "",
        "Train (on every shard):",
        f"  {next_command(destdir, langs)}",
    ]
    if langs:
        lines += [
            "Generate for the test set (shard0 holds it; the whole data-path works too):"
            if has_test else "Generate (binarize a test set with --test; shard0 then holds it):",
            f"  fairseq-generate {q(first)} --user-dir {user_dir} --task unilm_seq2seq -s {langs[0]} -t {langs[1]} "
            "--gen-subset test --path CHECKPOINT ...",
        ]
    return "\n".join(lines) + "\n"


def write(destdir, shards, langs, has_valid, has_test):
    """Write DATA_BIN/data-path and DATA_BIN/README.txt (atomically; a rerun rewrites them).
    Returns their paths, the dictionary's and the next command, for binarize.py's summary."""
    data_path = os.path.join(destdir, "data-path")
    readme_path = os.path.join(destdir, "README.txt")
    with atomic_outputs([data_path, readme_path]) as (f, g):
        f.write(":".join(shard_paths(destdir, shards)) + "\n")
        g.write(readme(destdir, shards, langs, has_valid, has_test))
    return {"dict": os.path.join(destdir, "shard0", dict_name(langs)), "data_path_file": data_path,
            "readme": readme_path, "next": next_command(destdir, langs)}


def step_command(argv, *extra):
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
    script = Path(__file__).resolve().with_name("binarize.py")
    with contextlib.suppress(ValueError):
        rel = script.relative_to(Path.cwd())
        script = rel
    return shlex.join(["python", str(script), *kept, *extra])
