"""The one Transformer every objective runs on: BERT-style (post-LayerNorm, GELU, learned
absolute positions + shared relative position bias, tied output embeddings), taking explicit
position ids and an arbitrary per-example attention mask.

Layers return the keys/values of their new tokens so that seq2seq decoding can cache them;
``past`` holds earlier keys/values as segments (source, committed target) that are attended to
without being copied together.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq.utils import get_activation_fn

from ..masking.attention import with_a_visible_key
from .relative_position import RelativePositionBias

KeyValue = Tuple[torch.Tensor, torch.Tensor]


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"--encoder-embed-dim {dim} must be divisible by --encoder-attention-heads {heads}")
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim)  # fused projection: one matmul instead of three
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor, past: Sequence[KeyValue] = (),
                incremental: bool = False):
        """Attend from ``x`` to ``past`` segments then ``x`` itself; returns ``x``'s keys/values.

        ``incremental`` (a decoding step: few queries, long cached segments) computes the scores
        segment by segment instead of concatenating the cache, which would copy it every step.
        """
        b, length, dim = x.shape
        q, k, v = self.qkv(x).view(b, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        if incremental:
            y = _segmented_attention(q, [*past, (k, v)], attn_mask)
        else:
            keys = torch.cat([*(p[0] for p in past), k], dim=2) if past else k
            values = torch.cat([*(p[1] for p in past), v], dim=2) if past else v
            y = F.scaled_dot_product_attention(
                q, keys, values, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0
            )
        return self.out(y.transpose(1, 2).reshape(b, length, dim)), (k, v)


def _segmented_attention(q, segments: Sequence[KeyValue], attn_mask):
    """Softmax attention over the concatenation of ``segments`` without concatenating them.

    ``attn_mask``: bool (True = may attend) or additive, broadcastable to (B, H, Lq, Lk). The
    softmax runs in float32 whatever ``q``'s dtype (a decoding step has one or two queries, so
    this costs nothing), as SDPA's kernels accumulate it. A bool row with no allowed key is opened
    to every key (``with_a_visible_key``); an additive row of -inf alone would be NaN, and
    ``attention_bias``/``additive_mask`` never make one.
    """
    q = q * (1.0 / math.sqrt(q.size(-1)))  # scale before the product, as SDPA does: no fp16 overflow
    scores = torch.cat([torch.matmul(q, k.transpose(-1, -2)) for k, _ in segments], dim=-1).float()
    if attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~with_a_visible_key(attn_mask), float("-inf"))
    else:
        scores = scores + attn_mask
    probs = scores.softmax(dim=-1).to(q.dtype)
    out, start = None, 0
    for k, v in segments:
        part = torch.matmul(probs[..., start : start + k.size(2)], v)
        out = part if out is None else out + part
        start += k.size(2)
    return out


# SDPA's memory-efficient CUDA kernel takes an additive mask as is only when its last stride is 1
# and every other stride a multiple of 8 elements (16 in some torch builds); otherwise torch's
# ``preprocess_mask`` pads a copy of it in every call, i.e. in every layer. The kernel also needs
# the mask in the query's dtype. Masks are built contiguous with the key axis padded to 16.
MASK_KEY_ALIGN = 16


def compute_dtype(weight: torch.Tensor) -> torch.dtype:
    """The dtype attention runs in: autocast's (``--amp``, ``torch.autocast``) where it is on for
    ``weight``'s device, else the parameters' own (float32, or float16/bfloat16 after
    ``--fp16``/``--bf16`` convert the model)."""
    device_type = weight.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return weight.dtype


def additive_mask(allowed: torch.Tensor, dtype: torch.dtype, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The additive attention mask SDPA and ``_segmented_attention`` take, built once a forward.

    Args:
        allowed: (B, Lq, Lk) bool, True = query may attend to key. Rows that allow no key are
            opened to every key (``masking.attention.with_a_visible_key``), so no row is all -inf.
        dtype: the attention's compute dtype (``compute_dtype``): handed to SDPA as is, so neither
            autocast nor type promotion makes a per-layer copy.
        bias: (B, Lq, Lk, H) relative position bias, or None.
    Returns:
        (B, H or 1, Lq, Lk): ``bias`` (or 0) where allowed, -inf elsewhere; last dimension
        contiguous, a view into a buffer whose key axis is padded to ``MASK_KEY_ALIGN``.
    """
    allowed = with_a_visible_key(allowed)
    b, lq, lk = allowed.shape
    heads = 1 if bias is None else bias.size(-1)
    padded = -(-lk // MASK_KEY_ALIGN) * MASK_KEY_ALIGN
    mask = allowed.new_zeros((b, heads, lq, padded), dtype=dtype)[..., :lk]
    if bias is not None:
        mask.copy_(bias.permute(0, 3, 1, 2))
    return mask.masked_fill_(~allowed.unsqueeze(1), float("-inf"))


# BERT's LayerNorm epsilon and activation; checkpoints converted from other models carry theirs
# (config.json's layer_norm_eps and hidden_act) in the model config.
LAYER_NORM_EPS = 1e-12
ACTIVATION = "gelu"  # fairseq's names: gelu (erf), gelu_accurate (tanh approximation), relu


class TransformerLayer(nn.Module):
    def __init__(self, dim, heads, ffn_dim, dropout, attention_dropout, activation_dropout,
                 layer_norm_eps=LAYER_NORM_EPS, activation=ACTIVATION):
        super().__init__()
        self.attn = SelfAttention(dim, heads, attention_dropout)
        self.attn_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.activation_dropout = nn.Dropout(activation_dropout)
        self.activation = get_activation_fn(activation)

    def forward(self, x, attn_mask, past: Sequence[KeyValue] = (), incremental: bool = False):
        h, kv = self.attn(x, attn_mask, past, incremental)
        x = self.attn_norm(x + self.dropout(h))
        h = self.fc2(self.activation_dropout(self.activation(self.fc1(x))))
        return self.ffn_norm(x + self.dropout(h)), kv


class LMHead(nn.Module):
    """BERT's prediction head with the output projection tied to the input embeddings."""

    def __init__(self, dim: int, embed_weight: nn.Parameter, layer_norm_eps=LAYER_NORM_EPS, activation=ACTIVATION):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.weight = embed_weight
        self.bias = nn.Parameter(torch.zeros(embed_weight.size(0)))
        self.activation = get_activation_fn(activation)

    def forward(self, x):
        return F.linear(self.norm(self.activation(self.dense(x))), self.weight, self.bias)


class UniLMTransformer(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        padding_idx: int,
        layers: int,
        dim: int,
        ffn_dim: int,
        heads: int,
        max_positions: int,
        num_segments: int,
        rel_pos_buckets: int,
        rel_pos_max_distance: int,
        dropout: float,
        attention_dropout: float,
        activation_dropout: float,
        layer_norm_eps: float = LAYER_NORM_EPS,
        activation: str = ACTIVATION,
    ):
        super().__init__()
        self.max_positions = max_positions
        self.heads = heads
        self.embed_tokens = nn.Embedding(vocab_size, dim, padding_idx=padding_idx)
        self.embed_positions = nn.Embedding(max_positions, dim)
        self.embed_segments = nn.Embedding(num_segments, dim) if num_segments > 0 else None
        self.embed_norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.embed_dropout = nn.Dropout(dropout)
        self.rel_pos = (
            RelativePositionBias(rel_pos_buckets, rel_pos_max_distance, heads, max_positions) if rel_pos_buckets > 0 else None
        )
        self.layers = nn.ModuleList(
            TransformerLayer(dim, heads, ffn_dim, dropout, attention_dropout, activation_dropout,
                             layer_norm_eps, activation)
            for _ in range(layers)
        )
        self.lm_head = LMHead(dim, self.embed_tokens.weight, layer_norm_eps, activation)
        self.apply(init_bert_weights)

    def embed(self, tokens, positions, segments=None):
        x = self.embed_tokens(tokens) + self.embed_positions(positions)
        if self.embed_segments is not None:
            x = x + (self.embed_segments(segments) if segments is not None else self.embed_segments.weight[0])
        return self.embed_dropout(self.embed_norm(x))

    def attention_bias(self, allowed, query_positions, key_positions, dtype: Optional[torch.dtype] = None):
        """Additive mask (B, H, Lq, Lk) shared by every layer: the relative position bias where
        ``allowed`` (B, Lq, Lk), -inf elsewhere; (B, 1, Lq, Lk) without a relative bias. In the
        attention's compute dtype (``compute_dtype``) unless ``dtype`` says otherwise; see
        ``additive_mask``."""
        dtype = dtype or compute_dtype(self.embed_tokens.weight)
        bias = None if self.rel_pos is None else self.rel_pos.bias_last_dim_heads(query_positions, key_positions, dtype)
        return additive_mask(allowed, dtype, bias)

    def encode(self, x, attn_mask, past: Optional[List[Sequence[KeyValue]]] = None, incremental: bool = False,
               inner_states: Optional[list] = None):
        """Run the layers on embedded ``x``; ``past[i]`` are layer i's earlier key/value segments.
        Returns the hidden states and each layer's keys/values of ``x``. ``inner_states``, when a
        list, receives ``x`` and every layer's output (B, L, C)."""
        new_past = []
        if inner_states is not None:
            inner_states.append(x)
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, attn_mask, () if past is None else past[i], incremental)
            new_past.append(kv)
            if inner_states is not None:
                inner_states.append(x)
        return x, new_past

    def forward(self, tokens, positions, allowed, segments=None, inner_states: Optional[list] = None):
        x = self.embed(tokens, positions, segments)
        hidden, _ = self.encode(x, self.attention_bias(allowed, positions, positions), inner_states=inner_states)
        return hidden

    def bidirectional_features(self, tokens, segments=None, inner_states: Optional[list] = None):
        """BERT's forward of a right-padded batch ``tokens`` (B, T) -> hidden states (B, T, C):
        position ids 0..T-1, every token sees every non-padding token (models' extract_features)."""
        positions = torch.arange(tokens.size(1), device=tokens.device).expand_as(tokens)
        allowed = tokens.ne(self.embed_tokens.padding_idx).unsqueeze(1).expand(-1, tokens.size(1), -1)
        return self(tokens, positions, allowed, segments, inner_states)


def init_bert_weights(module):
    if isinstance(module, (nn.Linear, nn.Embedding)):
        module.weight.data.normal_(mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        module.bias.data.zero_()
    if isinstance(module, nn.Embedding) and module.padding_idx is not None:
        module.weight.data[module.padding_idx].zero_()
