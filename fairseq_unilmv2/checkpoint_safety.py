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


# numpy 2 renamed ``numpy.core`` to ``numpy._core``; pickles store the module path they were
# written under, so a checkpoint saved under numpy 1.x names ``numpy.core.multiarray.scalar`` and
# ``numpy.core.multiarray._reconstruct`` (fairseq issues 5603, 5610). Both spellings name the same
# two functions; nothing else of ``numpy.core`` is allowed.
NUMPY_MULTIARRAY_MODULES = ("numpy._core.multiarray", "numpy.core.multiarray")


def fairseq_checkpoint_globals():
    """Classes and reconstructors fairseq writes into checkpoints (data containers only).

    Returns the list for ``torch.serialization.safe_globals``: a class/function, or a
    ``(function, "module.name")`` pair where a checkpoint may name the function by another
    module path than its ``__module__`` (numpy 1.x pickles).
    """
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    allowed = [argparse.Namespace, np.ndarray, np.dtype]
    allowed += [(fn, f"{module}.{fn.__name__}") for module in NUMPY_MULTIARRAY_MODULES
                for fn in (multiarray._reconstruct, multiarray.scalar)]
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
