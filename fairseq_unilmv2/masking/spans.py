"""Blockwise span sampling and factorization order for PMLM (Bao et al. 2020, §3.3).

Our defaults (our reading of the paper's §3.3; its pre-training code is not public, so unverified): mask 15% of the
maskable tokens; each span is an n-gram with n ~ U{2..6} 40% of the time and a single token
60% of the time; spans do not overlap; the factorization order is a uniformly random
permutation of the spans (each span is one step, predicted jointly). Every objective chooses its
tokens here (``sample_masked_positions``); MLM, MPNet and MAE-LM default to single tokens.

Whole words (``--mask-whole-words``, ``sample_word_spans``): span lengths are counted in words
(n ~ U{2..6} words, or one word) and every span covers whole words; the budget stays a fraction
of the tokens, as the paper counts it (spans are drawn until |M| >= 0.15 |x|, x in subword
tokens). Words are drawn as SpanBERT draws them (Joshi et al. 2020, §3.1: lengths in complete
words, the budget in tokens): one span at a time, uniformly among the places where it fits,
the last one cut to the fewest words that reach the budget.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class SpanConfig:
    mask_prob: float = 0.15
    ngram_prob: float = 0.4
    min_ngram: int = 2
    max_ngram: int = 6


def num_to_mask(num_candidates: int, mask_prob: float, rng: np.random.Generator) -> int:
    """Probabilistic rounding of mask_prob * n (as fairseq's MaskTokensDataset), so short
    sequences are masked at the right rate on average."""
    if num_candidates == 0:
        return 0
    return min(num_candidates, int(mask_prob * num_candidates + rng.random()))


def sample_span_lengths(total: int, cfg: SpanConfig, rng: np.random.Generator) -> np.ndarray:
    """Span lengths summing exactly to ``total`` (the last span is cut to fit)."""
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    is_ngram = rng.random(total) < cfg.ngram_prob
    ngram = rng.integers(cfg.min_ngram, cfg.max_ngram + 1, size=total)
    lengths = np.where(is_ngram, ngram, 1)
    ends = np.cumsum(lengths)
    k = int(np.searchsorted(ends, total)) + 1  # first span count whose lengths reach total
    lengths = lengths[:k].copy()
    lengths[-1] -= ends[k - 1] - total
    return lengths


def place_spans(num_candidates: int, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform non-overlapping placement of spans with the given lengths (in that order along
    the sequence) among ``num_candidates`` slots, by stars and bars: choose which K of the
    ``num_candidates - sum(lengths) + K`` items are spans. Returns span start offsets."""
    k = len(lengths)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    free = num_candidates - int(lengths.sum())
    assert free >= 0, "spans longer than the sequence"
    slots = np.sort(rng.choice(free + k, size=k, replace=False))
    before = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return slots - np.arange(k) + before


def sample_spans(num_candidates: int, cfg: SpanConfig, rng: np.random.Generator):
    """Spans over candidate indices ``0..num_candidates-1``, listed in factorization order.

    Returns ``(starts, lengths)``: span i of the factorization covers candidate indices
    ``starts[i] .. starts[i] + lengths[i] - 1``.
    """
    total = num_to_mask(num_candidates, cfg.mask_prob, rng)
    lengths = sample_span_lengths(total, cfg, rng)
    lengths = lengths[rng.permutation(len(lengths))]  # which lengths go where along the text
    starts = place_spans(num_candidates, lengths, rng)
    order = rng.permutation(len(lengths))  # factorization order over the spans
    return starts[order], lengths[order]


def sample_word_spans(word_sizes: np.ndarray, cfg: SpanConfig, rng: np.random.Generator):
    """Whole-word spans over words ``0..W-1`` with ``word_sizes[w]`` subword tokens each.

    The budget is ``num_to_mask(sum(word_sizes))`` tokens. Until it is reached, a span of n words
    (n ~ U{min_ngram..max_ngram} with probability ``ngram_prob``, else 1; shortened to the longest
    run of free words when it fits nowhere) is placed uniformly among the free places where it
    fits; the last span is cut to the fewest of its words that reach the budget, so the masked
    token count is the budget plus less than one word. Returns ``(starts, lengths)`` in words,
    in a uniformly random factorization order.
    """
    n = len(word_sizes)
    budget = num_to_mask(int(np.sum(word_sizes)), cfg.mask_prob, rng)
    free = np.ones(n, dtype=bool)
    starts, lengths, masked = [], [], 0
    while masked < budget:  # every span masks >= 1 token, and budget <= all tokens
        want = int(rng.integers(cfg.min_ngram, cfg.max_ngram + 1)) if rng.random() < cfg.ngram_prob else 1
        free_before = np.concatenate([[0], np.cumsum(free)])
        for length in range(min(want, n), 0, -1):
            fits = np.flatnonzero(free_before[length:] - free_before[:-length] == length)
            if len(fits):
                break
        start = int(fits[rng.integers(len(fits))])
        sizes = np.cumsum(word_sizes[start : start + length])
        length = min(length, int(np.searchsorted(sizes, budget - masked)) + 1)
        free[start : start + length] = False
        starts.append(start)
        lengths.append(length)
        masked += int(sizes[length - 1])
    order = rng.permutation(len(starts))
    return np.asarray(starts, dtype=np.int64)[order], np.asarray(lengths, dtype=np.int64)[order]


def sample_masked_positions(
    maskable: np.ndarray, cfg: SpanConfig, rng: np.random.Generator, word_start: Optional[np.ndarray] = None
):
    """The masking step every objective shares: spans over the ``maskable`` tokens (bool, 1-D).

    Returns ``(masked_pos, step_of)``: positions in the sequence grouped by span in factorization
    order (left to right within a span) and each one's span index (0, 0, 1, ...). Spans are
    contiguous over the maskable tokens, so a span may step over a special symbol between them,
    which is then left in place.

    ``word_start`` (bool, 1-D, like ``maskable``; ``words.word_start_table`` indexed by the
    tokens) switches to whole-word spans (``sample_word_spans``). A word is a maskable token that
    starts one, or follows a token that is not maskable, with the maskable continuations after
    it; a block that opens mid-word thus opens with that word's tail as a word of its own.
    """
    candidates = np.flatnonzero(maskable)
    if word_start is None:
        starts, lengths = sample_spans(len(candidates), cfg, rng)
    else:
        begins = word_start[candidates] | (np.diff(candidates, prepend=-2) != 1)
        first = np.flatnonzero(begins)  # candidate index of each word's first token
        before = np.append(first, len(candidates))  # tokens before word w: before[w]
        word_starts, word_lengths = sample_word_spans(np.diff(before), cfg, rng)
        starts = before[word_starts]
        lengths = before[word_starts + word_lengths] - starts
    step_of = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(step_of.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return candidates[np.repeat(starts, lengths) + within], step_of
