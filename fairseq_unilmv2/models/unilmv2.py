"""The ``unilmv2`` model and its size presets, shared by every objective.

The model knows nothing about masking: it takes token ids, position ids and a boolean
attention mask (built by the objective's pure mask function), and predicts tokens at the
positions the criterion asks for. MAE-LM alone adds a module, its shallow decoder, built only
for ``--objective maelm`` pre-training.
"""
import logging
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import BaseFairseqModel, register_model, register_model_architecture
from fairseq.models.roberta.model import RobertaClassificationHead
from fairseq.utils import safe_getattr
from torch import nn

from ..masking.maelm import scatter_index, visible_index
from ..modules.mae_decoder import MAEDecoder
from ..modules.transformer import ACTIVATION, LAYER_NORM_EPS, UniLMTransformer
from ..optim.unilm_adam import mark_no_decay
from .heads import pair_segment_ids, upgrade_heads

logger = logging.getLogger(__name__)


@dataclass
class UniLMv2Config(FairseqDataclass):
    encoder_layers: int = field(default=12, metadata={"help": "number of Transformer layers"})
    encoder_embed_dim: int = field(default=768, metadata={"help": "hidden size"})
    encoder_ffn_embed_dim: int = field(default=3072, metadata={"help": "feed-forward inner size"})
    encoder_attention_heads: int = field(default=12, metadata={"help": "attention heads"})
    max_positions: int = field(default=512, metadata={"help": "size of the learned absolute position table"})
    num_segments: int = field(default=2, metadata={"help": "segment (token type) embeddings; 0 disables"})
    rel_pos_buckets: int = field(
        default=32, metadata={"help": "relative position buckets shared by all layers; 0 disables the bias"}
    )
    rel_pos_max_distance: int = field(
        default=128, metadata={"help": "distance beyond which relative positions share a bucket"}
    )
    layer_norm_eps: float = field(
        default=LAYER_NORM_EPS,
        metadata={"help": "LayerNorm epsilon (BERT: 1e-12; unilmv2-convert-hf takes config.json's layer_norm_eps)"},
    )
    activation_fn: ChoiceEnum(["gelu", "gelu_accurate", "relu"]) = field(
        default=ACTIVATION,
        metadata={"help": "FFN and prediction-head activation, fairseq's names: gelu (erf, BERT's), gelu_accurate "
                  "(tanh approximation, HF gelu_new), relu"},
    )
    dropout: float = field(default=0.1, metadata={"help": "dropout on embeddings and sublayer outputs"})
    attention_dropout: float = field(default=0.1, metadata={"help": "dropout on attention weights"})
    activation_dropout: float = field(default=0.0, metadata={"help": "dropout after the FFN activation"})
    seq2seq_mode: ChoiceEnum(["pseudo", "causal"]) = field(
        default="pseudo",
        metadata={"help": "unilm_seq2seq only: 'pseudo' = pseudo-mask fine-tuning and decoding (s2s-ft "
                  "mask_way v2, two positions a decoding step); 'causal' = left-to-right (one position)"},
    )
    mae_decoder_layers: int = field(
        default=4,
        metadata={"help": "--objective maelm only: layers of the shallow decoder (MAE-LM: 4, at the "
                  "encoder's width, heads and FFN size, no dropout); dropped for fine-tuning and by "
                  "unilmv2-export-encoder (which sets it to 0)"},
    )
    pooler_dropout: float = field(
        default=0.0, metadata={"help": "classification heads (sentence_prediction/ranking): dropout before and "
                               "after the head's dense layer (RoBERTa's --pooler-dropout)"})
    pooler_activation_fn: ChoiceEnum(["tanh", "gelu", "relu"]) = field(
        default="tanh", metadata={"help": "classification heads: activation of the dense layer on the first "
                                  "token (tanh: BERT's pooler and RoBERTa's default)"})
    load_checkpoint_heads: bool = field(
        default=False, metadata={"help": "build the classification heads a checkpoint holds when loading it "
                                 "(hub from_pretrained passes it), instead of dropping those not registered"})
    pair_segment: ChoiceEnum(["auto", "0", "1"]) = field(
        default="auto",
        metadata={"help": "sentence_prediction/ranking: segment id of the second sentence of a pair (every "
                  "token after the first </s> or [SEP]). 1 = BERT's token type; 0 = separators alone mark it "
                  "(RoBERTa). auto: 1 from random weights or from a checkpoint that recorded a trained segment-1 "
                  "row (segments_trained >= 2: converted BERT/UniLM with type_vocab_size 2, seq2seq fine-tuned "
                  "models), else 0 (--task pmlm pre-training sees segment 0 only)"})
    segments_trained: Optional[int] = field(
        default=None, metadata={"help": "how many segment rows the weights were trained with (recorded by "
                                "unilmv2-convert-hf and --task unilm_seq2seq); read by --pair-segment auto"})


@register_model("unilmv2", dataclass=UniLMv2Config)
class UniLMv2Model(BaseFairseqModel):
    def __init__(self, cfg: UniLMv2Config, dictionary, mae_decoder: bool = False):
        super().__init__()
        self.cfg = cfg
        self.transformer = UniLMTransformer(
            vocab_size=len(dictionary),
            padding_idx=dictionary.pad(),
            layers=cfg.encoder_layers,
            dim=cfg.encoder_embed_dim,
            ffn_dim=cfg.encoder_ffn_embed_dim,
            heads=cfg.encoder_attention_heads,
            max_positions=cfg.max_positions,
            num_segments=cfg.num_segments,
            rel_pos_buckets=cfg.rel_pos_buckets,
            rel_pos_max_distance=cfg.rel_pos_max_distance,
            dropout=cfg.dropout,
            attention_dropout=cfg.attention_dropout,
            activation_dropout=cfg.activation_dropout,
            layer_norm_eps=safe_getattr(cfg, "layer_norm_eps", LAYER_NORM_EPS),  # absent in older checkpoints
            activation=safe_getattr(cfg, "activation_fn", ACTIVATION),
        )
        self.mae_decoder = None
        if mae_decoder and cfg.mae_decoder_layers > 0:
            self.mae_decoder = MAEDecoder(
                cfg.mae_decoder_layers, cfg.encoder_embed_dim, cfg.encoder_ffn_embed_dim,
                cfg.encoder_attention_heads, cfg.max_positions,
            )
        # the separator that ends each sentence of a pair; None for size-only stand-ins (hf/convert.py)
        self.eos = dictionary.eos() if hasattr(dictionary, "eos") else None
        self.classification_heads = nn.ModuleDict()
        self.span_heads = nn.ModuleDict()
        mark_no_decay(self)  # for --optimizer unilm_adam

    @classmethod
    def build_model(cls, cfg, task):
        from ..tasks.base import UniLMTask
        from ..tasks.stock import loading_checkpoint
        from .nlu import check_start_checkpoint, prepare_stock_task, start_checkpoint

        stock = not isinstance(task, UniLMTask)  # fairseq's sentence_prediction / sentence_ranking
        training = stock and not loading_checkpoint(task)
        start = start_checkpoint(cfg) if training else None
        if stock:
            prepare_stock_task(cfg, task, training, start)
        objective = getattr(getattr(task, "cfg", None), "objective", None)
        model = cls(cfg, task.source_dictionary, mae_decoder=objective == "maelm")
        if training:
            check_start_checkpoint(model, cfg, task, start)
        return model

    def forward(self, src_tokens, positions=None, attn_mask=None, segments=None, masked_tokens=None,
                features_only=False, return_all_hiddens=False, classification_head_name=None, **unused):
        """Two call forms, both through ``forward`` so that DDP sees every call.

        Pre-training (``positions`` and ``attn_mask`` given, as the objectives pack them): MLM
        logits (N, V) at ``masked_tokens`` (bool, B x L), or (B, L, V) at every position.

        RoBERTa's contract (``positions`` None), used by fairseq's ``sentence_prediction`` /
        ``sentence_ranking`` and the hub: a right-padded batch ``src_tokens`` (B, T) runs
        bidirectionally (``extract_features``) with ``segments`` (B, T), or, when None, the
        second sentence of a pair on segment ``cfg.pair_segment`` (``heads.pair_segment_ids``).
        Returns ``(x, extra)``: x = features (B, T, C) if ``features_only``, else MLM logits
        (B, T, V); with ``classification_head_name``, that head's output (B, num_classes).
        ``extra["inner_states"]``: with ``return_all_hiddens``, the embedding output and every
        layer's output, each (T, B, C) as fairseq's encoders give them.
        """
        if positions is not None:
            hidden = self.transformer(src_tokens, positions, attn_mask, segments)
            if masked_tokens is not None:
                hidden = hidden[masked_tokens]  # project only where a loss is taken
            return self.transformer.lm_head(hidden)
        if segments is None and self.eos is not None:
            segments = pair_segment_ids(src_tokens, self.eos, self.second_segment())
        inner = [] if return_all_hiddens else None
        x = self.transformer.bidirectional_features(src_tokens, segments, inner_states=inner)
        extra = {"inner_states": [h.transpose(0, 1) for h in inner] if inner is not None else None}
        if classification_head_name is not None:
            return self.classification_heads[classification_head_name](x), extra
        return (x if features_only else self.transformer.lm_head(x)), extra

    def second_segment(self) -> int:
        """Segment id of a pair's second sentence: ``--pair-segment``, resolved (``auto``) when the
        model was built; 0 where the model has fewer than two segment rows."""
        rows = self.transformer.embed_segments.num_embeddings if self.transformer.embed_segments is not None else 0
        choice = str(safe_getattr(self.cfg, "pair_segment", "1"))
        return 1 if choice != "0" and rows >= 2 else 0

    def register_classification_head(self, name, num_classes=None, inner_dim=None, **unused):
        """RoBERTa's head (fairseq's ``RobertaClassificationHead``: dropout, dense, activation,
        dropout, projection, on the first token's final hidden state), as fairseq's stock
        ``sentence_prediction``/``sentence_ranking`` tasks register it."""
        dim = self.cfg.encoder_embed_dim
        if name in self.classification_heads:
            old = self.classification_heads[name]
            if (old.out_proj.out_features, old.dense.out_features) != (num_classes, inner_dim or dim):
                logger.warning("re-registering head %s with num_classes %s (was %d) and inner_dim %s (was %d)",
                               name, num_classes, old.out_proj.out_features, inner_dim, old.dense.out_features)
        self.classification_heads[name] = RobertaClassificationHead(
            input_dim=dim, inner_dim=inner_dim or dim, num_classes=num_classes,
            activation_fn=safe_getattr(self.cfg, "pooler_activation_fn", "tanh"),
            pooler_dropout=safe_getattr(self.cfg, "pooler_dropout", 0.0),
        )
        mark_no_decay(self.classification_heads[name])

    def register_span_head(self, name: str, head: nn.Module):
        """Attach an extractive-QA head (``--task squad``); saved and reloaded with the model."""
        self.span_heads[name] = head
        mark_no_decay(head)

    def upgrade_state_dict_named(self, state_dict, name):
        super().upgrade_state_dict_named(state_dict, name)
        prefix = name + "." if name else ""
        if self.mae_decoder is None:
            dropped = drop_pretraining_only(state_dict, prefix + "mae_decoder.")
            if dropped:
                logger.info("fine-tuning the encoder alone: dropped %d MAE-LM decoder tensors", dropped)
        upgrade_heads(self, state_dict, prefix, bool(safe_getattr(self.cfg, "load_checkpoint_heads", False)))

    def extract_features(self, src_tokens, segments=None):
        """Final hidden states (B, T, C) of a right-padded batch ``src_tokens`` (B, T), as BERT
        computes them: position ids 0..T-1, every token attends to every non-padding token,
        segment (token type) 0 unless ``segments`` (B, T) says otherwise. Hidden states at padding
        positions are computed too (BERT's numbering) and mean nothing. The API of fairseq's
        RoBERTa; unilmv2-convert-hf's parity tests run through it."""
        return self.transformer.bidirectional_features(src_tokens, segments)

    def output_layer(self, features):
        """MLM logits (..., V) of hidden states (..., C): V = len(task dictionary), including the
        symbols the tasks append after the vocabulary (``<pseudo>``, and ``<mask>`` where the
        vocabulary has none)."""
        return self.transformer.lm_head(features)

    @classmethod
    def from_pretrained(cls, model_name_or_path, checkpoint_file="model.pt", data_name_or_path=".", **kwargs):
        """fairseq's hub loading, RoBERTa's interface (``nlu.UniLMv2HubInterface``): ``hub.model``
        (also ``hub.models[0]``), ``hub.task.source_dictionary``, ``hub.extract_features(tokens)``,
        ``hub.predict(head, tokens)`` with the checkpoint's classification heads.
        ``model_name_or_path``: the folder of ``checkpoint_file`` (e.g. unilmv2-convert-hf's OUT_DIR,
        or a fine-tuning --save-dir); ``data_name_or_path``: the data-bin folder of dict.txt (for
        sentence_prediction, the one holding input0/), relative to it or absolute."""
        from fairseq import hub_utils

        from .nlu import UniLMv2HubInterface

        kwargs.setdefault("load_checkpoint_heads", True)
        x = hub_utils.from_pretrained(model_name_or_path, checkpoint_file, data_name_or_path, **kwargs)
        return UniLMv2HubInterface(x["args"], x["task"], x["models"][0])

    def encode_visible(self, src_tokens, positions, visible):
        """MAE-LM's encoder pass: only the ``visible`` tokens (bool, B x L), left-packed, at their
        original positions. Returns hidden states (B, V, C) and which of the V slots are real."""
        index, valid = visible_index(visible)
        tokens = src_tokens.gather(1, index).masked_fill(~valid, self.transformer.embed_tokens.padding_idx)
        allowed = valid.unsqueeze(1).expand(-1, index.size(1), -1)
        return self.transformer(tokens, positions.gather(1, index), allowed), valid

    def forward_maelm(self, src_tokens, positions, visible, masked_tokens=None):
        """MAE-LM: encode the visible tokens, put their outputs back beside the raw [MASK] input
        embeddings, decode the full sequence, predict at ``masked_tokens``."""
        if self.mae_decoder is None:
            raise ValueError(
                "this model has no MAE-LM decoder (--mae-decoder-layers 0, e.g. an exported encoder): "
                "--objective maelm pre-training needs --mae-decoder-layers >= 1"
            )
        hidden, _ = self.encode_visible(src_tokens, positions, visible)
        slots = scatter_index(visible).unsqueeze(-1).expand(-1, -1, hidden.size(-1))
        x = torch.where(visible.unsqueeze(-1), hidden.gather(1, slots), self.transformer.embed_tokens(src_tokens))
        hidden = self.mae_decoder(x, positions, src_tokens.ne(self.transformer.embed_tokens.padding_idx))
        if masked_tokens is not None:
            hidden = hidden[masked_tokens]
        return self.transformer.lm_head(hidden)

    def max_positions(self):
        return self.cfg.max_positions


def drop_pretraining_only(state_dict, prefix="mae_decoder.") -> int:
    """Remove MAE-LM's pre-training decoder from ``state_dict`` (in place): fine-tuning and export
    use the encoder alone. Returns how many tensors were dropped."""
    dropped = [k for k in state_dict if k.startswith(prefix)]
    for k in dropped:
        del state_dict[k]
    return len(dropped)


def _sizes(args, layers, dim, heads):
    args.encoder_layers = safe_getattr(args, "encoder_layers", layers)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", dim)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 4 * args.encoder_embed_dim)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", heads)
    defaults = UniLMv2Config()
    for name in ("max_positions", "num_segments", "rel_pos_buckets", "rel_pos_max_distance",
                 "layer_norm_eps", "activation_fn", "dropout", "attention_dropout", "activation_dropout", "seq2seq_mode",
                 "mae_decoder_layers", "pooler_dropout", "pooler_activation_fn", "load_checkpoint_heads",
                 "pair_segment", "segments_trained"):
        setattr(args, name, safe_getattr(args, name, getattr(defaults, name)))


@register_model_architecture("unilmv2", "unilmv2_tiny")
def unilmv2_tiny(args):
    _sizes(args, layers=2, dim=128, heads=2)


@register_model_architecture("unilmv2", "unilmv2_small")
def unilmv2_small(args):
    _sizes(args, layers=6, dim=384, heads=12)


@register_model_architecture("unilmv2", "unilmv2_base")
def unilmv2_base(args):
    _sizes(args, layers=12, dim=768, heads=12)


@register_model_architecture("unilmv2", "unilmv2_large")
def unilmv2_large(args):
    _sizes(args, layers=24, dim=1024, heads=16)
