"""``unilmv2-export-hf CHECKPOINT OUT_DIR``: a unilmv2 checkpoint as a folder that
``transformers.AutoModelForMaskedLM`` (or ``AutoModelForSequenceClassification``, for a fine-tuned
classifier) and ``AutoTokenizer`` load with no code of ours, computing what our model computes.
What transformers cannot reproduce is refused with the setting that prevents it.

Format, from the model's settings:

- no relative position bias (``--rel-pos-buckets 0``): BERT (``BertForMaskedLM``), exact, token
  types included;
- with the bias: MPNet (``MPNetForMaskedLM``), whose one shared bias table uses our bucket function.
  transformers' MPNet computes 32 buckets at max distance 128 whatever its config says, so only
  ``--rel-pos-buckets 32 --rel-pos-max-distance 128`` export. MPNet has no token types: segment 0's
  embedding is added into the position table. A trained segment-1 row (seq2seq fine-tuning's
  target side, a converted BERT/UniLM's second token type, pairs of a classifier fine-tuned with
  ``--pair-segment 1``) would be lost: refused unless ``--drop-segment-1``.

A checkpoint with one classification head (``classification_heads.NAME.*``, fairseq's
``RobertaClassificationHead``: dense, tanh, out_proj on the first token) exports as
``BertForSequenceClassification`` (pooler = dense + tanh, classifier = out_proj) or
``MPNetForSequenceClassification`` (its classifier is the same dense -> tanh -> out_proj on
``<s>``); ``--head NAME`` picks one of several. Extractive-QA span heads are refused.

Tokenizer: WordPiece vocabularies (``##`` continuations) get BertTokenizer files; SentencePiece
ones get a ``tokenizer.json`` built from ``--spm-model`` (``spm_tokenizer.py``) whose ids are the
dictionary's; without ``--spm-model`` (or ``--no-tokenizer``) they are refused, since
transformers would otherwise load its default tokenizer with no vocabulary.

Exported vocabulary: the model's dictionary without the ``<pseudo>`` symbol the tasks append
(a seq2seq-only input). For BertTokenizer, ``vocab.txt`` lists it in id order, fairseq's
``<s> <pad> </s> <unk>`` and ``<mask>`` spelled ``[CLS] [PAD] [SEP] [UNK] [MASK]`` and
fairseq-preprocess's ``madeupwordNNNN`` fillers ``[unusedN]``, so BertTokenizer gives our ids.

A MAE-LM checkpoint exports its encoder (the shallow decoder is pre-training only). Files are
written to a temporary folder put in place at the end (``out_dir.py``).
"""
import argparse


def build_parser():
    p = argparse.ArgumentParser(
        prog="unilmv2-export-hf",
        description="Export a unilmv2 checkpoint (any --task pmlm objective, unilm_seq2seq, or a fine-tuned "
                    "classification / SQuAD head) as a HuggingFace BERT or MPNet folder (*ForMaskedLM, "
                    "*ForSequenceClassification, *ForQuestionAnswering) with config.json, model.safetensors and "
                    "tokenizer files; what transformers cannot reproduce is refused.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint written by fairseq-train or unilmv2-convert-hf")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder to create (must not exist, or be empty)")
    p.add_argument("--dict", help="the model's dict.txt (default: dict.txt in the checkpoint's data folder, as its "
                                  "task config names it, or beside the checkpoint)")
    tokenizer = p.add_mutually_exclusive_group()
    tokenizer.add_argument("--spm-model", metavar="SPM_MODEL",
                           help="the SentencePiece model the training data was encoded with (preprocess/spm.py "
                                "train's PREFIX.model): a SentencePiece-vocabulary model is exported with a "
                                "tokenizer.json whose ids are its dictionary's")
    tokenizer.add_argument("--no-tokenizer", action="store_true",
                           help="write no tokenizer files (a SentencePiece-vocabulary model without --spm-model is "
                                "refused otherwise); AutoTokenizer cannot load OUT_DIR then")
    p.add_argument("--head", metavar="NAME",
                   help="the head to export when the checkpoint holds several: a classification head (as "
                        "*ForSequenceClassification) or a SQuAD span head (as *ForQuestionAnswering); a checkpoint "
                        "with one head exports it without --head")
    p.add_argument("--drop-segment-1", action="store_true",
                   help="export as MPNet (no token types) although the model has a trained segment-1 embedding: "
                        "transformers then computes segment 0's function only")
    p.add_argument("--force", action="store_true", help="replace OUT_DIR if it exists")
    return p


def run(args) -> int:
    import os
    import sys

    from .out_dir import write_out_dir

    out = os.path.abspath(args.out_dir)
    status, notes = write_out_dir("unilmv2-export-hf", out, os.path.dirname(os.path.abspath(args.checkpoint)),
                                  "the checkpoint's folder", args.force,
                                  lambda tmp: export(args.checkpoint, tmp, args.dict, spm_model=args.spm_model,
                                                     no_tokenizer=args.no_tokenizer, head=args.head,
                                                     drop_segment_1=args.drop_segment_1))
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


def load_checkpoint(checkpoint_path: str):
    """The checkpoint dict, loaded safely (fairseq's own data classes only)."""
    import os

    import torch

    from ..checkpoint_safety import fairseq_checkpoint_globals
    from .formats import FormatError

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
    return state


CLASSIFICATION, SPAN = "classification_heads.", "span_heads."
# transformers' class name after Bert / MPNet, per exported head kind
ARCHITECTURE = {None: "ForMaskedLM", "classification": "ForSequenceClassification", "qa": "ForQuestionAnswering"}


def head_names(weights, kind: str):
    return sorted({k[len(kind):].split(".")[0] for k in weights if k.startswith(kind)})


def choose_head(weights, head, checkpoint_path: str):
    """``(kind, name)`` of the head to export: ``(None, None)`` for the MLM model, ``("classification",
    NAME)`` or ``("qa", NAME)`` (a span head). Raises FormatError for several heads without
    ``head``, or an unknown ``head``."""
    from .formats import FormatError

    classifiers, spans = head_names(weights, CLASSIFICATION), head_names(weights, SPAN)
    every = [f"{n} (classification)" for n in classifiers] + [f"{n} (extractive QA)" for n in spans]
    listed = ", ".join(every) or "none"
    if head is not None:
        if head in classifiers:
            return "classification", head
        if head in spans:
            return "qa", head
        raise FormatError(f"{checkpoint_path} has no head {head!r} (its heads: {listed})")
    if len(every) > 1:
        raise FormatError(f"{checkpoint_path} holds {len(every)} heads ({listed}): pass --head NAME to export one")
    if classifiers:
        return "classification", classifiers[0]
    if spans:
        return "qa", spans[0]
    return None, None


def second_segment(model_cfg) -> int:
    """The segment of a pair's second sentence for the model's classification heads, as
    ``UniLMv2Model.second_segment``: 0 only for ``--pair-segment 0``."""
    return 0 if str(model_cfg.get("pair_segment", "auto") or "auto") == "0" else 1


def segment_one_use(model_cfg, task_name, head_kind):
    """Why the model's segment-1 embedding is part of what it computes, or '' where it is not:
    a classification or QA head on pairs with ``--pair-segment`` 1; for the MLM model, a
    recorded trained row (``segments_trained`` >= 2: converted BERT/UniLM, seq2seq fine-tuning's
    target side), seq2seq fine-tuning, or pair fine-tuning on segment 1. ``--task pmlm``
    pre-training trains segment 0 only."""
    pair = str(model_cfg.get("pair_segment", "auto") or "auto")
    if head_kind is not None:
        what = "the classifier puts a pair's second sentence" if head_kind == "classification" else \
            "the QA head puts the context"
        return f"{what} on segment 1 (--pair-segment {pair})" if pair != "0" else ""
    trained = model_cfg.get("segments_trained", None)
    if trained is not None and int(trained) >= 2:
        return f"it was converted from a checkpoint with {trained} trained token types (segments_trained {trained})"
    if task_name == "unilm_seq2seq":
        return "seq2seq fine-tuning (--task unilm_seq2seq) trains it on the target side"
    if pair == "1":
        return "it was fine-tuned on pairs with the second sentence on segment 1 (--pair-segment 1)"
    return ""


def label_names(cfg, num_classes: int):
    """``id2label`` from the fine-tuning data's label dictionary (fairseq's sentence_prediction:
    DATA/label/dict.txt, class i = its (nspecial + i)-th symbol), else None."""
    import os

    task = (cfg.get("task") or {}) if hasattr(cfg, "get") else {}
    data = str(task.get("data") or "").split(os.pathsep)[0]
    path = os.path.join(data, "label", "dict.txt") if data else ""
    if not path or not os.path.isfile(path):
        return None
    from fairseq.data import Dictionary

    try:
        d = Dictionary.load(path)
    except Exception:  # noqa: BLE001  not a label dictionary: leave transformers' LABEL_i
        return None
    labels = d.symbols[d.nspecial:]
    if len(labels) < num_classes:
        return None
    return {i: labels[i] for i in range(num_classes)}


def export(checkpoint_path: str, out_dir: str, dict_path: str = None, spm_model: str = None,
           no_tokenizer: bool = False, head: str = None, drop_segment_1: bool = False):
    """Write config.json, model.safetensors and the tokenizer files into ``out_dir``; returns notes."""
    import json
    import os

    import torch
    from safetensors.torch import save_file

    from ..tasks.dictionary import add_special_symbols, load_dictionary
    from .formats import EXPORT_ACTIVATIONS, MPNET_MAX_DISTANCE, MPNET_PADDING_IDX, FormatError, ours_to_hf

    state = load_checkpoint(checkpoint_path)
    cfg = state.get("cfg") or {}
    model_cfg = cfg.get("model") if hasattr(cfg, "get") else None
    weights = state.get("model") or {}
    if model_cfg is None or "transformer.embed_tokens.weight" not in weights:
        raise FormatError(f"{checkpoint_path} is not a unilmv2 checkpoint (no model config or no "
                          f"transformer.embed_tokens.weight)")
    task_cfg = (cfg.get("task") or {}) if hasattr(cfg, "get") else {}
    task_name = str(task_cfg.get("_name", "") or "")
    head_kind, head = choose_head(weights, head, checkpoint_path)
    dict_path = dict_path or find_dict(checkpoint_path, cfg)
    dictionary = load_dictionary(dict_path)
    add_special_symbols(dictionary)
    rows = weights["transformer.embed_tokens.weight"].size(0)
    if rows != len(dictionary):
        raise FormatError(f"the checkpoint's vocabulary has {rows} entries, the dictionary plus the tasks' symbols "
                          f"{len(dictionary)}: pass the dict.txt it was trained with (--dict)")
    tokens, roles = exported_vocab(dictionary)
    raw = list(dictionary.symbols)[: len(tokens)]  # fairseq's own spellings, for tokenizer.json
    raw_roles = dict(dictionary.roles) if hasattr(dictionary, "roles") else {
        "bos": dictionary.bos_word, "pad": dictionary.pad_word, "eos": dictionary.eos_word,
        "unk": dictionary.unk_word, "mask": "<mask>"}
    if "mask" not in raw_roles and "<mask>" in raw:
        raw_roles["mask"] = "<mask>"
    n = len(tokens)
    wordpiece = any(t.startswith("##") for t in tokens)
    if spm_model is None and not wordpiece and not no_tokenizer:
        raise FormatError(
            "the vocabulary is not WordPiece (no ## continuations), so BertTokenizer cannot tokenize for it: pass "
            "--spm-model SPM.model, the SentencePiece model the data was encoded with (preprocess/spm.py train "
            "writes PREFIX.model), to export a tokenizer whose ids are the model's, or --no-tokenizer to export "
            "the model alone")
    if spm_model is not None and not os.path.isfile(spm_model):
        raise FileNotFoundError(f"--spm-model {spm_model} not found")

    def get(name, default=None):
        value = model_cfg.get(name, default)
        return default if value is None else value

    layers = int(get("encoder_layers"))
    dim = int(get("encoder_embed_dim"))
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
    classifier = None  # the head's tensors, for a classification or QA export
    if head_kind == "classification":
        classifier = {k[len(f"{CLASSIFICATION}{head}."):]: v.float() for k, v in weights.items()
                      if k.startswith(f"{CLASSIFICATION}{head}.")}
        if set(classifier) != {"dense.weight", "dense.bias", "out_proj.weight", "out_proj.bias"}:
            raise FormatError(f"classification head {head}: tensors {sorted(classifier)} are not those of fairseq's "
                              f"RobertaClassificationHead (dense, out_proj)")
        inner = classifier["dense.weight"].size(0)
        if inner != dim:
            raise FormatError(f"classification head {head} has inner_dim {inner}, the model's width {dim}: "
                              f"transformers' BertPooler and MPNetClassificationHead are {dim} x {dim}; it "
                              f"cannot be exported")
        act = str(get("pooler_activation_fn", "tanh"))
        if act != "tanh":
            raise FormatError(f"classification head {head} uses --pooler-activation-fn {act}: transformers' "
                              f"BertPooler and MPNetClassificationHead apply tanh; it cannot be exported")
    elif head_kind == "qa":
        classifier = {k[len(f"{SPAN}{head}."):]: v.float() for k, v in weights.items() if k.startswith(f"{SPAN}{head}.")}
        if set(classifier) != {"qa_outputs.weight", "qa_outputs.bias"} or tuple(classifier["qa_outputs.weight"].shape) != (2, dim):
            raise FormatError(f"span head {head}: tensors {sorted(classifier)} are not those of the plugin's SpanHead "
                              f"(qa_outputs, a ({dim} -> 2) linear map), which *ForQuestionAnswering has")
    if classifier is not None:
        for name in [k for k in tensors if k.startswith("lm_head.")]:
            del tensors[name]  # a classifier has no MLM head
    pad = dictionary.pad()
    notes = []
    segment_rows = tensors.get("embed_segments.weight")
    distinct = segment_rows is not None and segment_rows.size(0) >= 2 and not torch.equal(segment_rows[1], segment_rows[0])
    if buckets:
        fmt = "mpnet"
        for setting, value, fixed in (("--rel-pos-buckets", buckets, 32),
                                      ("--rel-pos-max-distance", int(get("rel_pos_max_distance", 128)), MPNET_MAX_DISTANCE)):
            if value != fixed:
                raise FormatError(f"this model has {setting} {value}; transformers' MPNet (the only transformers model "
                                  f"with one relative position bias shared by all layers) computes {fixed} whatever "
                                  f"its config says, and BERT has no relative bias: it cannot be exported")
        if activation != "gelu" and classifier is None:
            raise FormatError(f"activation_fn {activation}: transformers' MPNet MLM head always uses gelu")
        why = segment_one_use(model_cfg, task_name, head_kind) if distinct else ""
        if why and not drop_segment_1:
            raise FormatError(f"this model's segment-1 embedding is part of what it computes ({why}), but "
                              f"transformers' MPNet, the format of its relative position bias, has no token types: "
                              f"the export would compute segment 0 in its place. Pass --drop-segment-1 to export "
                              f"segment 0's function anyway")
        if segments:
            tensors["embed_positions.weight"] = tensors["embed_positions.weight"] + tensors.pop("embed_segments.weight")[0]
            if why:
                notes.append(f"--drop-segment-1: MPNet has no token types: segment 0's embedding is added into the "
                             f"position table and segment 1 is not exported, although {why}")
            else:
                notes.append("MPNet has no token types: segment 0's embedding is added into the position table "
                             "(segment 1 is not part of what this model computes: not exported)")
        if pad != MPNET_PADDING_IDX:
            # transformers' MPNet treats id 1 as padding (fixed): swap the padding row to id 1
            swap = [MPNET_PADDING_IDX, pad]
            for name in ("embed_tokens.weight", "lm_head.bias"):
                if name in tensors:
                    t = tensors[name].clone()
                    t[[pad, MPNET_PADDING_IDX]] = tensors[name][swap]
                    tensors[name] = t
            for vocab in (tokens, raw):
                vocab[pad], vocab[MPNET_PADDING_IDX] = vocab[MPNET_PADDING_IDX], vocab[pad]
            notes.append(f"transformers' MPNet treats id {MPNET_PADDING_IDX} as padding: {tokens[MPNET_PADDING_IDX]!r} "
                         f"(id {pad} here) and {tokens[pad]!r} (id {MPNET_PADDING_IDX} here) swap ids in the export")
            pad = MPNET_PADDING_IDX
        offset = MPNET_PADDING_IDX + 1
        config = {
            "architectures": [f"MPNet{ARCHITECTURE[head_kind]}"],
            "model_type": "mpnet", "relative_attention_num_buckets": buckets,
            "max_position_embeddings": int(get("max_positions")) + offset,
            "bos_token_id": tokens.index(roles["bos"]), "eos_token_id": tokens.index(roles["eos"]),
        }
        pair_type = 0
    else:
        fmt, offset = "bert", 0
        table = tensors.get("embed_segments.weight")
        if table is None:
            table = tensors["embed_tokens.weight"].new_zeros(0, dim)
        if classifier is not None and second_segment(model_cfg) == 0 and table.size(0) >= 1:
            # the head saw segment 0 only (--pair-segment 0); BertTokenizer gives a pair's second
            # sentence token type 1: every row is row 0, so that changes nothing
            if table.size(0) >= 2 and distinct:
                notes.append("the head was fine-tuned with --pair-segment 0 (every token on segment 0): every "
                             "token-type row of the export is row 0, so BertTokenizer's token types 1 change nothing")
            table = table[:1].expand(max(table.size(0), 2), -1).clone()
        if table.size(0) < 2:
            # BertTokenizer gives token type 1 to a pair's second sentence: rows that add what ours adds
            fill = table[:1] if table.size(0) else table.new_zeros(1, dim)
            table = torch.cat([table, fill.expand(2 - table.size(0), -1)])
        tensors["embed_segments.weight"] = table
        config = {
            "architectures": [f"Bert{ARCHITECTURE[head_kind]}"],
            "model_type": "bert", "type_vocab_size": table.size(0), "position_embedding_type": "absolute",
            "max_position_embeddings": int(get("max_positions")),
        }
        pair_type = second_segment(model_cfg) if classifier is not None else 1
    config.update({
        "vocab_size": n, "hidden_size": dim, "num_hidden_layers": layers,
        "num_attention_heads": int(get("encoder_attention_heads")),
        "intermediate_size": int(get("encoder_ffn_embed_dim")), "hidden_act": EXPORT_ACTIVATIONS[activation],
        "hidden_dropout_prob": float(get("dropout", 0.1)), "attention_probs_dropout_prob": float(get("attention_dropout", 0.1)),
        "layer_norm_eps": float(get("layer_norm_eps", 1e-12) or 1e-12), "initializer_range": 0.02,
        "pad_token_id": pad, "tie_word_embeddings": True,
    })
    hf = ours_to_hf(tensors, fmt, layers, offset, mlm_head=classifier is None)
    if head_kind == "classification":
        classes = classifier["out_proj.weight"].size(0)
        if fmt == "bert":
            hf.update({"bert.pooler.dense.weight": classifier["dense.weight"], "bert.pooler.dense.bias": classifier["dense.bias"],
                       "classifier.weight": classifier["out_proj.weight"], "classifier.bias": classifier["out_proj.bias"]})
        else:
            hf.update({f"classifier.{k}": v for k, v in classifier.items()})
        config.update({"num_labels": classes,
                       "problem_type": "regression" if classes == 1 else "single_label_classification",
                       "classifier_dropout": float(get("pooler_dropout", 0.0) or 0.0)})
        labels = label_names(cfg, classes) if classes > 1 else None
        if labels:
            config.update({"id2label": {str(i): v for i, v in labels.items()}, "label2id": {v: i for i, v in labels.items()}})
        notes.append(f"classification head {head}: {classes} output(s) "
                     f"({'regression' if classes == 1 else 'classes'}) as {config['architectures'][0]}")
    elif head_kind == "qa":
        hf.update(classifier)
        config["num_labels"] = 2
        notes.append(f"span head {head} as {config['architectures'][0]}: start and end logits of every token, "
                     f"unmasked (the plugin's prediction masks all but the context)")
    save_file({k: v.contiguous() for k, v in hf.items()}, os.path.join(out_dir, "model.safetensors"),
              metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    max_length = int(get("max_positions"))
    if no_tokenizer:
        notes.append("--no-tokenizer: no tokenizer files written; AutoTokenizer cannot load this folder (tokenize "
                     "as in training and feed the dict.txt ids)")
    elif spm_model is not None:
        from . import spm_tokenizer

        tok = spm_tokenizer.build(spm_model, raw, raw_roles, second_segment=pair_type)
        spm_tokenizer.write(out_dir, tok, raw_roles, max_length, with_token_types=fmt == "bert")
        notes.append(f"tokenizer.json from {spm_model}: SentencePiece pieces with the dictionary's ids")
    else:
        write_tokenizer(out_dir, tokens, roles, max_length,
                        lowercases(tokens, os.path.dirname(os.path.abspath(dict_path))))
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
