"""BERT-style corruption of the tokens chosen for prediction (80% [M], 10% random, 10% kept)."""
import numpy as np


def corrupt(
    tokens: np.ndarray,
    mask_idx: int,
    random_low: int,
    random_high: int,
    random_token_prob: float,
    leave_unmasked_prob: float,
    rng: np.random.Generator,
    *,
    random_differs: bool = False,
) -> np.ndarray:
    """Return corrupted copies of ``tokens`` (1-D ids): each becomes ``mask_idx`` with probability
    1 - random_token_prob - leave_unmasked_prob, a random token with ``random_token_prob``, or
    stays itself with ``leave_unmasked_prob``.

    Random replacements are drawn uniformly from the ordinary vocabulary, ids
    ``random_low .. random_high-1`` (no special symbol, no [M]/[P], no fairseq-preprocess
    ``madeupword`` filler). A uniform draw equals the original with probability 1/V, i.e. it is a
    kept token by chance; ``random_differs=True`` draws from the other V-1 ordinary tokens
    instead, so that a random slot never holds its answer (PMLM's PAR loss sees [M] slots;
    ``masking/pmlm.py``). Raises ValueError if the range has no token to draw.
    """
    u = rng.random(len(tokens))
    out = np.full_like(tokens, mask_idx)
    rand = u < random_token_prob
    keep = (u >= random_token_prob) & (u < random_token_prob + leave_unmasked_prob)
    n_rand = int(rand.sum())
    if n_rand:
        if random_high - random_low < 1 + int(random_differs):
            raise ValueError(
                f"random replacement needs {1 + int(random_differs)} ordinary token(s) in ids "
                f"[{random_low}, {random_high}): the dictionary is too small; use --random-token-prob 0"
            )
        if random_differs:
            original = tokens[rand]
            in_range = (original >= random_low) & (original < random_high)
            # Draw from V-1 values and skip over the original (uniform over the others).
            drawn = rng.integers(random_low, random_high - in_range.astype(np.int64))
            out[rand] = drawn + (in_range & (drawn >= original))
        else:
            out[rand] = rng.integers(random_low, random_high, size=n_rand)
    out[keep] = tokens[keep]
    return out
