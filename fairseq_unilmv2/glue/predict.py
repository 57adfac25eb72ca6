"""Predict the splits of a prepared GLUE data-bin with a fine-tuned checkpoint, score them and
write the GLUE server's submission files.

The checkpoint is one that ``fairseq-train --task sentence_prediction`` wrote (any ``--arch``
the plugin or fairseq registers). It is loaded with ``checkpoint_utils.load_model_ensemble_and_task``
and its own task settings (``--init-token``, ``--separator-token``, ``--shorten-method``, the
classification head), with ``data`` pointed at the data-bin, so each row is read exactly as
training and validation read it; rows are predicted in file order.

Submission files (https://gluebenchmark.com/faq, "index\\tprediction" with a header row, label
strings; STS-B a float score on the 0-5 scale) are named as the server expects: CoLA.tsv,
SST-2.tsv, MRPC.tsv, STS-B.tsv, QQP.tsv, MNLI-m.tsv, MNLI-mm.tsv, QNLI.tsv, RTE.tsv, WNLI.tsv,
AX.tsv.
"""
import json
import os
from typing import Dict, List, Optional

from . import metrics
from .errors import GlueError


def read_meta(data: str) -> dict:
    path = os.path.join(data, "glue.json")
    if not os.path.isfile(path):
        raise GlueError(f"{path} not found: {data} is not a data-bin written by "
                           f"python -m fairseq_unilmv2.glue prepare")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load(checkpoint: str, data: str, head: Optional[str], cpu: bool):
    """``(model, task, head name)`` of a sentence_prediction checkpoint, its data set to ``data``.

    Raises:
        GlueError: no such file, a checkpoint of another task (no classification head), a
            ``head`` the checkpoint does not have (the message lists those it has).
    """
    import torch

    import fairseq_unilmv2  # noqa: F401  registers the plugin's models and makes loading safe
    from fairseq import checkpoint_utils

    if not os.path.isfile(checkpoint):
        raise GlueError(f"{checkpoint}: no such file (--checkpoint: the checkpoint_best.pt of fairseq-train "
                           f"--task sentence_prediction)")
    # the overrides go in here: load_model_ensemble_and_task applies them only when it reads the file itself
    state = checkpoint_utils.load_checkpoint_to_cpu(checkpoint, {"data": os.path.abspath(data)})
    cfg = state.get("cfg")
    task_name = cfg["task"]["_name"] if cfg is not None else getattr(state.get("args"), "task", None)
    if task_name != "sentence_prediction":
        raise GlueError(f"{checkpoint} was trained with --task {task_name}, so it has no classification head: "
                           f"fine-tune it first with fairseq-train --task sentence_prediction (recipes/glue.sh)")
    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [checkpoint], state=state)
    model = models[0]
    heads = getattr(model, "classification_heads", None) or {}
    head = head or cfg["criterion"].get("classification_head_name") or "sentence_classification_head"
    if head not in heads:
        raise GlueError(f"{checkpoint} has no classification head {head!r} (it has: "
                           f"{', '.join(heads) or 'none'}): pass --classification-head-name with one of those")
    model.eval()
    if not cpu and torch.cuda.is_available():
        model.cuda()
    return model, task, head


def _num_outputs(model, head: str) -> Optional[int]:
    proj = getattr(model.classification_heads[head], "out_proj", None)
    return getattr(proj, "out_features", None)


def predict_split(model, task, head: str, split: str, meta: dict, batch_size: int = 64):
    """``(predictions, gold or None)`` for every row of ``split`` in file order: label strings
    (classification) or scores on the task's own scale (STS-B: 0-5).

    Raises:
        GlueError: a label row that is not one of the task's labels (``label/dict.txt``), a
            label file whose line count is not the inputs', a row longer than the model's
            positions.
    """
    import torch
    from fairseq import utils

    data = task.cfg.data
    labels = meta["labels"]
    info = meta["splits"][split]
    if labels is not None:
        label_dict = task.label_dictionary
        listed = [label_dict[label_dict.nspecial + i] for i in range(len(labels))]
        if listed != labels:
            raise GlueError(f"{data}/label/dict.txt lists {listed}, glue.json {labels}: the data-bin was changed "
                               f"after prepare; prepare it again")
    elif info["labelled"]:
        _check_line_count(os.path.join(data, "label", f"{split}.label"), info["rows"], data, split)
    try:
        task.load_dataset(split)
    except AssertionError as e:  # fairseq's NestedDictionaryDataset: label and input counts differ
        raise GlueError(f"{data}: split {split}: {e}: its input0/, input1/ and label/ files do not have one row each; "
                           f"prepare the data-bin again") from None
    dataset = task.dataset(split)
    if len(dataset) != info["rows"]:
        raise GlueError(f"{data}/input0/{split}: {len(dataset)} rows, glue.json says {info['rows']}: "
                           f"prepare the data-bin again")
    outputs = _num_outputs(model, head)
    expected = len(labels) if labels is not None else 1
    if outputs is not None and outputs != expected:
        raise GlueError(f"head {head!r} has {outputs} outputs, {meta['task']} has {expected} "
                           f"{'labels' if labels else 'target'}: the checkpoint was fine-tuned for another task")
    limit = model.max_positions() if hasattr(model, "max_positions") else None
    preds, gold = [], [] if info["labelled"] else None
    device = next(model.parameters()).device
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(len(dataset), start + batch_size))]
            for i, item in enumerate(items, start):
                length = item["net_input.src_tokens"].numel()
                if limit is not None and length > limit:
                    raise GlueError(f"{data}: split {split} row {i + 1} has {length} tokens, more than the model's "
                                       f"{limit} positions: fine-tune with --shorten-method truncate")
            batch = dataset.collater(items)
            tokens = batch["net_input"]["src_tokens"].to(device)
            logits, _ = model(tokens, features_only=True, classification_head_name=head)
            logits = logits.float().cpu()
            if labels is not None:
                preds += [labels[k] for k in logits.argmax(-1).tolist()]
            else:
                preds += [v * meta["scale"] for v in logits[:, 0].tolist()]
            if gold is not None:
                gold += _gold(batch, items, start, labels, meta, data, split)
    return preds, gold


def _gold(batch, items, start, labels, meta, data, split) -> list:
    if labels is None:
        return [v * meta["scale"] for v in batch["target"].view(-1).tolist()]
    out = []
    for i, item in enumerate(items, start):
        target = item["target"].view(-1).tolist()
        if len(target) != 1 or not 0 <= target[0] < len(labels):
            raise GlueError(f"{data}/label/{split}: row {i + 1} holds a label that is not one of {meta['task']}'s "
                               f"labels ({', '.join(labels)}, {data}/label/dict.txt): binarize the labels against "
                               f"that dict.txt (python -m fairseq_unilmv2.glue prepare does)")
        out.append(labels[target[0]])
    return out


def _check_line_count(path: str, rows: int, data: str, split: str):
    if not os.path.isfile(path):
        raise GlueError(f"{path}: no such file, though glue.json says split {split} is labelled")
    with open(path, encoding="utf-8") as f:
        n = sum(1 for _ in f)
    if n != rows:
        raise GlueError(f"{path}: {n} lines for {rows} rows of {data}/input0/{split}: one score a row; "
                           f"prepare the data-bin again")


def train_labels(task, meta: dict) -> Optional[List[str]]:
    """The training split's labels (for the majority baseline), None for regression or no train split."""
    from fairseq.data import data_utils

    if meta["labels"] is None or "train" not in meta["splits"]:
        return None
    dataset = data_utils.load_indexed_dataset(os.path.join(task.cfg.data, "label", "train"), task.label_dictionary)
    if dataset is None:
        return None
    nspecial = task.label_dictionary.nspecial
    return [meta["labels"][int(t[0]) - nspecial] for t in dataset if 0 <= int(t[0]) - nspecial < len(meta["labels"])]


def prediction_file(meta: dict, split: str) -> str:
    """The submission name for a test split (``MNLI-m.tsv``), ``TASK.SPLIT.tsv`` for the others."""
    return meta["splits"][split]["submission"] or f"{meta['task']}.{split}.tsv"


def write_predictions(path: str, index: List[str], preds: list):
    """``index\\tprediction`` with a header row, written to PATH.tmp and renamed."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("index\tprediction\n")
        for i, p in zip(index, preds):
            f.write(f"{i}\t{p:.4f}\n" if isinstance(p, float) else f"{i}\t{p}\n")
    os.replace(path + ".tmp", path)


def read_index(data: str, split: str) -> List[str]:
    with open(os.path.join(data, "index", f"{split}.index"), encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def run(checkpoint: str, data: str, splits: Optional[List[str]], output_dir: str, head: Optional[str] = None,
        batch_size: int = 64, cpu: bool = False) -> Dict[str, dict]:
    """Predict ``splits`` (default: every split but train), write one prediction file each into
    ``output_dir`` and ``scores.json``; returns ``{split: scores}`` (labelled splits: the task's
    metrics and the majority-class baseline's; test splits: the submission file)."""
    meta = read_meta(data)
    splits = splits or [s for s in meta["splits"] if s != "train"]
    for split in splits:
        if split not in meta["splits"]:
            raise GlueError(f"{data} has no split {split!r} (it has: {', '.join(meta['splits'])})")
    model, task, head = load(checkpoint, data, head, cpu)
    os.makedirs(output_dir, exist_ok=True)
    majority = None
    labels_train = train_labels(task, meta)
    if labels_train:
        majority = metrics.majority_label(labels_train)
    results = {}
    for split in splits:
        preds, gold = predict_split(model, task, head, split, meta, batch_size)
        path = os.path.join(output_dir, prediction_file(meta, split))
        write_predictions(path, read_index(data, split), preds)
        result = {"name": meta["splits"][split]["name"], "rows": len(preds), "predictions": path}
        if gold is not None:
            result.update(metrics.score(meta["metrics"], preds, gold, meta["positive"]))
            if majority is not None:
                result["majority_label"] = majority
                result["majority"] = metrics.score(meta["metrics"], [majority] * len(gold), gold, meta["positive"])
        results[split] = result
    with open(os.path.join(output_dir, "scores.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(_json_safe(results), f, indent=1)
    os.replace(os.path.join(output_dir, "scores.json.tmp"), os.path.join(output_dir, "scores.json"))
    return results


def _json_safe(value):
    """NaN (an undefined correlation) as null: JSON has no NaN."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value
