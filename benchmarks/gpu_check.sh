#!/usr/bin/env bash
# The GPU check: on a CUDA machine with the repository checkout and no network, install what is
# missing from a local wheelhouse, then run benchmarks/gpu_check.py (bf16 pre-training speed,
# MFU, peak memory and loss of pmlm and mlm beside fairseq's masked_lm/roberta_base at 512
# tokens; fp16 cached beam search beside fairseq's transformer; the attention mask, previous
# against current). docs/benchmarks.md explains the figures.
#
#   bash benchmarks/gpu_check.sh [--wheelhouse DIR] [--site DIR] [--dry-run] [gpu_check.py options]
#   bash benchmarks/gpu_check.sh --prepare-wheelhouse DIR     # on a machine WITH network, beforehand
#
# What it expects on the GPU machine: python3 (3.10-3.12) with a CUDA build of torch (>= 2.6)
# and numpy, cython, setuptools, scikit-learn, sacrebleu, regex, pyyaml (a stock PyTorch image
# has them), a C++ compiler, and, for what is missing, a wheelhouse folder (default
# runs/wheelhouse in the checkout, ignored by git; --wheelhouse or $WHEELHOUSE elsewhere) with:
#   fairseq-fixed-0.12.3.1.tar.gz    the sdist, checked against requirements.txt's sha256
#   hydra_core-1.3.2-*.whl  omegaconf-2.3.0-*.whl  antlr4-python3-runtime-4.9.3 (sdist or wheel)
#   bitarray-3.12.3-cp3XX-*.whl (for that python)
# `--prepare-wheelhouse DIR` fetches exactly these for CPython 3.12 on x86-64 Linux (pip download;
# PYVER=3.11 ... for another python). Nothing is installed into the system: packages go to
# --site DIR (default /tmp/unilmv2-gpu-site), which is put on PYTHONPATH with the checkout.
#
# --dry-run: no GPU needed; the same driver on CPU at toy sizes (checks the script, prints the
# same report with CPU figures). It installs nothing when fairseq already imports.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
WHEELHOUSE=${WHEELHOUSE:-$REPO/runs/wheelhouse}
SITE=${UNILMV2_SITE:-/tmp/unilmv2-gpu-site}
OUT_DIR=${OUT_DIR:-$REPO/runs/gpu_check}
DRY=0
PREPARE=""
PASS=()
while [ $# -gt 0 ]; do
  case $1 in
    --wheelhouse) WHEELHOUSE=${2:?--wheelhouse needs a folder}; shift 2 ;;
    --site) SITE=${2:?--site needs a folder}; shift 2 ;;
    --out-dir) OUT_DIR=${2:?--out-dir needs a folder}; shift 2 ;;
    --prepare-wheelhouse) PREPARE=$2; shift 2 ;;
    --dry-run) DRY=1; PASS+=("$1"); shift ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) PASS+=("$1"); shift ;;
  esac
done
say() { echo "gpu_check.sh: $*"; }
die() { echo "gpu_check.sh: error: $*" >&2; exit 1; }

fairseq_line=$(grep -E '^fairseq-fixed==' "$REPO/requirements.txt" | sed 's/#.*//')
fairseq_version=$(sed -n 's/^fairseq-fixed==\([^ ]*\).*/\1/p' <<<"$fairseq_line")
pin() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$REPO/requirements.txt"; }
WHEELS=("hydra-core==$(pin hydra-core)" "omegaconf==$(pin omegaconf)" "bitarray==$(pin bitarray)")
SDISTS=("fairseq-fixed==$fairseq_version" "antlr4-python3-runtime==$(pin antlr4-python3-runtime)")

if [ -n "$PREPARE" ]; then
  pyver=${PYVER:-3.12}
  mkdir -p "$PREPARE"
  say "downloading into $PREPARE for CPython $pyver, x86-64 Linux: ${WHEELS[*]} ${SDISTS[*]}"
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
      -d "$PREPARE" "${WHEELS[@]}"
  "$PY" -m pip download --no-deps --no-binary=:all: --no-build-isolation -d "$PREPARE" "${SDISTS[@]}"
  say "done; copy $PREPARE next to the checkout on the GPU machine (default place: runs/wheelhouse)"
  exit 0
fi

# --- what is there ----------------------------------------------------------------------------
"$PY" - <<'EOF' || die "python3 with torch is needed (the GPU machine's own CUDA build; install.sh installs the CPU one)"
import sys, torch
assert sys.version_info >= (3, 9)
print(f"gpu_check.sh: python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}")
EOF
if [ "$DRY" = 0 ] && ! "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
  die "torch sees no CUDA device; run with --dry-run for the CPU smoke check"
fi
export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$SITE"
missing=$("$PY" - <<'EOF'
import importlib.util
mods = {"hydra": "hydra-core", "omegaconf": "omegaconf", "antlr4": "antlr4-python3-runtime", "bitarray": "bitarray",
        "numpy": "numpy", "Cython": "cython", "sklearn": "scikit-learn", "sacrebleu": "sacrebleu", "regex": "regex",
        "yaml": "pyyaml"}
print(" ".join(pkg for mod, pkg in mods.items() if importlib.util.find_spec(mod) is None))
EOF
)
fairseq_ok=0
"$PY" -c 'import fairseq, fairseq.data.data_utils_fast' 2>/dev/null && fairseq_ok=1

# --- install what is missing, offline -----------------------------------------------------------
if [ -n "$missing" ] || [ "$fairseq_ok" = 0 ]; then
  say "missing: ${missing:-nothing else}$([ $fairseq_ok = 0 ] && echo ', fairseq-fixed')"
  for p in $missing; do
    case $p in
      numpy|cython|scikit-learn|sacrebleu|regex|pyyaml)
        die "$p is not installed and is not in the wheelhouse list; install it (pip install $p) or add its wheel to $WHEELHOUSE and install it with: $PY -m pip install --no-index --find-links $WHEELHOUSE --target $SITE $p" ;;
    esac
  done
  [ -d "$WHEELHOUSE" ] || die "no wheelhouse at $WHEELHOUSE. Without network pip cannot fetch fairseq-fixed $fairseq_version and the others. On a machine with network run: bash benchmarks/gpu_check.sh --prepare-wheelhouse runs/wheelhouse (PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")') for this python), copy the folder here, and run again (or pass --wheelhouse DIR)"
  ls "$WHEELHOUSE"/fairseq[-_]fixed-"$fairseq_version".tar.gz >/dev/null 2>&1 || [ "$fairseq_ok" = 1 ] \
    || die "$WHEELHOUSE has no fairseq-fixed-$fairseq_version.tar.gz (the sdist pinned by hash in requirements.txt); see --prepare-wheelhouse"
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    pkgs=$(for p in $missing; do for w in "${WHEELS[@]}" "${SDISTS[@]}"; do [ "${w%%==*}" = "$p" ] && echo "$w"; done; done)
    say "installing from $WHEELHOUSE into $SITE: $(echo $pkgs)"
    # shellcheck disable=SC2086
    "$PY" -m pip install --quiet --no-index --find-links "$WHEELHOUSE" --no-deps --no-build-isolation \
        --target "$SITE" $pkgs || die "pip could not install $(echo $pkgs) from $WHEELHOUSE (see above)"
  fi
  if [ "$fairseq_ok" = 0 ]; then
    say "building fairseq-fixed $fairseq_version from $WHEELHOUSE (hash-checked; a few minutes)"
    req=$(mktemp)
    echo "$fairseq_line" >"$req"
    # Without CUDA_HOME fairseq's setup.py skips its optional CUDA kernels (not used by the plugin).
    env -u CUDA_HOME "$PY" -m pip install --quiet --no-index --find-links "$WHEELHOUSE" --no-deps \
        --no-build-isolation --require-hashes --target "$SITE" -r "$req" \
        || die "building fairseq-fixed failed (see above): it needs a C++ compiler, cython and numpy"
    rm -f "$req"
  fi
  "$PY" -c 'import fairseq, fairseq.data.data_utils_fast, hydra, omegaconf, bitarray' \
      || die "fairseq still does not import after the install (see above)"
fi
"$PY" -c 'import fairseq_unilmv2' || die "the plugin does not import from $REPO"

# --- the check ----------------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
report="$OUT_DIR/gpu_check$([ $DRY = 1 ] && echo _dry_run).json"
say "running benchmarks/gpu_check.py ${PASS[*]:-} (report: $report)"
cd "$REPO/benchmarks"
PYTHONUNBUFFERED=1 "$PY" gpu_check.py --out "$report" "${PASS[@]}"
