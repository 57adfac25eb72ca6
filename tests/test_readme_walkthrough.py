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
TEST_PAIRS = 30


def walkthrough_blocks():
    text = (REPO / "README.md").read_text()
    section = text.split("<!-- walkthrough:start -->", 1)[1].split("<!-- walkthrough:end -->", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def test_readme_walkthrough_runs_as_written(tmp_path):
    settings, *steps = walkthrough_blocks()
    assert settings.startswith("# Settings") and len(steps) == 8
    named = set(re.findall(r"(?:^|\s)([A-Z_]+)=", settings))
    assert named == set(SMALL) | {"REPO", "UNILM", "TEXT", "PAIRS", "WORK"}

    raw = tmp_path / "raw"
    subprocess.run([sys.executable, str(REPO / "recipes" / "demo_data.py"), str(raw)], check=True)
    text = tmp_path / "corpus"
    text.mkdir()
    # a smaller corpus and test set than the demo's, for speed
    (text / "pretrain.txt").write_text("".join((raw / "pretrain.txt").read_text().splitlines(True)[:2000]))
    for side in ("src", "tgt"):
        (raw / f"test.{side}").write_text("".join((raw / f"test.{side}").read_text().splitlines(True)[:TEST_PAIRS]))
    values = {**SMALL, "REPO": str(REPO), "TEXT": str(text), "PAIRS": str(raw), "WORK": str(tmp_path / "work")}
    # the README's own UNILM line, after REPO
    unilm = next(line for line in settings.splitlines() if line.startswith("UNILM="))
    script = "\n".join(["set -euo pipefail", *(f"{k}={shlex.quote(v)}" for k, v in values.items()), unilm, *steps])
    elsewhere = tmp_path / "elsewhere"  # not the clone: every path must be absolute
    elsewhere.mkdir()
    proc = subprocess.run(["bash", "-c", script], cwd=elsewhere, capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    scores = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(scores) >= {"rouge1", "rouge2", "rougeLsum"}
    hyps = (tmp_path / "work" / "test.hyp").read_text().splitlines()
    assert len(hyps) == len((raw / "test.tgt").read_text().splitlines()) == TEST_PAIRS
    assert list(elsewhere.iterdir()) == []  # nothing written where the commands ran

    # "From Python": the README's example on the walkthrough's outputs
    example = re.search(r"## From Python\n\n```python\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    example = example.replace("/path/to/", str(tmp_path / "work") + "/")
    proc = subprocess.run([sys.executable, "-c", example], cwd=elsewhere, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = ast.literal_eval(proc.stdout.strip().splitlines()[-1])  # the printed list of strings
    assert isinstance(summaries, list) and len(summaries) == 1 and isinstance(summaries[0], str)
