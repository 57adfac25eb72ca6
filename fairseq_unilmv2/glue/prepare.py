"""A GLUE task folder as distributed -> a fairseq ``sentence_prediction`` data-bin.

The layout is the one fairseq's ``examples/roberta/preprocess_GLUE_tasks.sh`` builds, which
``--task sentence_prediction`` reads::

    DEST/input0/{dict.txt, train.bin/.idx, valid..., test...}   first sentence
    DEST/input1/...                                             second sentence (pair tasks)
    DEST/label/dict.txt + {train,valid...}.bin/.idx             class labels, or
    DEST/label/{train,valid...}.label                           STS-B: score / 5, one float a line
    DEST/index/{split}.index                                    GLUE's row index of each row
    DEST/glue.json                                              task, splits, labels, train flags

Unlike fairseq's script, the label dictionary lists the task's labels in a fixed order
(``tasks.py``), not by frequency, so class id i is ``labels[i]`` in every data-bin and
predictions map back to label strings; and bad input stops before anything is written: a row
with the wrong number of columns, a label outside the task's set, an STS-B score that is not a
number in [0, 5] (one message naming FILE:LINE). Everything is written in ``DEST.tmp-*`` and
renamed to DEST when complete.

Text is tokenized by the project's ``preprocess/`` tokenizers (SentencePiece model or BERT
WordPiece vocab.txt, the same as ``preprocess/encode.py``), one output line per row (empty text
stays an empty line, so inputs and labels stay aligned), and binarized exactly as
``fairseq-preprocess --only-source --srcdict DICT --dataset-impl mmap`` does (its
``VocabularyDatasetBinarizer``, with the dictionary read as ``--user-dir fairseq_unilmv2 --task
pmlm`` reads it: fairseq's dict.txt or the vocabulary-id dict.txt of converted checkpoints).
"""
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from .errors import GlueError
from .tasks import DIAGNOSTIC, Split, Task

logger = logging.getLogger(__name__)

# Above this share of <unk> tokens in the training text the tokenizer and dictionary do not belong
# together (preprocess/binarize.py's --max-unk-rate default).
MAX_UNK_RATE = 0.05


@dataclass
class Rows:
    """One split's rows: ``inputs[k][i]`` is input k of row i; ``labels`` None for a test file."""
    inputs: List[List[str]]
    labels: Optional[List[str]]
    index: List[str]
    skipped: List[int] = field(default_factory=list)  # line numbers left out (--skip-bad-rows)


def read_split(path: str, split: Split, task: Task, skip_bad_rows: bool = False) -> Rows:
    """Read one TSV file of ``task`` by its ``split.layout``.

    Rows are split on ``\\n`` (a CRLF ending counts as one) and on tabs, without quoting.

    Raises:
        GlueError: ``FILE:LINE``: invalid UTF-8, a row whose column count is not the layout's
            (with ``skip_bad_rows``, such rows of a labelled file are left out and counted, as
            fairseq's script drops QQP's), a label outside the task's set, a score that is not a
            number in [0, task.scale]; or a file with no row.
    """
    layout = split.layout
    rows = Rows([[] for _ in layout.inputs], [] if layout.label is not None else None, [])
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise GlueError(f"{path}:{lineno}: invalid UTF-8 (byte 0x{raw[e.start]:02x}); convert the file "
                                   f"to UTF-8 or download the task again") from None
            if layout.header and lineno == 1:
                if len(line.split("\t")) != layout.columns:
                    raise GlueError(f"{path}:1: the header has {len(line.split(chr(9)))} tab-separated columns, "
                                       f"{task.name}'s {split.file} has {layout.columns}: is this the {task.name} "
                                       f"folder as the GLUE download script writes it?")
                continue
            cells = line.split("\t")
            if len(cells) != layout.columns:
                if skip_bad_rows and layout.label is not None:
                    rows.skipped.append(lineno)
                    continue
                hint = " (or --skip-bad-rows to leave such rows of train/dev files out)" if layout.label is not None else ""
                raise GlueError(f"{path}:{lineno}: {len(cells)} tab-separated columns, {task.name}'s {split.file} "
                                   f"has {layout.columns} on every row: fix or remove the row{hint}")
            if layout.label is not None:
                rows.labels.append(_check_label(cells[layout.label], task, path, lineno))
            for k, column in enumerate(layout.inputs):
                rows.inputs[k].append(cells[column])
            rows.index.append(cells[layout.index] if layout.index is not None else str(len(rows.index)))
    if not rows.index:
        raise GlueError(f"{path}: no row{' after the header' if layout.header else ''}")
    return rows


def _check_label(label: str, task: Task, path: str, lineno: int) -> str:
    if not task.regression:
        if label not in task.labels:
            raise GlueError(f"{path}:{lineno}: label {label!r} is not one of {task.name}'s labels "
                               f"({', '.join(task.labels)})")
        return label
    try:
        value = float(label)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= task.scale:  # NaN fails too
        raise GlueError(f"{path}:{lineno}: score {label!r} is not a number in [0, {task.scale:g}] "
                           f"({task.name}'s similarity scale)")
    return label


def _preprocess_package():
    """The clone's ``preprocess/`` package (tokenizers), which is not installed as a package."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "preprocess" / "encode.py").is_file():
        raise GlueError(f"{root}/preprocess/ not found: GLUE preparation uses the tokenizers of the "
                           f"fairseq-unilmv2 clone; install it with pip install -e from the clone")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    import preprocess.encode
    import preprocess.textio
    return preprocess


def load_tokenizer(spm_model: Optional[str], wordpiece_vocab: Optional[str], cased: bool = False,
                   ignore_vocab_case: bool = False):
    """The ``preprocess/`` tokenizer (``encode_batch(texts) -> [[piece, ...], ...]``), checked as
    ``preprocess/encode.py`` checks it (loads, WordPiece case matches ``cased``)."""
    pre = _preprocess_package()
    spec = ("spm", spm_model) if spm_model else ("wordpiece", wordpiece_vocab, not cased)
    try:
        return pre.encode.load_checked(spec, ignore_case=ignore_vocab_case)
    except pre.textio.InputError as e:
        raise GlueError(str(e)) from None


def task_files(task: Task, task_dir: str, diagnostic: Optional[str] = None):
    """``[(Split, path)]`` of the files to read: train and dev files must exist, test files are
    optional (left out with a log line); ``diagnostic`` (MNLI only) adds GLUE's AX set."""
    found = []
    for split in task.splits:
        path = os.path.join(task_dir, split.file)
        if os.path.isfile(path):
            found.append((split, path))
        elif split.layout.label is not None and split.submission is None:
            raise GlueError(f"{path}: no such file ({task.name} needs "
                               f"{', '.join(s.file for s in task.splits if s.submission is None)})")
        else:
            logger.info("%s not found: no %s split", path, split.fairseq)
    if diagnostic:
        if task.name != "MNLI":
            raise GlueError(f"--diagnostic {diagnostic}: GLUE's diagnostic set (AX) is predicted with the MNLI "
                               f"model; pass it with --task MNLI")
        if not os.path.isfile(diagnostic):
            raise GlueError(f"{diagnostic}: no such file (--diagnostic: GLUE's diagnostic/diagnostic.tsv)")
        found.append((DIAGNOSTIC, diagnostic))
    return found


def pair_convention(dictionary) -> Dict[str, Optional[int]]:
    """``--init-token`` / ``--separator-token`` for ``--task sentence_prediction``.

    A vocabulary-id dictionary (a converted BERT/UniLM/MiniLM checkpoint) takes BERT's
    ``[CLS] a [SEP] b [SEP]``: init = the id of [CLS] (its bos role), no separator, since every
    binarized line already ends with [SEP] (its eos role). Our own fairseq/SentencePiece
    dictionaries take RoBERTa's ``<s> a </s></s> b </s>``: init 0, separator 2 (fairseq's
    examples/roberta/README.glue.md)."""
    if hasattr(dictionary, "roles"):  # tasks.dictionary.VocabDictionary
        return {"init_token": dictionary.bos(), "separator_token": None}
    return {"init_token": dictionary.bos(), "separator_token": dictionary.eos()}


def train_args(meta: dict) -> List[str]:
    """The ``fairseq-train`` flags a prepared data-bin needs (from its glue.json)."""
    args = ["--num-classes", str(len(meta["labels"]) if meta["labels"] else 1),
            "--init-token", str(meta["init_token"])]
    if meta["separator_token"] is not None:
        args += ["--separator-token", str(meta["separator_token"])]
    if not meta["labels"]:
        args += ["--regression-target"]
    return args


def _binarize(lines: List[str], dictionary, prefix: str):
    """``lines`` -> ``PREFIX.bin/.idx`` as fairseq-preprocess writes them; returns
    ``(tokens, unk tokens)``."""
    from fairseq.binarizer import BinarizeSummary, VocabularyDatasetBinarizer
    from fairseq.data import indexed_dataset

    binarizer = VocabularyDatasetBinarizer(dictionary, append_eos=True)
    summary = BinarizeSummary()
    builder = indexed_dataset.make_builder(indexed_dataset.data_file_path(prefix), impl="mmap",
                                           vocab_size=len(dictionary))
    unk = 0
    for line in lines:
        ids = binarizer.binarize_line(line, summary)
        unk += int((ids == dictionary.unk()).sum())  # words not in the dictionary and the tokenizer's own <unk>
        builder.add_item(ids)
    builder.finalize(indexed_dataset.index_file_path(prefix))
    return summary.num_tok, unk


def _tokenize(tokenizer, texts: List[str], chunk: int = 4096) -> List[str]:
    out = []
    for start in range(0, len(texts), chunk):
        out.extend(" ".join(pieces) for pieces in tokenizer.encode_batch(texts[start:start + chunk]))
    return out


def prepare(task: Task, task_dir: str, dict_path: str, destdir: str, tokenizer, diagnostic: Optional[str] = None,
            skip_bad_rows: bool = False, force: bool = False, max_unk_rate: float = MAX_UNK_RATE) -> dict:
    """Read, check, tokenize and binarize every split of ``task`` into ``destdir``; returns the
    glue.json contents (written there too).

    Raises:
        GlueError: bad input (see :func:`read_split`), a missing train/dev file, a dictionary
            that does not load, a training text with more than ``max_unk_rate`` ``<unk>`` tokens
            (tokenizer and dictionary do not match), ``destdir`` existing without ``force``.
            Nothing is written then.
    """
    from ..tasks.dictionary import load_dictionary

    if os.path.exists(destdir) and not force:
        raise GlueError(f"{destdir} exists: choose another destination, or --force to replace it")
    files = task_files(task, task_dir, diagnostic)
    read = [(split, path, read_split(path, split, task, skip_bad_rows)) for split, path in files]
    for split, path, rows in read:
        if rows.skipped:
            logger.warning("%s: %d rows with the wrong number of columns left out (--skip-bad-rows), lines %s%s",
                           path, len(rows.skipped), ", ".join(map(str, rows.skipped[:10])),
                           " ..." if len(rows.skipped) > 10 else "")
    try:
        dictionary = load_dictionary(dict_path)
    except (OSError, ValueError) as e:
        raise GlueError(f"{dict_path}: {e}") from None

    parent = os.path.dirname(os.path.abspath(destdir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(destdir) + ".tmp-", dir=parent)
    try:
        meta = _write(task, read, tokenizer, dictionary, dict_path, tmp, max_unk_rate)
        if os.path.exists(destdir):  # --force: the old one goes only once the new one is complete
            old = tempfile.mkdtemp(prefix=os.path.basename(destdir) + ".old-", dir=parent)
            os.rename(destdir, os.path.join(old, "d"))
            os.rename(tmp, destdir)
            shutil.rmtree(old)
        else:
            os.rename(tmp, destdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _write(task, read, tokenizer, dictionary, dict_path, out, max_unk_rate) -> dict:
    from fairseq.data import Dictionary

    splits = {}
    for k in range(task.num_inputs):
        folder = os.path.join(out, f"input{k}")
        os.makedirs(folder)
        dictionary.save(os.path.join(folder, "dict.txt"))
    os.makedirs(os.path.join(out, "label"))
    os.makedirs(os.path.join(out, "index"))
    if not task.regression:
        label_dict = Dictionary()
        for label in task.labels:
            label_dict.add_symbol(label)
        label_dict.save(os.path.join(out, "label", "dict.txt"))
    for split, path, rows in read:
        tokens = unk = 0
        for k, texts in enumerate(rows.inputs):
            n, u = _binarize(_tokenize(tokenizer, texts), dictionary,
                             os.path.join(out, f"input{k}", split.fairseq))
            tokens, unk = tokens + n, unk + u
        if split.fairseq == "train" and tokens and unk / tokens > max_unk_rate:
            raise GlueError(
                f"{path}: {unk / tokens:.1%} of the tokens are <unk> in {dict_path} (more than {max_unk_rate:.0%}): "
                f"the tokenizer does not match the dictionary; pass the SentencePiece model or vocab.txt that "
                f"belongs to {dict_path} (a converted checkpoint: its vocab.txt and dict.txt)")
        if rows.labels is not None:
            if task.regression:
                with open(os.path.join(out, "label", f"{split.fairseq}.label"), "w", encoding="utf-8") as f:
                    f.writelines(f"{float(x) / task.scale!r}\n" for x in rows.labels)
            else:
                _binarize(rows.labels, label_dict, os.path.join(out, "label", split.fairseq))
        with open(os.path.join(out, "index", f"{split.fairseq}.index"), "w", encoding="utf-8") as f:
            f.writelines(f"{i}\n" for i in rows.index)
        splits[split.fairseq] = {"file": os.path.abspath(path), "name": split.name, "rows": len(rows.index),
                                 "labelled": rows.labels is not None, "submission": split.submission,
                                 "skipped_lines": rows.skipped, "tokens": tokens, "unk_tokens": unk}
    meta = {"task": task.name, "labels": list(task.labels) if task.labels else None, "scale": task.scale,
            "metrics": list(task.metrics), "positive": task.positive, "dict": os.path.abspath(dict_path),
            **pair_convention(dictionary), "splits": splits}
    meta["train_args"] = train_args(meta)
    with open(os.path.join(out, "glue.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
    return meta

