"""``unilmv2-export-hf CHECKPOINT OUT_DIR``: a unilmv2 checkpoint as a folder that
``transformers.AutoModelForMaskedLM.from_pretrained(OUT_DIR)`` (and ``AutoTokenizer``, for models
with a WordPiece vocabulary) loads with no code of ours.

Format, from the model's settings:

- no relative position bias (``--rel-pos-buckets 0``): BERT (``BertForMaskedLM``), exact, token
  types included;
- with the bias: MPNet (``MPNetForMaskedLM``), whose one shared bias table uses our bucket function
  at max distance 128. MPNet has no token types, so segment 0's embedding (the one pre-training
  and MLM use) is added into the position table; segment 1 (the target side of seq2seq
  fine-tuning) is not exported, and a model with ``--rel-pos-max-distance`` other than 128 cannot
  be exported (transformers fixes 128).

Exported vocabulary: the model's dictionary without the ``<pseudo>`` symbol the tasks append
(a seq2seq-only input). ``vocab.txt`` lists it in id order, fairseq's ``<s> <pad> </s> <unk>``
and ``<mask>`` spelled ``[CLS] [PAD] [SEP] [UNK] [MASK]`` and fairseq-preprocess's
``madeupwordNNNN`` fillers ``[unusedN]``, so BertTokenizer gives our ids. Tokenizer files are
written only for WordPiece vocabularies (``##`` continuations); a SentencePiece-trained model gets
config.json and model.safetensors and a note (transformers has no tokenizer reading fairseq's
dict.txt with a SentencePiece model).

A MAE-LM checkpoint exports its encoder (the shallow decoder is pre-training only). Files are
written to a temporary folder renamed at the end.
"""
import argparse


def build_parser():
    p = argparse.ArgumentParser(
        prog="unilmv2-export-hf",
        description="Export a unilmv2 checkpoint (any --task pmlm objective, or unilm_seq2seq) as a HuggingFace "
                    "BertForMaskedLM / MPNetForMaskedLM folder with config.json, model.safetensors and tokenizer files.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint written by fairseq-train or unilmv2-convert-hf")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to create (must not exist, or be empty)")
    p.add_argument("--dict", help="the model's dict.txt (default: dict.txt in the checkpoint's data folder, as its "
                                  "task config names it, or beside the checkpoint)")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    return p


def run(args) -> int:
    import os
    import sys

    from .out_dir import write_out_dir

    out = os.path.abspath(args.out_dir)
    status, notes = write_out_dir("unilmv2-export-hf", out, os.path.dirname(os.path.abspath(args.checkpoint)),
                                  "the checkpoint's folder", args.force, lambda tmp: export(args.checkpoint, tmp, args.dict))
    if status:
        return status
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(out)
    return 0


def find_dict(checkpoint_path: str, cfg) -> str:
    """The dictionary of the checkpoint's data folder (its task config's ``data``): dict.txt
    (--task pmlm) or dict.SRC.txt (--task unilm_seq2seq); else dict.txt beside the checkpoint."""
    import os

    task = (cfg.get("task") or {}) if hasattr(cfg, "get") else {}
    folders = []
    if task.get("data"):
        folders.append(str(task["data"]).split(os.pathsep)[0])
    folders.append(os.path.dirname(os.path.abspath(checkpoint_path)))
    names = ["dict.txt"] + ([f"dict.{task['source_lang']}.txt"] if task.get("source_lang") else [])
    candidates = [os.path.join(folder, name) for folder in folders for name in names]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no dictionary found for {checkpoint_path} (looked at {', '.join(candidates)}): "
                            f"pass --dict DATA_BIN/dict.txt, the dictionary it was trained with")


# fairseq's specials and the tasks' symbols, as BERT's tokenizer spells them
_BERT_NAMES = {"<s>": "[CLS]", "<pad>": "[PAD]", "</s>": "[SEP]", "<unk>": "[UNK]", "<mask>": "[MASK]"}


def exported_vocab(dictionary):
    """``(tokens, roles)``: the vocabulary in id order without ``<pseudo>``, and the symbols of
    the tokenizer's cls/pad/sep/unk/mask. Raises ValueError when ``<pseudo>`` is not last."""
    import re

    from ..tasks.dictionary import PSEUDO_SYMBOL, VocabDictionary

    symbols = list(dictionary.symbols)
    if symbols[-1] != PSEUDO_SYMBOL:
        raise ValueError(f"the dictionary does not end with {PSEUDO_SYMBOL}: not a unilmv2 task dictionary")
    symbols.pop()
    if isinstance(dictionary, VocabDictionary):
        roles = dict(dictionary.roles)
        if "<mask>" in symbols and "mask" not in roles:
            roles["mask"] = "<mask>"
        return symbols, roles
    tokens = []
    for s in symbols:
        m = re.fullmatch(r"madeupword(\d+)", s)
        tokens.append(_BERT_NAMES.get(s, f"[unused{int(m.group(1))}]" if m else s))
    return tokens, {"bos": "[CLS]", "pad": "[PAD]", "eos": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"}


def export(checkpoint_path: str, out_dir: str, dict_path: str = None):
    """Write config.json, model.safetensors and the tokenizer files into ``out_dir``; returns notes."""
    import json
    import os

    import torch
    from safetensors.torch import save_file

    from ..checkpoint_safety import fairseq_checkpoint_globals
    from ..tasks.dictionary import add_special_symbols, load_dictionary
    from .formats import EXPORT_ACTIVATIONS, MPNET_MAX_DISTANCE, MPNET_PADDING_IDX, FormatError, ours_to_hf

    if not os.path.isfile(checkpoint_path):
        raise FileNotFoundError(f"{checkpoint_path} not found")
    try:
        with torch.serialization.safe_globals(fairseq_checkpoint_globals()):
            state = torch.load(checkpoint_path, map_location="cpu")
    except Exception as e:  # an unsafe pickle (refused, never run), or not a torch file at all
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{checkpoint_path}: not a checkpoint this command loads safely ({first}); pass a "
                         f"checkpoint written by fairseq-train or unilmv2-convert-hf") from None
    if not isinstance(state, dict):
        raise FormatError(f"{checkpoint_path} is not a fairseq checkpoint (a {type(state).__name__}, not a dict)")
    cfg = state.get("cfg") or {}
    model_cfg = cfg.get("model") if hasattr(cfg, "get") else None
    weights = state.get("model") or {}
    if model_cfg is None or "transformer.embed_tokens.weight" not in weights:
        raise FormatError(f"{checkpoint_path} is not a unilmv2 checkpoint (no model config or no "
                          f"transformer.embed_tokens.weight)")
    dict_path = dict_path or find_dict(checkpoint_path, cfg)
    dictionary = load_dictionary(dict_path)
    add_special_symbols(dictionary)
    rows = weights["transformer.embed_tokens.weight"].size(0)
    if rows != len(dictionary):
        raise FormatError(f"the checkpoint's vocabulary has {rows} entries, the dictionary plus the tasks' symbols "
                          f"{len(dictionary)}: pass the dict.txt it was trained with (--dict)")
    tokens, roles = exported_vocab(dictionary)
    n = len(tokens)

    def get(name, default=None):
        return model_cfg.get(name, default)

    layers = int(get("encoder_layers"))
    buckets = int(get("rel_pos_buckets", 0) or 0)
    segments = int(get("num_segments", 0) or 0)
    activation = get("activation_fn", "gelu") or "gelu"
    if activation not in EXPORT_ACTIVATIONS:
        raise FormatError(f"activation_fn {activation!r} has no transformers name")
    # the Transformer alone: MAE-LM's pre-training decoder (mae_decoder.*) is not exported
    tensors = {k.removeprefix("transformer."): v.float() for k, v in weights.items()
               if k.startswith("transformer.") and k != "transformer.lm_head.weight"}
    for name in ("embed_tokens.weight", "lm_head.bias"):
        tensors[name] = tensors[name][:n]
    pad = dictionary.pad()
    notes = []
    if buckets:
        fmt = "mpnet"
        if int(get("rel_pos_max_distance", 128)) != MPNET_MAX_DISTANCE:
            raise FormatError(f"this model's relative positions saturate at --rel-pos-max-distance "
                              f"{get('rel_pos_max_distance')}; transformers' MPNet fixes 128, and BERT has no "
                              f"relative bias: it cannot be exported")
        if activation != "gelu":
            raise FormatError(f"activation_fn {activation}: transformers' MPNet MLM head always uses gelu")
        if segments:
            tensors["embed_positions.weight"] = tensors["embed_positions.weight"] + tensors.pop("embed_segments.weight")[0]
            notes.append("MPNet has no token types: segment 0's embedding is added into the position table "
                         "(segment 1, used by seq2seq fine-tuning only, is not exported)")
        if pad != MPNET_PADDING_IDX:
            # transformers' MPNet treats id 1 as padding (fixed): swap the padding row to id 1
            swap = [MPNET_PADDING_IDX, pad]
            for name in ("embed_tokens.weight", "lm_head.bias"):
                t = tensors[name].clone()
                t[[pad, MPNET_PADDING_IDX]] = tensors[name][swap]
                tensors[name] = t
            tokens[pad], tokens[MPNET_PADDING_IDX] = tokens[MPNET_PADDING_IDX], tokens[pad]
            notes.append(f"transformers' MPNet treats id {MPNET_PADDING_IDX} as padding: {tokens[MPNET_PADDING_IDX]!r} "
                         f"(id {pad} here) and {tokens[pad]!r} (id {MPNET_PADDING_IDX} here) swap ids in the export")
            pad = MPNET_PADDING_IDX
        offset = MPNET_PADDING_IDX + 1
        config = {
            "architectures": ["MPNetForMaskedLM"], "model_type": "mpnet",
            "relative_attention_num_buckets": buckets,
            "max_position_embeddings": int(get("max_positions")) + offset,
            "bos_token_id": tokens.index(roles["bos"]), "eos_token_id": tokens.index(roles["eos"]),
        }
    else:
        fmt, offset = "bert", 0
        if not segments:
            tensors["embed_segments.weight"] = tensors["embed_tokens.weight"].new_zeros(1, tensors["embed_tokens.weight"].size(1))
        config = {
            "architectures": ["BertForMaskedLM"], "model_type": "bert",
            "type_vocab_size": max(segments, 1), "position_embedding_type": "absolute",
            "max_position_embeddings": int(get("max_positions")),
        }
    config.update({
        "vocab_size": n, "hidden_size": int(get("encoder_embed_dim")), "num_hidden_layers": layers,
        "num_attention_heads": int(get("encoder_attention_heads")),
        "intermediate_size": int(get("encoder_ffn_embed_dim")), "hidden_act": EXPORT_ACTIVATIONS[activation],
        "hidden_dropout_prob": float(get("dropout", 0.1)), "attention_probs_dropout_prob": float(get("attention_dropout", 0.1)),
        "layer_norm_eps": float(get("layer_norm_eps", 1e-12) or 1e-12), "initializer_range": 0.02,
        "pad_token_id": pad, "tie_word_embeddings": True,
    })
    save_file(ours_to_hf(tensors, fmt, layers, offset), os.path.join(out_dir, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    if any(t.startswith("##") for t in tokens):
        write_tokenizer(out_dir, tokens, roles, int(get("max_positions")),
                        lowercases(tokens, os.path.dirname(os.path.abspath(dict_path))))
    else:
        notes.append("the vocabulary is not WordPiece (no ## continuations): no tokenizer files written; "
                     "tokenize as in training (preprocess/encode.py) and feed the dict.txt ids")
    return notes


CASED_MIN_FRACTION = 0.01  # as preprocess/wordpiece.py: bert-base-cased ~1/4, uncased vocabularies ~0


def lowercases(tokens, dict_dir):
    """Whether the tokenizer lowercases: ``do_lower_case`` of a tokenizer_config.json beside the
    dictionary (unilmv2-convert-hf copies the original's), else read off the vocabulary: uncased
    when under 1% of the entries with cased letters hold an uppercase one (an uncased vocabulary
    can still list a few symbols such as Roman numerals)."""
    import json
    import os
    import re

    path = os.path.join(dict_dir, "tokenizer_config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            value = json.load(f).get("do_lower_case")
        if isinstance(value, bool):
            return value
    special = re.compile(r"^(\[[A-Za-z]+\d*\]|<[a-z/]+>)$")
    upper = letters = 0
    for t in tokens:
        if special.match(t):
            continue
        t = t.removeprefix("##")
        if any(c.lower() != c.upper() for c in t):
            letters += 1
            upper += any(c.isupper() for c in t)
    return upper < CASED_MIN_FRACTION * max(letters, 1)


def write_tokenizer(out_dir, tokens, roles, max_length, lowercase):
    """vocab.txt, tokenizer_config.json and special_tokens_map.json for BertTokenizer."""
    import json
    import os

    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(t + "\n" for t in tokens)
    specials = {"cls_token": roles["bos"], "sep_token": roles["eos"], "pad_token": roles["pad"],
                "unk_token": roles["unk"]}
    if "mask" in roles:
        specials["mask_token"] = roles["mask"]
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(dict(specials, tokenizer_class="BertTokenizer", do_lower_case=lowercase,
                       model_max_length=max_length), f, indent=2)


def main(argv=None):
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
