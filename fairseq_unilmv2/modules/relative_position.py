"""T5/UniLMv2-style bucketed relative position bias, one table shared by all layers.

Buckets are computed from position *ids* (not indices), so appended [P]/original tokens that
reuse a position id are at distance 0 from their [M] (s2s-ft ``relative_position_bucket``).
"""
import math

import torch
import torch.nn as nn


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
    def __init__(self, num_buckets: int, max_distance: int, num_heads: int):
        super().__init__()
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.table = nn.Embedding(num_buckets, num_heads)

    def forward(self, query_positions: torch.Tensor, key_positions: torch.Tensor) -> torch.Tensor:
        """(B, Lq), (B, Lk) position ids -> (B, H, Lq, Lk) additive bias."""
        rel = key_positions.unsqueeze(1) - query_positions.unsqueeze(2)
        buckets = relative_position_bucket(rel, self.num_buckets, self.max_distance)
        return self.table(buckets).permute(0, 3, 1, 2)
