"""A fairseq checkpoint for converted weights: the config fairseq-train itself would save for
``--task pmlm --arch unilmv2`` with the model's settings, so that ``--finetune-from-model``,
``--restore-file``, ``checkpoint_utils.load_model_ensemble_and_task`` and
``UniLMv2Model.from_pretrained`` read it like any checkpoint the plugin trained."""
import os
from typing import Dict

import torch

# model-config field -> fairseq-train flag, in the order train_flags prints them
FLAGS = (
    ("encoder_layers", "--encoder-layers"),
    ("encoder_embed_dim", "--encoder-embed-dim"),
    ("encoder_ffn_embed_dim", "--encoder-ffn-embed-dim"),
    ("encoder_attention_heads", "--encoder-attention-heads"),
    ("max_positions", "--max-positions"),
    ("num_segments", "--num-segments"),
    ("rel_pos_buckets", "--rel-pos-buckets"),
    ("rel_pos_max_distance", "--rel-pos-max-distance"),
    ("layer_norm_eps", "--layer-norm-eps"),
    ("activation_fn", "--activation-fn"),
)


def train_flags(settings: Dict[str, object]) -> str:
    """The fairseq-train flags that build this model (``--arch unilmv2_base`` plus every size)."""
    return " ".join(["--arch unilmv2_base"] + [f"{flag} {settings[name]}" for name, flag in FLAGS])


def training_config(settings: Dict[str, object], data_dir: str) -> dict:
    """The whole fairseq config (plain dict) of ``fairseq-train DATA_DIR --task pmlm`` with these
    model settings, built by fairseq's own parser so every field has its default."""
    from fairseq import options
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    argv = [data_dir, "--user-dir", os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
            "--task", "pmlm", "--criterion", "pmlm", *train_flags(settings).split(),
            "--dropout", str(settings["dropout"]), "--attention-dropout", str(settings["attention_dropout"]),
            "--activation-dropout", str(settings["activation_dropout"]),
            # the task refuses blocks longer than the position table
            "--tokens-per-sample", str(min(512, int(settings["max_positions"])))]
    import warnings

    with warnings.catch_warnings():  # hydra's deprecation notices about fairseq's own config use
        warnings.simplefilter("ignore")
        args = options.parse_args_and_arch(options.get_training_parser(), argv)
        cfg = convert_namespace_to_omegaconf(args)
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def save_checkpoint(path: str, settings: Dict[str, object], state: Dict[str, torch.Tensor], data_dir: str,
                    model_extra: Dict[str, object] = None):
    """Write the checkpoint atomically (temporary file, then rename). ``data_dir``: the folder the
    checkpoint's task config names as its data (where dict.txt is). ``model_extra``: model-config
    fields that are no fairseq-train flag of the conversion, e.g. ``segments_trained`` (the
    token-type rows the source checkpoint trained, which ``--pair-segment auto`` reads)."""
    cfg = training_config(settings, data_dir)
    cfg["model"].update(model_extra or {})
    checkpoint = {
        "cfg": cfg,
        "args": None,
        "model": state,
        "criterion": {},
        "optimizer_history": [{"criterion_name": "PMLMCriterion", "optimizer_name": "converted",
                               "lr_scheduler_state": {"best": None}, "num_updates": 0}],
        "task_state": {},
        "extra_state": {"train_iterator": {"epoch": 1, "iterations_in_epoch": 0, "version": 2, "shuffle": True},
                        "val_loss": None},
        "last_optimizer_state": None,
    }
    tmp = f"{path}.tmp"
    torch.save(checkpoint, tmp)
    os.replace(tmp, path)
