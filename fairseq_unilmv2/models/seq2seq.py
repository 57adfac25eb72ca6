"""UniLM seq2seq on the one shared Transformer, shaped for fairseq's SequenceGenerator.

The "encoder" runs the source once (bidirectional) and keeps every layer's keys/values; the
"decoder" runs target-side tokens against them, either all at once (training, scoring) or a
step at a time with a key/value cache (beam search). Both wrap the same ``UniLMTransformer``,
registered once on the model, so parameter names equal those of a ``pmlm`` checkpoint.
"""
import logging
from typing import Dict, Optional

import torch
from fairseq.models import FairseqEncoder, FairseqEncoderDecoderModel, FairseqIncrementalDecoder

from ..masking.attention import role_attention_mask
from ..masking.seq2seq import decoder_layout, source_attention_mask
from ..modules.transformer import UniLMTransformer
from .checkpoint_fit import VOCAB_KEY, vocabulary_message
from .unilmv2 import drop_pretraining_only

logger = logging.getLogger(__name__)

SOURCE_SEGMENT, TARGET_SEGMENT = 0, 1


class UniLMSeq2SeqEncoder(FairseqEncoder):
    def __init__(self, dictionary, transformer: UniLMTransformer, max_source_positions: int):
        super().__init__(dictionary)
        self.__dict__["transformer"] = transformer  # shared, registered on the model only
        self.max_source_positions = max_source_positions

    def forward(self, src_tokens, src_lengths=None, **unused):
        src_valid = src_tokens.ne(self.dictionary.pad())
        positions = torch.arange(src_tokens.size(1), device=src_tokens.device).expand_as(src_tokens)
        t = self.transformer
        x = t.embed(src_tokens, positions, torch.full_like(src_tokens, SOURCE_SEGMENT))
        _, past = t.encode(x, t.attention_bias(source_attention_mask(src_valid), positions, positions))
        return {
            "past": past,  # per layer (keys, values) of the source, (B, H, S, head_dim)
            "src_valid": src_valid,
            "src_positions": positions,
            "src_lengths": src_valid.sum(1),
            "sentence": torch.arange(src_tokens.size(0), device=src_tokens.device),  # source of each row
        }

    def reorder_encoder_out(self, encoder_out, new_order):
        out = {k: v.index_select(0, new_order) for k, v in encoder_out.items() if k != "past"}
        if torch.equal(out["sentence"], encoder_out["sentence"]):
            # Beam search reorders hypotheses of the same sentence every step: their source
            # keys/values are equal row for row, so copying them (2 x layers tensors) is skipped.
            # torch.equal waits for the device (one host sync a step, where fairseq's
            # SequenceGenerator has several of its own): cheaper than copying every layer's
            # source keys/values every step.
            out["past"] = encoder_out["past"]
        else:
            out["past"] = [(k.index_select(0, new_order), v.index_select(0, new_order)) for k, v in encoder_out["past"]]
        return out

    def max_positions(self):
        return self.max_source_positions


class UniLMSeq2SeqDecoder(FairseqIncrementalDecoder):
    def __init__(self, dictionary, transformer: UniLMTransformer, mode: str, pseudo_idx: int,
                 max_target_positions: int):
        super().__init__(dictionary)
        self.__dict__["transformer"] = transformer
        self.mode = mode
        self.pseudo_idx = pseudo_idx
        self.max_target_positions = max_target_positions

    def forward(self, prev_output_tokens, encoder_out=None, incremental_state=None, pseudo_tokens=None, **unused):
        if incremental_state is not None:
            return self._step(prev_output_tokens, encoder_out, incremental_state), {"attn": [None]}
        return self._full(prev_output_tokens, encoder_out, pseudo_tokens), {"attn": [None]}

    def _run(self, tokens, offsets, new_allowed, key_valid, key_positions, past, src_lengths, incremental=False):
        """Run new tokens at ``src_length + offsets`` against ``past`` keys (plus themselves)."""
        positions = src_lengths.unsqueeze(1) + offsets
        allowed = torch.cat([key_valid.unsqueeze(1).expand(-1, tokens.size(1), -1), new_allowed], dim=2)
        t = self.transformer
        x = t.embed(tokens, positions, torch.full_like(tokens, TARGET_SEGMENT))
        bias = t.attention_bias(allowed, positions, torch.cat([key_positions, positions], dim=1))
        return t.encode(x, bias, past, incremental) + (positions,)

    def _full(self, prev_output_tokens, encoder_out, pseudo_tokens):
        if pseudo_tokens is None:
            pseudo_tokens = torch.full_like(prev_output_tokens, self.pseudo_idx)
        layout = decoder_layout(prev_output_tokens, self.dictionary.pad(), self.mode, pseudo_tokens)
        hidden, _, _ = self._run(
            layout.tokens, layout.step, role_attention_mask(layout.kind, layout.step),
            encoder_out["src_valid"], encoder_out["src_positions"], [[kv] for kv in encoder_out["past"]],
            encoder_out["src_lengths"],
        )
        return self.transformer.lm_head(hidden[:, layout.outputs])

    def _step(self, prev_output_tokens, encoder_out, incremental_state):
        """One generation step: only the new positions run, against the source's keys/values
        (kept in ``encoder_out``) and the cache of committed target tokens (pseudo masks are
        never cached)."""
        b, i = prev_output_tokens.size(0), prev_output_tokens.size(1) - 1
        device = prev_output_tokens.device
        cache = self.get_incremental_state(incremental_state, "cache")
        if cache is None:  # no target token committed yet
            cache = {"positions": prev_output_tokens.new_zeros(b, 0)}
        # Offsets and the new tokens' mask are made on the device from Python ints: a tensor
        # built from host data (torch.tensor([...], device=cuda)) is a blocking copy every step.
        if self.mode == "causal":
            tokens = prev_output_tokens[:, i:]
            offsets = torch.arange(i, i + 1, device=device)
            new_allowed = torch.ones(1, 1, dtype=torch.bool, device=device)
        elif i == 0:  # the first pseudo mask alone
            tokens = torch.full((b, 1), self.pseudo_idx, dtype=prev_output_tokens.dtype, device=device)
            offsets = torch.arange(0, 1, device=device)
            new_allowed = torch.ones(1, 1, dtype=torch.bool, device=device)
        else:  # the token committed last step, and the next pseudo mask (which sees it)
            pseudo = torch.full((b, 1), self.pseudo_idx, dtype=prev_output_tokens.dtype, device=device)
            tokens = torch.cat([prev_output_tokens[:, i:], pseudo], dim=1)
            offsets = torch.arange(i - 1, i + 1, device=device)
            new_allowed = torch.ones(2, 2, dtype=torch.bool, device=device).tril_()
        past = [[kv] + ([(cache[f"k{j}"], cache[f"v{j}"])] if f"k{j}" in cache else [])
                for j, kv in enumerate(encoder_out["past"])]
        hidden, new_kv, positions = self._run(
            tokens, offsets.expand(b, -1), new_allowed.expand(b, -1, -1),
            torch.cat([encoder_out["src_valid"], torch.ones_like(cache["positions"], dtype=torch.bool)], dim=1),
            torch.cat([encoder_out["src_positions"], cache["positions"]], dim=1),
            past, encoder_out["src_lengths"], incremental=True,
        )
        if self.mode == "causal" or i > 0:  # the first new token is committed: cache it
            new_cache = {"positions": torch.cat([cache["positions"], positions[:, :1]], dim=1)}
            for j, (k, v) in enumerate(new_kv):
                for name, new in ((f"k{j}", k[:, :, :1]), (f"v{j}", v[:, :, :1])):
                    new_cache[name] = torch.cat([cache[name], new], dim=2) if name in cache else new.contiguous()
            self.set_incremental_state(incremental_state, "cache", new_cache)
        return self.transformer.lm_head(hidden[:, -1:])

    def reorder_incremental_state(self, incremental_state: Dict[str, Dict[str, Optional[torch.Tensor]]], new_order):
        cache = self.get_incremental_state(incremental_state, "cache")
        if cache is not None:
            cache = {k: v.index_select(0, new_order) for k, v in cache.items()}
            self.set_incremental_state(incremental_state, "cache", cache)

    def max_positions(self):
        return self.max_target_positions


class UniLMSeq2SeqModel(FairseqEncoderDecoderModel):
    """Built by ``--task unilm_seq2seq`` around a ``unilmv2`` architecture's Transformer."""

    def __init__(self, cfg, transformer: UniLMTransformer, dictionary, mode, pseudo_idx,
                 max_source_positions, max_target_positions):
        encoder = UniLMSeq2SeqEncoder(dictionary, transformer, max_source_positions)
        decoder = UniLMSeq2SeqDecoder(dictionary, transformer, mode, pseudo_idx, max_target_positions)
        super().__init__(encoder, decoder)
        self.cfg = cfg
        self.transformer = transformer

    @classmethod
    def from_pretrained(cls, model_name_or_path, checkpoint_file="checkpoint_best.pt", data_name_or_path=".",
                        **kwargs):
        """A fairseq hub interface for generation: ``.sample(text, beam=5)``, ``.generate(...)``.

        ``model_name_or_path`` is the folder of ``checkpoint_file``; ``data_name_or_path`` the
        data-bin with the dictionaries (relative to that folder, or absolute). Pass
        ``bpe="sentencepiece", sentencepiece_model=PATH`` for raw-text input and output.
        """
        from fairseq import hub_utils

        x = hub_utils.from_pretrained(model_name_or_path, checkpoint_file, data_name_or_path, **kwargs)
        return hub_utils.GeneratorHubInterface(x["args"], x["task"], x["models"])

    def extract_features(self, src_tokens, segments=None):
        """The Transformer run bidirectionally over ``src_tokens`` (B, T) -> (B, T, C), as
        ``UniLMv2Model.extract_features``: a fine-tuned model's encoder features."""
        return self.transformer.bidirectional_features(src_tokens, segments)

    def output_layer(self, features, **unused):
        """MLM logits (..., V) of hidden states (..., C)."""
        return self.transformer.lm_head(features)

    def upgrade_state_dict_named(self, state_dict, name):
        super().upgrade_state_dict_named(state_dict, name)
        dropped = drop_pretraining_only(state_dict)
        if dropped:
            logger.info("fine-tuning the encoder alone: dropped %d MAE-LM decoder tensors", dropped)
        extend_position_embeddings(state_dict, self.transformer.embed_positions.weight.size(0))

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        check_vocabulary(state_dict, self.transformer.embed_tokens.weight.size(0))
        return super().load_state_dict(state_dict, strict=strict, model_cfg=model_cfg, args=args)


def extend_position_embeddings(state_dict, rows: int, key="transformer.embed_positions.weight"):
    """Tile a shorter pretrained position table to ``rows`` (s2s-ft ``reuse_position_embedding``),
    so a 512-position checkpoint fine-tunes with e.g. 608 source + 160 target positions."""
    table = state_dict.get(key)
    if table is not None and table.size(0) < rows:
        reps = -(-rows // table.size(0))
        state_dict[key] = table.repeat(reps, 1)[:rows].clone()


def check_vocabulary(state_dict, expected: int, key=VOCAB_KEY):
    """ValueError when the checkpoint's embedding table has another size than this dictionary's."""
    table = state_dict.get(key)
    if table is not None and table.size(0) != expected:
        raise ValueError(vocabulary_message("the checkpoint", table.size(0), expected))
