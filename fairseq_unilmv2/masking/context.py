"""Destroying the context of a batch, to measure how much a model uses it (pure torch).

The context gap of a model is ``loss(random context) - loss(true context)`` in bits per predicted
token: a model that predicts from unigram frequency alone scores the same on both (gap ~0), one
that reads its context loses when the context is noise. "Context" is every input token that is
neither predicted nor special: in a pre-training batch the unmasked text (role CONTEXT, no target
there; [M], random replacements and kept tokens are predicted positions and stay), in a seq2seq
batch the source. Each such token becomes a uniformly random ordinary id, so lengths, positions,
roles and attention masks are unchanged and only the information is gone.
"""
import torch

from . import roles


def random_ids_like(tokens: torch.Tensor, low: int, high: int, seed: int) -> torch.Tensor:
    """Uniform ids in ``[low, high)`` shaped like ``tokens``, from a CPU generator seeded by ``seed``
    (the same on every device), on ``tokens``' device."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(low, high, tokens.shape, generator=generator).to(tokens.device)


def ordinary(tokens: torch.Tensor, low: int, high: int) -> torch.Tensor:
    return (tokens >= low) & (tokens < high)


def pretraining_context(net_input: dict, target: torch.Tensor, pad_idx: int, low: int, high: int) -> torch.Tensor:
    """(B, L) bool: the unmasked text tokens of a ``--task pmlm`` batch (any objective): role
    CONTEXT (MAE-LM: the visible tokens), no prediction at the position, an ordinary id."""
    tokens = net_input["src_tokens"]
    return (net_input["kind"] == roles.CONTEXT) & target.eq(pad_idx) & ordinary(tokens, low, high)


def with_random_context(net_input: dict, context: torch.Tensor, low: int, high: int, seed: int) -> dict:
    """A copy of ``net_input`` whose ``src_tokens`` hold random ordinary ids where ``context``
    (bool, like ``src_tokens``) is True; every other entry is shared, unchanged."""
    tokens = net_input["src_tokens"]
    noise = random_ids_like(tokens, low, high, seed)
    return {**net_input, "src_tokens": torch.where(context, noise, tokens)}
