"""README.md's "Your own data, step by step" and "From Python", run as written: its bash blocks, in order, with
the settings block replaced by small values, on bundled real text (a news corpus and aclsum
papers), from a directory outside the clone. The page cannot drift from the code."""
import ast
import json
import re
import shlex
import subprocess
import sys

from .helpers import REPO

# The README's settings block names exactly these; only sizes, update counts and paths differ.
SMALL = {
    "ARCH": "unilmv2_tiny", "VOCAB": "1000", "TOKENS": "128", "VALID_LINES": "30",
    "BATCH": "16", "UPDATE_FREQ": "1", "UPDATES": "12", "WARMUP": "3",
    "FT_BATCH": "16", "FT_UPDATE_FREQ": "1", "FT_UPDATES": "12", "FT_WARMUP": "3",
    "SRC_LEN": "128", "TGT_LEN": "32", "WORKERS": "2",
}


def first_try_block():
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- first-try:start -->", 1)[1].split("<!-- first-try:end -->", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)[0]


def test_readme_first_try_sets_what_the_settings_block_sets(tmp_path):
    """The first-try block (README) sets the names the settings block sets, at the small values this
    file runs the walkthrough with: the walkthrough test below is its run."""
    settings, *_ = walkthrough_blocks()
    first = first_try_block()
    named = set(re.findall(r"(?:^|\s)([A-Z_]+)=", settings))
    assert set(re.findall(r"(?:^|\s)([A-Z_]+)=", first)) == named
    values = dict(re.findall(r"(?:^|\s)([A-Z_]+)=(\S+)", first))
    assert {k: values[k] for k in SMALL} == SMALL


def walkthrough_blocks():
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def test_readme_walkthrough_runs_as_written(tmp_path):
    settings, *steps = walkthrough_blocks()
    assert settings.startswith("# Settings") and len(steps) == 8
    named = set(re.findall(r"(?:^|\s)([A-Z_]+)=", settings))
    assert named == set(SMALL) | {"REPO", "UNILM", "TEXT", "PAIRS", "WORK"}

    # The first-try block in place of the settings block, as the README says: run from the clone's
    # root with HOME in tmp_path, then every step from a directory outside the clone.
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere"  # not the clone: every path must be absolute
    elsewhere.mkdir()
    script = "\n".join(["set -euo pipefail", f"cd {shlex.quote(str(REPO))}", first_try_block(),
                        f"cd {shlex.quote(str(elsewhere))}", *steps])
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "HOME": str(home), "OMP_NUM_THREADS": "1",
                               "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    scores = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(scores) >= {"rouge1", "rouge2", "rougeLsum"}
    first = home / "unilmv2-first"
    hyps = (first / "work" / "test.hyp").read_text().splitlines()
    assert len(hyps) == len((first / "pairs" / "test.tgt").read_text().splitlines()) > 0
    assert list(elsewhere.iterdir()) == []  # nothing written where the commands ran
    tmp_path = first  # the "From Python" example reads the walkthrough's outputs under WORK

    # "From Python": the README's example on the walkthrough's outputs
    example = re.search(r"## From Python\n\n```python\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    example = example.replace("/path/to/", str(tmp_path / "work") + "/")
    proc = subprocess.run([sys.executable, "-c", example], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = ast.literal_eval(proc.stdout.strip().splitlines()[-1])  # the printed list of strings
    assert isinstance(summaries, list) and len(summaries) == 1 and isinstance(summaries[0], str)
