"""``--criterion unilm_seq2seq``: label-smoothed cross-entropy over the target (s2s-ft uses 0.1)."""
from dataclasses import dataclass, field

from fairseq.criterions import register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import (
    LabelSmoothedCrossEntropyCriterion,
    LabelSmoothedCrossEntropyCriterionConfig,
)


@dataclass
class UniLMSeq2SeqCriterionConfig(LabelSmoothedCrossEntropyCriterionConfig):
    label_smoothing: float = field(default=0.1, metadata={"help": "epsilon for label smoothing, 0 = none"})


@register_criterion("unilm_seq2seq", dataclass=UniLMSeq2SeqCriterionConfig)
class UniLMSeq2SeqCriterion(LabelSmoothedCrossEntropyCriterion):
    pass
