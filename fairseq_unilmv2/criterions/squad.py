"""``--criterion squad``: cross-entropy of the answer's start and of its end, averaged.

BERT's SQuAD loss (Devlin et al. 2019 §4.2; MPNet's ``squad_criterion``): softmax over the
window's allowed positions (its context and position 0, the no-answer target of SQuAD 2.0 and
of windows that miss the answer), ``(CE(start) + CE(end)) / 2`` summed over windows. Logged:
``loss`` in bits per window, ``start_acc``/``end_acc`` (percent of windows whose arg-max is
the target).
"""
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass


def span_logits(model, task, sample):
    """``(start, end)`` logits (B, T), float32, -inf outside ``sample["span_mask"]``: the task's
    span head on the model's features. Layout ``bert`` puts the context on segment
    ``model.second_segment()`` (1 where the checkpoint has a trained segment-1 row, as BERT's
    token types), the rest on 0."""
    tokens = sample["net_input"]["src_tokens"]
    segments = None
    if task.layout == "bert":
        pos = torch.arange(tokens.size(1), device=tokens.device).unsqueeze(0)
        segments = pos.ge(sample["context_start"].unsqueeze(1)).long() * model.second_segment()
    features, _ = model(tokens, features_only=True, segments=segments)
    return model.span_heads[task.cfg.span_head_name](features, sample["span_mask"])


@dataclass
class SquadCriterionConfig(FairseqDataclass):
    pass


@register_criterion("squad", dataclass=SquadCriterionConfig)
class SquadCriterion(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        start, end = span_logits(model, self.task, sample)
        targets = sample["start_positions"], sample["end_positions"]
        loss = (F.cross_entropy(start, targets[0], reduction="sum")
                + F.cross_entropy(end, targets[1], reduction="sum")) / 2
        sample_size = start.size(0)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
            "start_correct": int(start.argmax(-1).eq(targets[0]).sum()),
            "end_correct": int(end.argmax(-1).eq(targets[1]).sum()),
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)

        sample_size = total("sample_size")
        metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size, round=3)
        for name in ("start", "end"):
            metrics.log_scalar(f"{name}_acc", 100.0 * total(f"{name}_correct") / sample_size, sample_size, round=1)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
