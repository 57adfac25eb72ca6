"""UniLM seq2seq layouts (pure): which tokens the "decoder" side runs, with roles and offsets.

Source tokens form the context (bidirectional among themselves, never seeing the target).
Target positions continue after the true source length (s2s-ft convention). Two modes:

* ``pseudo`` (s2s-ft ``mask_way v2``, UniLMv2's default): teacher-forced target tokens
  y_0..y_{T-2} are ORIGINAL tokens of steps 0..T-2, and a [P] pseudo mask of step t at target
  offset t predicts y_t, seeing the source, y_<t and itself (the PMLM rule with one token a step).
* ``causal``: the inputs ``prev_output_tokens`` (<eos>, y_0..y_{T-2}) are ORIGINAL tokens of
  steps 0..T-1 and each predicts the next token (a left-to-right LM over the target).
"""
from typing import NamedTuple

import torch

from . import roles
from .attention import role_attention_mask

MODES = ("pseudo", "causal")


class DecoderLayout(NamedTuple):
    tokens: torch.Tensor  # (B, L) input ids of the decoder-side tokens
    kind: torch.Tensor  # (B, L) roles
    step: torch.Tensor  # (B, L) step = target offset; position id = source length + step
    outputs: slice  # the columns whose outputs predict y_0..y_{T-1}


def decoder_layout(prev_output_tokens, pad_idx, mode, pseudo_tokens) -> DecoderLayout:
    """Layout for teacher forcing / scoring over a whole target at once.

    ``pseudo_tokens`` (B, T) are the ids fed at the [P] slots (normally all the pseudo symbol).
    """
    b, t = prev_output_tokens.shape
    valid = prev_output_tokens.ne(pad_idx)
    offsets = torch.arange(t, device=prev_output_tokens.device).expand(b, t)
    if mode == "causal":
        kind = torch.where(valid, roles.ORIGINAL, roles.PAD)
        return DecoderLayout(prev_output_tokens, kind, offsets, slice(0, t))
    if mode != "pseudo":
        raise ValueError(f"unknown seq2seq mode {mode!r}; expected one of {MODES}")
    kind = torch.cat(
        [torch.where(valid[:, 1:], roles.ORIGINAL, roles.PAD), torch.where(valid, roles.PSEUDO, roles.PAD)],
        dim=1,
    )
    step = torch.cat([offsets[:, : t - 1], offsets], dim=1)
    tokens = torch.cat([prev_output_tokens[:, 1:], pseudo_tokens], dim=1)
    return DecoderLayout(tokens, kind, step, slice(t - 1, 2 * t - 1))


def source_attention_mask(src_valid: torch.Tensor) -> torch.Tensor:
    """(B, S, S): the source is all context: every real source token sees every other one."""
    kind = torch.where(src_valid, roles.CONTEXT, roles.PAD)
    return role_attention_mask(kind, torch.full_like(kind, -1))
