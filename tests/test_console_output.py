"""Console scripts print only what concerns the user (issue 18): the first line a command prints,
on stdout or stderr, is its own -- not fairseq's import-time notes (``Please install
tensorboardX``, ``--user-dir ... has already been imported``) nor hydra/torch deprecation
warnings -- and that quieting stays at the entry points: importing the plugin's modules leaves a
user program's logging and warnings as they were."""
import logging
import subprocess
import sys

import pytest

from .helpers import REPO


def first_line(function, *args):
    """The first line of output (stdout and stderr together) of ``unilmv2_cli.FUNCTION`` run as
    its console script would be (the script name in ``sys.argv[0]``), and its exit status."""
    name = "unilmv2-" + function.replace("_", "-")
    code = f"import sys, unilmv2_cli; sys.argv[0] = {name!r}; sys.exit(unilmv2_cli.{function}())"
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=REPO, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    return (proc.stdout.splitlines() or [""])[0], proc.returncode


@pytest.mark.parametrize("function,args,expected", [
    ("convert_hf", ["/nonexistent/hf", "/nonexistent/out"], "unilmv2-convert-hf: /nonexistent/hf does not exist"),
    ("export_hf", ["/nonexistent/model.pt", "/nonexistent/out"], "unilmv2-export-hf: /nonexistent/model.pt"),
    ("export_encoder", ["/nonexistent/model.pt", "/nonexistent/enc.pt"], "unilmv2-export-encoder: /nonexistent"),
    ("options", ["pmlm"], "## Task: `--task pmlm`"),
])
def test_first_line_of_a_command_that_imports_fairseq_is_its_own(function, args, expected):
    line, status = first_line(function, *args)
    assert line.startswith(expected), line
    assert (status == 0) == (function == "options"), status  # the others: refused, missing input


def test_options_names_the_plugin_components_and_refuses_others():
    line, status = first_line("options", "unilmv2_tiny")  # a preset names its model's section
    assert line == "## Model: `unilmv2` (`--arch unilmv2` and its presets)" and status == 0
    proc = subprocess.run([sys.executable, "-c", "import sys, unilmv2_cli; sys.exit(unilmv2_cli.options())", "nope"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "nope: no task, criterion or model of the plugin" in proc.stderr
    assert "known: pmlm, squad, unilm_seq2seq, unilmv2" in proc.stderr.splitlines()[-1]


def test_importing_the_plugin_leaves_the_users_logging_and_warnings_alone():
    code = ("import logging, warnings, fairseq; before = list(warnings.filters); "  # fairseq's own filters counted
            "import unilmv2_cli, fairseq_unilmv2.options_doc; "
            "assert not [f for f in warnings.filters if f not in before], 'warnings filters changed'; "
            "print(logging.root.level)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(logging.DEBUG)  # fairseq's own basicConfig, as without the plugin
