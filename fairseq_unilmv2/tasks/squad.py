"""``--task squad``: extractive question answering (SQuAD 1.1 / 2.0) on the unilmv2 backbone.

Reads the data-bin of ``python -m fairseq_unilmv2.squad prepare`` (``squad/databin.py``), builds
the model as ``--arch`` says (from random weights, ``--finetune-from-model`` a ``--task pmlm`` or
converted checkpoint) and registers a span head (``modules/span_head.py``) on it; trains with
``--criterion squad``. Prediction and scoring: ``python -m fairseq_unilmv2.squad predict|evaluate``.
"""
import logging
import os
from dataclasses import dataclass, field
from typing import Optional

from fairseq import models, utils
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import register_task
from omegaconf import MISSING

from ..criterions.squad import SquadCriterion
from ..distributed import checkpoint_io
from ..modules.span_head import SpanHead
from ..squad.databin import read_meta, read_split
from ..squad.dataset import SquadDataset
from ..squad.features import VERSIONS, layout_of
from .base import UniLMTask
from .dictionary import add_special_symbols, load_dictionary

logger = logging.getLogger(__name__)


@dataclass
class SquadTaskConfig(FairseqDataclass):
    data: str = field(
        default=MISSING, metadata={"help": "SQuAD data-bin written by python -m fairseq_unilmv2.squad prepare"})
    version: Optional[str] = field(
        default=None, metadata={"help": "1.1 or 2.0: checked against the data-bin's (default: the data-bin's)"})
    span_head_name: str = field(
        default="squad_span_head", metadata={"help": "name of the span head in model.span_heads (and checkpoints)"})


@register_task("squad", dataclass=SquadTaskConfig)
class SquadTask(UniLMTask):
    cfg: SquadTaskConfig
    criterion_classes = (SquadCriterion,)
    criterion_hint = "pass --criterion squad (start/end cross-entropy over the context)"

    def __init__(self, cfg: SquadTaskConfig, dictionary, meta):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.meta = meta
        self.layout = meta["layout"]
        add_special_symbols(dictionary)  # the embedding table of --task pmlm and of converted checkpoints

    @classmethod
    def setup_task(cls, cfg: SquadTaskConfig, **kwargs):
        checkpoint_io.install()  # atomic checkpoint copies; multi-process resume (see there)
        paths = utils.split_paths(cfg.data)
        if len(paths) != 1:
            raise ValueError(f"--task squad reads one data-bin directory, not {cfg.data!r}")
        meta = read_meta(paths[0])
        if cfg.version is not None and cfg.version not in VERSIONS:
            raise ValueError(f"--version {cfg.version}: choose one of {', '.join(VERSIONS)}")
        if cfg.version is not None and cfg.version != meta["version"]:
            raise ValueError(f"--version {cfg.version}, but {paths[0]} was prepared as SQuAD {meta['version']}: "
                             f"prepare it again with --version {cfg.version}, or drop --version")
        cfg.version = meta["version"]
        dictionary = load_dictionary(os.path.join(paths[0], "dict.txt"))
        if layout_of(dictionary) != meta["layout"]:
            raise ValueError(f"{paths[0]}/dict.txt is not the dictionary the data-bin was prepared with: prepare it again")
        return cls(cfg, dictionary, meta)

    def dictionary_path(self):
        return os.path.join(self.cfg.data, "dict.txt")

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        data = read_split(self.cfg.data, split)
        logger.info("loaded %d windows of %d questions from %s/%s", len(data), len(data.examples), self.cfg.data, split)
        self.datasets[split] = SquadDataset(data, self.dictionary.pad())
        return self.datasets[split]

    def build_model(self, cfg, from_checkpoint=False):
        model = models.build_model(cfg, self, from_checkpoint)
        longest = self.meta["max_seq_length"]
        if model.max_positions() < longest:
            raise ValueError(
                f"{self.cfg.data} holds windows of up to {longest} tokens (prepare --max-seq-length), more than the "
                f"model's --max-positions {model.max_positions()}: prepare it again with --max-seq-length "
                f"{model.max_positions()} or less")
        if not from_checkpoint:
            self.check_checkpoint_fits(model, cfg)
        model.register_span_head(self.cfg.span_head_name, SpanHead(model.cfg.encoder_embed_dim))
        return model

    def max_positions(self):
        return self.meta["max_seq_length"]
