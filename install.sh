#!/usr/bin/env bash
# Install fairseq-unilmv2 with every dependency pinned (requirements.txt) into the active
# Python environment (use a virtualenv). Safe to run twice: pinned packages already present
# are left alone and fairseq is only built when the pinned build is missing.
#
# torch: the build (CPU, CUDA, ROCm) depends on your machine, so install it first from the
# index that fits (README.md, "Install"); this script keeps
#   - any torch whose version is the pinned one (2.13.0+cpu, 2.13.0+cu128, ... all satisfy it);
#   - a GPU build (CUDA or ROCm) of another version >= TORCH_MIN, with its own dependencies:
#     replacing it could swap a working GPU torch for one that does not match your driver;
# and installs the pinned torch otherwise (replacing a CPU torch of another version). With no
# torch installed, pip takes it from its configured index: on PyPI for Linux that is a CUDA
# build with several GB of NVIDIA libraries.
#
# perl's XML::Parser and DB_File serve only the test that compares our scorer with the
# official ROUGE-1.5.5.pl; without them (and without root to install them) the install
# still completes, with a warning. In CI (CI set, as CI services do) it fails instead.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
# Oldest torch the plugin is written for: torch.load is weights_only by default from 2.6 and
# fairseq_unilmv2/checkpoint_safety.py allows fairseq's pickled classes through
# torch.serialization.safe_globals. Only the pinned version is tested.
TORCH_MIN=2.6

say() { echo "install.sh: $*"; }
stage() { grep -E "# stage=$1( |$)" requirements.txt; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$PY" -m pip install --quiet "pip>=23.2"

# --- torch: keep, or install the pin ---------------------------------------------------------
torch_pin=$(sed -n 's/^torch==\([^ ]*\).*/\1/p' requirements.txt)
torch_here=$("$PY" -c 'import torch; v = torch.version
print(torch.__version__, "CUDA-" + v.cuda if v.cuda else "ROCm-" + v.hip if getattr(v, "hip", None) else "CPU")' 2>/dev/null || true)
torch_action=$("$PY" - "$torch_pin" "$TORCH_MIN" $torch_here <<'EOF'
import sys
pin, minimum, here = sys.argv[1], sys.argv[2], sys.argv[3:]
if not here:
    print("install")
else:
    version, build = here[0].split("+")[0], here[1]
    release = tuple(int(x) for x in version.split(".")[:2] if x.isdigit())
    if version == pin:
        print("pinned")
    elif build == "CPU":
        print("replace")
    elif release >= tuple(int(x) for x in minimum.split(".")):
        print("keep")
    else:
        print("too-old")
EOF
)
stage build >"$tmp/build.txt"
case $torch_action in
  pinned)  say "torch ${torch_here% *} (${torch_here#* }) is the pinned version: kept" ;;
  install|replace)
    if [ "$torch_action" = install ]; then say "no torch installed: installing the pinned torch==$torch_pin"
    else say "replacing the CPU torch ${torch_here% *} by the pinned torch==$torch_pin"; fi
    say "(from pip's index: on PyPI for Linux that is the CUDA build, several GB; for the CPU build instead press Ctrl-C, run $PY -m pip install torch==$torch_pin --index-url https://download.pytorch.org/whl/cpu and run install.sh again)" ;;
  keep)
    say "keeping the installed torch ${torch_here% *} (${torch_here#* }) and its dependencies instead of the pinned $torch_pin (tested with $torch_pin only; supported from $TORCH_MIN)"
    # torch and what only torch needs, as that torch's own install resolved them
    grep -v -E '^torch==|for=torch' "$tmp/build.txt" >"$tmp/build.keep" && mv "$tmp/build.keep" "$tmp/build.txt" ;;
  too-old)
    echo "install.sh: the installed GPU torch ${torch_here% *} (${torch_here#* }) is older than $TORCH_MIN, the oldest this package supports." >&2
    echo "install.sh: install torch==$torch_pin for your CUDA version (https://pytorch.org/get-started/locally/, e.g. --index-url https://download.pytorch.org/whl/cu128) and run install.sh again" >&2
    exit 1 ;;
  *) echo "install.sh: could not inspect the installed torch ($torch_here)" >&2; exit 1 ;;
esac

for s in build fairseq runtime nodeps; do
  [ -f "$tmp/$s.txt" ] || stage "$s" >"$tmp/$s.txt"
  sed -i 's/#.*//' "$tmp/$s.txt"
done

"$PY" -m pip install --quiet -r "$tmp/build.txt"

fairseq_pin=$(sed -n 's/^fairseq-fixed==\([^ ]*\).*/\1/p' "$tmp/fairseq.txt")
installed=$("$PY" -c 'import importlib.metadata as m; print(m.version("fairseq-fixed"))' 2>/dev/null || true)
if [ "$installed" != "$fairseq_pin" ] || ! "$PY" -c 'import fairseq.data.data_utils_fast' 2>/dev/null; then
    say "building fairseq-fixed $fairseq_pin from source (about 3 minutes)"
    # Without CUDA_HOME: fairseq's setup.py then skips its optional CUDA kernels (libnat_cuda,
    # ngram_repeat_block_cuda), which need nvcc and which the plugin does not use.
    env -u CUDA_HOME "$PY" -m pip install --quiet --no-deps --no-build-isolation --require-hashes -r "$tmp/fairseq.txt"
fi

# pip checks every installed package's requirements here and reports fairseq's torchaudio, which
# the plugin never imports (installing it would pull a torchaudio built for another torch)
say "if pip prints 'ERROR: ... fairseq-fixed ... requires torchaudio, which is not installed': expected and harmless (fairseq's metadata names torchaudio; nothing here imports it)"
"$PY" -m pip install --quiet -r "$tmp/runtime.txt"
"$PY" -m pip install --quiet --no-deps -r "$tmp/nodeps.txt"

# --- perl modules of the official ROUGE-1.5.5.pl (one test compares our scorer with it) -----
perl_missing() {
    command -v perl >/dev/null || { echo "perl"; return; }
    local m
    for m in XML::Parser DB_File; do perl -M"$m" -e 1 2>/dev/null || echo "$m"; done
}
missing=$(perl_missing | tr '\n' ' ')
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's perl libxml-parser-perl for ROUGE-1.5.5.pl"
    apt-get install -y -q perl libxml-parser-perl >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q perl libxml-parser-perl >/dev/null 2>&1; } || true
    missing=$(perl_missing | tr '\n' ' ')
fi
if [ -n "$missing" ]; then
    msg="perl module(s) missing: ${missing% }. They serve only the comparison with the official ROUGE-1.5.5.pl (tests/test_score.py), which is skipped without them; scoring itself does not use perl. To run it: Debian/Ubuntu: sudo apt-get install libxml-parser-perl (DB_File comes with Debian's perl); Fedora: sudo dnf install perl-XML-Parser perl-DB_File; without root: cpanm -l ~/perl5 XML::Parser (builds against expat's headers) and export PERL5LIB=~/perl5/lib/perl5, or conda install -c conda-forge perl-xml-parser"
    if [ -n "${CI:-}" ]; then
        echo "install.sh: $msg" >&2
        echo "install.sh: CI is set, so this is an error" >&2
        exit 1
    fi
    echo "install.sh: warning: $msg" >&2
fi

"$PY" -m pip install --quiet --no-deps --no-build-isolation -e .

# fairseq's metadata asks for torchaudio; it is never needed, and one built for another torch
# breaks fairseq's imports.
if "$PY" -m pip show --quiet torchaudio 2>/dev/null && ! "$PY" -c 'import torchaudio' 2>/dev/null; then
    echo "install.sh: torchaudio is installed but does not import with this torch; fairseq-unilmv2 does not use it: $PY -m pip uninstall torchaudio" >&2
    exit 1
fi
"$PY" - "$torch_pin" "$torch_action" <<'EOF'
import sys
import torch
import fairseq_unilmv2  # noqa: F401

pin, action = sys.argv[1:]
if action != "keep":
    assert torch.__version__.split("+")[0] == pin, f"torch {torch.__version__} installed, {pin} pinned"
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else f"ROCm {torch.version.hip}" if getattr(torch.version, "hip", None) else "CPU"
gpu = f"{torch.cuda.device_count()} GPU(s) visible" if torch.cuda.is_available() else "no GPU visible"
print(f"install.sh: fairseq-unilmv2 installed (torch {torch.__version__}, {build} build, {gpu})")
EOF
