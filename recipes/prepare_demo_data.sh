#!/usr/bin/env bash
# Bundled real text -> data-bins, shared by demo.sh and compare_objectives.sh:
#   WORKDIR/raw/            raw text (recipes/demo_data.py: Lee corpus + full aclsum train/val papers)
#   WORKDIR/spm.model       SentencePiece, VOCAB pieces (3000); WORKDIR/spm.dict.txt its fairseq dictionary
#   WORKDIR/bin-pretrain    pre-training text; valid = 3 held-out val-split papers (never trained on)
#   WORKDIR/bin-aclsum      aclsum abstract -> summary (fine-tuning), same dictionary; test1 = the test
#                           pairs with each source replaced by the next paper's (source ablation)
#   bash recipes/prepare_demo_data.sh WORKDIR
# One progress line a step on stderr (each step takes seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:?usage: prepare_demo_data.sh WORKDIR}
VOCAB=${VOCAB:-3000}
exec 3>&2  # progress lines go here even where a step's own output is redirected
SPM_MODEL=${SPM_MODEL:-}  # an existing SentencePiece model (its .dict.txt beside it) instead of training one
mkdir -p "$W"
t0=$(date +%s)
step() { echo "[data $(date +%H:%M:%S)] step $1/5, $(( $(date +%s) - t0 )) s elapsed: $2" >&2; }
# beat CMD...: run CMD, saying every 20 s that it still runs (fairseq-preprocess prints nothing per file)
beat() {
  "$@" & local pid=$! n=0
  while kill -0 "$pid" 2> /dev/null; do
    sleep 1; n=$((n + 1))
    [ $((n % 20)) -ne 0 ] || echo "[data $(date +%H:%M:%S)] still running ($n s): $(basename "$1")" >&3
  done
  wait "$pid"
}
step 1 "raw text from the aclsum and gensim packages"
python recipes/demo_data.py "$W/raw"
if [ -n "$SPM_MODEL" ]; then
  step 2 "SentencePiece vocabulary: $SPM_MODEL"
  cp "$SPM_MODEL" "$W/spm.model"; cp "${SPM_MODEL%.model}.dict.txt" "$W/spm.dict.txt"
else
  step 2 "SentencePiece vocabulary, $VOCAB pieces"
  beat python preprocess/spm.py train --input "$W/raw/pretrain-train.txt" "$W/raw/train.src" "$W/raw/train.tgt" \
      --model-prefix "$W/spm" --vocab-size "$VOCAB" --character-coverage 1.0 > "$W/spm.log" 2>&1 \
      || { tail -n 20 "$W/spm.log" >&2; exit 1; }
fi
mkdir -p "$W/spm-text"
files=(pretrain-train.txt pretrain-valid.txt train.src train.tgt valid.src valid.tgt test.src test.tgt test-rot.src test-rot.tgt)
step 3 "SentencePiece encoding of ${#files[@]} files"
for f in "${files[@]}"; do
    python preprocess/spm.py encode --model "$W/spm.model" < "$W/raw/$f" > "$W/spm-text/$f"
done
step 4 "fairseq-preprocess: pre-training text"
beat fairseq-preprocess --only-source --srcdict "$W/spm.dict.txt" --trainpref "$W/spm-text/pretrain-train.txt" \
    --validpref "$W/spm-text/pretrain-valid.txt" --destdir "$W/bin-pretrain" --workers 2 > "$W/preprocess.log" 2>&1
step 5 "fairseq-preprocess: aclsum pairs"
beat fairseq-preprocess -s src -t tgt --joined-dictionary --srcdict "$W/spm.dict.txt" --trainpref "$W/spm-text/train" \
    --validpref "$W/spm-text/valid" --testpref "$W/spm-text/test,$W/spm-text/test-rot" --destdir "$W/bin-aclsum" \
    --workers 2 >> "$W/preprocess.log" 2>&1
echo "[data $(date +%H:%M:%S)] done in $(( $(date +%s) - t0 )) s: $(grep -h 'tokens' "$W/preprocess.log" | grep -c .) splits binarized" >&2
