import numpy as np
import pytest

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.pmlm import pack_pmlm
from fairseq_unilmv2.masking.spans import SpanConfig, sample_spans

from .helpers import BOS, EOS, VOCAB, pmlm_example, random_text


@pytest.mark.parametrize("n", [1, 2, 7, 50, 511])
def test_spans_are_disjoint_in_range_and_sized_by_mask_prob(n):
    cfg = SpanConfig()
    for seed in range(50):
        starts, lengths = sample_spans(n, cfg, np.random.default_rng(seed))
        covered = np.concatenate([np.arange(s, s + l) for s, l in zip(starts, lengths)] or [[]])
        assert len(set(covered.tolist())) == len(covered), "spans overlap"
        assert covered.size == 0 or (covered.min() >= 0 and covered.max() < n)
        assert int(0.15 * n) <= covered.size <= int(0.15 * n) + 1
        assert np.all((lengths >= 1) & (lengths <= 6))


def test_span_length_distribution_matches_the_defaults():
    lengths = np.concatenate(
        [sample_spans(500, SpanConfig(), np.random.default_rng(s))[1] for s in range(200)]
    )
    inner = lengths[:-1]  # the last span of each example can be cut short; the bias is tiny
    ngram_fraction = np.mean(inner >= 2)
    assert 0.35 < ngram_fraction < 0.45
    assert set(np.unique(inner[inner >= 2]).tolist()) == {2, 3, 4, 5, 6}


def test_paper_figure_layout():
    """x1..x6 with spans {x4,x5} then {x2} (Bao et al. 2020, Fig. 2)."""
    x = np.array([11, 12, 13, 14, 15, 16])
    M, P = VOCAB.mask_idx, VOCAB.pseudo_idx
    context = np.array([11, M, 13, M, M, 16])
    ex = pack_pmlm(x, context, masked_pos=np.array([3, 4, 1]), step_of=np.array([0, 0, 1]),
                   pseudo_idx=P, pad_idx=1)
    assert ex.tokens.tolist() == [11, M, 13, M, M, 16, P, P, 14, 15, P, 12]
    assert ex.positions.tolist() == [0, 1, 2, 3, 4, 5, 3, 4, 3, 4, 1, 1]
    C, Ps, O = roles.CONTEXT, roles.PSEUDO, roles.ORIGINAL
    assert ex.kind.tolist() == [C] * 6 + [Ps, Ps, O, O, Ps, O]
    assert ex.step.tolist() == [-1] * 6 + [0, 0, 0, 0, 1, 1]
    assert ex.target.tolist() == [1, 12, 1, 14, 15, 1, 14, 15, 1, 1, 12, 1]


def test_sampled_examples_are_consistent():
    for seed in range(30):
        x = random_text(40, seed)
        ex = pmlm_example(x, seed)
        n = len(x)
        app = slice(n, None)
        pseudo = ex.kind == roles.PSEUDO
        original = ex.kind == roles.ORIGINAL
        # appended tokens reuse the position of the token they stand for
        assert np.all(ex.tokens[original] == x[ex.positions[original]])
        assert np.all(ex.target[pseudo] == x[ex.positions[pseudo]])
        assert np.all(ex.tokens[pseudo] == VOCAB.pseudo_idx)
        # one [M] (context prediction) and one [P] per masked token; a kept token is predicted in
        # its own slot only; specials never chosen
        chosen = ex.target[:n] != VOCAB.pad_idx
        kept = chosen & (ex.tokens[:n] == x)
        masked = np.flatnonzero(chosen & ~kept)
        assert sorted(ex.positions[pseudo].tolist()) == masked.tolist()
        assert not np.isin(ex.positions[n:], np.flatnonzero(kept)).any()
        assert BOS not in x[chosen] and EOS not in x[chosen]
        # steps in factorization order; within a step its [P]s come before its originals
        steps = ex.step[app]
        assert np.all(np.diff(steps) >= 0)
        for s in np.unique(steps):
            kinds = ex.kind[app][steps == s]
            assert kinds.tolist() == sorted(kinds.tolist())


def test_corruption_rates():
    x = np.concatenate([[BOS], np.full(20000, 7), [EOS]])
    ex = pmlm_example(x, seed=0, mask_prob=0.5)
    masked = ex.target[: len(x)] != VOCAB.pad_idx
    corrupted = ex.tokens[: len(x)][masked]
    assert abs(np.mean(corrupted == VOCAB.mask_idx) - 0.8) < 0.02
    assert abs(np.mean(corrupted == 7) - 0.1) < 0.02  # kept only: PMLM's random draw is never the original
    assert np.all((corrupted == VOCAB.mask_idx) | ((corrupted >= 4) & (corrupted < 44)))


def test_empty_and_one_token_inputs():
    for x in (np.array([BOS, EOS]), np.array([BOS, 9, EOS])):
        for seed in range(10):
            ex = pmlm_example(x, seed, mask_prob=0.15)
            assert len(ex.tokens) == len(ex.positions) == len(ex.kind) == len(ex.target)
            assert len(ex.tokens) in (len(x), len(x) + 2)


def test_mlm_corrupts_in_place_and_predicts_only_the_chosen_tokens():
    from fairseq_unilmv2.masking.mlm import build_mlm_example

    tokens = random_text(2000, 0)
    maskable = (tokens != BOS) & (tokens != EOS)
    ex = build_mlm_example(tokens, maskable, VOCAB, SpanConfig(ngram_prob=0.0), 0.1, 0.1, np.random.default_rng(0))
    chosen = ex.target != VOCAB.pad_idx
    assert len(ex.tokens) == len(tokens) and (ex.kind == roles.CONTEXT).all()
    assert int(0.15 * 1998) <= chosen.sum() <= int(0.15 * 1998) + 1 and not chosen[[0, -1]].any()
    assert np.array_equal(ex.target[chosen], tokens[chosen]) and np.array_equal(ex.tokens[~chosen], tokens[~chosen])
    masked = np.mean(ex.tokens[chosen] == VOCAB.mask_idx)
    kept = np.mean(ex.tokens[chosen] == tokens[chosen])
    assert 0.74 < masked < 0.86 and 0.06 < kept < 0.16  # 80/10/10 (a random draw can hit the original)
