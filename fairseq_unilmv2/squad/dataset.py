"""The windows of a SQuAD data-bin split as a fairseq dataset, batched right-padded."""
import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils

from .databin import Split


def span_mask(context_start: torch.Tensor, context_end: torch.Tensor, width: int) -> torch.Tensor:
    """(B, T) bool: the positions an answer may start or end at, the window's context subwords
    ``[context_start, context_end)`` (B,) and position 0 (the "no answer here" target, BERT's
    ``[CLS]``); never the question, the separators or padding."""
    pos = torch.arange(width, device=context_start.device).unsqueeze(0)
    return pos.eq(0) | (pos.ge(context_start.unsqueeze(1)) & pos.lt(context_end.unsqueeze(1)))


class SquadDataset(FairseqDataset):
    """Items: one window each. Batches: ``net_input.src_tokens`` (B, T) right-padded with
    ``pad``; ``context_start``/``context_end`` (B,), ``span_mask`` (B, T), the target positions
    ``start_positions``/``end_positions`` (B,), and ``id`` (B,) the window indices."""

    def __init__(self, split: Split, pad: int):
        self.split = split
        self.pad = pad
        self._sizes = split.arrays["sizes"].astype(np.int64)

    def __len__(self):
        return len(self.split)

    def __getitem__(self, i):
        a = self.split.arrays
        return {"id": i, "tokens": torch.from_numpy(self.split.tokens(i).astype(np.int64)),
                "context_start": int(a["context_start"][i]), "context_end": int(a["context_end"][i]),
                "start": int(a["start"][i]), "end": int(a["end"][i])}

    @property
    def sizes(self):
        return self._sizes

    def num_tokens(self, index):
        return int(self._sizes[index])

    def size(self, index):
        return int(self._sizes[index])

    def ordered_indices(self):
        return np.argsort(self._sizes, kind="stable")  # fairseq shuffles the batches themselves

    def collater(self, samples):
        if not samples:
            return {}
        tokens = data_utils.collate_tokens([s["tokens"] for s in samples], self.pad)
        lengths = torch.tensor([len(s["tokens"]) for s in samples])
        cs = torch.tensor([s["context_start"] for s in samples])
        ce = torch.tensor([s["context_end"] for s in samples])
        return {
            "id": torch.tensor([s["id"] for s in samples]),
            "nsentences": len(samples),
            "ntokens": int(lengths.sum()),
            "net_input": {"src_tokens": tokens},
            "context_start": cs,
            "context_end": ce,
            "span_mask": span_mask(cs, ce, tokens.size(1)),
            "start_positions": torch.tensor([s["start"] for s in samples]),
            "end_positions": torch.tensor([s["end"] for s in samples]),
        }
