"""``--criterion pmlm``: the loss of the task's ``--objective``, with one logging scheme.

- pmlm: L = ae_weight * L_AE([M]) + par_weight * L_PAR([P]) (Bao et al. 2020, §3); logs
  ``ae_loss`` and ``par_loss`` beside ``loss``.
- mlm / mpnet / maelm: cross-entropy on the predicted tokens ([MASK] positions; MPNet's query
  stream; MAE-LM's decoder at the removed positions).

Every loss is logged in bits per predicted text token (masked or kept), so ``ae_loss`` of pmlm
and ``loss`` of the other objectives are on the same scale (pmlm's ``loss`` adds the PAR term).
``par_loss`` is per PAR prediction: the masked tokens, without the kept ones, which only the AE
term predicts (``masking/pmlm.py``).

Validation also logs ``ctx_gap``: ``loss`` with every unmasked text token replaced by a random
ordinary token, minus ``loss`` (``masking/context.py``), on ``loss``'s scale. It stays near 0
while a run predicts from unigram frequency alone and grows once the model reads its context.
"""
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ..masking import roles
from ..masking.attention import mpnet_attention_mask, role_attention_mask
from ..masking.context import pretraining_context, with_random_context

ATTENTION_MASKS = {"pmlm": role_attention_mask, "mlm": role_attention_mask, "mpnet": mpnet_attention_mask}
LOSS_TERMS = ("loss", "ae_loss")


@dataclass
class PMLMCriterionConfig(FairseqDataclass):
    ae_weight: float = field(default=1.0, metadata={"help": "pmlm: weight of the autoencoding loss (on [M], random and kept slots)"})
    par_weight: float = field(
        default=1.0, metadata={"help": "pmlm: weight of the partially autoregressive loss on [P]"}
    )
    no_context_gap: bool = field(
        default=False,
        metadata={"help": "do not log ctx_gap in validation (loss with random unmasked text tokens minus loss, "
                  "in bits: how much the model uses its context; costs one more forward pass per valid batch)"},
    )


def prediction_losses(model, sample, padding_idx, objective="pmlm"):
    """Per-prediction NLL (fp32) and each prediction's role (PSEUDO marks PMLM's PAR ones)."""
    net = sample["net_input"]
    target = sample["target"]
    predicted = target.ne(padding_idx)
    kind = net["kind"]
    if objective == "maelm":
        logits = model.forward_maelm(net["src_tokens"], net["positions"], kind == roles.CONTEXT, predicted)
    else:
        allowed = ATTENTION_MASKS[objective](kind, net["step"])
        logits = model(net["src_tokens"], net["positions"], allowed, masked_tokens=predicted)
    nll = F.cross_entropy(logits.float(), target[predicted], reduction="none")
    return nll, kind[predicted]


@register_criterion("pmlm", dataclass=PMLMCriterionConfig)
class PMLMCriterion(FairseqCriterion):
    def __init__(self, task, ae_weight=1.0, par_weight=1.0, no_context_gap=False):
        super().__init__(task)
        self.objective = getattr(task.cfg, "objective", "pmlm")
        self.ae_weight = ae_weight
        self.par_weight = par_weight
        self.context_gap = not no_context_gap

    def forward(self, model, sample, reduce=True):
        nll, role = prediction_losses(model, sample, self.padding_idx, self.objective)
        loss, terms = self._weighted(nll, role)
        logging_output = {"ntokens": sample["ntokens"], "nsentences": sample["nsentences"], **terms}
        # Per chosen token: the AE term predicts each once ([M], random or kept slot); PAR adds the masked ones.
        sample_size = int((role != roles.PSEUDO).sum())
        logging_output.update(loss=loss.data, sample_size=sample_size)
        if self.context_gap and not model.training:
            logging_output["ctx_loss"] = self._random_context_loss(model, sample)
        return loss, sample_size, logging_output

    def _weighted(self, nll, role):
        """The objective's loss from per-prediction NLLs, and its logged terms."""
        if self.objective != "pmlm":
            return nll.sum(), {}
        is_par = role == roles.PSEUDO
        ae_loss, par_loss = nll[~is_par].sum(), nll[is_par].sum()
        terms = {"ae_loss": ae_loss.data, "par_loss": par_loss.data, "par_size": int(is_par.sum())}
        return self.ae_weight * ae_loss + self.par_weight * par_loss, terms

    def _random_context_loss(self, model, sample):
        """``loss`` on the same sample with random unmasked text tokens (seeded by the example ids)."""
        low, high = self.task.dictionary.nspecial, self.task.random_high
        context = pretraining_context(sample["net_input"], sample["target"], self.padding_idx, low, high)
        seed = int(sample["id"].sum()) % (1 << 31)
        noisy = {**sample, "net_input": with_random_context(sample["net_input"], context, low, high, seed)}
        with torch.no_grad():
            nll, role = prediction_losses(model, noisy, self.padding_idx, self.objective)
        return self._weighted(nll, role)[0].data

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        denom = max(sample_size, 1) * math.log(2)  # bits per predicted token, as fairseq logs
        for key in LOSS_TERMS:
            if any(key in log for log in logging_outputs):
                total = sum(log.get(key, 0) for log in logging_outputs)
                metrics.log_scalar(key, total / denom, sample_size, round=3)
        par_size = sum(log.get("par_size", 0) for log in logging_outputs)
        if par_size:  # none when every chosen token was kept: no PAR term to log
            # PAR predicts the masked tokens, not the kept ones (masking/pmlm.py): its own count
            par_total = sum(log.get("par_loss", 0) for log in logging_outputs)
            metrics.log_scalar("par_loss", par_total / (par_size * math.log(2)), par_size, round=3)
        if any("ctx_loss" in log for log in logging_outputs):
            gap = sum(log["ctx_loss"] - log["loss"] for log in logging_outputs if "ctx_loss" in log)
            size = sum(log.get("sample_size", 0) for log in logging_outputs if "ctx_loss" in log)
            metrics.log_scalar("ctx_gap", gap / (max(size, 1) * math.log(2)), size, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
