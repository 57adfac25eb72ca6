"""T5/UniLMv2-style bucketed relative position bias, one table shared by all layers.

Buckets are computed from position *ids* (not indices), so appended [P]/original tokens that
reuse a position id are at distance 0 from their [M] (s2s-ft ``relative_position_bucket``).
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


def relative_position_bucket(
    relative_position: torch.Tensor, num_buckets: int = 32, max_distance: int = 128
) -> torch.Tensor:
    """Bidirectional buckets of ``key_pos - query_pos``: half the buckets for keys after the
    query; exact buckets below ``num_buckets // 4``, log-spaced up to ``max_distance``."""
    half = num_buckets // 2
    bucket = (relative_position > 0).long() * half
    n = relative_position.abs()
    max_exact = half // 2
    log_ratio = torch.log(n.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (half - max_exact)).long()
    large = large.clamp(max=half - 1)
    return bucket + torch.where(n < max_exact, n, large)


class RelativePositionBias(nn.Module):
    """``max_positions`` (the position table's size) lets the buckets of every possible distance
    ``-(max_positions - 1) .. max_positions - 1`` be computed once, at construction: a forward
    then looks them up (one gather over B x Lq x Lk) instead of running the log-spaced bucket
    formula (about ten elementwise passes) on every pair again. Same buckets either way."""

    def __init__(self, num_buckets: int, max_distance: int, num_heads: int, max_positions: Optional[int] = None):
        super().__init__()
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.table = nn.Embedding(num_buckets, num_heads)
        self.max_positions = max_positions
        if max_positions is not None:
            distances = torch.arange(-(max_positions - 1), max_positions)
            # not in the state dict: derived from the config, and old checkpoints lack it
            self.register_buffer("bucket_of_distance", relative_position_bucket(distances, num_buckets, max_distance),
                                 persistent=False)

    def buckets(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """(B, Lq), (B, Lk) position ids -> (B, Lq, Lk) bucket ids (long)."""
        rel = key_positions.unsqueeze(1) - query_positions.unsqueeze(2)
        if self.max_positions is None:
            return relative_position_bucket(rel, self.num_buckets, self.max_distance)
        return self.bucket_of_distance[rel + (self.max_positions - 1)]

    def bias_last_dim_heads(self, query_positions, key_positions, dtype: Optional[torch.dtype] = None):
        """(B, Lq, Lk, H) bias in ``dtype`` (default: the table's); the table (buckets x heads,
        tiny) is cast, not the (B, Lq, Lk, H) result."""
        weight = self.table.weight if dtype is None else self.table.weight.to(dtype)
        return F.embedding(self.buckets(query_positions, key_positions), weight)

    def forward(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """(B, Lq), (B, Lk) position ids -> (B, H, Lq, Lk) additive bias (a permuted view)."""
        return self.bias_last_dim_heads(query_positions, key_positions).permute(0, 3, 1, 2)
