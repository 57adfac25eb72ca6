"""Each GLUE task's files as distributed, their TSV column layouts and label sets.

The layouts are those of the folders written by the GLUE download script
(https://gist.github.com/W4ngatang/60c2bdb54d156a41194446737ce03e2e) and read by fairseq's
``examples/roberta/preprocess_GLUE_tasks.sh`` (whose 1-based ``cut -f`` columns are the 0-based
``inputs``/``label`` below plus one). Rows are split on tabs only, without quoting, as BERT's
``run_classifier.py`` and fairseq's ``cut`` read them. The label order (class index i is
``labels[i]``) is the one of BERT's / transformers' GLUE processors, so class ids mean the same
in every data-bin; STS-B is a regression target, divided by 5 into [0, 1] as fairseq does.

Data-bin split names follow fairseq-preprocess's comma-separated ``--validpref``/``--testpref``:
``valid, valid1, ...`` and ``test, test1, ...`` (MNLI: valid = dev_matched, valid1 =
dev_mismatched, test = test_matched, test1 = test_mismatched, test2 = the diagnostic set AX).

This module uses the standard library only.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Layout:
    """The columns of one TSV file (0-based). ``columns`` is exact: a row with another count is
    bad input. ``index``: the column with the GLUE row index (test files), or None (row number)."""
    header: bool
    columns: int
    inputs: Tuple[int, ...]
    label: Optional[int] = None
    index: Optional[int] = None


@dataclass(frozen=True)
class Split:
    """One file of a task folder. ``fairseq``: its data-bin split name. ``name``: how scores and
    prediction files call it (``MNLI-m``, ``CoLA``). ``submission``: the GLUE server's file name for
    a test split, None for others."""
    file: str
    fairseq: str
    name: str
    layout: Layout
    submission: Optional[str] = None


@dataclass(frozen=True)
class Task:
    """``labels``: the class labels in class-id order, None for a regression target (``scale``
    divides it into the model's range). ``metrics``: GLUE's metric names for the task (see
    ``metrics.py``); ``positive``: the label that F1 counts as positive."""
    name: str
    splits: Tuple[Split, ...]
    labels: Optional[Tuple[str, ...]]
    metrics: Tuple[str, ...]
    positive: Optional[str] = None
    scale: float = 1.0

    @property
    def regression(self) -> bool:
        return self.labels is None

    @property
    def num_inputs(self) -> int:
        return len(self.splits[0].layout.inputs)

    def split(self, fairseq_split: str) -> Split:
        for s in self.splits:
            if s.fairseq == fairseq_split:
                return s
        raise KeyError(f"{self.name} has no split {fairseq_split!r} (it has {', '.join(self.split_names())})")

    def split_names(self):
        return [s.fairseq for s in self.splits]


def _standard(name, labelled, test, labels, metrics, positive=None, scale=1.0, dev_name=None):
    """A task with train.tsv, dev.tsv and test.tsv."""
    return Task(name, (
        Split("train.tsv", "train", f"{name}-train", labelled),
        Split("dev.tsv", "valid", dev_name or name, labelled),
        Split("test.tsv", "test", dev_name or name, test, f"{dev_name or name}.tsv"),
    ), labels, metrics, positive, scale)


BINARY = ("0", "1")
ENTAILMENT = ("entailment", "not_entailment")
MNLI_LABELS = ("contradiction", "entailment", "neutral")
# MNLI's test files and the diagnostic set (AX, predicted with the MNLI model)
_MNLI_TEST = Layout(header=True, columns=10, inputs=(8, 9), index=0)
DIAGNOSTIC = Split("diagnostic.tsv", "test2", "AX", Layout(header=True, columns=3, inputs=(1, 2), index=0), "AX.tsv")

TASKS: Dict[str, Task] = {t.name: t for t in (
    # CoLA: train/dev have no header: source, label, original judgement, sentence
    _standard("CoLA", Layout(header=False, columns=4, inputs=(3,), label=1),
              Layout(header=True, columns=2, inputs=(1,), index=0), BINARY, ("mcc",)),
    _standard("SST-2", Layout(header=True, columns=2, inputs=(0,), label=1),
              Layout(header=True, columns=2, inputs=(1,), index=0), BINARY, ("acc",)),
    # MRPC: Quality, #1 ID, #2 ID, #1 String, #2 String (test: index instead of Quality)
    _standard("MRPC", Layout(header=True, columns=5, inputs=(3, 4), label=0),
              Layout(header=True, columns=5, inputs=(3, 4), index=0), BINARY, ("f1", "acc"), positive="1"),
    # QQP: id, qid1, qid2, question1, question2, is_duplicate (test: id, question1, question2)
    _standard("QQP", Layout(header=True, columns=6, inputs=(3, 4), label=5),
              Layout(header=True, columns=3, inputs=(1, 2), index=0), BINARY, ("f1", "acc"), positive="1"),
    # STS-B: index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score
    _standard("STS-B", Layout(header=True, columns=10, inputs=(7, 8), label=9),
              Layout(header=True, columns=9, inputs=(7, 8), index=0), None, ("pearson", "spearman"), scale=5.0),
    # MNLI train: index ... sentence1, sentence2, label1, gold_label; dev: label1-5, gold_label
    Task("MNLI", (
        Split("train.tsv", "train", "MNLI-train", Layout(header=True, columns=12, inputs=(8, 9), label=11)),
        Split("dev_matched.tsv", "valid", "MNLI-m", Layout(header=True, columns=16, inputs=(8, 9), label=15)),
        Split("dev_mismatched.tsv", "valid1", "MNLI-mm", Layout(header=True, columns=16, inputs=(8, 9), label=15)),
        Split("test_matched.tsv", "test", "MNLI-m", _MNLI_TEST, "MNLI-m.tsv"),
        Split("test_mismatched.tsv", "test1", "MNLI-mm", _MNLI_TEST, "MNLI-mm.tsv"),
    ), MNLI_LABELS, ("acc",)),
    # QNLI / RTE / WNLI: index, sentence1 (question), sentence2, label (test: no label)
    _standard("QNLI", Layout(header=True, columns=4, inputs=(1, 2), label=3),
              Layout(header=True, columns=3, inputs=(1, 2), index=0), ENTAILMENT, ("acc",)),
    _standard("RTE", Layout(header=True, columns=4, inputs=(1, 2), label=3),
              Layout(header=True, columns=3, inputs=(1, 2), index=0), ENTAILMENT, ("acc",)),
    _standard("WNLI", Layout(header=True, columns=4, inputs=(1, 2), label=3),
              Layout(header=True, columns=3, inputs=(1, 2), index=0), BINARY, ("acc",)),
    # Not GLUE: aclsum's highlighted sentences -> their aspect (glue/aclsum.py writes the files);
    # every split is labelled, so none goes to the GLUE server.
    Task("ACLSUM-ASPECT", tuple(
        Split(f"{split}.tsv", fairseq, f"ACLSUM-ASPECT-{split}", Layout(header=True, columns=2, inputs=(0,), label=1))
        for split, fairseq in (("train", "train"), ("dev", "valid"), ("test", "test"))
    ), ("challenge", "approach", "outcome"), ("acc",)),
)}


def get(name: str) -> Task:
    """The task called ``name`` (case-insensitive: ``sst-2``, ``STS-B``); ValueError otherwise."""
    for key, task in TASKS.items():
        if key.lower() == name.lower():
            return task
    raise ValueError(f"unknown task {name!r}: one of {', '.join(TASKS)}")
