"""Task heads on the ``unilmv2`` backbone, with RoBERTa's checkpoint contract.

fairseq's stock ``--task sentence_prediction`` / ``sentence_ranking`` call
``model.register_classification_head(name, num_classes)`` and then ``model(src_tokens,
features_only=True, classification_head_name=name)``; fine-tuning starts from a checkpoint that
has no head, and evaluation reloads one that has. ``upgrade_heads`` applies RoBERTa's rules
(``fairseq/models/roberta/model.py`` ``upgrade_state_dict_named``) to both kinds of head this
model holds: ``classification_heads`` (fairseq's ``RobertaClassificationHead`` on the first token)
and ``span_heads`` (extractive QA heads registered by ``--task squad``).
"""
import logging

import torch

logger = logging.getLogger(__name__)

CLASSIFICATION, SPAN = "classification_heads.", "span_heads."


def pair_segment_ids(tokens: torch.Tensor, eos: int, second_segment: int) -> torch.Tensor:
    """Segment (token type) ids (B, T) of a batch of one- or two-sentence inputs (B, T).

    Every token after the first ``eos`` gets ``second_segment``, the rest 0: BERT's token types
    for ``[CLS] a [SEP] b [SEP]`` (the first [SEP] belongs to a; Devlin et al. 2019, §3 "Input/
    Output Representations"), and for fairseq's ``<s> a </s></s> b </s>`` the separator pair splits
    as ``</s>`` | ``</s> b </s>``. A single sentence ends with its only ``eos``: all 0. Padding
    follows the last ``eos`` and gets ``second_segment`` too; it is never attended to.
    """
    is_eos = tokens.eq(eos).long()
    after_first = (is_eos.cumsum(1) - is_eos) > 0
    return after_first.long() * second_segment


def _head_shapes(state_dict, prefix, kind, name):
    """``(num_classes, inner_dim)`` of a classification head in ``state_dict``."""
    base = f"{prefix}{kind}{name}."
    return state_dict[base + "out_proj.weight"].size(0), state_dict[base + "dense.weight"].size(0)


def upgrade_heads(model, state_dict, prefix: str, load_checkpoint_heads: bool):
    """Make ``state_dict`` (in place) hold exactly the heads ``model`` has.

    - a checkpoint head the model lacks: registered from the checkpoint when
      ``load_checkpoint_heads`` (classification heads only: their shapes say how to build
      them), else dropped with a warning;
    - a checkpoint head of other shapes than the registered one: dropped (the new head trains
      from its initial weights), with a warning;
    - a registered head the checkpoint lacks (fine-tuning from a pre-trained model): the model's
      current weights are copied in, so that a strict load succeeds.
    """
    for kind, heads in ((CLASSIFICATION, model.classification_heads), (SPAN, model.span_heads)):
        names = sorted({k[len(prefix + kind):].split(".")[0] for k in state_dict if k.startswith(prefix + kind)})
        for name in names:
            keys = [k for k in state_dict if k.startswith(f"{prefix}{kind}{name}.")]
            if name not in heads and kind == CLASSIFICATION and load_checkpoint_heads:
                model.register_classification_head(name, *_head_shapes(state_dict, prefix, kind, name))
            if name not in heads:
                logger.warning("deleting head %s%s from the checkpoint: not registered in this model", kind, name)
            else:
                mine = heads[name].state_dict()
                if all(k[len(f"{prefix}{kind}{name}."):] in mine
                       and mine[k[len(f"{prefix}{kind}{name}."):]].shape == state_dict[k].shape for k in keys) \
                        and len(keys) == len(mine):
                    continue
                logger.warning("deleting head %s%s from the checkpoint: its shapes differ from this model's", kind, name)
            for k in keys:
                del state_dict[k]
        for name, head in heads.items():
            for k, v in head.state_dict().items():
                full = f"{prefix}{kind}{name}.{k}"
                if full not in state_dict:
                    logger.info("head %s%s starts from its initial weights (%s)", kind, name, full)
                    state_dict[full] = v
