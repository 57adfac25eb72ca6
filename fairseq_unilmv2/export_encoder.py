"""Export the encoder of a pre-training checkpoint: the weights fine-tuning and inference use,
without pre-training-only parts (MAE-LM's decoder) or optimizer state.

    unilmv2-export-encoder checkpoint_last.pt encoder.pt

The result loads with fairseq's ``checkpoint_utils.load_model_ensemble_and_task`` (and as
``--finetune-from-model``) as a decoder-less ``unilmv2`` model. Written to a temporary file and
renamed, so an interrupted export never leaves a file that looks complete.

Only pre-training (``--task pmlm``) checkpoints are exported: a fine-tuned ``unilm_seq2seq``
checkpoint already is the model generation uses and needs no export.
"""
import argparse
import os
import sys

# torch, fairseq and this package's models are imported inside the functions: the console
# script (unilmv2_cli) loads this file on its own to answer --help and usage errors at once.

PRETRAINING_TASK = "pmlm"


class NotPretrainingCheckpoint(ValueError):
    """The checkpoint was not written by ``fairseq-train --task pmlm``."""


def check_pretraining(cfg, src: str) -> None:
    """Refuse a checkpoint whose ``cfg.task._name`` is not ``pmlm`` (``cfg`` as saved: a dict).

    A fine-tuned seq2seq checkpoint would otherwise be rewritten as a decoder-less ``unilmv2``
    model and lose what fine-tuning recorded (its task, limits and seq2seq mode).
    """
    task = (cfg.get("task") or {}).get("_name")
    if task == PRETRAINING_TASK:
        return
    if task == "unilm_seq2seq":
        raise NotPretrainingCheckpoint(
            f"{src} is a fine-tuned seq2seq checkpoint (task unilm_seq2seq); this tool exports "
            f"pre-training (--task pmlm) checkpoints. A fine-tuned checkpoint needs no export: "
            f"generate with it as it is (fairseq-generate DATA_BIN --user-dir PATH/TO/fairseq_unilmv2 "
            f"--task unilm_seq2seq --path {src}, or UniLMSeq2SeqModel.from_pretrained); to fine-tune "
            f"again, start from the pre-training checkpoint (or its export) with --finetune-from-model"
        )
    raise NotPretrainingCheckpoint(
        f"{src} was written by task {task!r}; this tool exports pre-training (--task pmlm) checkpoints only"
    )


def export_encoder(src: str, dst: str) -> int:
    """Returns the number of tensors dropped. Raises ``ValueError`` (``NotPretrainingCheckpoint``
    included) for a file that is not a pre-training checkpoint."""
    import torch
    from fairseq import checkpoint_utils  # made safe under torch >= 2.6 by this package's import
    from omegaconf import OmegaConf

    from .models.unilmv2 import drop_pretraining_only

    state = checkpoint_utils.load_checkpoint_to_cpu(src)
    if state.get("cfg") is None or "model" not in state:
        raise ValueError(f"{src} is not a fairseq checkpoint written by fairseq-train (no cfg or model)")
    cfg = state["cfg"]
    if OmegaConf.is_config(cfg):  # saved as plain containers, as fairseq's trainer does
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    check_pretraining(cfg, src)
    model = dict(state["model"])
    dropped = drop_pretraining_only(model)
    if "mae_decoder_layers" in cfg["model"]:
        cfg["model"]["mae_decoder_layers"] = 0  # rebuild without the decoder
    tmp = f"{dst}.tmp{os.getpid()}"
    torch.save({"cfg": cfg, "model": model, "args": None, "extra_state": {},
                "optimizer_history": state.get("optimizer_history", []), "last_optimizer_state": None}, tmp)
    os.replace(tmp, dst)
    return dropped


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unilmv2-export-encoder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a pre-training (--task pmlm) checkpoint, any --objective")
    parser.add_argument("output", help="where to write the encoder checkpoint")
    return parser


def run(args: argparse.Namespace) -> int:
    """Export ``args.checkpoint`` to ``args.output``; 0, or 2 with one message on stderr."""
    if not os.path.isfile(args.checkpoint):
        print(f"unilmv2-export-encoder: {args.checkpoint} does not exist", file=sys.stderr)
        return 2
    try:
        dropped = export_encoder(args.checkpoint, args.output)
    except (ValueError, KeyError) as err:
        print(f"unilmv2-export-encoder: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.output} ({dropped} pre-training-only tensors dropped)", file=sys.stderr)
    return 0


def main(argv=None):
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
