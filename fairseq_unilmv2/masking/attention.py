"""Self-attention masks built from token roles (pure torch, vectorised, batched).

PMLM rule (Bao et al. 2020, §3.2 and Fig. 3, as tabulated in ../shared/SPEC.md §1; the paper's
code is not public, so this is our reading of the figure):

    query \\ key          context/[M]   [P] of step j     original of step j
    context / [M]         yes           no                no
    [P] of step k         yes           j == k            j < k
    original of step k    yes           no                j <= k

The same rule with one token per step is UniLM's seq2seq pseudo-mask attention (s2s-ft
``mask_way v2``): source = context, target t = original of step t, pseudo t = [P] of step t.
"""
import torch

from . import roles


def role_attention_mask(kind: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """``allowed[b, q, k]`` (bool, True = q may attend to k) from ``kind``/``step`` (B, L).

    Padding keys are never visible. A padding query sees only itself, so that softmax stays
    finite; its output is never used.
    """
    kq, kk = kind.unsqueeze(2), kind.unsqueeze(1)
    sq, sk = step.unsqueeze(2), step.unsqueeze(1)
    valid_q = kq != roles.PAD
    allowed = (kk == roles.CONTEXT) & valid_q
    allowed |= (kq == roles.PSEUDO) & (kk == roles.PSEUDO) & (sk == sq)
    allowed |= (kq == roles.PSEUDO) & (kk == roles.ORIGINAL) & (sk < sq)
    allowed |= (kq == roles.ORIGINAL) & (kk == roles.ORIGINAL) & (sk <= sq)
    pad_self = torch.eye(kind.size(1), dtype=torch.bool, device=kind.device) & ~valid_q
    return allowed | pad_self
