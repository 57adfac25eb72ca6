import torch

from fairseq_unilmv2.modules.relative_position import relative_position_bucket


def test_buckets_exact_near_log_far_and_direction_aware():
    rel = torch.arange(-300, 301)
    b = relative_position_bucket(rel, num_buckets=32, max_distance=128)
    assert b.min() == 0 and b.max() == 31
    # exact for |d| < 8, keys after the query in the upper half
    for d in range(8):
        assert b[300 - d] == d
        assert b[300 + d] == (16 + d if d > 0 else 0)
    # monotone in distance on each side, saturating at max_distance
    left, right = b[:301].flip(0), b[300:]
    assert torch.all(left[1:] >= left[:-1]) and torch.all(right[1:] >= right[:-1])
    assert b[300 + 128] == b[300 + 300] == 31 and b[300 - 128] == b[0] == 15
