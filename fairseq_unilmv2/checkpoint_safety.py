"""Safe loading of fairseq checkpoints under torch >= 2.6 (``weights_only=True`` by default).

fairseq checkpoints pickle an ``argparse.Namespace`` (``args``) and numpy RNG states and
arrays beside the tensors, and checkpoints written by other fairseq versions and tools hold
their config as an omegaconf ``DictConfig`` instead of a plain dict; torch's safe unpickler
refuses all of these. Instead of switching safety off (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
would do it for every file a user opens), we allow exactly those data classes, and only while
fairseq's own checkpoint loader runs. Anything else in a checkpoint, e.g. a pickle that would
call ``os.system``, is still refused, with :class:`UnsafeCheckpointError` naming the file.
"""
import argparse
import collections
import errno
import functools
import pickle
import typing

import numpy as np
import torch


# numpy 2 renamed ``numpy.core`` to ``numpy._core``; pickles store the module path they were
# written under, so a checkpoint saved under numpy 1.x names ``numpy.core.multiarray.scalar`` and
# ``numpy.core.multiarray._reconstruct`` (fairseq issues 5603, 5610). Both spellings name the same
# two functions; nothing else of ``numpy.core`` is allowed.
NUMPY_MULTIARRAY_MODULES = ("numpy._core.multiarray", "numpy.core.multiarray")


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint names a global outside :func:`fairseq_checkpoint_globals`."""


def omegaconf_container_globals():
    """What a pickled omegaconf ``DictConfig``/``ListConfig`` names, as listed by ``pickletools``
    on configs holding every plain value type (omegaconf 2.3, pickle protocol 2 as torch.save
    writes it):

    - the containers and their value nodes (``AnyNode`` and the typed ``String``/``Integer``/
      ``Float``/``Boolean``/``BytesNode``), rebuilt by ``NEWOBJ`` + ``BUILD``, whose
      ``__setstate__`` only updates ``__dict__`` (``omegaconf/base.py``, ``basecontainer.py``);
    - their ``Metadata``/``ContainerMetadata`` dataclasses (flags are plain dicts in them);
    - the types the metadata records: ``ref_type``/``key_type``/``element_type`` (``typing.Any``,
      ``typing.Dict``/``List`` for nested containers, ``int``/``str``/``float``/``bool``/
      ``bytes``), ``object_type`` (``dict``/``list``), and ``resolver_cache``, a
      ``collections.defaultdict(dict)`` (the one ``REDUCE``).

    Left out on purpose: ``EnumNode`` and structured configs (their ``object_type`` is a user
    class), ``PathNode`` (``pathlib``), ``UnionNode``; such a file is refused.
    """
    from omegaconf import DictConfig, ListConfig
    from omegaconf.base import ContainerMetadata, Metadata
    from omegaconf.nodes import AnyNode, BooleanNode, BytesNode, FloatNode, IntegerNode, StringNode

    allowed = [DictConfig, ListConfig, ContainerMetadata, Metadata,
               AnyNode, StringNode, IntegerNode, FloatNode, BooleanNode, BytesNode,
               dict, list, int, str, float, bool, bytes, collections.defaultdict]
    # typing's special forms have no __qualname__ of their own (typing.Dict's is "dict")
    allowed += [(typing.Any, "typing.Any"), (typing.Dict, "typing.Dict"), (typing.List, "typing.List")]
    return allowed


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
    return allowed + omegaconf_container_globals()


def torch_reason(error: Exception) -> str:
    """The one informative sentence of torch's load error. torch wraps its unpickler's reason in
    paragraphs of advice on ``weights_only`` (whose first option, turning it off, runs any code),
    in layouts that differ between reasons."""
    text = str(error)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    paragraphs = [p.strip() for p in text.replace(" Please use `torch.serialization", "\n\n").split("\n\n")]
    paragraphs = [p for p in paragraphs if p and not p.startswith(("Weights only load failed", "Check the documentation"))]
    named = [p for p in paragraphs if "GLOBAL " in p]
    if not (named or paragraphs):
        return type(error).__name__
    first = (named or paragraphs)[0].split(". ", 1)[0]  # torch's zip-reader errors go on for sentences
    return first if first.endswith(".") else first + "."


def refusal(path, error: Exception) -> Exception:
    """What :func:`install`'s loader raises for a checkpoint it does not load: one message that
    names the file.

    Returns:
        :class:`UnsafeCheckpointError` for a global outside the allow-list; otherwise an error
        of ``error``'s type (UnpicklingError, EOFError, RuntimeError, OSError) saying the file
        is damaged or not a checkpoint.
    """
    reason = torch_reason(error)
    if "GLOBAL " in reason:
        return UnsafeCheckpointError(
            f"{path}: refused by safe loading: {reason} Only tensors and data classes (argparse.Namespace, "
            f"numpy arrays, omegaconf DictConfig/ListConfig) are read from checkpoints; anything else could "
            f"run code while the file is loaded. Load it only if you trust its source (docs/checkpoints.md)."
        )
    return type(error)(f"{path}: cannot be read as a torch checkpoint ({reason.rstrip('.')}): the file is "
                       f"truncated, damaged or not a checkpoint; copy it again or pass another file")


def unreadable(error: Exception) -> bool:
    """Does ``error`` (raised while loading) say the file's bytes are bad? torch.load raises
    EOFError for an empty or cut pickle, RuntimeError from its zip reader, and OSError EINVAL
    for a zip cut short (torch 2.x)."""
    if isinstance(error, (pickle.UnpicklingError, EOFError)):
        return True
    if isinstance(error, RuntimeError):
        return "PytorchStreamReader" in str(error)
    return isinstance(error, OSError) and error.errno == errno.EINVAL


def install():
    """Wrap ``fairseq.checkpoint_utils.load_checkpoint_to_cpu`` (used by resume,
    ``--finetune-from-model``, ``fairseq-generate --path`` and ``from_pretrained``)."""
    from fairseq import checkpoint_utils

    original = checkpoint_utils.load_checkpoint_to_cpu
    if getattr(original, "_unilmv2_safe", False):
        return

    @functools.wraps(original)
    def load_checkpoint_to_cpu(path, *args, **kwargs):
        with torch.serialization.safe_globals(fairseq_checkpoint_globals()):
            try:
                return original(path, *args, **kwargs)
            except (pickle.UnpicklingError, EOFError, RuntimeError, OSError) as error:
                if not unreadable(error):
                    raise
                raise refusal(path, error) from None

    load_checkpoint_to_cpu._unilmv2_safe = True
    # Module attribute: callers use ``checkpoint_utils.load_checkpoint_to_cpu`` and the module's
    # own functions look the name up in the module globals, so both see the wrapper.
    checkpoint_utils.load_checkpoint_to_cpu = load_checkpoint_to_cpu
