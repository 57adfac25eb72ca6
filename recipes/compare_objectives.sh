#!/usr/bin/env bash
# PMLM, MLM, MPNet and MAE-LM at equal compute: the same corpus, architecture, optimiser, number of
# updates and seeds; each checkpoint then (a) fine-tuned on aclsum summarisation (abstract ->
# summary, recipes/aclsum_downstream.sh: best valid loss, ROUGE of the best-valid checkpoint, source
# ablation) and (b) fine-tuned on an NLU task with fairseq's stock --task sentence_prediction
# (aclsum sentence aspects, recipes/nlu_demo.sh: test accuracy), beside the same fine-tuning from
# random weights. Writes WORKDIR/results.md (mean +- sd over seeds, ranking, and whether the spread
# exceeds the differences) and WORKDIR/loss_curves.png, and prints the table.
#
# Usage:
#   bash recipes/compare_objectives.sh --cpu [WORKDIR]   unilmv2_tiny, the demo's data and settings, 600 updates
#   bash recipes/compare_objectives.sh --gpu [WORKDIR]   unilmv2_base settings for one GPU
#
# --cpu: the demo's pre-training (recipes/demo.sh: 3k SentencePiece, 128-token blocks, 24 a batch,
#   lr 2e-3) for PT_UPDATES (600) updates, seq2seq fine-tuning FT_UPDATES (105, lr FT_LR 1e-3) and
#   NLU_UPDATES (150, lr NLU_LR 3e-4; the random-weights control uses the same vocabulary). One
#   (objective, seed) takes about 4 minutes on 2 idle cores, so the default 4 objectives x
#   SEEDS="1 2 3" plus 3 random-init controls is about 55 minutes; SEEDS=1 OBJECTIVES="pmlm mlm" is
#   a ~10-minute look.
# --gpu: unilmv2_base (12 layers, 768 wide), 512-token blocks, batch 256 x 512 (--max-tokens 16384
#   --update-freq 16 on one GPU), Adam (0.9, 0.98), lr 6e-4, warm-up 10k, weight decay 0.01, fp16
#   (UniLMv2's base recipe, §4.1, at 1/30 of its batch), PT_UPDATES 125000 (BERT-base ablation scale);
#   needs PRETRAIN_BIN (a data-bin from recipes/prepare_pretraining.sh) and SPM_MODEL (its
#   SentencePiece model; aclsum is encoded with it). Days on one GPU per objective.
# Environment (both): OBJECTIVES ("pmlm mlm mpnet maelm"), SEEDS ("1 2 3"), PT_UPDATES, FT_UPDATES,
#   FT_LR, NLU_UPDATES, NLU_LR, MAE_DECODER_LAYERS (tiny 1, base 4: MAE-LM's decoder/encoder ratio),
#   NLU=0 skips NLU.
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/common.sh
usage() { print_header "$0" >&2; exit 2; }
case ${1:-} in --cpu|--gpu) MODE=${1#--} ;; *) usage ;; esac
W=${2:-runs/compare}
OBJECTIVES=${OBJECTIVES:-pmlm mlm mpnet maelm} SEEDS=${SEEDS:-1 2 3} NLU=${NLU:-1}
USER_DIR=$PWD/fairseq_unilmv2
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
log() { echo "[compare $(date +%H:%M:%S)] $*" >&2; }
if [ "$MODE" = cpu ]; then
  PT_UPDATES=${PT_UPDATES:-600} FT_UPDATES=${FT_UPDATES:-105} NLU_UPDATES=${NLU_UPDATES:-150}
  FT_LR=${FT_LR:-1e-3} NLU_LR=${NLU_LR:-3e-4} MAE_DECODER_LAYERS=${MAE_DECODER_LAYERS:-1}
  ARCH=unilmv2_tiny
  PT=(--tokens-per-sample 128 --batch-size 24 --required-batch-size-multiple 1 --lr 2e-3 --warmup-updates 60
      --validate-interval-updates 100 --save-interval-updates 100 --log-interval 25)
else
  : "${PRETRAIN_BIN:?--gpu needs PRETRAIN_BIN (a data-bin from recipes/prepare_pretraining.sh)}"
  : "${SPM_MODEL:?--gpu needs SPM_MODEL (the SentencePiece model of PRETRAIN_BIN)}"
  PT_UPDATES=${PT_UPDATES:-125000} FT_UPDATES=${FT_UPDATES:-1000} NLU_UPDATES=${NLU_UPDATES:-1000}
  FT_LR=${FT_LR:-5e-4} NLU_LR=${NLU_LR:-1e-4} MAE_DECODER_LAYERS=${MAE_DECODER_LAYERS:-4}
  ARCH=unilmv2_base
  PT=(--tokens-per-sample 512 --max-tokens 16384 --update-freq 16 --lr 6e-4 --warmup-updates 10000 --fp16
      --validate-interval-updates 5000 --save-interval-updates 5000 --log-interval 100)
fi
fresh_workdir "$W" compare_objectives.sh
log "$MODE: objectives $OBJECTIVES, seeds $SEEDS, $ARCH, $PT_UPDATES pre-training updates each"
if [ "$MODE" = cpu ]; then
  bash recipes/prepare_demo_data.sh "$W/data"; PRETRAIN_BIN=$W/data/bin-pretrain
else
  SPM_MODEL=$SPM_MODEL bash recipes/prepare_demo_data.sh "$W/data"
fi
[ "$NLU" = 0 ] || { log "NLU data: aclsum sentence aspects"; python -m fairseq_unilmv2.glue aclsum "$W/nlu/aclsum" > "$W/nlu.data.log" 2>&1; }

nlu() {  # nlu NAME CHECKPOINT|random SEED: the checkpoint, or random weights with the same vocabulary and sizes
  [ "$NLU" = 0 ] && return 0
  local d=$W/nlu/start-$1 start
  mkdir -p "$d"; echo "--arch $ARCH" > "$d/train_flags.txt"
  cp "$W/data/spm.dict.txt" "$d/dict.txt"; cp "$W/data/spm.model" "$d/spm.model"
  if [ "$2" != random ]; then
    ln -sf "$(cd "$(dirname "$2")" && pwd)/$(basename "$2")" "$d/model.pt"; start=$d
  else
    start=scratch:$d
  fi
  log "$1: NLU (aclsum aspects), $NLU_UPDATES updates, lr $NLU_LR"
  UPDATES=$NLU_UPDATES LR=$NLU_LR SEED=$3 bash recipes/nlu_demo.sh "$W/nlu/run-$1" "$start" > "$W/nlu/$1.json" \
      2> "$W/nlu/$1.log" || { tail -n 20 "$W/nlu/$1.log" >&2; exit 1; }
}

for seed in $SEEDS; do
  for obj in $OBJECTIVES; do
    extra=(); [ "$obj" = maelm ] && extra=(--mae-decoder-layers "$MAE_DECODER_LAYERS")
    R=$W/$obj/seed$seed; mkdir -p "$R"
    log "$obj seed $seed: pre-training, $PT_UPDATES updates"
    start=$(date +%s.%N)  # wall time of the whole fairseq-train run, start-up and validation included
    fairseq-train "$PRETRAIN_BIN" --user-dir "$USER_DIR" --task pmlm --criterion pmlm --objective "$obj" \
        "${extra[@]}" --arch "$ARCH" "${PT[@]}" --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 \
        --lr-scheduler polynomial_decay --total-num-update "$PT_UPDATES" --max-update "$PT_UPDATES" --clip-norm 1.0 \
        --save-dir "$R/ck" --no-epoch-checkpoints --keep-interval-updates 1 --seed "$seed" --num-workers 0 \
        --log-format json 2>&1 | python recipes/demo_progress.py train "$obj seed $seed: pre-training" "$PT_UPDATES" \
        --log "$R/pretrain.log" > /dev/null || { tail -n 30 "$R/pretrain.log" >&2; exit 1; }
    echo "$start $(date +%s.%N)" > "$R/pretrain.time"
    STAGE="$obj seed $seed: fine-tuning" FT_UPDATES=$FT_UPDATES bash recipes/aclsum_downstream.sh "$W/data" \
        "$R/ck/checkpoint_last.pt" "$R/aclsum" --seed "$seed" --arch "$ARCH" --lr "$FT_LR" > /dev/null
    nlu "$obj-seed$seed" "$R/ck/checkpoint_last.pt" "$seed"
  done
  log "random init seed $seed: the same fine-tuning"
  STAGE="random init seed $seed: fine-tuning" FT_UPDATES=$FT_UPDATES bash recipes/aclsum_downstream.sh "$W/data" none \
      "$W/none/seed$seed/aclsum" --seed "$seed" --arch "$ARCH" --lr "$FT_LR" > /dev/null
  nlu "none-seed$seed" random "$seed"
done

# shellcheck disable=SC2086
python recipes/compare_objectives.py "$W" --seeds $SEEDS -- $OBJECTIVES
