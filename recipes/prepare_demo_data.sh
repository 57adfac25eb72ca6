#!/usr/bin/env bash
# Bundled real text -> data-bins, shared by demo.sh and compare_objectives.sh:
#   WORKDIR/raw/            raw text (recipes/demo_data.py)
#   WORKDIR/spm.model       SentencePiece, 3k pieces; WORKDIR/spm.dict.txt its fairseq dictionary
#   WORKDIR/bin-pretrain    Lee corpus + aclsum papers (pre-training; the first 30 documents held out as valid)
#   WORKDIR/bin-aclsum      aclsum abstract -> summary (fine-tuning), same dictionary
#   bash recipes/prepare_demo_data.sh WORKDIR
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:?usage: prepare_demo_data.sh WORKDIR}
mkdir -p "$W"
python recipes/demo_data.py "$W/raw"
python preprocess/spm.py train --input "$W/raw/pretrain.txt" "$W/raw/train.src" "$W/raw/train.tgt" \
    --model-prefix "$W/spm" --vocab-size 3000 --character-coverage 1.0
mkdir -p "$W/spm-text"
for f in pretrain.txt train.src train.tgt valid.src valid.tgt test.src test.tgt; do
    python preprocess/spm.py encode --model "$W/spm.model" < "$W/raw/$f" > "$W/spm-text/$f"
done
# 30 held-out documents for validation, not trained on
head -n 30 "$W/spm-text/pretrain.txt" > "$W/spm-text/pretrain-valid.txt"
tail -n +31 "$W/spm-text/pretrain.txt" > "$W/spm-text/pretrain-train.txt"
fairseq-preprocess --only-source --srcdict "$W/spm.dict.txt" --trainpref "$W/spm-text/pretrain-train.txt" \
    --validpref "$W/spm-text/pretrain-valid.txt" --destdir "$W/bin-pretrain" --workers 2 > "$W/preprocess.log" 2>&1
fairseq-preprocess -s src -t tgt --joined-dictionary --srcdict "$W/spm.dict.txt" --trainpref "$W/spm-text/train" \
    --validpref "$W/spm-text/valid" --testpref "$W/spm-text/test" --destdir "$W/bin-aclsum" --workers 2 \
    >> "$W/preprocess.log" 2>&1
