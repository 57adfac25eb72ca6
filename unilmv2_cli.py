"""Entry points of the console scripts ``unilmv2-score``, ``unilmv2-export-encoder``,
``unilmv2-convert-hf``, ``unilmv2-export-hf``, ``unilmv2-options``, ``unilmv2-launch``,
``unilmv2-glue`` and ``unilmv2-squad``.

They live outside the ``fairseq_unilmv2`` package on purpose. Importing anything under the
package runs its ``__init__``, which imports fairseq (3-5 s, and fairseq's own log lines such as
"Please install tensorboardX") because ``--user-dir fairseq_unilmv2`` needs every task,
criterion and model registered, and the checkpoint loader made safe, at import. A console
script does not need that to print its help or a usage error, and the scorer never needs it:

- each command's module builds its parser with ``argparse`` alone and imports its heavy
  dependencies inside functions, so :func:`_load_alone` loads its file without the package
  ``__init__`` and parses the command line first: ``--help`` and usage errors end there;
- ``unilmv2-score`` then runs from that same copy (``fairseq_unilmv2/scoring`` uses no fairseq);
- ``unilmv2-export-encoder`` runs the package's own module, imported normally, so registration
  and ``checkpoint_safety.install()`` happen before the checkpoint is read.

Importing fairseq configures Python's root logger at DEBUG with a handler on stderr (its
``fairseq/models/wav2vec/wav2vec2_classification.py`` and ``tasks/text_to_speech.py`` call
``logging.basicConfig`` at import), so its import-time notes (``Please install tensorboardX``,
``--user-dir ... has already been imported``) and any library's INFO lines print before the
command's own words. :func:`_quiet_fairseq` runs first in the commands that import fairseq: it
configures logging itself (WARNING and above, so fairseq's later ``basicConfig`` calls do
nothing) and ignores the deprecation notices raised in fairseq, hydra, omegaconf and torch code,
which say nothing a user of these commands can act on. It is called at these entry points only:
a user's own program that imports the plugin keeps its own logging and warnings.

Output piped into a reader that stops early (``| head -1``) ends the command quietly with the
status a shell gives a process killed by SIGPIPE (141), instead of a ``BrokenPipeError``
traceback (Python ignores SIGPIPE, so the write raises instead).
"""
import importlib
import importlib.util
import logging
import os
import signal
import sys
import warnings
from pathlib import Path

PACKAGE = "fairseq_unilmv2"


def _package_dir() -> Path:
    # find_spec of a top-level name locates the package without executing its __init__
    spec = importlib.util.find_spec(PACKAGE)
    return Path(spec.submodule_search_locations[0])


def _load_alone(relative: str):
    """Load ``fairseq_unilmv2/<relative>`` (a module file, or a folder as a package) under a
    private name, without running ``fairseq_unilmv2/__init__.py``. Its relative imports
    resolve inside the folder only, so use it for fairseq-free code."""
    path = _package_dir() / relative
    name = f"_unilmv2_alone_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    if path.is_dir():
        spec = importlib.util.spec_from_file_location(name, path / "__init__.py",
                                                      submodule_search_locations=[str(path)])
    else:
        spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def console(main, argv=None):
    """Run ``main(argv)`` and return its exit status; a closed stdout ends it with 141."""
    try:
        try:
            status = main(argv)
        except SystemExit as done:  # argparse's --help and usage errors
            status = done.code
        sys.stdout.flush()  # inside the try: buffered output fails here, not at interpreter exit
    except BrokenPipeError:
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return status


def _quiet_fairseq():
    """Before fairseq is imported: WARNING-level logging on stderr; no fairseq/hydra/omegaconf/torch
    deprecation notices (see the module docstring)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(name)s: %(message)s", stream=sys.stderr)
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(fairseq|fairseq_cli|hydra|omegaconf|torch)(\.|$)")


def score(argv=None):
    """``unilmv2-score``: no fairseq, no torch."""
    score_cli = importlib.import_module(_load_alone("scoring").__name__ + ".score_cli")
    return console(score_cli.main, argv)


def export_encoder(argv=None):
    """``unilmv2-export-encoder``: parse first, then import fairseq and this package."""
    return console(_parse_then_run("export_encoder.py", "export_encoder"), argv)


def _parse_then_run(relative: str, module: str):
    """A command whose module has ``build_parser()`` (argparse only) and ``run(args)``: parse with
    the module loaded alone, then run the package's own module (fairseq imported, registered)."""
    def main(argv):
        args = _load_alone(relative).build_parser().parse_args(argv)
        _quiet_fairseq()
        return importlib.import_module(f"{PACKAGE}.{module}").run(args)

    return main


def convert_hf(argv=None):
    """``unilmv2-convert-hf``: a HuggingFace BERT/MiniLM/UniLM/MPNet folder -> a unilmv2 checkpoint."""
    return console(_parse_then_run("hf/convert.py", "hf.convert"), argv)


def export_hf(argv=None):
    """``unilmv2-export-hf``: a unilmv2 checkpoint -> a folder transformers loads."""
    return console(_parse_then_run("hf/export.py", "hf.export"), argv)


def options(argv=None):
    """``unilmv2-options [NAME ...]``: the flags the plugin adds to fairseq's command line
    (docs/options.md, generated from the same configs)."""
    _quiet_fairseq()
    from fairseq_unilmv2 import options_doc

    return console(options_doc.show, argv)


def launch(argv=None):
    """``unilmv2-launch``: start fairseq-train on N processes / several machines (stdlib only)."""
    return console(_load_alone("launch.py").main, argv)


def _own_progress():
    """fairseq's chatter quieted as for the other commands, the plugin's own progress lines kept."""
    _quiet_fairseq()
    logging.getLogger(PACKAGE).setLevel(logging.INFO)


def glue(argv=None):
    """unilmv2-glue: prepare / predict / score GLUE tasks (fairseq_unilmv2/glue/cli.py)."""
    _own_progress()
    from fairseq_unilmv2.glue.cli import main

    return console(main, argv)


def squad(argv=None):
    """unilmv2-squad: prepare / predict / evaluate SQuAD 1.1 and 2.0 (fairseq_unilmv2/squad/cli.py)."""
    _own_progress()
    from fairseq_unilmv2.squad.cli import main

    return console(main, argv)
