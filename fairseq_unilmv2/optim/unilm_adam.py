"""``--optimizer unilm_adam``: fairseq's ``adam`` (decoupled weight decay, i.e. AdamW) with biases
and LayerNorm weights excluded from weight decay, as s2s-ft fine-tunes UniLM
(``s2s-ft/run_seq2seq.py``: ``no_decay = ['bias', 'LayerNorm.weight']``, after BERT's
``optimization.py`` ``exclude_from_weight_decay``). fairseq's own optimizers decay every parameter.

Which parameters are excluded is marked on the parameters themselves (:func:`mark_no_decay`,
called by the models when they build their modules and heads), because fairseq hands an
optimizer a plain list of tensors, without names.
"""
import logging
from dataclasses import dataclass

from fairseq.optim import register_optimizer
from fairseq.optim.adam import FairseqAdam, FairseqAdamConfig
from torch import nn

logger = logging.getLogger(__name__)

NO_DECAY = "unilm_no_weight_decay"  # parameter attribute: True = excluded, False = decayed


def mark_no_decay(module: nn.Module) -> None:
    """Mark every parameter of ``module``: biases and LayerNorm weights excluded from decay,
    the rest (embeddings, linear weights) decayed. Idempotent."""
    norms = {id(p) for m in module.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters()}
    for name, p in module.named_parameters():
        setattr(p, NO_DECAY, name.endswith("bias") or id(p) in norms)


def split_groups(params):
    """``[decayed, excluded]`` param groups of ``params``. ValueError when no parameter carries the
    mark: fairseq's ``--fp16`` optimizer hands over one flattened fp32 copy, which has no names."""
    params = list(params)
    if params and not any(hasattr(p, NO_DECAY) for p in params):
        raise ValueError(
            "--optimizer unilm_adam cannot tell biases and LayerNorm weights apart: the parameters it got carry "
            "no mark (fairseq's --fp16 optimizer flattens them into one fp32 copy). Use --memory-efficient-fp16 "
            "(or --memory-efficient-bf16), or --optimizer adam, which decays every parameter"
        )
    decayed = [p for p in params if not getattr(p, NO_DECAY, False)]
    excluded = [p for p in params if getattr(p, NO_DECAY, False)]
    return [{"params": decayed}, {"params": excluded, "weight_decay": 0.0, NO_DECAY: True}]


@dataclass
class UniLMAdamConfig(FairseqAdamConfig):
    pass


@register_optimizer("unilm_adam", dataclass=UniLMAdamConfig)
class UniLMAdam(FairseqAdam):
    """fairseq's Adam with s2s-ft's weight-decay exclusions (module docstring)."""

    def __init__(self, cfg: UniLMAdamConfig, params):
        groups = split_groups(params)
        logger.info("unilm_adam: weight decay %s on %d tensors, 0 on %d biases and LayerNorm weights",
                    cfg.weight_decay, len(groups[0]["params"]), len(groups[1]["params"]))
        super().__init__(cfg, groups)

    def load_state_dict(self, state_dict, optimizer_overrides=None):
        # fairseq applies the overrides (this run's --weight-decay among them) to every group
        super().load_state_dict(state_dict, optimizer_overrides)
        for group in self.optimizer.param_groups:
            if group.get(NO_DECAY):
                group["weight_decay"] = 0.0
