"""``unilmv2-convert-hf HF_DIR OUT_DIR``: a HuggingFace BERT / MiniLM / UniLM (s2s-ft) / MPNet
checkpoint as a ``unilmv2`` fairseq checkpoint.

HF_DIR holds config.json, the weights (model.safetensors, preferred; a sharded
model.safetensors.index.json; pytorch_model.bin or any single ``*.bin``, read with
``weights_only=True``) and vocab.txt. HF_DIR may also name the weights file itself, with
config.json and vocab.txt beside it.

OUT_DIR receives:

- ``model.pt``: a fairseq checkpoint of ``--task pmlm --arch unilmv2`` with the model's sizes,
  LayerNorm epsilon, activation, position table and relative-position settings in its config;
- ``dict.txt``: the vocabulary with its own ids (``fairseq_unilmv2/vocab_ids.py``), for
  ``fairseq-preprocess --srcdict`` / ``preprocess/binarize.py --dict``;
- ``vocab.txt`` and the tokenizer files of HF_DIR, for ``preprocess/encode.py --wordpiece-vocab``;
- ``train_flags.txt``: the fairseq-train flags that build this model (also printed).

The vocabulary's ``[MASK]`` stays the MLM mask; ``<pseudo>`` (UniLMv2's [P]) is appended after
the vocabulary, its embedding and output bias copied from ``[MASK]``'s, because s2s-ft feeds
``[MASK]`` as the pseudo token when fine-tuning UniLM checkpoints.

Public shapes: one token type (``type_vocab_size`` 1) converts with a second segment row copied
from the first (seq2seq targets and pairs' second sentences are segment 1); the model config
records ``segments_trained`` (the token-type rows the source trained); an embedding table padded
beyond vocab.txt keeps its padding rows as ``[unusedN]`` fillers, which MLM replacements and
generation never use. Damaged input files are named, with what is wrong, in one line
(``inputs.py``).

Everything is written to a temporary folder beside OUT_DIR and put in place at the end: OUT_DIR
is whole (old or new) whenever the run is killed (``out_dir.py``). This module imports only
argparse at module level (the console script parses before importing fairseq).
"""
import argparse

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")
# The symbols playing fairseq's roles, per format, unless tokenizer_config.json names others.
DEFAULT_ROLES = {
    "bert": {"bos": "[CLS]", "pad": "[PAD]", "eos": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"},
    "mpnet": {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "[UNK]", "mask": "<mask>"},
}
DEFAULT_ROLES["unilm"] = DEFAULT_ROLES["bert"]
_TOKENIZER_KEYS = {"bos": "cls_token", "pad": "pad_token", "eos": "sep_token", "unk": "unk_token", "mask": "mask_token"}


def build_parser():
    p = argparse.ArgumentParser(
        prog="unilmv2-convert-hf",
        description="Convert a HuggingFace BERT / MiniLM / UniLM (s2s-ft) / MPNet checkpoint into a unilmv2 "
                    "fairseq checkpoint (OUT_DIR/model.pt) with a dictionary keeping the vocabulary's ids "
                    "(OUT_DIR/dict.txt).",
    )
    p.add_argument("hf_dir", metavar="HF_DIR",
                   help="folder with config.json, model.safetensors or pytorch_model.bin (or one *.bin) and "
                        "vocab.txt; or the weights file itself, with config.json and vocab.txt beside it")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to create (must not exist, or be empty)")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    return p


def run(args) -> int:
    import json
    import logging
    import os
    import sys

    from .out_dir import write_out_dir

    logging.basicConfig(format="%(levelname)s | %(message)s", level=logging.INFO, stream=sys.stderr)
    logging.getLogger("hydra").setLevel(logging.WARNING)  # fairseq's config parsing chats at DEBUG
    out = os.path.abspath(args.out_dir)
    source = args.hf_dir if os.path.isdir(args.hf_dir) else os.path.dirname(os.path.abspath(args.hf_dir))
    status, result = write_out_dir("unilmv2-convert-hf", out, source, "the input folder", args.force,
                                   lambda tmp: convert(args.hf_dir, tmp, final_dir=out))
    if status:
        return status
    flags, notes = result
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(json.dumps({"checkpoint": os.path.join(out, "model.pt"), "dict": os.path.join(out, "dict.txt"),
                      "train_flags": flags}, indent=1))
    return 0


def find_files(hf_dir: str):
    """``(folder, weights_path)``. Raises FileNotFoundError naming what is missing."""
    import glob
    import os

    if os.path.isfile(hf_dir):
        return os.path.dirname(os.path.abspath(hf_dir)), hf_dir
    if not os.path.isdir(hf_dir):
        raise FileNotFoundError(f"{hf_dir} does not exist")
    for name in WEIGHT_FILES:
        if os.path.isfile(os.path.join(hf_dir, name)):
            return hf_dir, os.path.join(hf_dir, name)
    bins = sorted(glob.glob(os.path.join(hf_dir, "*.bin")))
    if len(bins) == 1:
        return hf_dir, bins[0]
    found = ", ".join(sorted(os.listdir(hf_dir))[:10]) or "nothing"
    raise FileNotFoundError(f"{hf_dir} holds no weights ({' / '.join(WEIGHT_FILES)} or a single *.bin); found: {found}")


def read_weights(path: str):
    """name -> tensor from safetensors (one file or a sharded index) or a torch .bin (weights_only);
    a damaged file raises ValueError naming it and what is wrong (``inputs.read_weights``)."""
    from .inputs import read_weights as read

    return read(path)


def read_roles(folder: str, fmt: str, vocab):
    """fairseq's roles -> vocabulary symbols, from tokenizer_config.json / special_tokens_map.json
    where they name them, else the format's defaults. A role whose symbol the vocabulary lacks is
    an error, except ``mask`` (then the tasks append ``<mask>``)."""
    import os

    from .inputs import read_json_object

    roles = dict(DEFAULT_ROLES[fmt])
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            config = read_json_object(path, "the tokenizer's settings")
            for role, key in _TOKENIZER_KEYS.items():
                value = config.get(key)
                if isinstance(value, dict):  # AddedToken serialised
                    value = value.get("content")
                if isinstance(value, str) and value:
                    roles[role] = value
    present = set(vocab)
    for role, symbol in list(roles.items()):
        if symbol not in present:
            if role == "mask":
                del roles[role]
                continue
            raise ValueError(f"{folder}/vocab.txt has no {symbol!r}, the {role} token of this {fmt} model")
    return roles


def padding_fillers(vocab, rows: int, vocab_path: str):
    """Names for the embedding rows after the last vocab.txt line (a table padded to a multiple of
    8, 64, 128...): ``[unusedN]`` with N after the vocabulary's own placeholders, the form
    ``vocab_ids`` counts as special, so that (like fairseq's ``madeupwordNNNN`` fillers) random MLM
    replacements and generation never use them. Raises FormatError when the rows are fewer than
    the lines, or the surplus is not such a padding (a vocab.txt of another model)."""
    import re

    from .formats import FormatError

    extra = rows - len(vocab)
    if extra < 0:
        raise FormatError(f"{vocab_path} lists {len(vocab)} tokens but config.json says vocab_size {rows} (and the "
                          f"embedding table has that many rows): is vocab.txt this model's?")
    if extra == 0:
        return []
    multiple = rows & -rows  # the largest power of two dividing vocab_size
    if multiple <= extra:
        raise FormatError(f"{vocab_path} lists {len(vocab)} tokens but config.json says vocab_size {rows}: {extra} "
                          f"rows more, which is not a padding of the table to a multiple of a power of two "
                          f"(vocab_size's largest is {multiple}): is vocab.txt this model's?")
    taken = [int(m.group(1)) for t in vocab for m in [re.fullmatch(r"\[unused(\d+)\]", t)] if m]
    first = max(taken, default=-1) + 1
    return [f"[unused{first + i}]" for i in range(extra)]


def convert(hf_dir: str, out_dir: str, final_dir: str = None):
    """Write model.pt, dict.txt, the tokenizer files and train_flags.txt into ``out_dir``.
    Returns ``(train_flags, notes)``. Raises FormatError / FileNotFoundError / ValueError."""
    import os
    import shutil

    import torch

    from .formats import MPNET_PADDING_IDX, FormatError, detect_format, hf_to_ours, model_settings, position_offset
    from .inputs import json_field, read_json_object, read_lines

    folder, weights_path = find_files(hf_dir)
    config_path, vocab_path = os.path.join(folder, "config.json"), os.path.join(folder, "vocab.txt")
    config = read_json_object(config_path, "the model's settings")
    vocab = read_lines(vocab_path, "the WordPiece vocabulary")
    fmt = detect_format(config, config_path)
    settings = model_settings(config, fmt, config_path)
    segments_trained = settings.pop("segments_trained")
    rows = json_field(config, config_path, "vocab_size", int, default=len(vocab), required=False)
    fillers = padding_fillers(vocab, rows, vocab_path)
    words = len(vocab)  # vocab.txt's own lines; the fillers follow them
    roles = read_roles(folder, fmt, vocab)
    vocab = vocab + fillers
    if fmt == "mpnet" and vocab.index(roles["pad"]) != MPNET_PADDING_IDX:
        raise FormatError(f"{vocab_path}: the padding token {roles['pad']!r} has id {vocab.index(roles['pad'])}, but "
                          f"transformers' MPNet treats id {MPNET_PADDING_IDX} as padding whatever the vocabulary says: "
                          f"the checkpoint's outputs depend on that, and cannot be reproduced")
    notes = []
    if fmt == "mpnet" and settings["rel_pos_buckets"] != 32:
        if settings["rel_pos_buckets"] < 32:
            raise FormatError(f"{config_path}: relative_attention_num_buckets {settings['rel_pos_buckets']}: "
                              f"transformers' MPNet looks up 32 buckets whatever the config says, so this checkpoint "
                              f"does not run in transformers either")

    tensors, more_notes = hf_to_ours(read_weights(weights_path), fmt, settings["encoder_layers"],
                                     position_offset(config, fmt))
    notes += more_notes
    tensors = {k: v.float() for k, v in tensors.items()}
    if fmt == "mpnet" and settings["rel_pos_buckets"] > 32:
        # transformers' MPNetEncoder.compute_position_bias(num_buckets=32): rows from 32 on are never read
        notes.append(f"config.json says relative_attention_num_buckets {settings['rel_pos_buckets']}, but "
                     f"transformers' MPNet computes 32 buckets whatever the config says: the table's first 32 rows "
                     f"are what the checkpoint computes with, and all that is converted (--rel-pos-buckets 32)")
        tensors["rel_pos.table.weight"] = tensors["rel_pos.table.weight"][:32]
        settings["rel_pos_buckets"] = 32
    segment_rows = tensors.get("embed_segments.weight")
    if segment_rows is not None and segments_trained == 1 and segment_rows.size(0) == 1:
        # One token type: segment 1 (seq2seq targets, second sentences) starts as a copy of row 0, so
        # the model computes what the original computes whatever the segment ids; fine-tuning then
        # trains it apart from row 0.
        tensors["embed_segments.weight"] = segment_rows.expand(2, -1).clone()
        notes.append("type_vocab_size 1: converted with 2 segments (seq2seq fine-tuning puts the target on "
                     "segment 1), row 1 starting as a copy of row 0, so the model computes the original's "
                     "function on either; segments_trained 1 is recorded in the checkpoint's model config")
    elif segment_rows is not None and segment_rows.size(0) == 0 and settings["num_segments"] == 0:
        del tensors["embed_segments.weight"]  # type_vocab_size 0: an empty table
    elif (segment_rows is not None and segment_rows.size(0) >= 2
          and all(torch.equal(row, segment_rows[0]) for row in segment_rows[1:])):
        # every row a copy of row 0 (e.g. unilmv2-export-hf's export of a one-segment model):
        # nothing was trained apart from row 0
        segments_trained = 1
        notes.append(f"the {segment_rows.size(0)} token-type rows are copies of row 0: segments_trained 1 is "
                     f"recorded (no trained segment-1 row)")

    # The model as our code builds it: its shapes are the contract, its init fills an absent head.
    from ..tasks.dictionary import PSEUDO_SYMBOL
    from ..models.unilmv2 import UniLMv2Config, UniLMv2Model

    class _Dict:  # the size and padding id are all the model reads from a dictionary
        def __init__(self, n, pad):
            self.n, self.pad_index = n, pad

        def __len__(self):
            return self.n

        def pad(self):
            return self.pad_index

    n = len(vocab) + 1 + (0 if "mask" in roles else 1)  # + <pseudo> (+ <mask> appended by the task)
    cfg = UniLMv2Config(**settings)
    torch.manual_seed(0)
    model = UniLMv2Model(cfg, _Dict(n, vocab.index(roles["pad"])))
    expected = {k.removeprefix("transformer."): v for k, v in model.state_dict().items()
                if k.startswith("transformer.")}
    vocab_rows = {"embed_tokens.weight", "lm_head.bias"}
    for name, t in tensors.items():
        want = expected[name].shape
        want = (len(vocab), *want[1:]) if name in vocab_rows else want
        if tuple(t.shape) != tuple(want):
            source = "config.json" if name not in vocab_rows else "config.json's vocab_size"
            raise FormatError(f"tensor for {name} (from the checkpoint): expected shape {tuple(want)} from "
                              f"{source}, found {tuple(t.shape)}")
    if settings["num_segments"] and "embed_segments.weight" not in tensors:
        raise FormatError("the checkpoint has no embeddings.token_type_embeddings.weight although config.json "
                          f"says type_vocab_size {segments_trained}")
    if "lm_head.bias" not in tensors:
        tensors["lm_head.bias"] = torch.zeros(len(vocab))
        for name in ("lm_head.dense.weight", "lm_head.dense.bias", "lm_head.norm.weight", "lm_head.norm.bias"):
            tensors[name] = expected[name].clone()
    # rows after the vocabulary: [P] (and <mask>) start from [MASK]'s row where there is one
    extra = n - len(vocab)
    source_row = vocab.index(roles["mask"]) if "mask" in roles else vocab.index(roles["unk"])
    for name in vocab_rows:
        t = tensors[name]
        tensors[name] = torch.cat([t, t[source_row : source_row + 1].expand(extra, *t.shape[1:])])
    tensors["lm_head.weight"] = tensors["embed_tokens.weight"]
    state = {f"transformer.{k}": v.contiguous() for k, v in tensors.items()}
    missing = [k for k in model.state_dict() if k not in state]
    if missing:
        raise FormatError(f"no tensor for {missing[0]} (the checkpoint lacks it)")
    model.load_state_dict(state, strict=True)  # the final shape check, by torch itself

    from .. import vocab_ids
    from .checkpoint import save_checkpoint, train_flags

    vocab_ids.write(os.path.join(out_dir, "dict.txt"), vocab, roles)
    if fillers and vocab_ids.ordinary_range(vocab, roles)[1] > words:
        raise FormatError(f"{vocab_path}: the padding rows after its {words} lines would count as words")  # a bug
    for name in TOKENIZER_FILES:
        if os.path.isfile(os.path.join(folder, name)):
            shutil.copyfile(os.path.join(folder, name), os.path.join(out_dir, name))
    flags = train_flags(settings)
    save_checkpoint(os.path.join(out_dir, "model.pt"), settings, state, final_dir or out_dir,
                    model_extra={"segments_trained": segments_trained})
    with open(os.path.join(out_dir, "train_flags.txt"), "w", encoding="utf-8") as f:
        f.write(flags + "\n")
    mask_note = (f"{roles['mask']}" if "mask" in roles else f"{roles['unk']} (the vocabulary has no mask token; "
                 f"<mask> is appended)")
    if fillers:
        notes.append(f"the embedding table has {rows} rows, vocab.txt {words} lines: rows {words}-{rows - 1} "
                     f"(padding) are kept as {fillers[0]}..{fillers[-1]} in dict.txt, symbols that MLM "
                     f"replacements and generation never use")
    notes.append(f"{fmt} format, {words} tokens{f' + {len(fillers)} padding rows' if fillers else ''} + "
                 f"{PSEUDO_SYMBOL}{'' if 'mask' in roles else ' and <mask>'}, whose rows start as copies of "
                 f"{mask_note}")
    return flags, notes


def main(argv=None):
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
