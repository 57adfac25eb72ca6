"""Tensor names and model settings of the HuggingFace formats we convert from and export to.

Pure functions on state dicts (name -> tensor) and config.json dicts; no files, no fairseq.

Formats (``model_type`` in config.json):

- ``bert``: BertModel / BertForMaskedLM / BertForPreTraining, keys with or without ``bert.``; the
  MLM head (``cls.predictions.*``) may be absent. MiniLM checkpoints use this format.
- ``unilm``: microsoft/unilm s2s-ft's UniLM/UniLMv2 format: a BERT state dict plus
  ``bert.rel_pos_bias.weight`` (heads, rel_pos_bins), a bias-free Linear applied to one-hot
  relative-position buckets (s2s-ft ``modeling.py``), with ``rel_pos_bins`` and ``max_rel_pos`` in
  config.json. Recognised by ``model_type`` ``unilm``/``unilmv2`` or by ``rel_pos_bins`` > 0.
- ``mpnet``: MPNetModel / MPNetForMaskedLM: one relative attention bias table shared by all layers
  (``encoder.relative_attention_bias``, (buckets, heads), T5 buckets with max distance 128 in
  transformers' ``MPNetEncoder.compute_position_bias``), RoBERTa position ids that start at
  ``pad_token_id + 1``, no token types.

Our ``UniLMTransformer`` computes each of them exactly: post-LayerNorm BERT layers (q, k, v
fused into one projection, in that order), learned absolute positions, an optional relative
bias shared by all layers with the same bucket function (``modules/relative_position.py``), and
BERT's MLM head tied to the input embeddings.
"""
from typing import Dict, List, Tuple

import torch

# config.json hidden_act -> our activation_fn (fairseq's names) and back
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_accurate", "gelu_pytorch_tanh": "gelu_accurate",
               "gelu_fast": "gelu_accurate", "relu": "relu"}
EXPORT_ACTIVATIONS = {"gelu": "gelu", "gelu_accurate": "gelu_new", "relu": "relu"}
MPNET_MAX_DISTANCE = 128  # fixed in transformers' MPNet: relative_position_bucket(max_distance=128)


class FormatError(ValueError):
    """A checkpoint or config this converter cannot map exactly (the message says which key/field)."""


def detect_format(config: dict, source: str = "config.json") -> str:
    from .inputs import json_field

    model_type = str(json_field(config, source, "model_type", str, default="", required=False)).lower()
    if model_type in ("unilm", "unilmv2") or (json_field(config, source, "rel_pos_bins", int, default=0,
                                                          required=False) or 0) > 0:
        return "unilm"
    if model_type in ("bert", "minilm"):
        return "bert"
    if model_type == "mpnet":
        return "mpnet"
    raise FormatError(
        f"{source}: model_type {config.get('model_type')!r} is not supported; supported: bert (BERT, MiniLM), "
        f"unilm (microsoft/unilm s2s-ft UniLM/UniLMv2: a BERT config with rel_pos_bins and max_rel_pos), mpnet")


def model_settings(config: dict, fmt: str, source: str = "config.json") -> Dict[str, object]:
    """Our model-config fields (``UniLMv2Config``) from config.json (``source`` names it in
    messages), and ``segments_trained``: the token-type rows the checkpoint trained. Raises
    FormatError for settings the model cannot reproduce (another position_embedding_type, an
    unknown hidden_act) and for values of the wrong JSON type.

    A checkpoint with one token type (``type_vocab_size`` 1) gets ``num_segments`` 2: seq2seq
    fine-tuning puts the target on segment 1 (and pair classification the second sentence); the
    converter starts that row as a copy of row 0 (``convert.py``), so the model computes what the
    original computes whatever the segment ids."""
    from .inputs import json_field

    def get(key, kind, default=None):
        return json_field(config, source, key, kind, default=default, required=default is None)

    pet = get("position_embedding_type", str, "absolute")
    if pet != "absolute":
        raise FormatError(f"{source}: position_embedding_type {pet!r}: only 'absolute' is supported")
    act = get("hidden_act", str, "gelu")
    if act not in ACTIVATIONS:
        raise FormatError(f"{source}: hidden_act {act!r} is not supported; supported: {', '.join(ACTIVATIONS)}")
    if fmt == "mpnet" and ACTIVATIONS[act] != "gelu":
        # transformers' MPNetLMHead applies exact gelu whatever hidden_act says
        raise FormatError(f"{source}: hidden_act {act!r} in an MPNet model: its MLM head uses gelu, ours one activation")
    positions = get("max_position_embeddings", int)
    if fmt == "mpnet":
        positions -= position_offset(config, fmt)
    types = 0 if fmt == "mpnet" else get("type_vocab_size", int, 2)
    if types < 0:
        raise FormatError(f"{source}: type_vocab_size {types} is negative")
    settings = {
        "encoder_layers": get("num_hidden_layers", int),
        "encoder_embed_dim": get("hidden_size", int),
        "encoder_ffn_embed_dim": get("intermediate_size", int),
        "encoder_attention_heads": get("num_attention_heads", int),
        "max_positions": positions,
        "num_segments": 2 if types == 1 else types,
        "segments_trained": types,
        "rel_pos_buckets": 0,
        "rel_pos_max_distance": 128,
        "layer_norm_eps": get("layer_norm_eps", float, 1e-12),
        "activation_fn": ACTIVATIONS[act],
        "dropout": get("hidden_dropout_prob", float, 0.1),
        "attention_dropout": get("attention_probs_dropout_prob", float, 0.1),
        "activation_dropout": 0.0,
    }
    for key, field in (("encoder_layers", "num_hidden_layers"), ("encoder_embed_dim", "hidden_size"),
                       ("encoder_ffn_embed_dim", "intermediate_size"), ("encoder_attention_heads", "num_attention_heads"),
                       ("max_positions", "max_position_embeddings")):
        if settings[key] <= 0:
            raise FormatError(f"{source}: {field} {config[field]} must be positive")
    if settings["encoder_embed_dim"] % settings["encoder_attention_heads"]:
        raise FormatError(f"{source}: hidden_size {settings['encoder_embed_dim']} is not a multiple of "
                          f"num_attention_heads {settings['encoder_attention_heads']}")
    if fmt == "unilm":
        settings["rel_pos_buckets"] = get("rel_pos_bins", int)
        settings["rel_pos_max_distance"] = get("max_rel_pos", int)
    elif fmt == "mpnet":
        settings["rel_pos_buckets"] = get("relative_attention_num_buckets", int, 32)
        settings["rel_pos_max_distance"] = MPNET_MAX_DISTANCE
    return settings


MPNET_PADDING_IDX = 1  # transformers' MPNetEmbeddings fixes padding_idx = 1, whatever config.json says


def position_offset(config: dict, fmt: str) -> int:
    """Rows of the HF position table before position 0: MPNet numbers positions from
    ``padding_idx + 1`` = 2 (RoBERTa's ``create_position_ids_from_input_ids`` with transformers'
    fixed padding_idx 1); BERT from 0."""
    return MPNET_PADDING_IDX + 1 if fmt == "mpnet" else 0


# Our parameter -> HF name after the model prefix, per format. "{i}" is the layer index.
# The feed-forward block has the same names in BERT and MPNet; attention's output differs.
_FFN = {
    "fc1.weight": "encoder.layer.{i}.intermediate.dense.weight",
    "fc1.bias": "encoder.layer.{i}.intermediate.dense.bias",
    "fc2.weight": "encoder.layer.{i}.output.dense.weight",
    "fc2.bias": "encoder.layer.{i}.output.dense.bias",
    "ffn_norm.weight": "encoder.layer.{i}.output.LayerNorm.weight",
    "ffn_norm.bias": "encoder.layer.{i}.output.LayerNorm.bias",
}
_LAYER = {
    "bert": {
        "attn.out.weight": "encoder.layer.{i}.attention.output.dense.weight",
        "attn.out.bias": "encoder.layer.{i}.attention.output.dense.bias",
        "attn_norm.weight": "encoder.layer.{i}.attention.output.LayerNorm.weight",
        "attn_norm.bias": "encoder.layer.{i}.attention.output.LayerNorm.bias",
        **_FFN,
    },
    "mpnet": {
        "attn.out.weight": "encoder.layer.{i}.attention.attn.o.weight",
        "attn.out.bias": "encoder.layer.{i}.attention.attn.o.bias",
        "attn_norm.weight": "encoder.layer.{i}.attention.LayerNorm.weight",
        "attn_norm.bias": "encoder.layer.{i}.attention.LayerNorm.bias",
        **_FFN,
    },
}
_LAYER["unilm"] = _LAYER["bert"]
_QKV = {
    "bert": ("encoder.layer.{i}.attention.self.query", "encoder.layer.{i}.attention.self.key",
             "encoder.layer.{i}.attention.self.value"),
    "mpnet": ("encoder.layer.{i}.attention.attn.q", "encoder.layer.{i}.attention.attn.k",
              "encoder.layer.{i}.attention.attn.v"),
}
_QKV["unilm"] = _QKV["bert"]
_EMBED = {
    "bert": {"embed_tokens.weight": "embeddings.word_embeddings.weight",
             "embed_positions.weight": "embeddings.position_embeddings.weight",
             "embed_segments.weight": "embeddings.token_type_embeddings.weight",
             "embed_norm.weight": "embeddings.LayerNorm.weight",
             "embed_norm.bias": "embeddings.LayerNorm.bias"},
    "mpnet": {"embed_tokens.weight": "embeddings.word_embeddings.weight",
              "embed_positions.weight": "embeddings.position_embeddings.weight",
              "embed_norm.weight": "embeddings.LayerNorm.weight",
              "embed_norm.bias": "embeddings.LayerNorm.bias",
              "rel_pos.table.weight": "encoder.relative_attention_bias.weight"},
}
_EMBED["unilm"] = dict(_EMBED["bert"], **{"rel_pos.table.weight": "rel_pos_bias.weight"})
PREFIX = {"bert": "bert.", "unilm": "bert.", "mpnet": "mpnet."}
# Our MLM head -> HF names (full names, no model prefix)
_HEAD = {
    "bert": {"lm_head.dense.weight": "cls.predictions.transform.dense.weight",
             "lm_head.dense.bias": "cls.predictions.transform.dense.bias",
             "lm_head.norm.weight": "cls.predictions.transform.LayerNorm.weight",
             "lm_head.norm.bias": "cls.predictions.transform.LayerNorm.bias",
             "lm_head.bias": "cls.predictions.bias"},
    "mpnet": {"lm_head.dense.weight": "lm_head.dense.weight",
              "lm_head.dense.bias": "lm_head.dense.bias",
              "lm_head.norm.weight": "lm_head.layer_norm.weight",
              "lm_head.norm.bias": "lm_head.layer_norm.bias",
              "lm_head.bias": "lm_head.bias"},
}
_HEAD["unilm"] = _HEAD["bert"]
# HF tensors that carry nothing our model computes with: position-id buffers, the pooler and
# next-sentence head (not part of MLM), the tied decoder (checked equal to the embeddings) and
# s2s-ft's label-smoothing buffer.
_TIED_DECODER = {"bert": ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias"),
                 "mpnet": ("lm_head.decoder.weight", "lm_head.decoder.bias")}
_TIED_DECODER["unilm"] = _TIED_DECODER["bert"]
_IGNORED_SUFFIXES = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias",
                     "cls.seq_relationship.weight", "cls.seq_relationship.bias", "crit_mask_lm_smoothed.one_hot")


def normalise_names(state: Dict[str, torch.Tensor], fmt: str) -> Dict[str, torch.Tensor]:
    """Keys with the model prefix (``bert.``/``mpnet.``) whether or not the file had it, and
    TF-era ``LayerNorm.gamma``/``beta`` spelled ``weight``/``bias``."""
    prefix = PREFIX[fmt]
    heads = ("cls.", "lm_head.", "crit_mask_lm_smoothed.")
    out = {}
    for key, value in state.items():
        name = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if not name.startswith(prefix) and not name.startswith(heads):
            name = prefix + name
        out[name] = value
    return out


def hf_to_ours(state: Dict[str, torch.Tensor], fmt: str, layers: int, offset: int = 0
               ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Our ``UniLMTransformer`` tensors (names without ``transformer.``) from a HF state dict.

    Returns ``(tensors, notes)``. An absent MLM head gives no ``lm_head.*`` tensors (the caller
    initialises them; a note says so).

    Raises:
        FormatError: a tensor this format needs is missing (its HF name), part of the MLM head is
            missing, a tensor is not one the format has (unknown key), or the decoder is not tied
            to the input embeddings.
    """
    state = normalise_names(state, fmt)
    prefix, used, out, notes = PREFIX[fmt], set(), {}, []

    def take(name):
        if name not in state:
            raise FormatError(f"the checkpoint has no tensor {name!r}, which a {fmt} model with {layers} layers has")
        used.add(name)
        return state[name]

    for ours, theirs in _EMBED[fmt].items():
        if ours == "embed_segments.weight" and prefix + theirs not in state:
            continue  # checked against type_vocab_size by the caller's shape check
        out[ours] = take(prefix + theirs)
    if "rel_pos.table.weight" in out and fmt == "unilm":
        out["rel_pos.table.weight"] = out["rel_pos.table.weight"].t()  # Linear (heads, bins) -> table (bins, heads)
    if offset:
        out["embed_positions.weight"] = out["embed_positions.weight"][offset:]
    for i in range(layers):
        q, k, v = (take(prefix + n.format(i=i) + ".weight") for n in _QKV[fmt])
        out[f"layers.{i}.attn.qkv.weight"] = torch.cat([q, k, v], 0)
        q, k, v = (take(prefix + n.format(i=i) + ".bias") for n in _QKV[fmt])
        out[f"layers.{i}.attn.qkv.bias"] = torch.cat([q, k, v], 0)
        for ours, theirs in _LAYER[fmt].items():
            out[f"layers.{i}.{ours}"] = take(prefix + theirs.format(i=i))
    head = _HEAD[fmt]
    present = [n for n in head.values() if n in state]
    if present and len(present) < len(head):
        missing = [n for n in head.values() if n not in state]
        raise FormatError(f"the checkpoint has part of the MLM head ({present[0]}) but not {missing[0]!r}")
    if present:
        for ours, theirs in head.items():
            out[ours] = take(theirs)
        decoder_w, decoder_b = _TIED_DECODER[fmt]
        if decoder_w in state:
            used.add(decoder_w)
            if not torch.equal(state[decoder_w], out["embed_tokens.weight"]):
                raise FormatError(f"{decoder_w} differs from the input embeddings: our MLM head is tied to "
                                  f"them, an untied decoder cannot be converted exactly")
        if decoder_b in state:
            used.add(decoder_b)
            if not torch.equal(state[decoder_b], out["lm_head.bias"]):
                raise FormatError(f"{decoder_b} differs from {head['lm_head.bias']}: cannot be converted exactly")
    else:
        notes.append("no MLM head in the checkpoint: its output projection is tied to the input embeddings, "
                     "its dense layer and LayerNorm start as BERT initialises them (normal(0, 0.02), ones) and "
                     "its bias at 0")
    unknown = [k for k in state if k not in used and not k.endswith(_IGNORED_SUFFIXES)]
    if unknown:
        raise FormatError(f"the checkpoint holds {len(unknown)} tensor(s) a {fmt} model with {layers} layers does "
                          f"not have, e.g. {unknown[0]!r} {tuple(state[unknown[0]].shape)}: is num_hidden_layers "
                          f"right, or is it another model type?")
    return out, notes


def ours_to_hf(tensors: Dict[str, torch.Tensor], fmt: str, layers: int, offset: int = 0,
               mlm_head: bool = True) -> Dict[str, torch.Tensor]:
    """The inverse of :func:`hf_to_ours` for ``bert`` and ``mpnet`` (BertForMaskedLM /
    MPNetForMaskedLM names, decoder omitted: transformers ties it). ``tensors`` are ours without
    ``transformer.``; MPNet gets ``offset`` zero rows before position 0. ``mlm_head`` False: the
    encoder alone (for a ``*ForSequenceClassification`` export)."""
    prefix, out = PREFIX[fmt], {}
    dim = tensors["embed_tokens.weight"].size(1)
    for ours, theirs in _EMBED[fmt].items():
        if ours in tensors:
            out[prefix + theirs] = tensors[ours]
    if offset:
        table = tensors["embed_positions.weight"]
        out[prefix + _EMBED[fmt]["embed_positions.weight"]] = torch.cat([table.new_zeros(offset, table.size(1)), table])
    for i in range(layers):
        for part, suffix in (("weight", ".weight"), ("bias", ".bias")):
            q, k, v = tensors[f"layers.{i}.attn.qkv.{part}"].split(dim, 0)
            for name, t in zip(_QKV[fmt], (q, k, v)):
                out[prefix + name.format(i=i) + suffix] = t
        for ours, theirs in _LAYER[fmt].items():
            out[prefix + theirs.format(i=i)] = tensors[f"layers.{i}.{ours}"]
    for ours, theirs in (_HEAD[fmt].items() if mlm_head else ()):
        out[theirs] = tensors[ours]
    return {k: v.contiguous() for k, v in out.items()}
