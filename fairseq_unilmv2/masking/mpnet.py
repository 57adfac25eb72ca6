"""MPNet's masked and permuted packing (Song et al. 2020, arXiv 2004.09297, §2.2-2.3), one
Transformer with two-stream attention expressed as a mask (``attention.mpnet_attention_mask``).

The official code (microsoft/MPNet, ``masked_permutation_lm.py``) permutes
the sequence and predicts its last 15%. Only two things of the permutation matter to the
attention: which tokens are predicted and their order. So we keep the text in place and append::

    text (predicted tokens as ORIGINAL, step i) | [M] content copies, step 0..k-1 | [M] query copies

Both copies carry the positions of the predicted tokens (position compensation: every token sees
the positions of the whole sentence). As in the official code, one corrupted copy (80/10/10)
feeds both streams. Unlike it, we permute each sequence's real length (not the padded batch
length), pads are never attended to, and sampling is seeded per example (the official collater's
permutation is unseeded and covers padding).
The predicted set comes from the shared span sampler (``--ngram-prob 0``: single tokens, MPNet's
token mode); the prediction order is a uniform permutation of the predicted tokens, which is how
the official whole-word mode orders them too (it re-shuffles the predicted part token by token).
With ``word_start`` (``--mask-whole-words``) the predicted set is whole words, and the order is
still one over tokens, as in that official mode.

Kept tokens (``--leave-unmasked-prob``, default 0.1 as the official ``--keep-prob``) are visible
here as in PMLM (``masking/pmlm.py``): the query of step i reads its own copy and the [M] content
copies of steps >= i, so a kept token is its own query's answer (BERT's 10% unchanged, which is
what the official code trains on) and a true token of a later step for earlier queries. We keep
the official 80/10/10 for MPNet; ``--leave-unmasked-prob 0`` removes both (but for a random
draw that hits the original, probability 1/V, as in BERT and the official code).
"""
from typing import Optional

import numpy as np

from . import roles
from .corruption import corrupt
from .example import MaskingVocab, PackedExample
from .spans import SpanConfig, sample_masked_positions


def build_mpnet_example(
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
    predicted = masked_pos[rng.permutation(len(masked_pos))]  # in prediction order
    return pack_mpnet(tokens, predicted, corrupt(
        tokens[predicted], vocab.mask_idx, vocab.random_low, vocab.random_high,
        random_token_prob, leave_unmasked_prob, rng,
    ), vocab.pad_idx)


def pack_mpnet(tokens: np.ndarray, predicted: np.ndarray, masks: np.ndarray, pad_idx: int) -> PackedExample:
    """``predicted``: text positions in prediction order; ``masks``: their corrupted copies."""
    n, k = len(tokens), len(predicted)
    order = np.arange(k)
    text_kind = np.full(n, roles.CONTEXT)
    text_kind[predicted] = roles.ORIGINAL
    text_step = np.full(n, -1)
    text_step[predicted] = order
    target = np.full(n + 2 * k, pad_idx, dtype=tokens.dtype)
    target[n + k :] = tokens[predicted]  # the query stream predicts
    return PackedExample(
        tokens=np.concatenate([tokens, masks, masks]).astype(tokens.dtype),
        positions=np.concatenate([np.arange(n), predicted, predicted]),
        kind=np.concatenate([text_kind, np.full(k, roles.MASK), np.full(k, roles.QUERY)]),
        step=np.concatenate([text_step, order, order]),
        target=target,
    )
