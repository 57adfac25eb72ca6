"""``--task pmlm``: pre-training with a choice of objective on one backbone.

``--objective`` picks the packing function (``masking/``) that turns each token block into the
model's input; the model and the criterion's logging are the same for all four, so they compare
under one setting. Defaults the papers disagree on follow each objective's own paper.
"""
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from typing import Optional

import numpy as np
from fairseq import utils
from fairseq.data import Dictionary, PrependTokenDataset, TokenBlockDataset, data_utils
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import register_task
from omegaconf import II, MISSING

from ..criterions.pmlm import PMLMCriterion
from ..data.batching import persistent_workers_field
from ..data.objective_dataset import ObjectiveDataset
from ..distributed import checkpoint_io
from ..masking.example import MaskingVocab
from ..masking.maelm import build_maelm_example
from ..masking.mlm import build_mlm_example
from ..masking.mpnet import build_mpnet_example
from ..masking.pmlm import build_pmlm_example
from ..masking.spans import SpanConfig
from ..masking.words import word_start_table
from .base import UniLMTask
from .databin import check_data_dirs, wrong_databin_message
from .dictionary import add_special_symbols, load_dictionary

logger = logging.getLogger(__name__)

OBJECTIVE_CHOICES = ChoiceEnum(["pmlm", "mlm", "mpnet", "maelm"])
# Per-objective defaults of the options left unset (None):
# PMLM: n-gram spans 40% of the time (our reading of the paper, §3.3; unverified); BERT/RoBERTa, MPNet's token mode and MAE-LM
# mask single tokens. MAE-LM removes every chosen token (no random or kept ones).
NGRAM_PROB = {"pmlm": 0.4, "mlm": 0.0, "mpnet": 0.0, "maelm": 0.0}
# (random_token_prob, leave_unmasked_prob) of the chosen tokens: BERT's / the official MPNet code's
# 80/10/10. PMLM's kept tokens are predicted in place by the AE loss and join no PAR step, so no
# [P] reads an answer (masking/pmlm.py); without them a tiny PMLM stays context-free for hundreds
# of updates (docs/pretraining.md).
CORRUPTION = {"pmlm": (0.1, 0.1), "mlm": (0.1, 0.1), "mpnet": (0.1, 0.1), "maelm": (0.0, 0.0)}
BUILDERS = {"pmlm": build_pmlm_example, "mlm": build_mlm_example, "mpnet": build_mpnet_example}


@dataclass
class PMLMTaskConfig(FairseqDataclass):
    data: str = field(
        default=MISSING,
        metadata={"help": "colon-separated data-bin directories (one per epoch, round robin)"},
    )
    objective: OBJECTIVE_CHOICES = field(
        default="pmlm",
        metadata={"help": "pmlm (UniLMv2 AE + PAR), mlm (BERT/RoBERTa), mpnet (masked and permuted), "
                  "maelm (encoder never sees [MASK]; adds a --mae-decoder-layers decoder)"},
    )
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
    ngram_prob: Optional[float] = field(
        default=None,
        metadata={"help": "probability that a span is an n-gram rather than one token "
                  "(default: 0.4 for pmlm, 0 for the others)"},
    )
    min_ngram: int = field(default=2, metadata={"help": "shortest n-gram span (in words with --mask-whole-words)"})
    max_ngram: int = field(default=6, metadata={"help": "longest n-gram span (in words with --mask-whole-words)"})
    mask_whole_words: bool = field(
        default=False,
        metadata={"help": "mask whole words, for every --objective: spans are counted and sampled in words and "
                  "cover all their subwords; word starts come from dict.txt (SentencePiece '▁' prefix, or "
                  "WordPiece '##' continuations); --mask-prob stays a fraction of the tokens"},
    )
    random_token_prob: Optional[float] = field(
        default=None,
        metadata={"help": "fraction of [M] positions given a random token instead (default 0.1; "
                  "maelm: 0, it removes every chosen token)"},
    )
    leave_unmasked_prob: Optional[float] = field(
        default=None,
        metadata={"help": "fraction of the chosen tokens left as the original token and predicted in place "
                  "(default 0.1; pmlm: predicted by the AE loss only, in no PAR step; maelm: 0)"},
    )
    shorten_method: ChoiceEnum(["none", "truncate", "random_crop"]) = field(
        default="none", metadata={"help": "shorten sequences longer than --tokens-per-sample"}
    )
    shorten_data_split_list: str = field(
        default="", metadata={"help": "comma-separated splits to shorten (default: all)"}
    )
    seed: int = II("common.seed")
    train_subset: str = II("dataset.train_subset")
    persistent_workers: bool = persistent_workers_field()


@register_task("pmlm", dataclass=PMLMTaskConfig)
class PMLMTask(UniLMTask):
    cfg: PMLMTaskConfig
    criterion_classes = (PMLMCriterion,)
    criterion_hint = ("pass --criterion pmlm, the loss of every --objective (--criterion unilm_seq2seq and "
                      "label_smoothed_cross_entropy belong to --task unilm_seq2seq fine-tuning)")

    def __init__(self, cfg: PMLMTaskConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx, self.pseudo_idx, self.random_high = add_special_symbols(dictionary)
        self.corruption = self._check_corruption()
        self.word_starts = self._word_starts() if cfg.mask_whole_words else None

    @classmethod
    def setup_task(cls, cfg: PMLMTaskConfig, **kwargs):
        checkpoint_io.install()  # atomic checkpoint copies; multi-process resume (see there)
        paths = utils.split_paths(cfg.data)
        if not paths:
            raise ValueError("--task pmlm needs a data-bin directory (positional DATA argument)")
        check_data_dirs(paths, "pmlm")
        problem = wrong_databin_message(paths[0], "pmlm")
        if problem:
            raise ValueError(problem)
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
        room = self.cfg.tokens_per_sample - 1  # <s> is prepended to every block
        dataset = maybe_shorten_dataset(
            dataset, split, self.cfg.shorten_data_split_list, self.cfg.shorten_method, room, self.cfg.seed,
        )
        mode = self.cfg.sample_break_mode
        if mode == "eos":
            # A line is a block. fairseq's TokenBlockDataset would give the same blocks but uses
            # np.compat in this mode, which numpy 2 removed (AttributeError).
            blocks = dataset
        else:
            blocks = TokenBlockDataset(
                dataset, dataset.sizes, room, pad=self.dictionary.pad(), eos=self.dictionary.eos(), break_mode=mode,
            )
        too_long = int((np.asarray(blocks.sizes) > room).sum())
        if too_long:  # 'complete'/'eos' keep lines whole, whatever their length
            raise ValueError(
                f"{split_path}: {too_long} of {len(blocks)} blocks are longer than --tokens-per-sample "
                f"{self.cfg.tokens_per_sample} minus <s>, because --sample-break-mode {mode} keeps lines whole: "
                f"pass --shorten-method truncate (or random_crop), or a larger --tokens-per-sample"
            )
        dataset = PrependTokenDataset(blocks, self.dictionary.bos())
        logger.info("loaded %d blocks from %s", len(dataset), split_path)
        self.datasets[split] = ObjectiveDataset(
            dataset,
            pack=self.packer(),
            pad_idx=self.dictionary.pad(),
            seed=self.cfg.seed,
            # pmlm and mpnet append two tokens per masked one
            length_factor=1.0 + 2.0 * self.cfg.mask_prob if self.cfg.objective in ("pmlm", "mpnet") else 1.0,
        )

    def packer(self):
        """The pure function ``(tokens, rng) -> packed example`` of the chosen objective."""
        objective = self.cfg.objective
        vocab = MaskingVocab(
            mask_idx=self.mask_idx,
            pseudo_idx=self.pseudo_idx,
            pad_idx=self.dictionary.pad(),
            random_low=self.dictionary.nspecial,
            random_high=self.random_high,
        )
        ngram_prob = NGRAM_PROB[objective] if self.cfg.ngram_prob is None else self.cfg.ngram_prob
        spans = SpanConfig(self.cfg.mask_prob, ngram_prob, self.cfg.min_ngram, self.cfg.max_ngram)
        specials = np.array([self.dictionary.bos(), self.dictionary.eos(), self.dictionary.pad()])
        common = dict(specials=specials, word_starts=self.word_starts, vocab=vocab, spans=spans)
        if objective == "maelm":
            return partial(_pack, build=build_maelm_example, **common)
        random_token_prob, leave_unmasked_prob = self.corruption
        return partial(
            _pack, build=BUILDERS[objective], **common,
            random_token_prob=random_token_prob, leave_unmasked_prob=leave_unmasked_prob,
        )

    def _word_starts(self):
        """``--mask-whole-words``: which ids start a word (``masking/words.py``), from the symbols."""
        try:
            table, scheme = word_start_table(self.dictionary.symbols, (self.dictionary.nspecial, self.random_high))
        except ValueError as e:
            raise ValueError(
                f"--mask-whole-words: {self.dictionary_path()}: {e}. Binarize with a SentencePiece or WordPiece "
                f"vocabulary (preprocess/spm.py, preprocess/wordpiece.py), or drop --mask-whole-words"
            ) from None
        logger.info("--mask-whole-words: %s word starts (%d of %d ids start a word)", scheme, int(table.sum()),
                    len(table))
        return table

    def _check_corruption(self):
        """(random_token_prob, leave_unmasked_prob) of the objective, checked."""
        given = (self.cfg.random_token_prob, self.cfg.leave_unmasked_prob)
        if self.cfg.objective == "maelm" and any(p for p in given):
            raise ValueError(
                "--objective maelm removes every chosen token from the encoder, so it has no random or "
                "kept tokens: drop --random-token-prob / --leave-unmasked-prob"
            )
        probs = tuple(d if p is None else p for p, d in zip(given, CORRUPTION[self.cfg.objective]))
        if not all(0.0 <= p <= 1.0 for p in probs) or sum(probs) > 1.0:
            raise ValueError(
                f"--random-token-prob {probs[0]} and --leave-unmasked-prob {probs[1]} must each lie in "
                f"[0, 1] and sum to at most 1"
            )
        return probs

    def dictionary_path(self):
        return os.path.join(utils.split_paths(self.cfg.data)[0], "dict.txt")

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        if not from_checkpoint:
            self.check_checkpoint_fits(model, cfg)
        if self.cfg.tokens_per_sample > model.max_positions():
            raise ValueError(
                f"--tokens-per-sample {self.cfg.tokens_per_sample} exceeds the model's "
                f"--max-positions {model.max_positions()}: lower --tokens-per-sample or raise --max-positions"
            )
        return model

    def max_positions(self):
        return self.cfg.tokens_per_sample


def _pack(tokens, rng, build, specials, word_starts, **options):
    word_start = None if word_starts is None else word_starts[tokens]
    return build(tokens, maskable=~np.isin(tokens, specials), rng=rng, word_start=word_start, **options)
