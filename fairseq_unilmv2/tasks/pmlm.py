"""``--task pmlm``: pre-training with a choice of objective on one backbone."""
import logging
import os
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from fairseq import utils
from fairseq.data import Dictionary, PrependTokenDataset, TokenBlockDataset, data_utils
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import register_task
from omegaconf import II, MISSING

from ..data.objective_dataset import ObjectiveDataset
from ..masking.pmlm import PMLMVocab, build_pmlm_example
from ..masking.spans import SpanConfig
from .base import UniLMTask
from .dictionary import add_special_symbols, load_dictionary

logger = logging.getLogger(__name__)

OBJECTIVE_CHOICES = ChoiceEnum(["pmlm"])


@dataclass
class PMLMTaskConfig(FairseqDataclass):
    data: str = field(
        default=MISSING,
        metadata={"help": "colon-separated data-bin directories (one per epoch, round robin)"},
    )
    objective: OBJECTIVE_CHOICES = field(default="pmlm", metadata={"help": "pre-training objective"})
    sample_break_mode: ChoiceEnum(["none", "complete", "complete_doc", "eos"]) = field(
        default="none",
        metadata={
            "help": "how token blocks are cut (fairseq TokenBlockDataset): 'none' fills every block "
            "from the token stream; 'complete'/'eos' keep lines whole (lines longer than a block "
            "then need --shorten-method)"
        },
    )
    tokens_per_sample: int = field(
        default=512, metadata={"help": "max tokens per block, <s> included (before appending [P]s)"}
    )
    mask_prob: float = field(default=0.15, metadata={"help": "fraction of tokens to predict"})
    ngram_prob: float = field(
        default=0.4, metadata={"help": "probability that a span is an n-gram rather than one token"}
    )
    min_ngram: int = field(default=2, metadata={"help": "shortest n-gram span"})
    max_ngram: int = field(default=6, metadata={"help": "longest n-gram span"})
    random_token_prob: float = field(
        default=0.1, metadata={"help": "fraction of [M] positions given a random token instead"}
    )
    leave_unmasked_prob: float = field(
        default=0.1, metadata={"help": "fraction of [M] positions left as the original token"}
    )
    shorten_method: ChoiceEnum(["none", "truncate", "random_crop"]) = field(
        default="none", metadata={"help": "shorten sequences longer than --tokens-per-sample"}
    )
    shorten_data_split_list: str = field(
        default="", metadata={"help": "comma-separated splits to shorten (default: all)"}
    )
    seed: int = II("common.seed")
    train_subset: str = II("dataset.train_subset")


@register_task("pmlm", dataclass=PMLMTaskConfig)
class PMLMTask(UniLMTask):
    cfg: PMLMTaskConfig

    def __init__(self, cfg: PMLMTaskConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx, self.pseudo_idx, self.random_high = add_special_symbols(dictionary)

    @classmethod
    def setup_task(cls, cfg: PMLMTaskConfig, **kwargs):
        paths = utils.split_paths(cfg.data)
        if not paths:
            raise ValueError("--task pmlm needs a data-bin directory (positional DATA argument)")
        return cls(cfg, load_dictionary(os.path.join(paths[0], "dict.txt")))

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        paths = utils.split_paths(self.cfg.data)
        split_path = os.path.join(paths[(epoch - 1) % len(paths)], split)
        dataset = data_utils.load_indexed_dataset(split_path, self.dictionary, combine=combine)
        if dataset is None:
            raise FileNotFoundError(
                f"Dataset not found: {split} ({split_path}.bin/.idx); "
                f"binarize it with fairseq-preprocess --only-source --{split}pref ..."
            )
        dataset = maybe_shorten_dataset(
            dataset, split, self.cfg.shorten_data_split_list, self.cfg.shorten_method,
            self.cfg.tokens_per_sample, self.cfg.seed,
        )
        dataset = TokenBlockDataset(
            dataset, dataset.sizes, self.cfg.tokens_per_sample - 1,  # room for <s>
            pad=self.dictionary.pad(), eos=self.dictionary.eos(), break_mode=self.cfg.sample_break_mode,
        )
        dataset = PrependTokenDataset(dataset, self.dictionary.bos())
        logger.info("loaded %d blocks from %s", len(dataset), split_path)
        self.datasets[split] = ObjectiveDataset(
            dataset,
            pack=self.packer(),
            pad_idx=self.dictionary.pad(),
            seed=self.cfg.seed,
            length_factor=1.0 + 2.0 * self.cfg.mask_prob,
        )

    def packer(self):
        """The pure function ``(tokens, rng) -> packed example`` of the chosen objective."""
        vocab = PMLMVocab(
            mask_idx=self.mask_idx,
            pseudo_idx=self.pseudo_idx,
            pad_idx=self.dictionary.pad(),
            random_low=self.dictionary.nspecial,
            random_high=self.random_high,
        )
        spans = SpanConfig(self.cfg.mask_prob, self.cfg.ngram_prob, self.cfg.min_ngram, self.cfg.max_ngram)
        specials = np.array([self.dictionary.bos(), self.dictionary.eos(), self.dictionary.pad()])
        return partial(
            _pack_pmlm, vocab=vocab, spans=spans, specials=specials,
            random_token_prob=self.cfg.random_token_prob, leave_unmasked_prob=self.cfg.leave_unmasked_prob,
        )

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        if self.cfg.tokens_per_sample > model.max_positions():
            raise ValueError(
                f"--tokens-per-sample {self.cfg.tokens_per_sample} exceeds the model's "
                f"--max-positions {model.max_positions()}: lower --tokens-per-sample or raise --max-positions"
            )
        return model

    def max_positions(self):
        return self.cfg.tokens_per_sample


def _pack_pmlm(tokens, rng, vocab, spans, specials, random_token_prob, leave_unmasked_prob):
    maskable = ~np.isin(tokens, specials)
    return build_pmlm_example(tokens, maskable, vocab, spans, random_token_prob, leave_unmasked_prob, rng)
