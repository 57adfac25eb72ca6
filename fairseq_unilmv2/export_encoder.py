"""Export the encoder of a pre-training checkpoint: the weights fine-tuning and inference use,
without pre-training-only parts (MAE-LM's decoder) or optimizer state.

    unilmv2-export-encoder checkpoint_last.pt encoder.pt

The result loads with fairseq's ``checkpoint_utils.load_model_ensemble_and_task`` (and as
``--finetune-from-model``) as a decoder-less ``unilmv2`` model. Written to a temporary file and
renamed, so an interrupted export never leaves a file that looks complete.
"""
import argparse
import os
import sys

import torch
from fairseq import checkpoint_utils  # made safe under torch >= 2.6 by this package's import
from omegaconf import OmegaConf

from .models.unilmv2 import drop_pretraining_only


def export_encoder(src: str, dst: str) -> int:
    """Returns the number of tensors dropped."""
    state = checkpoint_utils.load_checkpoint_to_cpu(src)
    if state.get("cfg") is None or "model" not in state:
        raise ValueError(f"{src} is not a fairseq checkpoint written by fairseq-train (no cfg or model)")
    model = dict(state["model"])
    dropped = drop_pretraining_only(model)
    cfg = state["cfg"]
    if OmegaConf.is_config(cfg):  # saved as plain containers, as fairseq's trainer does
        cfg = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    if "mae_decoder_layers" in cfg["model"]:
        cfg["model"]["mae_decoder_layers"] = 0  # rebuild without the decoder
    tmp = f"{dst}.tmp{os.getpid()}"
    torch.save({"cfg": cfg, "model": model, "args": None, "extra_state": {},
                "optimizer_history": state.get("optimizer_history", []), "last_optimizer_state": None}, tmp)
    os.replace(tmp, dst)
    return dropped


def main(argv=None):
    parser = argparse.ArgumentParser(prog="unilmv2-export-encoder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a pre-training checkpoint (any --objective)")
    parser.add_argument("output", help="where to write the encoder checkpoint")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
