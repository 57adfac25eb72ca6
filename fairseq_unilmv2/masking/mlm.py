"""BERT/RoBERTa masked language modelling (Devlin et al. 2019; Liu et al. 2019): corrupt the
chosen tokens in place (80% [MASK], 10% random, 10% kept) and predict them; every token sees
every token."""
from typing import Optional

import numpy as np

from . import roles
from .corruption import corrupt
from .example import MaskingVocab, PackedExample
from .spans import SpanConfig, sample_masked_positions


def build_mlm_example(
    tokens: np.ndarray,
    maskable: np.ndarray,
    vocab: MaskingVocab,
    spans: SpanConfig,
    random_token_prob: float,
    leave_unmasked_prob: float,
    rng: np.random.Generator,
    word_start: Optional[np.ndarray] = None,
) -> PackedExample:
    masked_pos, _ = sample_masked_positions(maskable, spans, rng, word_start)
    inputs = tokens.copy()
    inputs[masked_pos] = corrupt(
        tokens[masked_pos], vocab.mask_idx, vocab.random_low, vocab.random_high,
        random_token_prob, leave_unmasked_prob, rng,
    )
    target = np.full_like(tokens, vocab.pad_idx)
    target[masked_pos] = tokens[masked_pos]
    n = len(tokens)
    return PackedExample(
        tokens=inputs, positions=np.arange(n), kind=np.full(n, roles.CONTEXT), step=np.full(n, -1), target=target
    )
