"""Run a fine-tuned ``--task squad`` checkpoint over a data-bin split: start/end logits per window."""
import logging
from typing import List, Tuple

import numpy as np
import torch

logger = logging.getLogger(__name__)


def load(checkpoint: str, data: str, cpu: bool = False):
    """``(model, task)`` of a ``--task squad`` checkpoint, reading the data-bin ``data``."""
    import fairseq_unilmv2  # noqa: F401  (registers the plugin and makes checkpoint loading safe)
    from fairseq import checkpoint_utils

    from fairseq_unilmv2.criterions import squad as _criterion  # noqa: F401
    from fairseq_unilmv2.tasks import squad as _task  # noqa: F401

    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task([checkpoint], arg_overrides={"data": data})
    if type(task).__name__ != "SquadTask":
        raise ValueError(f"{checkpoint} was not fine-tuned with --task squad (its task: {type(task).__name__})")
    model = models[0].eval()
    if torch.cuda.is_available() and not cpu:
        model = model.cuda()
    return model, task


@torch.no_grad()
def window_logits(model, task, split: str, batch_size: int = 32) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Start and end logits of every window of ``split``, in window order, each as long as the
    window (float32; -inf outside the context and position 0)."""
    from fairseq_unilmv2.criterions.squad import span_logits

    dataset = task.load_dataset(split)
    device = next(model.parameters()).device
    starts: List[np.ndarray] = [None] * len(dataset)
    ends: List[np.ndarray] = [None] * len(dataset)
    order = dataset.ordered_indices()
    for b in range(0, len(order), batch_size):
        sample = dataset.collater([dataset[int(i)] for i in order[b:b + batch_size]])
        sample = {k: v.to(device) if torch.is_tensor(v) else v for k, v in sample.items()}
        sample["net_input"] = {k: v.to(device) for k, v in sample["net_input"].items()}
        start, end = span_logits(model, task, sample)
        for row, i in enumerate(sample["id"].tolist()):
            n = dataset.size(i)
            starts[i], ends[i] = start[row, :n].cpu().numpy(), end[row, :n].cpu().numpy()
    return starts, ends
