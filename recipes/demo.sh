#!/usr/bin/env bash
# The main job end to end on bundled real data, small enough for 2 CPU cores (37 minutes measured on 2 busy cores):
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
bash recipes/prepare_demo_data.sh "$W"

log "pre-training (PMLM)"
fairseq-train "$W/bin-pretrain" --user-dir "$USER_DIR" --task pmlm --criterion pmlm "${SIZE[@]}" \
    --tokens-per-sample 128 --batch-size 32 --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 \
    --lr 1e-3 --lr-scheduler polynomial_decay --warmup-updates 100 --total-num-update 450 --max-update 450 \
    --clip-norm 1.0 --save-dir "$W/ck-pretrain" --no-epoch-checkpoints --seed 1 --num-workers 0 \
    --validate-interval 5 --save-interval 5 \
    --log-format simple --log-interval 100 2>&1 | grep -E "\| (train|valid) \|" >&2

log "fine-tuning (pseudo-mask seq2seq) from the pre-trained checkpoint, beam search (beam 5, trigram blocking)"
bash recipes/aclsum_downstream.sh "$W" "$W/ck-pretrain/checkpoint_last.pt" "$W/aclsum" > /dev/null
head -n 2 "$W/aclsum/test.hyp" | sed 's/^/[demo] example summary: /' >&2

log "ROUGE (ROUGE-1.5.5 -m equivalent), Lead-3 baseline first"
printf 'lead-3: ' >&2; unilmv2-score rouge --hyp "$W/raw/test.lead" --ref "$W/raw/test.tgt" 2> "$W/lead.score.log" | tail -n 1 >&2 \
    || { cat "$W/lead.score.log" >&2; exit 1; }
cat "$W/aclsum/rouge.json"
