"""MAE-LM (Meng et al., arXiv 2302.02060): the encoder never sees [MASK].

The example keeps full length with [MASK] at the chosen positions (role MASK) so that batches
collate like every other objective; the model then runs its encoder on the visible tokens only
(``visible_index``), at their original positions, and scatters the encoder outputs back beside
the [MASK] embeddings for its shallow decoder (``scatter_index``). As in the official code
(yumeng5/MAE-LM, ``MaskTokensRemoveDataset``) every chosen token is removed:
no random or kept tokens.
"""
from typing import Optional

import numpy as np
import torch

from . import roles
from .example import MaskingVocab, PackedExample
from .spans import SpanConfig, sample_masked_positions


def build_maelm_example(
    tokens: np.ndarray, maskable: np.ndarray, vocab: MaskingVocab, spans: SpanConfig, rng: np.random.Generator,
    word_start: Optional[np.ndarray] = None,
) -> PackedExample:
    masked_pos, _ = sample_masked_positions(maskable, spans, rng, word_start)
    n = len(tokens)
    inputs, kind = tokens.copy(), np.full(n, roles.CONTEXT)
    inputs[masked_pos] = vocab.mask_idx
    kind[masked_pos] = roles.MASK
    target = np.full_like(tokens, vocab.pad_idx)
    target[masked_pos] = tokens[masked_pos]
    return PackedExample(tokens=inputs, positions=np.arange(n), kind=kind, step=np.full(n, -1), target=target)


def visible_index(visible: torch.Tensor):
    """Left-packing of the visible tokens (bool, B x L): ``(index, valid)``, both B x V with
    V = the most visible tokens of a row; ``gather(1, index)`` picks each row's visible tokens
    in text order, ``valid`` marks the real ones (the rest is padding)."""
    counts = visible.sum(1)
    # A stable sort of "not visible" puts visible tokens first, in their text order.
    index = torch.sort((~visible).to(torch.int8), dim=1, stable=True).indices[:, : int(counts.max())]
    valid = torch.arange(index.size(1), device=visible.device) < counts.unsqueeze(1)
    return index, valid


def scatter_index(visible: torch.Tensor) -> torch.Tensor:
    """For each of the L positions, its slot in the packed visible sequence (0 where hidden):
    ``packed.gather(1, scatter_index)`` puts encoder outputs back at their text positions."""
    return (visible.long().cumsum(1) - 1).clamp(min=0)
