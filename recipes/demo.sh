#!/usr/bin/env bash
# The main job end to end on bundled real data, small enough for 2 CPU cores (~10 minutes):
# SentencePiece vocabulary -> PMLM pre-training of a small model -> pseudo-mask seq2seq
# fine-tuning on aclsum (abstract -> summary) -> beam search -> ROUGE, beside a Lead baseline.
# The last line printed is the model's ROUGE JSON (F1 x 100).
#   bash recipes/demo.sh [WORKDIR]        (default runs/demo; reruns start from scratch)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-runs/demo}
USER_DIR=$PWD/fairseq_unilmv2
rm -rf "$W" && mkdir -p "$W"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
SIZE=(--arch unilmv2_tiny)  # 2 layers, 128 wide: what 2 CPU cores train in minutes
log() { echo "[demo $(date +%H:%M:%S)] $*" >&2; }

log "data: aclsum + Lee corpus (bundled with registry packages)"
python recipes/demo_data.py "$W/raw"
python preprocess/spm.py train --input "$W/raw/pretrain.txt" "$W/raw/train.src" "$W/raw/train.tgt" \
    --model-prefix "$W/spm" --vocab-size 3000 --character-coverage 1.0
mkdir -p "$W/spm-text"
for f in pretrain.txt train.src train.tgt valid.src valid.tgt test.src test.tgt; do
    python preprocess/spm.py encode --model "$W/spm.model" < "$W/raw/$f" > "$W/spm-text/$f"
done
head -n 30 "$W/spm-text/pretrain.txt" > "$W/spm-text/pretrain-valid.txt"
fairseq-preprocess --only-source --srcdict "$W/spm.dict.txt" --trainpref "$W/spm-text/pretrain.txt" \
    --validpref "$W/spm-text/pretrain-valid.txt" --destdir "$W/bin-pretrain" --workers 2 > "$W/preprocess.log" 2>&1
fairseq-preprocess -s src -t tgt --joined-dictionary --srcdict "$W/spm.dict.txt" --trainpref "$W/spm-text/train" \
    --validpref "$W/spm-text/valid" --testpref "$W/spm-text/test" --destdir "$W/bin-aclsum" --workers 2 \
    >> "$W/preprocess.log" 2>&1

log "pre-training (PMLM)"
fairseq-train "$W/bin-pretrain" --user-dir "$USER_DIR" --task pmlm --criterion pmlm "${SIZE[@]}" \
    --tokens-per-sample 128 --batch-size 32 --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 \
    --lr 1e-3 --lr-scheduler polynomial_decay --warmup-updates 100 --total-num-update 450 --max-update 450 \
    --clip-norm 1.0 --save-dir "$W/ck-pretrain" --no-epoch-checkpoints --seed 1 --num-workers 0 \
    --validate-interval 5 --save-interval 5 \
    --log-format simple --log-interval 100 2>&1 | grep -E "\| (train|valid) \|" >&2

log "fine-tuning (pseudo-mask seq2seq) from the pre-trained checkpoint"
fairseq-train "$W/bin-aclsum" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt "${SIZE[@]}" \
    --criterion unilm_seq2seq --label-smoothing 0.1 --max-source-positions 256 --max-target-positions 128 \
    --finetune-from-model "$W/ck-pretrain/checkpoint_last.pt" --target-mask-prob 0.5 \
    --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 --lr 5e-4 --lr-scheduler polynomial_decay \
    --warmup-updates 30 --total-num-update 500 --max-update 500 --batch-size 16 --clip-norm 1.0 \
    --save-dir "$W/ck-aclsum" --no-epoch-checkpoints --seed 1 --num-workers 0 \
    --validate-interval 10 --save-interval 10 \
    --log-format simple --log-interval 100 2>&1 | grep -E "\| (train|valid) \|" >&2

# With 100 training pairs the validation loss bottoms out within a few epochs, long before the
# model writes fluent summaries, so we decode the last checkpoint, not the "best" one.
log "generation (beam 5, trigram blocking)"
fairseq-generate "$W/bin-aclsum" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt \
    --max-source-positions 256 --max-target-positions 128 --path "$W/ck-aclsum/checkpoint_last.pt" \
    --beam 5 --lenpen 1.0 --min-len 20 --max-len-b 100 --no-repeat-ngram-size 3 --batch-size 32 \
    --gen-subset test --post-process sentencepiece > "$W/generate.out" 2> "$W/generate.log"
grep -E "Translated" "$W/generate.log" >&2 || true
grep "^D-" "$W/generate.out" | sort -t- -k2 -n | cut -f3 > "$W/test.hyp"
head -n 2 "$W/test.hyp" | sed 's/^/[demo] example summary: /' >&2

log "ROUGE (ROUGE-1.5.5 -m equivalent), Lead-3 baseline first"
printf 'lead-3: ' >&2; unilmv2-score rouge --hyp "$W/raw/test.lead" --ref "$W/raw/test.tgt" 2>/dev/null | tail -n 1 >&2
unilmv2-score rouge --hyp "$W/test.hyp" --ref "$W/raw/test.tgt" 2>/dev/null | tail -n 1
