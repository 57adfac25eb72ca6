"""Helpers shared by the benchmark scripts: run the environment's fairseq CLIs quietly."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def sh(args, cwd):
    """Run a console script of this environment; exit with its stderr if it fails."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(args[:8])} ... failed:\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr
