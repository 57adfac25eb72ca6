"""Packing one PMLM example (Bao et al. 2020, Fig. 2/3).

Layout for ``x1..x6`` with spans {4,5} then {2} in factorization order::

    x1 [M] x3 [M] [M] x6 | [P] [P] x4 x5 | [P] x2
    positions: 1 2 3 4 5 6 | 4 5 4 5 | 2 2

The corrupted text keeps its length; for every factorization step we append that step's
``[P]`` pseudo masks followed by its original tokens, all reusing the original position ids.
``kind``/``step`` describe each token's role for the attention rule (see ``attention.py``).

What the [M] slots may hold (the PAR term must not see its answers): every [P] attends to every
[M] slot (context and [M] form one block, ``attention.py``), so a [P] of step k sees the [M]
slots of its own step and of every later one. The paper's PAR term,
-log p(x_{M_k} | x_{\\M}, x_{M_<k}), conditions on every masked token hidden, so:

* kept tokens (BERT's 10%, ``--leave-unmasked-prob``) are chosen for prediction but are not
  masked: they stay in their slot, the autoencoding loss predicts them there as BERT does, and
  they join no factorization step (no [P], no appended original). They are part of x_{\\M},
  visible to every token, so no [P] reads an answer. They matter at small scale: without them a
  tiny model predicts masked tokens from unigram frequency alone for hundreds of updates
  (docs/pretraining.md, measured);
* random tokens (default 10%) stay masked: they hide the answer. A uniform draw equals the
  original with probability 1/V, a kept token by chance, so PMLM draws from the other V-1
  ordinary tokens (``corrupt(random_differs=True)``): no [M] slot of a masked token holds its
  answer. (What that tells the model, "not this token", is log2(V/(V-1)) bits, 5e-5 at
  V = 30k.)
"""
from typing import Optional

import numpy as np

from . import roles
from .corruption import corrupt
from .example import MaskingVocab, PackedExample
from .spans import SpanConfig, sample_masked_positions


def build_pmlm_example(
    tokens: np.ndarray,
    maskable: np.ndarray,
    vocab: MaskingVocab,
    spans: SpanConfig,
    random_token_prob: float,
    leave_unmasked_prob: float,
    rng: np.random.Generator,
    word_start: Optional[np.ndarray] = None,
) -> PackedExample:
    """Sample spans and an order for ``tokens`` (1-D ids), corrupt them and pack the input.

    ``maskable`` marks the tokens that may be masked (not ``<s>``/``</s>``). A ``leave_unmasked_prob``
    fraction of the chosen tokens is kept: predicted in place by the autoencoding loss only, in
    no factorization step (module docstring). ``word_start`` (bool per token) makes the spans
    whole words (``spans.sample_masked_positions``).
    """
    chosen, step_of = sample_masked_positions(maskable, spans, rng, word_start)
    context = tokens.copy()
    context[chosen] = corrupt(
        tokens[chosen], vocab.mask_idx, vocab.random_low, vocab.random_high,
        random_token_prob, leave_unmasked_prob, rng, random_differs=True,
    )
    # random_differs: a random slot never equals its original, so equality means kept
    kept = context[chosen] == tokens[chosen]
    packed = pack_pmlm(tokens, context, chosen[~kept], step_of[~kept], vocab.pseudo_idx, vocab.pad_idx)
    packed.target[chosen[kept]] = tokens[chosen[kept]]  # autoencoding on kept tokens, as BERT
    return packed


def pack_pmlm(
    tokens: np.ndarray,
    context: np.ndarray,
    masked_pos: np.ndarray,
    step_of: np.ndarray,
    pseudo_idx: int,
    pad_idx: int,
) -> PackedExample:
    """Pack original ``tokens`` and their corrupted copy ``context``.

    ``masked_pos`` lists the masked positions grouped by factorization step in order, left to
    right within a step; ``step_of`` gives each one's step, non-decreasing (0, 0, 1, ...; a
    step number may be missing where every token of a span was kept).
    """
    n, total = len(tokens), len(masked_pos)
    # Per step: its [P]s, then its originals, each in text order.
    app_pos = np.empty(2 * total, dtype=np.int64)
    app_kind = np.empty(2 * total, dtype=np.int64)
    app_step = np.repeat(step_of, 2)
    step_start = np.searchsorted(step_of, step_of)  # first index of each token's step
    step_len = np.bincount(step_of, minlength=1)[step_of] if total else step_of
    offset = np.arange(total) - step_start  # rank within the step
    slot_pseudo = 2 * step_start + offset
    app_pos[slot_pseudo] = masked_pos
    app_pos[slot_pseudo + step_len] = masked_pos
    app_kind[slot_pseudo] = roles.PSEUDO
    app_kind[slot_pseudo + step_len] = roles.ORIGINAL
    app_tokens = np.where(app_kind == roles.PSEUDO, pseudo_idx, tokens[app_pos])

    target = np.full(n + 2 * total, pad_idx, dtype=tokens.dtype)
    target[masked_pos] = tokens[masked_pos]  # autoencoding on [M]
    target[n + slot_pseudo] = tokens[masked_pos]  # partially autoregressive on [P]

    return PackedExample(
        tokens=np.concatenate([context, app_tokens]).astype(tokens.dtype),
        positions=np.concatenate([np.arange(n), app_pos]),
        kind=np.concatenate([np.full(n, roles.CONTEXT), app_kind]),
        step=np.concatenate([np.full(n, -1), app_step]),
        target=target,
    )
