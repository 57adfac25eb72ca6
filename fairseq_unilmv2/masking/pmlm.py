"""Packing one PMLM example (Bao et al. 2020, Fig. 2/3).

Layout for ``x1..x6`` with spans {4,5} then {2} in factorization order::

    x1 [M] x3 [M] [M] x6 | [P] [P] x4 x5 | [P] x2
    positions: 1 2 3 4 5 6 | 4 5 4 5 | 2 2

The corrupted text keeps its length; for every factorization step we append that step's
``[P]`` pseudo masks followed by its original tokens, all reusing the original position ids.
``kind``/``step`` describe each token's role for the attention rule (see ``attention.py``).

What the [M] slots may hold (the PAR term must not see its answers): every [P] attends to every
[M] slot (context and [M] form one block, ``attention.py``), so a [P] of step k sees the [M]
slots of its own step and of every later one. A token left unchanged there ("kept", BERT's 10%)
is the true token at the very position that [P] predicts (in the layout above, x2 kept gives
``x1 x2 x3 [M] [M] x6`` and the [P] at position 2 reads x2). The paper's PAR term,
-log p(x_{M_k} | x_{\\M}, x_{M_<k}), conditions on every masked token hidden, so:

* kept tokens: the task's default for pmlm is ``--leave-unmasked-prob 0``; asking for more is
  allowed (the AE term is BERT's) but the task warns that PAR then sees some answers;
* random tokens (default 10%) stay: they hide the answer. A uniform draw equals the original
  with probability 1/V, a kept token by chance, so PMLM draws from the other V-1 ordinary tokens
  (``corrupt(random_differs=True)``): no [M] slot then holds its answer unless kept tokens are
  asked for. (What that tells the model, "not this token", is log2(V/(V-1)) bits, 5e-5 at
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

    ``maskable`` marks the tokens that may be masked (not ``<s>``/``</s>``). With
    ``leave_unmasked_prob > 0`` the PAR predictions of a kept token's step and of every earlier
    step can read it (module docstring); the task defaults it to 0 for pmlm. ``word_start``
    (bool per token) makes the spans whole words (``spans.sample_masked_positions``).
    """
    masked_pos, step_of = sample_masked_positions(maskable, spans, rng, word_start)
    context = tokens.copy()
    context[masked_pos] = corrupt(
        tokens[masked_pos], vocab.mask_idx, vocab.random_low, vocab.random_high,
        random_token_prob, leave_unmasked_prob, rng, random_differs=True,
    )
    return pack_pmlm(tokens, context, masked_pos, step_of, vocab.pseudo_idx, vocab.pad_idx)


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
    right within a step; ``step_of`` gives each one's step (0, 0, 1, ...).
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
