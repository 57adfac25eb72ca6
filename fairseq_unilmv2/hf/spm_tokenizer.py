"""A ``tokenizer.json`` (HuggingFace ``tokenizers``) that encodes text as SentencePiece + a fairseq
dictionary do: ``spm.encode(text)`` pieces looked up in dict.txt, so that a model trained on a
SentencePiece data-bin exports with a tokenizer whose ids are the model's own.

No existing transformers tokenizer class fits: XLM-R's and CamemBERT's add a fixed offset to the
SentencePiece ids for their own models' layouts, while ``preprocess/spm.py`` drops
SentencePiece's ``<unk>`` (id 0) and fairseq numbers the pieces from 4. So the vocabulary is
built in the dictionary's id order, with each piece's SentencePiece score, and the rest of the
pipeline follows the SentencePiece model's own settings (read from its serialized ModelProto, by
hand: the ``protobuf`` package is not a dependency), as transformers'
``SpmConverter.build_tokenizer_from_spm_proto`` does:

- normalizer: the model's precompiled character map (NFKC for ``nmt_nfkc``), extra-space
  removal, spaces escaped as ``▁``;
- the dummy ``▁`` prefix (Metaspace, not splitting);
- Unigram (piece scores) or BPE (merges ranked by the merged piece's score), byte fallback when
  the model has it, user-defined pieces isolated whole;
- ``<s> A </s>`` / ``<s> A </s> </s> B </s>`` around the text (fairseq's and RoBERTa's layout);
  token types 0, and 1 from the pair's second ``</s>`` on where the model puts a pair's second
  sentence on segment 1.

Dictionary symbols that are no SentencePiece piece (fairseq's ``<s> <pad> </s> <unk>``,
``madeupwordNNNN`` fillers, ``<mask>``) are special tokens with a score no segmentation picks.
Refused (ValueError, with the reason): a piece the dictionary lacks (fairseq maps it to
``<unk>``, which a tokenizer cannot), ``treat_whitespace_as_suffix`` models, and model types other
than unigram and BPE.

Uses only ``sentencepiece`` and ``tokenizers`` (runtime dependencies), not transformers.
"""
from typing import Dict, List, Tuple

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
UNIGRAM, BPE = 1, 2


def _fields(data: bytes):
    """(field number, wire type, value) of a serialized protobuf message, top level only."""
    i = 0

    def varint():
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value
            shift += 7

    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 1:
            yield number, wire, data[i:i + 8]
            i += 8
        elif wire == 2:
            n = varint()
            yield number, wire, data[i:i + n]
            i += n
        elif wire == 5:
            yield number, wire, data[i:i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def model_settings(serialized: bytes) -> dict:
    """The TrainerSpec / NormalizerSpec fields the tokenizer needs, with SentencePiece's defaults."""
    out = {"model_type": UNIGRAM, "byte_fallback": False, "treat_whitespace_as_suffix": False,
           "precompiled_charsmap": b"", "add_dummy_prefix": True, "remove_extra_whitespaces": True,
           "escape_whitespaces": True}
    trainer = {3: "model_type", 35: "byte_fallback", 24: "treat_whitespace_as_suffix"}
    normalizer = {2: "precompiled_charsmap", 3: "add_dummy_prefix", 4: "remove_extra_whitespaces",
                  5: "escape_whitespaces"}
    for number, _, value in _fields(serialized):
        if number in (2, 3):  # trainer_spec, normalizer_spec
            names = trainer if number == 2 else normalizer
            for sub, wire, v in _fields(value):
                if sub in names:
                    out[names[sub]] = bytes(v) if wire == 2 else (bool(v) if names[sub] != "model_type" else v)
    return out


def build(spm_path: str, symbols: List[str], roles: Dict[str, str], second_segment: int = 0):
    """A ``tokenizers.Tokenizer`` whose ids are ``symbols``' positions (the exported vocabulary,
    in id order) for the SentencePiece model at ``spm_path``. ``roles``: bos/eos/pad/unk/mask
    symbols. Raises ValueError when the two cannot agree."""
    import re

    import sentencepiece
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    try:
        sp = sentencepiece.SentencePieceProcessor(model_file=spm_path)
    except Exception as e:  # noqa: BLE001  sentencepiece raises RuntimeError/OSError for a bad file
        raise ValueError(f"{spm_path}: not a SentencePiece model ({' '.join(str(e).split())[:120]})") from None
    settings = model_settings(sp.serialized_model_proto())
    if settings["model_type"] not in (UNIGRAM, BPE):
        raise ValueError(f"{spm_path}: a SentencePiece model of type {settings['model_type']} (word/char): only "
                         f"unigram and BPE models have a tokenizers equivalent")
    if settings["treat_whitespace_as_suffix"]:
        raise ValueError(f"{spm_path}: treat_whitespace_as_suffix has no tokenizers equivalent")
    pieces: Dict[str, Tuple[int, float, int]] = {}
    for i in range(sp.get_piece_size()):
        kind = (UNKNOWN if sp.is_unknown(i) else CONTROL if sp.is_control(i) else UNUSED if sp.is_unused(i)
                else BYTE if sp.is_byte(i) else NORMAL)
        pieces[sp.id_to_piece(i)] = (i, sp.get_score(i), kind)
    # user-defined pieces: not exposed by the processor API; read their type from the proto
    for number, _, value in _fields(sp.serialized_model_proto()):
        if number == 1:
            piece = kind = None
            for sub, _, v in _fields(value):
                if sub == 1:
                    piece = bytes(v).decode("utf-8")
                elif sub == 3:
                    kind = v
            if kind == USER_DEFINED and piece in pieces:
                pieces[piece] = (pieces[piece][0], pieces[piece][1], USER_DEFINED)
    index = {s: i for i, s in enumerate(symbols)}
    emitted = [p for p, (_, _, kind) in pieces.items() if kind in (NORMAL, USER_DEFINED, BYTE)]
    lacking = [p for p in emitted if p not in index]
    if lacking:
        raise ValueError(f"the dictionary lacks {len(lacking)} of the {len(emitted)} pieces of {spm_path} (e.g. "
                         f"{lacking[0]!r}), which fairseq maps to {roles['unk']} and a tokenizer cannot: is it the "
                         f"SentencePiece model the data was encoded with?")
    unk = index[roles["unk"]]
    scores = [s for _, s, kind in pieces.values() if kind in (NORMAL, USER_DEFINED, BYTE)]
    never = min(scores, default=0.0) - 100.0  # below every piece: no segmentation picks it
    specials = [s for s in symbols if s not in pieces or pieces[s][2] not in (NORMAL, USER_DEFINED, BYTE)]
    user_defined = [p for p in emitted if pieces[p][2] == USER_DEFINED]

    if settings["model_type"] == UNIGRAM:
        vocab = [(s, pieces[s][1] if s in pieces and pieces[s][2] in (NORMAL, USER_DEFINED, BYTE) else
                  (0.0 if i == unk else never)) for i, s in enumerate(symbols)]
        model = models.Unigram(vocab, unk_id=unk, byte_fallback=settings["byte_fallback"])
    else:
        normal = {p: (pieces[p][1], pieces[p][0]) for p in emitted if pieces[p][2] == NORMAL}
        ranked = []
        for token, (score, rank) in normal.items():
            for split in range(1, len(token)):
                left, right = token[:split], token[split:]
                if left in normal and right in normal:
                    ranked.append((-score, rank, left, right))
        merges = [(left, right) for _, _, left, right in sorted(ranked)]
        model = models.BPE(vocab=dict(index), merges=merges, unk_token=roles["unk"], fuse_unk=True,
                           byte_fallback=settings["byte_fallback"], dropout=None, ignore_merges=bool(user_defined))
    tok = Tokenizer(model)

    steps = []
    if settings["precompiled_charsmap"]:
        steps.append(normalizers.Precompiled(settings["precompiled_charsmap"]))
    if settings["remove_extra_whitespaces"]:
        # SentencePiece collapses spaces only (other whitespace such as newlines stays)
        steps += [normalizers.Replace(Regex(r"\A +| +\z"), ""), normalizers.Replace(Regex(" {2,}"), " ")]
    if settings["escape_whitespaces"]:
        steps.append(normalizers.Replace(" ", "▁"))
    if settings["add_dummy_prefix"]:
        # Metaspace leaves a text that already starts with "▁" alone; SentencePiece prefixes it anyway
        steps.append(normalizers.Replace(Regex(r"\A▁"), "▁▁"))
    tok.normalizer = normalizers.Sequence(steps)
    pre = []
    if settings["add_dummy_prefix"]:
        pre.append(pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False))
    if user_defined:
        pattern = "|".join(re.escape(p) for p in sorted(user_defined, key=len, reverse=True))
        pre.append(pre_tokenizers.Split(Regex(pattern), behavior="isolated"))
    if pre:
        tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    steps = [decoders.Replace("▁", " ")]
    if settings["byte_fallback"]:
        steps.append(decoders.ByteFallback())
    if settings["add_dummy_prefix"]:
        steps += [decoders.Fuse(), decoders.Strip(content=" ", left=1)]
    elif settings["byte_fallback"]:
        steps.append(decoders.Fuse())
    tok.decoder = decoders.Sequence(steps)

    tok.add_special_tokens([AddedToken(s, special=True, normalized=False, lstrip=s == roles.get("mask"))
                            for s in specials])
    bos, eos = roles["bos"], roles["eos"]
    b = second_segment
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos}:0 $A:0 {eos}:0",
        pair=f"{bos}:0 $A:0 {eos}:0 {eos}:{b} $B:{b} {eos}:{b}",
        special_tokens=[(bos, index[bos]), (eos, index[eos])])
    for s in specials:  # ids as the dictionary's: add_special_tokens must not have renumbered them
        if tok.token_to_id(s) != index[s]:
            raise ValueError(f"tokenizer id of {s!r} is {tok.token_to_id(s)}, the dictionary's {index[s]}")
    return tok


def write(out_dir: str, tok, roles: Dict[str, str], max_length: int, with_token_types: bool = True):
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json: ``AutoTokenizer`` loads them
    as ``PreTrainedTokenizerFast`` (transformers 4 and 5). ``with_token_types`` False (MPNet, which
    has none): the tokenizer returns no ``token_type_ids``."""
    import json
    import os

    tok.save(os.path.join(out_dir, "tokenizer.json"))
    specials = {"bos_token": roles["bos"], "eos_token": roles["eos"], "cls_token": roles["bos"],
                "sep_token": roles["eos"], "pad_token": roles["pad"], "unk_token": roles["unk"]}
    if roles.get("mask"):
        specials["mask_token"] = roles["mask"]
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(specials, f, indent=2)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        names = ["input_ids", "token_type_ids", "attention_mask"] if with_token_types else ["input_ids", "attention_mask"]
        json.dump(dict(specials, tokenizer_class="PreTrainedTokenizerFast", model_max_length=max_length,
                       clean_up_tokenization_spaces=False, model_input_names=names), f, indent=2)

