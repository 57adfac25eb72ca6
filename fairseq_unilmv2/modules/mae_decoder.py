"""MAE-LM's shallow decoder (Meng et al., arXiv 2302.02060; official yumeng5/MAE-LM
``fairseq/models/ae/model.py``): its own learned positions and embedding LayerNorm, no relative bias, full
bidirectional attention, no dropout. Used in pre-training only; fine-tuning drops it."""
import torch
import torch.nn as nn

from .transformer import TransformerLayer, additive_mask, compute_dtype, init_bert_weights


class MAEDecoder(nn.Module):
    def __init__(self, layers: int, dim: int, ffn_dim: int, heads: int, max_positions: int):
        super().__init__()
        self.embed_positions = nn.Embedding(max_positions, dim)
        self.embed_norm = nn.LayerNorm(dim, eps=1e-12)
        # The official default (decoder_sample_mode 'zero-dropout') turns every dropout off here.
        self.layers = nn.ModuleList(TransformerLayer(dim, heads, ffn_dim, 0.0, 0.0, 0.0) for _ in range(layers))
        self.apply(init_bert_weights)

    def forward(self, x: torch.Tensor, positions: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``x`` (B, L, C): encoder outputs at visible positions, raw [MASK] embeddings elsewhere."""
        x = self.embed_norm(x + self.embed_positions(positions))
        # (B, 1, 1, L), built once for every layer: every query sees every real token
        key_padding = additive_mask(valid.unsqueeze(1), compute_dtype(self.embed_positions.weight))
        for layer in self.layers:
            x, _ = layer(x, key_padding)
        return x
