"""A dataset that turns token blocks into objective-specific packed examples.

Masking happens in ``__getitem__`` from a generator seeded by (seed, epoch, index), as in
fairseq's MaskTokensDataset, so a run is reproducible from ``--seed``, resuming gives the same
masks, every epoch gets fresh ones, and DataLoader workers never share random state.
"""
from dataclasses import asdict
from typing import Callable, Dict

import numpy as np
import torch
from fairseq.data import data_utils

from ..masking import roles
from .batching import EveryExampleDataset

# Padding value of each packed field; ``tokens`` and ``target`` pad with the dictionary's pad.
FIELD_PAD = {"positions": 0, "kind": roles.PAD, "step": -1}


class ObjectiveDataset(EveryExampleDataset):
    def __init__(
        self,
        dataset,
        pack: Callable[[np.ndarray, np.random.Generator], object],
        pad_idx: int,
        seed: int,
        length_factor: float,
    ):
        """``pack(tokens, rng)`` returns a dataclass of equally long 1-D arrays (tokens,
        positions, kind, step, target). ``length_factor`` estimates packed length / input
        length, so ``--max-tokens`` batching accounts for the appended tokens."""
        self.dataset = dataset
        self.pack = pack
        self.pad_idx = pad_idx
        self.seed = seed
        self.length_factor = length_factor
        self.sizes = np.asarray(dataset.sizes)
        self.epoch = 1

    def set_epoch(self, epoch, **unused):
        self.epoch = epoch

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        tokens = self.dataset[index].numpy()
        rng = np.random.default_rng([self.seed, self.epoch, index])
        example = asdict(self.pack(tokens, rng))
        return {"id": index, "ntext": len(tokens), **{k: torch.from_numpy(np.asarray(v)) for k, v in example.items()}}

    def num_tokens(self, index):
        return int(np.ceil(self.sizes[index] * self.length_factor))

    def size(self, index):
        return self.sizes[index]  # checked against --tokens-per-sample before packing

    def ordered_indices(self):
        # Random order (fixed by the seed) with length sorting on top, as fairseq's masked_lm.
        with data_utils.numpy_seed(self.seed):
            shuffle = np.random.permutation(len(self))
        return shuffle[np.argsort(self.sizes[shuffle], kind="mergesort")]

    @property
    def supports_prefetch(self):
        return getattr(self.dataset, "supports_prefetch", False)

    def prefetch(self, indices):
        self.dataset.prefetch(indices)

    def collater(self, samples) -> Dict:
        if len(samples) == 0:
            return {}

        def stack(name, pad):
            return data_utils.collate_tokens([s[name] for s in samples], pad, left_pad=False)

        tokens = stack("tokens", self.pad_idx)
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            # text tokens, not the appended copies: words/s then means the same for every objective
            "ntokens": sum(s["ntext"] for s in samples),
            "net_input": {
                "src_tokens": tokens,
                **{name: stack(name, pad) for name, pad in FIELD_PAD.items()},
            },
            "target": stack("target", self.pad_idx),
        }
