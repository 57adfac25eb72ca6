"""Self-attention masks built from token roles (pure torch, vectorised, batched).

PMLM rule (Bao et al. 2020, §3.2 and Fig. 3; checked equal to s2s-ft's
``create_attention_mask`` with span ids on 100 random examples; the paper's pre-training
code is not public, so this is our reading of the figure):

    query \\ key          context/[M]   [P] of step j     original of step j
    context / [M]         yes           no                no
    [P] of step k         yes           j == k            j < k
    original of step k    yes           no                j <= k

The same rule with one token per step is UniLM's seq2seq pseudo-mask attention (s2s-ft
``mask_way v2``): source = context, target t = original of step t, pseudo t = [P] of step t.
With every token CONTEXT it is MLM's full bidirectional attention. MPNet has its own rule below.
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
    return _padding_queries_see_themselves(allowed, valid_q)


def mpnet_attention_mask(kind: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """MPNet's two-stream attention (Song et al. 2020, Fig. 2; official microsoft/MPNet
    ``make_query_and_content_mask``) as one mask over the packed layout of ``mpnet.pack_mpnet``::

        query \\ key            non-predicted   predicted j    [M] content j   [M] query
        non-predicted           yes             no             yes             no
        predicted i (content)   yes             j <= i         j > i           no
        [M] content i           yes             no             yes             no
        [M] query i             yes             j < i          j >= i          no

    Keys and values come from the content stream only: nobody attends to a query token, so the
    query stream runs through the same layers without changing the content stream. Padding as
    in ``role_attention_mask``.
    """
    kq, kk = kind.unsqueeze(2), kind.unsqueeze(1)
    sq, sk = step.unsqueeze(2), step.unsqueeze(1)
    valid_q = kq != roles.PAD
    sees_all_masks = (kq == roles.CONTEXT) | (kq == roles.MASK)
    allowed = (kk == roles.CONTEXT) & valid_q
    allowed |= sees_all_masks & (kk == roles.MASK)
    allowed |= (kq == roles.ORIGINAL) & (kk == roles.ORIGINAL) & (sk <= sq)
    allowed |= (kq == roles.ORIGINAL) & (kk == roles.MASK) & (sk > sq)
    allowed |= (kq == roles.QUERY) & (kk == roles.ORIGINAL) & (sk < sq)
    allowed |= (kq == roles.QUERY) & (kk == roles.MASK) & (sk >= sq)
    return _padding_queries_see_themselves(allowed, valid_q)


def with_a_visible_key(allowed: torch.Tensor) -> torch.Tensor:
    """``allowed`` (..., Lq, Lk) bool with every query row that allows no key opened to all keys.

    Softmax over a row of -inf scores is 0/0 = NaN (``_segmented_attention``; some SDPA kernels),
    and NaN poisons the backward pass even where the row's output is multiplied by zero. Such a
    row belongs to a query whose output is never used (a padding query under a key-padding-only
    mask, a batch row of padding alone), so any finite value will do; every other row is returned
    unchanged. The role masks above never produce such rows; hand-made masks can.
    """
    return allowed | ~allowed.any(-1, keepdim=True)


def _padding_queries_see_themselves(allowed, valid_q):
    return allowed | (torch.eye(allowed.size(1), dtype=torch.bool, device=allowed.device) & ~valid_q)
