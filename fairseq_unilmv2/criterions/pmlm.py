"""``--criterion pmlm``: L = ae_weight * L_AE([M]) + par_weight * L_PAR([P]) (Bao et al. 2020, §3)."""
import math
from dataclasses import dataclass, field

import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass

from ..masking import roles
from ..masking.attention import role_attention_mask


@dataclass
class PMLMCriterionConfig(FairseqDataclass):
    ae_weight: float = field(default=1.0, metadata={"help": "weight of the autoencoding loss on [M]"})
    par_weight: float = field(
        default=1.0, metadata={"help": "weight of the partially autoregressive loss on [P]"}
    )


def pmlm_token_losses(model, sample, padding_idx):
    """Per-prediction NLL (fp32) and whether each prediction is a [P] (PAR) one."""
    net = sample["net_input"]
    target = sample["target"]
    predicted = target.ne(padding_idx)
    allowed = role_attention_mask(net["kind"], net["step"])
    logits = model(net["src_tokens"], net["positions"], allowed, masked_tokens=predicted)
    nll = F.cross_entropy(logits.float(), target[predicted], reduction="none")
    return nll, net["kind"][predicted] == roles.PSEUDO


@register_criterion("pmlm", dataclass=PMLMCriterionConfig)
class PMLMCriterion(FairseqCriterion):
    def __init__(self, task, ae_weight=1.0, par_weight=1.0):
        super().__init__(task)
        self.ae_weight = ae_weight
        self.par_weight = par_weight

    def forward(self, model, sample, reduce=True):
        nll, is_par = pmlm_token_losses(model, sample, self.padding_idx)
        ae_loss = nll[~is_par].sum()
        par_loss = nll[is_par].sum()
        loss = self.ae_weight * ae_loss + self.par_weight * par_loss
        # Every masked token is predicted once from [M] and once from [P]: normalise per token.
        sample_size = int((~is_par).sum())
        logging_output = {
            "loss": loss.data,
            "ae_loss": ae_loss.data,
            "par_loss": par_loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
        }
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
        denom = max(sample_size, 1) * math.log(2)  # bits per predicted token, as fairseq logs
        for key in ("loss", "ae_loss", "par_loss"):
            total = sum(log.get(key, 0) for log in logging_outputs)
            metrics.log_scalar(key, total / denom, sample_size, round=3)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
