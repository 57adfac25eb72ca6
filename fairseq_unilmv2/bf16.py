"""``--bf16`` on GPUs (and CPUs) with the pinned fairseq.

fairseq's ``options.parse_args_and_arch`` sets ``args.tpu = True`` for every ``--bf16`` (and
``--memory-efficient-bf16``), whatever the machine: its trainer then skips CUDA and calls
``torch_xla``'s ``xla_device()``, and ``fairseq-train --bf16`` stops with ``AttributeError:
'NoneType' object has no attribute 'xla_device'`` on a GPU machine as on a CPU-only one (the
distributed set-up branches on the same flag). Without ``torch_xla`` installed that TPU path can
never work, so :func:`install` clears the flag again where fairseq's CLIs turn the parsed
arguments into their config (``convert_namespace_to_omegaconf``, called right after parsing,
which imported this plugin through ``--user-dir``). bf16 then runs as fairseq runs it on CUDA:
the model in bfloat16 with fp32 master weights (``FP16Optimizer``), no loss scaling.
"""
import importlib.util
import sys

# fairseq's command-line entry points that parse with parse_args_and_arch, then convert
_CLI_MODULES = ("fairseq_cli.train", "fairseq_cli.validate", "fairseq_cli.generate", "fairseq_cli.interactive",
                "fairseq_cli.eval_lm")


def _without_tpu(convert):
    def convert_namespace_to_omegaconf(args):
        if getattr(args, "bf16", False) and getattr(args, "tpu", False):
            args.tpu = False
        return convert(args)

    convert_namespace_to_omegaconf._unilmv2 = True
    return convert_namespace_to_omegaconf


def install() -> None:
    """Idempotent; does nothing where torch_xla is installed (a TPU machine)."""
    if importlib.util.find_spec("torch_xla") is not None:
        return
    for name in _CLI_MODULES:
        module = sys.modules.get(name)
        convert = getattr(module, "convert_namespace_to_omegaconf", None)
        if convert is not None and not getattr(convert, "_unilmv2", False):
            module.convert_namespace_to_omegaconf = _without_tpu(convert)
