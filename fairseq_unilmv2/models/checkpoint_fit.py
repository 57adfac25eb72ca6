"""Does a checkpoint fit the model about to load it? One message saying what differs and which
flags fix it, instead of torch's size-mismatch list.

fairseq-train loads ``--finetune-from-model`` / a resumed checkpoint inside ``try: ... except
Exception: raise Exception("Cannot load model parameters from checkpoint ...")``
(``fairseq/trainer.py`` ``load_checkpoint``), which buries whatever ``load_state_dict`` raises
under its own last line. The tasks therefore run this check in ``build_model``, before the trainer
exists (``tasks/base.py``); the models run it again in ``load_state_dict`` for Python callers.
"""
import logging

import torch

logger = logging.getLogger(__name__)

# (model-config field, flag) of the sizes that decide what the pre-trained weights compute. Heads
# and the relative-position distance change no tensor shape, so torch would load them silently.
SIZE_FIELDS = (
    ("encoder_layers", "--encoder-layers"),
    ("encoder_embed_dim", "--encoder-embed-dim"),
    ("encoder_ffn_embed_dim", "--encoder-ffn-embed-dim"),
    ("encoder_attention_heads", "--encoder-attention-heads"),
    ("num_segments", "--num-segments"),
    ("rel_pos_buckets", "--rel-pos-buckets"),
    ("rel_pos_max_distance", "--rel-pos-max-distance"),
    ("layer_norm_eps", "--layer-norm-eps"),
    ("activation_fn", "--activation-fn"),
)
VOCAB_KEY = "transformer.embed_tokens.weight"
POSITIONS_KEY = "transformer.embed_positions.weight"


def read_checkpoint(path: str) -> dict:
    """The checkpoint's dict, tensors memory-mapped where torch can (only shapes are read here)."""
    from ..checkpoint_safety import fairseq_checkpoint_globals

    with torch.serialization.safe_globals(fairseq_checkpoint_globals()):
        try:
            return torch.load(path, map_location="cpu", mmap=True)
        except RuntimeError:  # legacy (non-zip) format: no mmap
            return torch.load(path, map_location="cpu")


def saved_model_cfg(state: dict):
    """The checkpoint's model config (dict-like) or its legacy ``args`` Namespace, or None."""
    cfg = state.get("cfg") or {}
    model = cfg.get("model") if hasattr(cfg, "get") else None
    return model if model is not None else state.get("args")


def config_value(cfg, name):
    """``cfg.name`` of a dict-like config or a Namespace; None when absent."""
    if cfg is None:
        return None
    return cfg.get(name, None) if hasattr(cfg, "get") else getattr(cfg, name, None)


def arch_of(cfg):
    """The ``--arch`` a model config was built with (``_name`` in fairseq's dataclass configs)."""
    return config_value(cfg, "_name") or config_value(cfg, "arch")


def size_differences(saved_cfg, current_cfg):
    """``[(field, flag, saved, current)]`` for each size that differs; ``max_positions`` only when
    the current table is shorter (a shorter saved table is tiled by seq2seq fine-tuning)."""
    diffs = []
    for name, flag in SIZE_FIELDS:
        saved, current = config_value(saved_cfg, name), config_value(current_cfg, name)
        if saved is not None and current is not None and saved != current:
            diffs.append((name, flag, saved, current))
    saved, current = config_value(saved_cfg, "max_positions"), config_value(current_cfg, "max_positions")
    if saved is not None and current is not None and current < saved:
        diffs.append(("max_positions", "--max-positions", saved, current))
    return diffs


def arch_defaults_match(arch, saved_cfg) -> bool:
    """Whether ``--arch arch`` alone (no size flags) builds the sizes ``saved_cfg`` holds; False
    for a checkpoint whose sizes were set by flags (e.g. unilmv2-convert-hf's)."""
    import argparse

    from fairseq.models import ARCH_CONFIG_REGISTRY

    if arch not in ARCH_CONFIG_REGISTRY:
        return False
    defaults = argparse.Namespace()
    ARCH_CONFIG_REGISTRY[arch](defaults)
    return all(getattr(defaults, name, None) == config_value(saved_cfg, name)
               for name, _ in SIZE_FIELDS + (("max_positions", None),) if config_value(saved_cfg, name) is not None)


def arch_message(source: str, saved_cfg, current_cfg, diffs) -> str:
    saved_arch, current_arch = arch_of(saved_cfg), arch_of(current_cfg)
    what = ", ".join(f"{name} {saved} (this run: {current})" for name, _, saved, current in diffs)
    flags = " ".join(f"{flag} {saved}" for _, flag, saved, _ in diffs)
    preset = arch_defaults_match(saved_arch, saved_cfg)
    same_arch = hint = ""
    if saved_arch and saved_arch != current_arch:
        same_arch = f"pass --arch {saved_arch} without size flags, or " if preset else f"pass --arch {saved_arch} and "
    if not preset:  # sizes set by flags, e.g. a converted checkpoint's
        hint = " (unilmv2-convert-hf writes every flag of its checkpoint to train_flags.txt beside it)"
    return (
        f"{source} was trained as --arch {saved_arch} with {what}, so its weights do not fit --arch "
        f"{current_arch}: {same_arch}set {flags}{hint}"
    )


def vocabulary_message(source: str, saved: int, expected: int, dictionary_path: str = "") -> str:
    where = f" ({dictionary_path})" if dictionary_path else ""
    return (
        f"{source} has a vocabulary of {saved} entries but this data-bin's dictionary{where} plus <mask> and "
        f"<pseudo> has {expected}: binarize with fairseq-preprocess --user-dir fairseq_unilmv2 --task pmlm "
        f"--srcdict set to the pre-training data-bin's dict.txt (and -s SRC -t TGT --joined-dictionary for "
        f"seq2seq; --user-dir and --task let fairseq-preprocess read a converted checkpoint's dict.txt)"
    )


def tensor_differences(saved_shapes: dict, model_shapes: dict, limit: int = 3):
    """What a strict ``load_state_dict`` would refuse, as short phrases (at most ``limit`` each)."""
    out = []
    missing = [k for k in model_shapes if k not in saved_shapes]
    unexpected = [k for k in saved_shapes if k not in model_shapes]
    wrong = [k for k in model_shapes if k in saved_shapes and tuple(saved_shapes[k]) != tuple(model_shapes[k])]
    if wrong:
        out.append("shapes differ: " + ", ".join(
            f"{k} {tuple(saved_shapes[k])} (this model: {tuple(model_shapes[k])})" for k in wrong[:limit]))
    if missing:
        out.append(f"{len(missing)} tensors of this model are absent, e.g. " + ", ".join(missing[:limit]))
    if unexpected:
        out.append(f"{len(unexpected)} tensors are not in this model, e.g. " + ", ".join(unexpected[:limit]))
    return out


def misfit_message(source, state, model, current_cfg, dictionary_path=""):
    """One message for every way the checkpoint ``state`` does not fit ``model``; '' if it fits.

    ``model``'s own ``upgrade_state_dict_named`` runs first on a shallow copy (dropping MAE-LM's
    decoder, tiling positions) so only what ``load_state_dict`` would really refuse is reported.
    """
    saved_cfg = saved_model_cfg(state)
    diffs = size_differences(saved_cfg, current_cfg)
    problems = [arch_message(source, saved_cfg, current_cfg, diffs)] if diffs else []
    # Heads are the task's business (registered after build_model, upgraded on load): not compared
    weights = {k: v for k, v in (state.get("model") or {}).items()
               if not k.startswith(("classification_heads.", "span_heads."))}
    table = weights.get(VOCAB_KEY)
    expected = model.state_dict()[VOCAB_KEY].size(0)
    if table is not None and table.size(0) != expected:
        problems.append(vocabulary_message(source, table.size(0), expected, dictionary_path))
    if not problems and weights:
        model.upgrade_state_dict_named(weights, "")
        tensors = tensor_differences({k: v.shape for k, v in weights.items()},
                                     {k: v.shape for k, v in model.state_dict().items()})
        if tensors:
            problems.append(f"{source} does not fit this model ({'; '.join(tensors)}): build the model with the "
                            f"checkpoint's --arch {arch_of(saved_cfg)} and sizes")
    return "; and ".join(problems)
