#!/usr/bin/env bash
# Fine-tune a unilmv2 checkpoint on SQuAD, predict the dev set and score it with the official rules.
#
#   bash recipes/squad.sh {1.1|2.0} SQUAD_DIR PRETRAINED_DIR [WORK_DIR]
#
# SQUAD_DIR:      the official train-v1.1.json / dev-v1.1.json (or train-v2.0.json / dev-v2.0.json)
# PRETRAINED_DIR: checkpoint.pt (from --task pmlm, or unilmv2-convert-hf's model.pt renamed), dict.txt
#                 (its data-bin dictionary, or the converted OUT_DIR/dict.txt) and the tokenizer the
#                 dictionary was built from: spm.model, or vocab.txt (WordPiece; CASED=1 for a cased one)
# WORK_DIR:       default runs/squad-VERSION: data-bin, checkpoints, predictions.json, scores.json
# ARCH (default unilmv2_base) is the pre-trained model's --arch; a converted checkpoint's size flags go in
# EXTRA_FLAGS="$(cat OUT_DIR/train_flags.txt)" (unilmv2-convert-hf writes them).
#
# Settings: MPNet's SQuAD recipe (microsoft/MPNet MPNet/README.squad.md and pretraining/fairseq/tasks/
# squad2.py): windows of 512 subwords, doc stride 128, questions cut at 64; lr 2e-5, polynomial
# decay, 6% warm-up (326 of 5430 updates), 4 epochs, batch 48 (--batch-size 6 x --update-freq 8:
# MPNet ran 6 a GPU on 8 GPUs), adam betas (0.9, 0.98), eps 1e-6, weight decay 0.01, no gradient
# clipping, dropout 0.1. Updates are counted from the prepared windows (4 epochs of batch 48).
# Prediction: BERT's run_squad.py (n-best 20, answers of at most 30 subwords, null threshold 0);
# for 2.0 the scores also give best_f1_thresh, the threshold to pass as NULL_THRESHOLD next time.
# Env: ARCH, EXTRA_FLAGS, BATCH, UPDATE_FREQ (8 / number of GPUs keeps 48), MAX_SEQ, NULL_THRESHOLD, CASED, FP16=1.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,21p' "$0"; exit 2; }
VERSION=$1 SQUAD=$(realpath -m "$2") PRE=$(realpath -m "$3") W=$(realpath -m "${4:-runs/squad-$1}")
ARCH=${ARCH:-unilmv2_base} BATCH=${BATCH:-6} UPDATE_FREQ=${UPDATE_FREQ:-8} MAX_SEQ=${MAX_SEQ:-512}
NULL_THRESHOLD=${NULL_THRESHOLD:-0.0}
cd "$(dirname "$0")/.."
case $VERSION in 1.1|2.0) ;; *) echo "unknown SQuAD version $VERSION: use 1.1 or 2.0" >&2; exit 2 ;; esac
for f in "$SQUAD/train-v$VERSION.json" "$SQUAD/dev-v$VERSION.json" "$PRE/checkpoint.pt" "$PRE/dict.txt"; do
  [ -f "$f" ] || { echo "missing $f" >&2; exit 2; }
done
if [ -f "$PRE/spm.model" ]; then TOKENIZER=(--spm-model "$PRE/spm.model")
elif [ -f "$PRE/vocab.txt" ]; then TOKENIZER=(--wordpiece-vocab "$PRE/vocab.txt"); [ -n "${CASED:-}" ] && TOKENIZER+=(--cased)
else echo "$PRE holds neither spm.model nor vocab.txt: put the tokenizer of dict.txt there" >&2; exit 2; fi

python -m fairseq_unilmv2.squad prepare --version "$VERSION" \
    --train "$SQUAD/train-v$VERSION.json" --valid "$SQUAD/dev-v$VERSION.json" --dict "$PRE/dict.txt" "${TOKENIZER[@]}" \
    --max-seq-length "$MAX_SEQ" --doc-stride 128 --max-query-length 64 --destdir "$W/data-bin"

WINDOWS=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['splits']['train']['features'])" "$W/data-bin/squad.json")
GPUS=$(python -c "import torch; print(max(1, torch.cuda.device_count()))")
PER_UPDATE=$((BATCH * UPDATE_FREQ * GPUS))
UPDATES=$(( (WINDOWS + PER_UPDATE - 1) / PER_UPDATE * 4 ))
WARMUP=$(( UPDATES * 6 / 100 ))
echo "$WINDOWS training windows, batch $PER_UPDATE: $UPDATES updates, $WARMUP warm-up" >&2

fairseq-train "$W/data-bin" --user-dir fairseq_unilmv2 --task squad --criterion squad --arch "$ARCH" ${EXTRA_FLAGS:-} \
    --finetune-from-model "$PRE/checkpoint.pt" \
    --optimizer adam --adam-betas '(0.9,0.98)' --adam-eps 1e-6 --weight-decay 0.01 --clip-norm 0.0 \
    --lr 2e-5 --lr-scheduler polynomial_decay --warmup-updates "$WARMUP" --total-num-update "$UPDATES" \
    --max-update "$UPDATES" --batch-size "$BATCH" --update-freq "$UPDATE_FREQ" --required-batch-size-multiple 1 \
    --dropout 0.1 --attention-dropout 0.1 ${FP16:+--fp16} \
    --save-dir "$W/ck" --no-epoch-checkpoints --log-format simple --log-interval 100

python -m fairseq_unilmv2.squad predict --checkpoint "$W/ck/checkpoint_last.pt" --data "$W/data-bin" --split valid \
    --output "$W/predictions.json" --nbest-file "$W/nbest_predictions.json" \
    $([ "$VERSION" = 2.0 ] && echo --null-odds-file "$W/null_odds.json") \
    --n-best-size 20 --max-answer-length 30 --null-score-diff-threshold "$NULL_THRESHOLD"

python -m fairseq_unilmv2.squad evaluate "$SQUAD/dev-v$VERSION.json" "$W/predictions.json" \
    $([ "$VERSION" = 2.0 ] && echo --na-prob-file "$W/null_odds.json") --out-file "$W/scores.json"
