"""PMLM's one-pass losses equal their step-by-step definitions.

L_PAR = -sum_k log p(x_{M_k} | x_{\\M}, x_{M_<k}): for every factorization step k we run a
separate forward over only what step k may see (context with [M], originals of earlier steps,
the [P]s of step k), then compare with the [P] predictions of the single packed pass.
L_AE = -log p(x_M | x_{\\M}): a forward over the corrupted text alone.
"""
import numpy as np
import torch
import torch.nn.functional as F

from fairseq_unilmv2.masking import roles
from fairseq_unilmv2.masking.attention import role_attention_mask

from .helpers import multi_step_example, tiny_transformer


def _nll(model, ex, keep):
    t = lambda a: torch.from_numpy(np.asarray(a)[keep]).unsqueeze(0)  # noqa: E731
    tokens, positions, kind, step, target = map(t, (ex.tokens, ex.positions, ex.kind, ex.step, ex.target))
    hidden = model(tokens, positions, role_attention_mask(kind, step))
    logits = model.lm_head(hidden)[0]
    nll = F.cross_entropy(logits, target[0], reduction="none")
    return nll, kind[0]


def test_one_pass_par_and_ae_losses_equal_step_by_step():
    model = tiny_transformer(seed=1)
    for seed in range(5):
        ex = multi_step_example(48, seed=10 * seed)
        n = int((ex.kind == roles.CONTEXT).sum())
        everything = np.ones(len(ex.tokens), dtype=bool)
        nll, kind = _nll(model, ex, everything)
        one_pass_par = nll[kind == roles.PSEUDO].sum()
        one_pass_ae = nll[(kind == roles.CONTEXT) & torch.from_numpy(ex.target != 1)].sum()

        steps = np.unique(ex.step[ex.kind == roles.PSEUDO])
        assert len(steps) >= 3
        by_step = 0.0
        for k in steps:
            keep = (ex.kind == roles.CONTEXT) | ((ex.kind == roles.ORIGINAL) & (ex.step < k)) | (
                (ex.kind == roles.PSEUDO) & (ex.step == k)
            )
            nll_k, kind_k = _nll(model, ex, keep)
            by_step = by_step + nll_k[kind_k == roles.PSEUDO].sum()
        assert abs(one_pass_par.item() - by_step.item()) <= 1e-5

        context_only = np.arange(len(ex.tokens)) < n
        nll_c, _ = _nll(model, ex, context_only)
        assert abs(one_pass_ae.item() - nll_c[torch.from_numpy(ex.target[:n] != 1)].sum().item()) <= 1e-5


def test_step_by_step_differs_if_positions_were_indices():
    """Sanity: the comparison is sensitive to position ids (the appended tokens must reuse them)."""
    model = tiny_transformer(seed=1)
    ex = multi_step_example(48, seed=0)
    nll, kind = _nll(model, ex, np.ones(len(ex.tokens), dtype=bool))
    shifted = type(ex)(ex.tokens, np.arange(len(ex.tokens)), ex.kind, ex.step, ex.target)
    nll_shifted, _ = _nll(model, shifted, np.ones(len(ex.tokens), dtype=bool))
    assert (nll[kind == roles.PSEUDO] - nll_shifted[kind == roles.PSEUDO]).abs().max() > 1e-3
