#!/usr/bin/env bash
# PMLM, MLM, MPNet and MAE-LM under one setting: the same bundled real corpus, architecture,
# optimiser, number of updates and seed; then each checkpoint fine-tuned the same way on aclsum
# summarisation (plus a run from random initialisation as the floor). Writes WORKDIR/results.md
# (markdown table) and WORKDIR/loss_curves.png, and prints the table.
#   bash recipes/compare_objectives.sh [WORKDIR]          (default runs/compare; about an hour on 2 cores)
# Environment: UPDATES (pre-training, 450), FT_UPDATES (fine-tuning, 500), SEED (1),
#   OBJECTIVES ("pmlm mlm mpnet maelm"), MAE_DECODER_LAYERS (1; see below).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-runs/compare}
UPDATES=${UPDATES:-450} SEED=${SEED:-1}
OBJECTIVES=${OBJECTIVES:-pmlm mlm mpnet maelm}
# MAE-LM's decoder is 4 layers under a 12-layer encoder; under unilmv2_tiny's 2 layers we keep
# about that ratio (1 layer) so the encoder, the part that is fine-tuned, still does the work.
MAE_DECODER_LAYERS=${MAE_DECODER_LAYERS:-1}
USER_DIR=$PWD/fairseq_unilmv2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }
rm -rf "$W" && mkdir -p "$W"

log "data: aclsum + Lee corpus (bundled with registry packages)"
bash recipes/prepare_demo_data.sh "$W/data"

for obj in $OBJECTIVES; do
    extra=()
    [ "$obj" = maelm ] && extra=(--mae-decoder-layers "$MAE_DECODER_LAYERS")
    log "$obj: pre-training, $UPDATES updates"
    mkdir -p "$W/$obj"
    start=$(date +%s.%N)  # wall time of the whole fairseq-train run, start-up and validation included
    fairseq-train "$W/data/bin-pretrain" --user-dir "$USER_DIR" --task pmlm --criterion pmlm --objective "$obj" \
        "${extra[@]}" --arch unilmv2_tiny --tokens-per-sample 128 --batch-size 32 \
        --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 --lr 1e-3 --lr-scheduler polynomial_decay \
        --warmup-updates 100 --total-num-update "$UPDATES" --max-update "$UPDATES" --clip-norm 1.0 \
        --save-dir "$W/$obj/ck" --no-epoch-checkpoints --seed "$SEED" --num-workers 0 \
        --validate-interval 5 --save-interval 5 --log-format json --log-interval 10 > "$W/$obj/pretrain.log" 2>&1 \
        || { tail -n 30 "$W/$obj/pretrain.log" >&2; exit 1; }
    echo "$start $(date +%s.%N)" > "$W/$obj/pretrain.time"
    log "$obj: fine-tuning on aclsum, beam search, ROUGE"
    bash recipes/aclsum_downstream.sh "$W/data" "$W/$obj/ck/checkpoint_last.pt" "$W/$obj/aclsum" --seed "$SEED" > /dev/null
done
log "no pre-training: fine-tuning from random initialisation"
bash recipes/aclsum_downstream.sh "$W/data" none "$W/none/aclsum" --seed "$SEED" > /dev/null

python recipes/compare_objectives.py "$W" $OBJECTIVES
