"""(source, target) pairs for UniLM seq2seq, truncated to the model's room.

Pseudo-mask fine-tuning noise is drawn in ``__getitem__`` from (seed, epoch, index) and batched
apart from the clean input, as ``sample["train_net_input"]``: only the task's ``train_step``
(the batches ``fairseq-train`` trains on) reads it, so validation, ``--score-reference`` and
generation of any split, the training split included, see clean input.
"""
import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from fairseq.data import data_utils

from ..masking.corruption import corrupt
from .batching import EveryExampleDataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetNoise:
    """s2s-ft ``mask_way v2`` noise (defaults from s2s-ft ``run_seq2seq.py``)."""

    pseudo_idx: int
    random_low: int
    random_high: int
    target_mask_prob: float = 0.5  # word-drop on teacher-forced inputs
    random_token_prob: float = 0.1  # pseudo slots fed a random token
    leave_unmasked_prob: float = 0.1  # pseudo slots fed the true token


class Seq2SeqDataset(EveryExampleDataset):
    def __init__(self, src, tgt, dictionary, max_source_positions, max_target_positions,
                 noise: Optional[TargetNoise] = None, seed: int = 1, name: str = "", constraints=None):
        """``constraints``: fairseq's packed target-side constraints, one row per source
        (``--constraints`` of fairseq-interactive), or None."""
        self.src, self.tgt = src, tgt
        self.constraints = constraints
        self.dictionary = dictionary
        self.bos, self.eos, self.pad = dictionary.bos(), dictionary.eos(), dictionary.pad()
        self.max_source, self.max_target = max_source_positions, max_target_positions
        self.noise = noise
        self.seed = seed
        self.epoch = 1
        raw_src = np.asarray(src.sizes) + 1  # + <s>
        self.src_sizes = np.minimum(raw_src, self.max_source)
        _warn_truncated(name, "source", raw_src, self.max_source, "--max-source-positions")
        if tgt is not None:
            raw_tgt = np.asarray(tgt.sizes)
            self.tgt_sizes = np.minimum(raw_tgt, self.max_target)
            _warn_truncated(name, "target", raw_tgt, self.max_target, "--max-target-positions")
        else:
            self.tgt_sizes = None
        self.sizes = self.src_sizes if self.tgt_sizes is None else np.vstack((self.src_sizes, self.tgt_sizes)).T

    def set_epoch(self, epoch, **unused):
        self.epoch = epoch

    def __len__(self):
        return len(self.src)

    def __getitem__(self, index):
        src = _truncate(torch.cat([torch.tensor([self.bos]), self.src[index]]), self.max_source, self.eos)
        item = {"id": index, "source": src}
        if self.constraints is not None:
            item["constraints"] = self.constraints[index]
        if self.tgt is None:
            return item
        tgt = _truncate(self.tgt[index], self.max_target, self.eos)
        item["target"] = tgt
        if self.noise is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            n = self.noise
            y = tgt.numpy()
            pseudo = corrupt(y, n.pseudo_idx, n.random_low, n.random_high, n.random_token_prob,
                             n.leave_unmasked_prob, rng)
            drop = rng.random(len(y)) < n.target_mask_prob
            item["target_input"] = torch.from_numpy(np.where(drop, pseudo, y))
            item["pseudo_tokens"] = torch.from_numpy(pseudo)
        return item

    def num_tokens(self, index):
        src = int(self.src_sizes[index])
        return src if self.tgt_sizes is None else src + 2 * int(self.tgt_sizes[index])

    def size(self, index):
        """(source, target) tokens; target 0 without targets (inference), as fairseq's
        LanguagePairDataset, so a source is checked against the source limit only."""
        return (int(self.src_sizes[index]), 0 if self.tgt_sizes is None else int(self.tgt_sizes[index]))

    def filter_indices_by_size(self, indices, max_sizes):
        return data_utils.filter_paired_dataset_indices_by_size(self.src_sizes, self.tgt_sizes, indices, max_sizes)

    def ordered_indices(self):
        with data_utils.numpy_seed(self.seed):
            order = np.random.permutation(len(self))
        if self.tgt_sizes is not None:
            order = order[np.argsort(self.tgt_sizes[order], kind="mergesort")]
        return order[np.argsort(self.src_sizes[order], kind="mergesort")]

    @property
    def supports_prefetch(self):
        return False

    def collater(self, samples):
        if not samples:
            return {}

        def pad(seqs):
            return data_utils.collate_tokens(seqs, self.pad, left_pad=False)

        src = pad([s["source"] for s in samples])
        batch = {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "net_input": {"src_tokens": src, "src_lengths": src.ne(self.pad).sum(1)},
        }
        if "constraints" in samples[0]:  # zero-padded rows, as fairseq's LanguagePairDataset
            lengths = [s["constraints"].size(0) for s in samples]
            batch["constraints"] = torch.zeros(len(samples), max(lengths), dtype=torch.long)
            for i, s in enumerate(samples):
                batch["constraints"][i, : lengths[i]] = s["constraints"]
        if "target" in samples[0]:
            target = pad([s["target"] for s in samples])
            batch["net_input"]["prev_output_tokens"] = self._prev_output_tokens([s["target"] for s in samples])
            if "pseudo_tokens" in samples[0]:
                batch["train_net_input"] = {
                    **batch["net_input"],
                    "prev_output_tokens": self._prev_output_tokens([s["target_input"] for s in samples]),
                    "pseudo_tokens": pad([s["pseudo_tokens"] for s in samples]),
                }
            batch["target"] = target
            batch["ntokens"] = int(target.ne(self.pad).sum())
        else:
            batch["ntokens"] = int(src.ne(self.pad).sum())
        return batch

    def _prev_output_tokens(self, inputs):
        """<eos> then the (possibly word-dropped) target, shifted right; (B, T) padded."""
        eos = torch.tensor([self.eos])
        return data_utils.collate_tokens([torch.cat([eos, x[:-1]]) for x in inputs], self.pad, left_pad=False)


def _truncate(tokens, limit, eos):
    if len(tokens) <= limit:
        return tokens
    return torch.cat([tokens[: limit - 1], torch.tensor([eos], dtype=tokens.dtype)])


def _warn_truncated(name, side, sizes, limit, flag):
    count = int((sizes > limit).sum())
    if count:
        logger.warning("%s: %d of %d %ss are longer than %s %d and are truncated",
                       name, count, len(sizes), side, flag, limit)
