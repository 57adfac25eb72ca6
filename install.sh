#!/usr/bin/env bash
# Install fairseq-unilmv2 with every dependency pinned (requirements.txt) into the active
# Python environment (use a virtualenv). Safe to run twice: pinned packages already present
# are left alone and fairseq is only built when the pinned build is missing.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}

stage() { grep -E "# stage=$1( |$)" requirements.txt | sed 's/#.*//'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for s in build fairseq runtime; do stage "$s" >"$tmp/$s.txt"; done

"$PY" -m pip install --quiet --upgrade "pip>=23.2"
"$PY" -m pip install --quiet -r "$tmp/build.txt"

fairseq_pin=$(sed -n 's/^fairseq-fixed==\([^ ]*\).*/\1/p' "$tmp/fairseq.txt")
installed=$("$PY" -c 'import importlib.metadata as m; print(m.version("fairseq-fixed"))' 2>/dev/null || true)
if [ "$installed" != "$fairseq_pin" ] || ! "$PY" -c 'import fairseq.data.data_utils_fast' 2>/dev/null; then
    echo "install.sh: building fairseq-fixed $fairseq_pin from source (about 3 minutes)"
    "$PY" -m pip install --quiet --no-deps --no-build-isolation --require-hashes -r "$tmp/fairseq.txt"
fi

"$PY" -m pip install --quiet -r "$tmp/runtime.txt"

# The official ROUGE-1.5.5.pl (our scorer is tested against it) needs perl's XML::Parser.
if ! perl -MXML::Parser -MDB_File -e 1 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -q libxml-parser-perl >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q libxml-parser-perl >/dev/null; }
    else
        echo "install.sh: perl's XML::Parser is missing; install Debian's libxml-parser-perl (as root) for the ROUGE-1.5.5 check" >&2
        exit 1
    fi
fi
"$PY" -m pip install --quiet --no-deps --no-build-isolation -e .

if "$PY" -m pip show --quiet torchaudio 2>/dev/null; then
    echo "install.sh: torchaudio is installed; its build here is CUDA-linked and breaks imports" >&2
    exit 1
fi
"$PY" -c 'import torch, fairseq_unilmv2; assert torch.__version__.startswith("2.13.0"), torch.__version__'
echo "install.sh: fairseq-unilmv2 installed"
