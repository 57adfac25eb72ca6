"""The ``unilmv2`` model under fairseq's stock NLU tasks (``sentence_prediction``,
``sentence_ranking``) and the hub: what ``UniLMv2Model.build_model`` and ``from_pretrained`` need
beyond RoBERTa's contract.

- Vocabulary rows: the stock tasks append ``<mask>`` to the data-bin dictionary; the plugin's
  pre-training also appends ``<pseudo>`` (``tasks/dictionary.py``), so it is appended here too
  and the embedding table of every ``--task pmlm`` and converted checkpoint fits.
- ``--pair-segment auto`` is resolved once, from the checkpoint fine-tuning starts from, and the
  resolved value is saved with the fine-tuned model (evaluation reuses it).
"""
import contextlib
import logging

from fairseq.models.roberta.hub_interface import RobertaHubInterface
from omegaconf import OmegaConf, open_dict

from ..tasks.dictionary import PSEUDO_SYMBOL
from .checkpoint_fit import config_value, read_checkpoint, saved_model_cfg

logger = logging.getLogger(__name__)


def start_checkpoint(cfg):
    """``((path, description, resumed), state)`` of the checkpoint fairseq-train will load into the
    model built from ``cfg`` (``tasks.base.checkpoint_to_load``), read once; None if there is none."""
    from ..tasks.base import checkpoint_to_load

    found = checkpoint_to_load(cfg)
    return None if found is None else (found, read_checkpoint(found[0]))


def prepare_stock_task(cfg, task, training: bool, start):
    """Append ``<pseudo>`` to ``task.source_dictionary`` and, for fairseq-train (``training``), resolve
    ``cfg.pair_segment`` (in place) from ``start`` (``start_checkpoint``). A loaded checkpoint keeps
    the value it was fine-tuned with."""
    from ..distributed import checkpoint_io

    checkpoint_io.install()  # atomic copies, multi-process resume, finished reruns (see there)
    dictionary = task.source_dictionary
    if PSEUDO_SYMBOL not in dictionary.indices:
        dictionary.add_symbol(PSEUDO_SYMBOL)
    if not training or str(getattr(cfg, "pair_segment", "auto")) != "auto":
        return
    if start is None:
        choice, why = "1", "no checkpoint to start from"
    else:
        (path, _, _), state = start
        trained, resumed = (config_value(saved_model_cfg(state), name) for name in ("segments_trained", "pair_segment"))
        if resumed is not None and str(resumed) != "auto":
            choice, why = str(resumed), f"{path} was fine-tuned with it"
        elif trained is not None and trained >= 2:
            choice, why = "1", f"{path} has a trained segment-1 row"
        else:
            choice, why = "0", f"{path} records no trained segment-1 row: --task pmlm trains segment 0 only"
    logger.info("--pair-segment auto: the second sentence of a pair is on segment %s (%s)", choice, why)
    with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
        cfg.pair_segment = choice


def check_start_checkpoint(model, cfg, task, start):
    """ValueError, before fairseq's trainer buries it, when the checkpoint fine-tuning loads
    (``start``, from ``start_checkpoint``) does not fit ``model`` (sizes, vocabulary, tensors; heads
    excepted)."""
    from ..tasks.base import raise_if_unfit

    if start is not None:
        data = getattr(getattr(task, "cfg", None), "data", "") or ""
        raise_if_unfit(*start, model, cfg, f"{data}/input0/dict.txt")


class UniLMv2HubInterface(RobertaHubInterface):
    """fairseq's RoBERTa hub interface (``extract_features``, ``predict``, ``register_classification_head``)
    for ``unilmv2`` models; ``models`` keeps the ``hub.models[0]`` spelling of earlier releases."""

    @property
    def models(self):
        return [self.model]

    def predict(self, head: str, tokens, return_logits: bool = False):
        """RoBERTa's ``predict``: log-probabilities (or logits) of ``head`` for ``tokens`` (B, T) or (T,).
        KeyError naming the heads the checkpoint has when ``head`` is not one of them."""
        if head not in self.model.classification_heads:
            have = ", ".join(sorted(self.model.classification_heads)) or "none"
            raise KeyError(f"this model has no classification head {head!r} (its heads: {have}); pass the "
                           f"--classification-head-name it was fine-tuned with")
        return super().predict(head, tokens, return_logits)
