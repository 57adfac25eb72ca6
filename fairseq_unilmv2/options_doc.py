"""The option reference ``docs/options.md``: every flag this plugin's tasks, criterions and
models add to fairseq's command line, with its default and help, and what each ``--arch``
preset sets.

Written from the dataclass configs fairseq registers (``@register_task(..., dataclass=...)``
and the like), through fairseq's own ``gen_parser_from_dataclass``, so the page shows what
``fairseq-train --help`` accepts and cannot say something the code does not.

    python -m fairseq_unilmv2.options_doc          # rewrite docs/options.md
    python -m fairseq_unilmv2.options_doc --check  # exit 1 when docs/options.md is out of date
"""
import argparse
import sys
from pathlib import Path

from fairseq import criterions, models, tasks
from fairseq.dataclass.utils import gen_parser_from_dataclass

PLUGIN = __package__.split(".")[0]  # not __name__: "__main__" under python -m
DOC = Path(__file__).resolve().parents[1] / "docs" / "options.md"
# (kind, flag that selects it, component registry, dataclass registry)
KINDS = (
    ("task", "--task", tasks.TASK_REGISTRY, tasks.TASK_DATACLASS_REGISTRY),
    ("criterion", "--criterion", criterions.CRITERION_REGISTRY, criterions.CRITERION_DATACLASS_REGISTRY),
    ("model", "--arch", models.MODEL_REGISTRY, models.MODEL_DATACLASS_REGISTRY),
)


def _ours(obj) -> bool:
    return obj.__module__.split(".")[0] == PLUGIN


def plugin_configs(kind_registry, dataclass_registry):
    """``[(name, dataclass)]`` of the components this plugin registered, sorted by name."""
    return sorted((name, dataclass_registry[name]) for name, cls in kind_registry.items()
                  if _ours(cls) and name in dataclass_registry)


def _declared_by(config, field_name):
    """The most derived class of ``config`` that declares ``field_name``."""
    for cls in config.__mro__:
        if field_name in cls.__dict__.get("__annotations__", {}):
            return cls
    return config


def options(config):
    """``[(flags, default, help)]`` as fairseq's argparse sees ``config`` (strings for the page).

    Fields interpolated from fairseq's own groups (``seed: int = II("common.seed")``) carry no
    help and get no flag of their own; fairseq skips them, so does this list.
    """
    parser = argparse.ArgumentParser(add_help=False)
    gen_parser_from_dataclass(parser, config())
    rows = []
    for action in parser._actions:
        flags = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest.upper()}` (positional)"
        if action.required or not action.option_strings:
            default = "required"
        elif isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            default = "on" if action.default else "off"  # a switch
        else:
            default = f"`{action.default!r}`" if isinstance(action.default, str) else f"`{action.default}`"
        text = " ".join((action.help or "").split())
        if action.choices:
            text += f" (one of: {', '.join(map(str, action.choices))})"
        owner = _declared_by(config, action.dest)
        if not _ours(owner):
            text += f" [inherited from fairseq's `{owner.__name__}`]"
        rows.append((flags, default, text))
    return rows


def architectures(model_name):
    """``{arch: {field: value}}``: what each ``--arch`` preset of ``model_name`` sets, found by
    running the preset on an empty namespace as fairseq does. The arch named like the model sets
    nothing (the model's defaults) and is left out; so are fields all presets set alike."""
    archs = sorted(a for a, m in models.ARCH_MODEL_NAME_REGISTRY.items() if m == model_name and a != model_name)
    values = {}
    for arch in archs:
        args = argparse.Namespace()
        models.ARCH_CONFIG_REGISTRY[arch](args)
        values[arch] = vars(args)
    fields = sorted({k for v in values.values() for k in v})
    varying = [f for f in fields if len({repr(v.get(f)) for v in values.values()}) > 1]
    return {arch: {f: values[arch].get(f) for f in varying} for arch in archs}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    lines = [
        "# Option reference",
        "",
        "Every flag the plugin adds to fairseq's command line (`fairseq-train`, `fairseq-generate`...",
        "with `--user-dir fairseq_unilmv2`), with its default. fairseq's own flags are in",
        "`fairseq-train --help`, which lists none of the plugin's (fairseq prints its help before it adds",
        "a task's options); `unilmv2-options [NAME ...]` prints this page, or its sections for the named",
        "tasks, criterions and models, on the command line.",
        "",
        "<!-- Generated from the dataclass configs by `python -m fairseq_unilmv2.options_doc`;",
        "     do not edit: tests/test_options_doc.py fails when this page is out of date. -->",
    ]
    for _, section in sections():
        lines += section
    return "\n".join(lines) + "\n"


def sections():
    """``[(component name, page lines)]``: one section per task, criterion and model of the plugin."""
    out = []
    for kind, selector, registry, dataclasses in KINDS:
        for name, config in plugin_configs(registry, dataclasses):
            title = f"`{selector} {name}`" if kind != "model" else f"`{name}` (`--arch {name}` and its presets)"
            lines = ["", f"## {kind.capitalize()}: {title}", ""]
            lines += ["| Flag | Default | Meaning |", "|---|---|---|"]
            lines += [f"| {flags} | {_cell(default)} | {_cell(text)} |" for flags, default, text in options(config)]
            if kind == "model":
                presets = architectures(name)
                varying = sorted({f for v in presets.values() for f in v})
                lines += ["", f"`--arch {name}` takes the defaults above; its presets set these (other "
                          "flags keep their defaults, and a flag given on the command line wins):", ""]
                lines += ["| `--arch` | " + " | ".join(f"`--{f.replace('_', '-')}`" for f in varying) + " |",
                          "|---" * (len(varying) + 1) + "|"]
                lines += [f"| `{arch}` | " + " | ".join(str(v[f]) for f in varying) + " |"
                          for arch, v in presets.items()]
            out.append((name, lines))
    return out


def show(argv=None) -> int:
    """``unilmv2-options [NAME ...]``: this page on stdout, or only the sections of the named
    components (a task, criterion or model name; an ``--arch`` preset names its model). An
    unknown name is a usage error (exit 2) listing the known ones."""
    parser = argparse.ArgumentParser(
        prog="unilmv2-options", description="The flags fairseq_unilmv2 adds to fairseq-train, fairseq-generate ... "
        "(--user-dir fairseq_unilmv2), with defaults and help: the text of docs/options.md. fairseq-train --help "
        "lists fairseq's own flags only.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="only these tasks, criterions or models (e.g. pmlm unilm_seq2seq unilmv2_base)")
    args = parser.parse_args(argv)
    if not args.names:
        print(render(), end="")
        return 0
    known = {}
    for name, lines in sections():  # a task and a criterion may share a name (pmlm): both sections
        known.setdefault(name, []).extend(lines)
    picked = []
    for name in args.names:
        name = models.ARCH_MODEL_NAME_REGISTRY.get(name, name) if name not in known else name
        if name not in known:
            parser.error(f"{name}: no task, criterion or model of the plugin has that name; known: "
                         f"{', '.join(sorted(known))}")
        picked += known[name]
    print("\n".join(picked).lstrip("\n"))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fairseq_unilmv2.options_doc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=DOC, help=f"default: {DOC}")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file differs")
    args = parser.parse_args(argv)
    text = render()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run python -m fairseq_unilmv2.options_doc", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
