"""What every objective's packing function returns, and the vocabulary facts it needs."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MaskingVocab:
    mask_idx: int  # [M] / [MASK]
    pseudo_idx: int  # [P] (PMLM only)
    pad_idx: int
    random_low: int  # ordinary tokens for random replacement: [random_low, random_high)
    random_high: int


@dataclass(frozen=True)
class PackedExample:
    """One example as the model reads it: equally long 1-D arrays."""

    tokens: np.ndarray  # input ids
    positions: np.ndarray  # position id of each token (appended tokens reuse their text position)
    kind: np.ndarray  # roles.* of each token, for the objective's attention rule
    step: np.ndarray  # prediction step of appended / predicted tokens; -1 elsewhere
    target: np.ndarray  # original id where a prediction is made, pad elsewhere
