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

Validation also logs ``ctx_gap``: ``nll_loss`` with every ordinary source token replaced by a
random one (``masking/context.py``), minus ``nll_loss``, in bits per target token. Near 0 the model
writes targets without reading its source.
"""
import math
from dataclasses import dataclass, field

import torch
from fairseq import metrics
from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)
from fairseq.dataclass import ChoiceEnum

from ..masking.context import ordinary, with_random_context


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
    no_context_gap: bool = field(
        default=False,
        metadata={"help": "do not log ctx_gap in validation (nll_loss with random source tokens minus nll_loss, "
                  "in bits: how much the model reads its source; costs one more forward pass per valid batch)"},
    )


@register_criterion("unilm_seq2seq", dataclass=UniLMSeq2SeqCriterionConfig)
class UniLMSeq2SeqCriterion(LabelSmoothedCrossEntropyCriterion):
    def __init__(self, task, sentence_avg, label_smoothing, ignore_prefix_size=0, report_accuracy=False,
                 label_smoothing_formula="fairseq", no_context_gap=False):
        super().__init__(task, sentence_avg, label_smoothing, ignore_prefix_size, report_accuracy)
        self.formula = str(label_smoothing_formula)
        self.context_gap = not no_context_gap

    def forward(self, model, sample, reduce=True):
        loss, sample_size, logging_output = super().forward(model, sample, reduce)
        if self.context_gap and not model.training and reduce:
            logging_output["ctx_nll_loss"] = self._random_source_nll(model, sample)
        return loss, sample_size, logging_output

    def _random_source_nll(self, model, sample):
        """Summed NLL of the targets with random ordinary source tokens (seeded by the example ids)."""
        low, high = self.task.dictionary.nspecial, self.task.random_high
        src = sample["net_input"]["src_tokens"]
        seed = int(sample["id"].sum()) % (1 << 31)
        noisy = {**sample, "net_input": with_random_context(sample["net_input"], ordinary(src, low, high), low, high, seed)}
        with torch.no_grad():
            lprobs, target = self.get_lprobs_and_target(model, model(**noisy["net_input"]), noisy)
            nll = -lprobs.float().gather(-1, target.unsqueeze(-1)).squeeze(-1)
        return nll.masked_fill(target.eq(self.padding_idx), 0.0).sum().data

    @classmethod
    def reduce_metrics(cls, logging_outputs) -> None:
        super().reduce_metrics(logging_outputs)
        logged = [log for log in logging_outputs if "ctx_nll_loss" in log]
        if logged:
            gap = sum(log["ctx_nll_loss"] - log["nll_loss"] for log in logged)
            ntokens = sum(log.get("ntokens", 0) for log in logged)
            metrics.log_scalar("ctx_gap", gap / (max(ntokens, 1) * math.log(2)), ntokens, round=3)

    def compute_loss(self, model, net_output, sample, reduce=True):
        if self.formula != "s2s-ft":
            return super().compute_loss(model, net_output, sample, reduce)
        lprobs, target = self.get_lprobs_and_target(model, net_output, sample)
        return s2s_ft_smoothed_loss(lprobs.float(), target, self.eps, self.padding_idx, reduce)
