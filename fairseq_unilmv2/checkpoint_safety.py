"""Safe loading of fairseq checkpoints under torch >= 2.6 (``weights_only=True`` by default).

fairseq checkpoints pickle an ``argparse.Namespace`` (``args``) and numpy RNG states and
arrays beside the tensors, which torch's safe unpickler refuses. Instead of switching safety
off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` would do it for every file a user opens), we allow
exactly those classes, and only while fairseq's own checkpoint loader runs. Anything else in
a checkpoint, e.g. a pickle that would call ``os.system``, is still refused.
"""
import argparse
import functools

import numpy as np
import torch


def fairseq_checkpoint_globals():
    """Classes and reconstructors fairseq writes into checkpoints (data containers only)."""
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    allowed = [argparse.Namespace, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    # numpy >= 1.25 pickles dtypes as instances of per-type classes (numpy.dtypes.Float64DType...)
    allowed += [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    return allowed


def install():
    """Wrap ``fairseq.checkpoint_utils.load_checkpoint_to_cpu`` (used by resume,
    ``--finetune-from-model``, ``fairseq-generate --path`` and ``from_pretrained``)."""
    from fairseq import checkpoint_utils

    original = checkpoint_utils.load_checkpoint_to_cpu
    if getattr(original, "_unilmv2_safe", False):
        return

    @functools.wraps(original)
    def load_checkpoint_to_cpu(*args, **kwargs):
        with torch.serialization.safe_globals(fairseq_checkpoint_globals()):
            return original(*args, **kwargs)

    load_checkpoint_to_cpu._unilmv2_safe = True
    # Module attribute: callers use ``checkpoint_utils.load_checkpoint_to_cpu`` and the module's
    # own functions look the name up in the module globals, so both see the wrapper.
    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu
