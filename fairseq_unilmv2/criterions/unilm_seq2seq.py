"""``--criterion unilm_seq2seq``: label-smoothed loss over the target (s2s-ft uses 0.1), in
fairseq's formulation or s2s-ft's.

The two differ in what they minimise and where the smoothing mass goes (``q`` = the smoothed
target distribution over the V ids of the output layer, eps = ``--label-smoothing``):

- ``fairseq`` (``label_smoothed_nll_loss``): the cross-entropy ``-sum_v q(v) log p(v)`` with
  ``q(target) = 1 - eps + eps/(V-1)`` and ``eps/(V-1)`` on every other id, padding included.
- ``s2s-ft`` (``s2s_ft/modeling.py`` ``LabelSmoothingLoss``): the divergence
  ``KL(q || p) = sum_v q(v) log q(v) - sum_v q(v) log p(v)`` (``F.kl_div``) with
  ``q(target) = 1 - eps``, ``q(pad) = 0`` and ``eps/(V-2)`` on every other id.

The KL is the cross-entropy minus the entropy of q, a constant: for eps 0.1 and V = 30524 the
logged losses differ by about 1.36 nats a token, while the gradients differ only through the
slightly different q. ``nll_loss`` (and fairseq's ``ppl``) is the same plain negative
log-likelihood under both.
"""
import math
from dataclasses import dataclass, field

import torch
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.dataclass import ChoiceEnum


def s2s_ft_smoothed_loss(lprobs, target, epsilon: float, padding_idx: int, reduce: bool = True):
    """s2s-ft's label-smoothed KL divergence (module docstring) and the NLL, summed over the
    non-padding targets (or per target, (N,), when not ``reduce``). ``lprobs``: (N, V) log
    probabilities; ``target``: (N,) ids. Padding targets count 0."""
    vocab = lprobs.size(-1)
    nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    # -sum of log p over the ids that get eps/(V-2): all but the target and the padding id
    others = -lprobs.sum(-1) + lprobs[:, padding_idx] - nll
    share = epsilon / (vocab - 2)
    entropy = -(1 - epsilon) * math.log(1 - epsilon) if epsilon < 1 else 0.0
    if epsilon > 0:
        entropy -= epsilon * math.log(share)
    loss = (1 - epsilon) * nll + share * others - entropy
    pad = target.eq(padding_idx)
    loss, nll = loss.masked_fill(pad, 0.0), nll.masked_fill(pad, 0.0)
    return (loss.sum(), nll.sum()) if reduce else (loss, nll)


@dataclass
class UniLMSeq2SeqCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    label_smoothing: float = field(default=0.1, metadata={"help": "epsilon for label smoothing, 0 = none"})
    label_smoothing_formula: ChoiceEnum(["fairseq", "s2s-ft"]) = field(
        default="fairseq",
        metadata={"help": "fairseq: cross-entropy with eps/(V-1) on every id (fairseq's label_smoothed_cross_entropy); "
                  "s2s-ft: KL(q||p) with eps/(V-2) on every id but the target and padding, as s2s-ft trains "
                  "(losses comparable with s2s-ft's logs; about 1.36 nats/token below fairseq's at eps 0.1)"},
    )


@register_criterion("unilm_seq2seq", dataclass=UniLMSeq2SeqCriterionConfig)
class UniLMSeq2SeqCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, ignore_prefix_size=0, report_accuracy=False,
                 label_smoothing_formula="fairseq"):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        self.formula = str(label_smoothing_formula)

    def compute_loss(self, model, net_output, sample, reduce=True):
        if self.formula != "s2s-ft":
            return super().compute_loss(model, net_output, sample, reduce)
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        return s2s_ft_smoothed_loss(lprobs.float(), target, self.eps, self.padding_idx, reduce)
