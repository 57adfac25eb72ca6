"""MPNet on the one Transformer: the two-stream rule as a mask, position compensation, and no
leakage of a predicted token's content into its own or earlier predictions (by gradients)."""
import numpy as np
import torch

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.attention import mpnet_attention_mask
from fairseq_unilmv2.masking.mpnet import build_mpnet_example, pack_mpnet
from fairseq_unilmv2.masking.spans import SpanConfig

from .helpers import BOS, EOS, PAD, VOCAB, batch_examples, input_dependency, random_text, tiny_transformer


def mpnet_example(length, seed, mask_prob=0.3):
    tokens = random_text(length, seed)
    maskable = (tokens != BOS) & (tokens != EOS)
    return build_mpnet_example(tokens, maskable, VOCAB, SpanConfig(mask_prob, ngram_prob=0.0), 0.1, 0.1,
                               np.random.default_rng(seed))


def test_rule_on_a_small_example():
    # text x0..x4, predicted x3 then x1: x0 x1 x2 x3 x4 | Mc3 Mc1 | Q3 Q1
    ex = pack_mpnet(np.arange(10, 15), predicted=np.array([3, 1]), masks=np.array([44, 44]), pad_idx=PAD)
    assert ex.positions.tolist() == [0, 1, 2, 3, 4, 3, 1, 3, 1]
    assert ex.target.tolist() == [PAD] * 7 + [13, 11]
    allowed = mpnet_attention_mask(torch.from_numpy(ex.kind)[None], torch.from_numpy(ex.step)[None])[0].int()
    #            x0 x1 x2 x3 x4 Mc3 Mc1 Q3 Q1   (x3 = predicted step 0, x1 = step 1)
    expected = [[1, 0, 1, 0, 1, 1, 1, 0, 0],  # x0: non-predicted + every [M] (position compensation)
                [1, 1, 1, 1, 1, 0, 0, 0, 0],  # x1 (step 1): predicted of steps <= 1, [M] of steps > 1
                [1, 0, 1, 0, 1, 1, 1, 0, 0],  # x2
                [1, 0, 1, 1, 1, 0, 1, 0, 0],  # x3 (step 0): itself, [M] of step 1
                [1, 0, 1, 0, 1, 1, 1, 0, 0],  # x4
                [1, 0, 1, 0, 1, 1, 1, 0, 0],  # Mc3: like non-predicted
                [1, 0, 1, 0, 1, 1, 1, 0, 0],  # Mc1
                [1, 0, 1, 0, 1, 1, 1, 0, 0],  # Q3 (step 0): no predicted content, [M] of steps >= 0
                [1, 0, 1, 1, 1, 0, 1, 0, 0]]  # Q1 (step 1): x3 (step 0), [M] of steps >= 1
    assert allowed.tolist() == expected


def test_position_compensation_every_query_sees_every_position():
    ex = mpnet_example(40, seed=3)
    k = int((ex.kind == roles.QUERY).sum())
    n = len(ex.tokens) - 2 * k  # the text
    assert k >= 5 and n == 40
    assert sorted(ex.positions[n : n + k]) == sorted(np.flatnonzero(ex.kind[:n] == roles.ORIGINAL))
    allowed = mpnet_attention_mask(torch.from_numpy(ex.kind)[None], torch.from_numpy(ex.step)[None])[0]
    for q in np.flatnonzero((ex.kind == roles.QUERY) | (ex.kind == roles.CONTEXT)):
        seen = set(ex.positions[allowed[q].numpy()].tolist())
        assert seen == set(range(n)), f"token {q} ({ex.kind[q]}) misses positions {set(range(n)) - seen}"


def test_query_stream_never_sees_its_own_or_later_content_by_gradients():
    examples = [mpnet_example(36, seed=1), mpnet_example(24, seed=2)]
    tokens, positions, kind, step = batch_examples(examples)
    allowed = mpnet_attention_mask(kind, step)
    model = tiny_transformer()
    dep = input_dependency(model, tokens, positions, allowed)
    for b in range(len(examples)):
        valid = kind[b] != roles.PAD
        k, s, d = kind[b][valid], step[b][valid], dep[b][valid][:, valid]
        content = k == roles.ORIGINAL
        assert (k == roles.QUERY).sum() >= 3
        for q in torch.nonzero(k == roles.QUERY).flatten():
            i = s[q]
            assert not d[q][content & (s >= i)].any(), "query sees its own or a later predicted token"
            assert d[q][content & (s < i)].all(), "query misses an earlier predicted token"
            assert d[q][k == roles.CONTEXT].all()
        # no output depends on a query-stream input: the query stream never feeds the content stream
        assert not d[:, k == roles.QUERY][~torch.eye(len(k), dtype=torch.bool)[:, k == roles.QUERY]].any()
        # over two layers, the dependency is exactly two hops of the rule (with the residual path)
        a = allowed[b][valid][:, valid] | torch.eye(len(k), dtype=torch.bool)
        two_hops = (a.int() @ a.int()) > 0
        assert torch.equal(d | torch.eye(len(k), dtype=torch.bool), two_hops)


def test_leak_is_detected_when_the_rule_is_broken():
    ex = mpnet_example(30, seed=4)
    tokens, positions, kind, step = batch_examples([ex])
    allowed = mpnet_attention_mask(kind, step)
    q = int(torch.nonzero(kind[0] == roles.QUERY)[0])
    own = int(torch.nonzero((kind[0] == roles.ORIGINAL) & (step[0] == step[0, q]))[0])
    allowed[0, q, own] = True  # the query now sees its own content
    assert input_dependency(tiny_transformer(), tokens, positions, allowed)[0, q, own]


def test_seeded_and_one_corrupted_copy_feeds_both_streams():
    a, b = mpnet_example(50, seed=5), mpnet_example(50, seed=5)
    for field in ("tokens", "positions", "kind", "step", "target"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    k = int((a.kind == roles.QUERY).sum())
    assert np.array_equal(a.tokens[-2 * k : -k], a.tokens[-k:])
    # the prediction order is a random permutation, not text order
    assert not np.array_equal(a.positions[-k:], np.sort(a.positions[-k:]))
