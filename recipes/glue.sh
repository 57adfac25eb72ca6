#!/usr/bin/env bash
# Fine-tune a pre-trained unilmv2 checkpoint on one GLUE task, predict its dev and test sets, score
# the dev sets and write the GLUE server's submission files.
#
#   bash recipes/glue.sh TASK GLUE_DIR PRETRAINED_DIR [WORK]
#
# TASK: CoLA SST-2 MRPC QQP STS-B MNLI QNLI RTE WNLI. GLUE_DIR: the folder the GLUE download script
# writes (GLUE_DIR/TASK/train.tsv ...; MNLI also predicts GLUE_DIR/diagnostic/diagnostic.tsv into
# AX.tsv when it exists). PRETRAINED_DIR: model.pt (or $CHECKPOINT), dict.txt, and spm.model or
# vocab.txt (CASED=1 for a cased one); its --arch and sizes come from train_flags.txt (written by
# unilmv2-convert-hf) or ARCH (default unilmv2_base). WORK (default runs/glue): WORK/TASK-bin,
# WORK/TASK-ck, WORK/TASK-predictions/{scores.json, TASK.valid.tsv, <submission>.tsv}.
#
# Hyper-parameters, per task, from MPNet's README.glue.md table (github.com/microsoft/MPNet,
# MPNet/README.glue.md: --lr, --max-sentences (batch), --total-num-update, --warmup-updates = 6% of
# the updates, except QQP's as published; "calculated for --max-epoch=10"); the shared settings
# are that README's command line, which is fairseq's examples/roberta/README.glue.md (RoBERTa):
# --max-positions 512 --max-tokens 4400 --dropout 0.1 --attention-dropout 0.1 --weight-decay 0.1
# adam (0.9, 0.98) eps 1e-6, --clip-norm 0.0, polynomial_decay, --max-epoch 10, best checkpoint by
# accuracy (STS-B: by loss, --regression-target). WNLI is not in the table: RTE's settings, with
# 10 epochs of its 635 rows at batch 16 = 400 updates and 6% (24) warm-up, computed the same way.
# fp16 as published on a GPU (FP16=0 turns it off); none on a CPU.
# Overrides (environment): LR BATCH TOTAL_UPDATES WARMUP MAX_EPOCH UPDATE_FREQ SEED MAX_POSITIONS.
set -euo pipefail
usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
[ $# -ge 3 ] && [ $# -le 4 ] || usage
TASK=$1 GLUE_DIR=$2 PRE=$3 W=${4:-runs/glue}
REPO=$(cd "$(dirname "$0")/.." && pwd)

#               lr    batch total  warm-up   (MPNet README.glue.md; WNLI: see above)
case $TASK in
  MNLI)  P=(1e-5 32 123873 7432) ;;
  QNLI)  P=(1e-5 32 33112 1986) ;;
  QQP)   P=(1e-5 32 113272 28318) ;;
  RTE)   P=(2e-5 16 2036 122) ;;
  SST-2) P=(1e-5 32 20935 1256) ;;
  MRPC)  P=(1e-5 16 2296 137) ;;
  CoLA)  P=(1e-5 16 5336 320) ;;
  STS-B) P=(2e-5 16 3598 214) ;;
  WNLI)  P=(2e-5 16 400 24) ;;
  *) echo "glue.sh: TASK must be one of CoLA SST-2 MRPC QQP STS-B MNLI QNLI RTE WNLI, not $TASK" >&2; exit 2 ;;
esac
LR=${LR:-${P[0]}} BATCH=${BATCH:-${P[1]}} TOTAL_UPDATES=${TOTAL_UPDATES:-${P[2]}} WARMUP=${WARMUP:-${P[3]}}
MAX_EPOCH=${MAX_EPOCH:-10} UPDATE_FREQ=${UPDATE_FREQ:-1} SEED=${SEED:-1}

CK=$PRE/${CHECKPOINT:-model.pt}
for f in "$GLUE_DIR/$TASK" "$CK" "$PRE/dict.txt"; do
  [ -e "$f" ] || { echo "glue.sh: $f not found" >&2; exit 2; }
done
if [ -f "$PRE/spm.model" ]; then TOK=(--spm-model "$PRE/spm.model")
elif [ -f "$PRE/vocab.txt" ]; then TOK=(--wordpiece-vocab "$PRE/vocab.txt"); [ -n "${CASED:-}" ] && TOK+=(--cased)
else echo "glue.sh: $PRE has neither spm.model nor vocab.txt (the tokenizer of the pre-trained model)" >&2; exit 2; fi
if [ -f "$PRE/train_flags.txt" ]; then read -r -a MODEL < "$PRE/train_flags.txt"; else MODEL=(--arch "${ARCH:-unilmv2_base}"); fi
# --max-positions: the pre-trained position table's size (train_flags.txt names it)
[[ " ${MODEL[*]} " == *" --max-positions "* ]] || MODEL+=(--max-positions "${MAX_POSITIONS:-512}")

mkdir -p "$W"; W=$(cd "$W" && pwd)
log() { echo "[glue.sh $(date +%H:%M:%S)] $*" >&2; }
GLUE=(python -m fairseq_unilmv2.glue)
EXTRA=()
[ "$TASK" = MNLI ] && [ -f "$GLUE_DIR/diagnostic/diagnostic.tsv" ] && EXTRA+=(--diagnostic "$GLUE_DIR/diagnostic/diagnostic.tsv")
[ "$TASK" = QQP ] && EXTRA+=(--skip-bad-rows)  # as fairseq's preprocess_GLUE_tasks.sh (awk NF==6)

log "$TASK: prepare $GLUE_DIR/$TASK -> $W/$TASK-bin"
"${GLUE[@]}" prepare --task "$TASK" --task-dir "$GLUE_DIR/$TASK" "${TOK[@]}" --dict "$PRE/dict.txt" \
    --destdir "$W/$TASK-bin" --force "${EXTRA[@]}" > "$W/$TASK-prepare.json" 2> "$W/$TASK-prepare.log" \
    || { cat "$W/$TASK-prepare.log" >&2; exit 2; }
read -r -a TASK_FLAGS <<< "$("${GLUE[@]}" train-args "$W/$TASK-bin" 2>/dev/null)"

case $TASK in
  STS-B) BEST=(--best-checkpoint-metric loss --report-pearson-and-spearman) ;;
  CoLA) BEST=(--best-checkpoint-metric accuracy --maximize-best-checkpoint-metric --report-mcc) ;;
  MRPC|QQP) BEST=(--best-checkpoint-metric accuracy --maximize-best-checkpoint-metric --report-acc-and-f1) ;;
  *) BEST=(--best-checkpoint-metric accuracy --maximize-best-checkpoint-metric) ;;
esac
DEVICE=(--cpu) PREDICT_DEVICE=(--cpu)
if python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  DEVICE=() PREDICT_DEVICE=(); [ "${FP16:-1}" = 1 ] && DEVICE=(--fp16 --fp16-init-scale 4 --threshold-loss-scale 1 --fp16-scale-window 128)
fi

log "$TASK: fine-tune from $CK (lr $LR, batch $BATCH x $UPDATE_FREQ, $TOTAL_UPDATES updates, $WARMUP warm-up, $MAX_EPOCH epochs)"
rm -rf "$W/$TASK-ck"  # a rerun starts over: a stale checkpoint_best.pt must not be predicted
set +e
fairseq-train "$W/$TASK-bin" --user-dir "$REPO/fairseq_unilmv2" --task sentence_prediction \
    --criterion sentence_prediction "${MODEL[@]}" "${TASK_FLAGS[@]}" --finetune-from-model "$CK" \
    --batch-size "$BATCH" --max-tokens 4400 --update-freq "$UPDATE_FREQ" --required-batch-size-multiple 1 \
    --dropout 0.1 --attention-dropout 0.1 --weight-decay 0.1 --optimizer adam --adam-betas '(0.9,0.98)' \
    --adam-eps 1e-06 --clip-norm 0.0 --lr-scheduler polynomial_decay --lr "$LR" \
    --total-num-update "$TOTAL_UPDATES" --warmup-updates "$WARMUP" --max-update "$TOTAL_UPDATES" \
    --max-epoch "$MAX_EPOCH" --shorten-method truncate "${BEST[@]}" "${DEVICE[@]}" --seed "$SEED" \
    --find-unused-parameters --save-dir "$W/$TASK-ck" --no-epoch-checkpoints --no-save-optimizer-state \
    --log-format simple --log-interval 100 2>&1 | tee "$W/$TASK-train.log" | grep --line-buffered -E "\| valid \|" >&2
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || { tail -30 "$W/$TASK-train.log" >&2; log "fine-tuning failed (log: $W/$TASK-train.log)"; exit 1; }

log "$TASK: predict and score -> $W/$TASK-predictions (last line: the scores as JSON)"
"${GLUE[@]}" predict --checkpoint "$W/$TASK-ck/checkpoint_best.pt" --data "$W/$TASK-bin" \
    --output-dir "$W/$TASK-predictions" "${PREDICT_DEVICE[@]}" 2>> "$W/$TASK-predict.log"
