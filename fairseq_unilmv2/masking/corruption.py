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
) -> np.ndarray:
    """Return corrupted copies of ``tokens``. Random replacements are drawn uniformly from the
    ordinary vocabulary, ids ``random_low .. random_high-1`` (no special symbols)."""
    u = rng.random(len(tokens))
    out = np.full_like(tokens, mask_idx)
    rand = u < random_token_prob
    keep = (u >= random_token_prob) & (u < random_token_prob + leave_unmasked_prob)
    out[rand] = rng.integers(random_low, random_high, size=int(rand.sum()))
    out[keep] = tokens[keep]
    return out
