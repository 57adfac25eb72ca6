#!/usr/bin/env bash
# Fine-tune a pre-trained checkpoint on aclsum (abstract -> summary, pseudo-mask seq2seq), decode
# the test set with beam search from the best-valid-loss checkpoint, score it, and measure whether
# the model reads its source; shared by demo.sh and compare_objectives.sh.
#   bash recipes/aclsum_downstream.sh DATA_WORKDIR CHECKPOINT|none OUTDIR [fairseq-train args...]
# DATA_WORKDIR comes from prepare_demo_data.sh; "none" fine-tunes from random initialisation.
# Environment: FT_UPDATES (105); DATA_BIN (DATA_WORKDIR/bin-aclsum); POST=sentencepiece (the
# default) or wordpiece (joins BERT's ## pieces); GEN_ARGS: more fairseq-generate flags (last, so they
# override); STAGE (the name on progress lines, "fine-tuning"). Args after OUTDIR go to
# fairseq-train last (they override the defaults here, e.g. a converted model's --arch and sizes, --lr).
# Validation runs every epoch (7 updates of 16 pairs); checkpoint_best.pt (lowest valid loss) is
# decoded: with 100 training pairs the model overfits long before FT_UPDATES.
# Writes OUTDIR/test.hyp, OUTDIR/rouge.json (the scorer's JSON, F1 x 100), OUTDIR/ablation.json
# (teacher-forced test nll in bits per target token with each paper's own source and with the next
# paper's: a model that reads its source scores its own clearly lower; needs the test1 split that
# prepare_demo_data.sh writes, skipped without it), and prints rouge.json.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:?usage: aclsum_downstream.sh DATA_WORKDIR CHECKPOINT|none OUTDIR [args...]}
CKPT=${2:?checkpoint or none}
O=${3:?output folder}
shift 3
USER_DIR=$PWD/fairseq_unilmv2
FT_UPDATES=${FT_UPDATES:-105}
DATA_BIN=${DATA_BIN:-$D/bin-aclsum}
POST=${POST:-sentencepiece}
STAGE=${STAGE:-fine-tuning}
read -r -a gen_args <<< "${GEN_ARGS:-}"
case $POST in
  sentencepiece) post=(--post-process sentencepiece); join=(cat) ;;
  wordpiece) post=(); join=(sed 's/ ##//g') ;;  # fairseq's --post-process wordpiece is not BERT's ## convention
  *) echo "aclsum_downstream.sh: POST must be sentencepiece or wordpiece, not $POST" >&2; exit 2 ;;
esac
mkdir -p "$O"
: > "$O/finetune.log"
beat() {  # beat WHAT CMD...: run CMD, one line every 20 s while it runs (fairseq-validate prints nothing until done)
  local what=$1; shift
  "$@" & local pid=$! n=0
  while kill -0 "$pid" 2> /dev/null; do
    sleep 1; n=$((n + 1))
    [ $((n % 20)) -ne 0 ] || echo "[$STAGE $(date +%H:%M:%S)] $what: still running, $n s elapsed" >&2
  done
  wait "$pid"
}
init=()
[ "$CKPT" = none ] || init=(--finetune-from-model "$CKPT")
fairseq-train "$DATA_BIN" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt --arch unilmv2_tiny \
    --criterion unilm_seq2seq --label-smoothing 0.1 --max-source-positions 256 --max-target-positions 128 \
    "${init[@]}" --target-mask-prob 0.5 \
    --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 --lr 5e-4 --lr-scheduler polynomial_decay \
    --warmup-updates 30 --total-num-update "$FT_UPDATES" --max-update "$FT_UPDATES" --batch-size 16 --clip-norm 1.0 \
    --save-dir "$O/ck" --no-epoch-checkpoints --seed 1 --num-workers 0 \
    --validate-interval 1 --save-interval 1 --log-format simple --log-interval 5 "$@" 2>&1 \
    | python recipes/demo_progress.py train "$STAGE" "$FT_UPDATES" --log "$O/finetune.log" \
    || { tail -n 30 "$O/finetune.log" >&2; exit 1; }
best=$(grep -E "\| valid \|" "$O/finetune.log" | grep -oE "best_loss [0-9.]+" | tail -n 1 || true)
echo "[$STAGE $(date +%H:%M:%S)] best valid loss: ${best#best_loss } (checkpoint_best.pt, decoded below)" >&2

n=$(wc -l < "$D/raw/test.tgt")
PYTHONUNBUFFERED=1 fairseq-generate "$DATA_BIN" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt \
    --max-source-positions 256 --max-target-positions 128 --path "$O/ck/checkpoint_best.pt" \
    --beam 5 --lenpen 1.0 --min-len 20 --max-len-b 100 --no-repeat-ngram-size 3 --batch-size 10 \
    --gen-subset test "${post[@]}" "${gen_args[@]}" 2> "$O/generate.log" \
    | python recipes/demo_progress.py generate "$STAGE: beam search" "$n" > "$O/generate.out" \
    || { tail -n 30 "$O/generate.log" >&2; exit 1; }
grep "^D-" "$O/generate.out" | sort -t- -k2 -n | cut -f3 | "${join[@]}" > "$O/test.hyp"
unilmv2-score rouge --hyp "$O/test.hyp" --ref "$D/raw/test.tgt" 2> "$O/score.log" | tail -n 1 > "$O/rouge.json" \
    || { cat "$O/score.log" >&2; exit 1; }
grep "^unilmv2-score: warning" "$O/score.log" >&2 || true

if [ -e "$DATA_BIN/test1.src-tgt.src.idx" ]; then
  # teacher-forced nll of the test references, target tokens masked as in validation (fixed seed)
  echo "[$STAGE $(date +%H:%M:%S)] source ablation: teacher-forced test nll with own and with rotated sources" >&2
  beat "source ablation" fairseq-validate "$DATA_BIN" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt \
      --max-source-positions 256 --max-target-positions 128 --path "$O/ck/checkpoint_best.pt" \
      --valid-subset test,test1 --batch-size 16 --seed 1 > "$O/ablation.log" 2>&1 \
      || { tail -n 20 "$O/ablation.log" >&2; exit 1; }
  python - "$O/ablation.log" "$O/ablation.json" <<'PY'
import json, re, sys
nll = {m.group(1): float(m.group(2)) for m in re.finditer(r"valid on '(\w+)' subset \|.*?\| nll_loss ([\d.]+)", open(sys.argv[1]).read())}
out = {"own_source_nll": nll["test"], "other_source_nll": nll["test1"], "gap": round(nll["test1"] - nll["test"], 3)}
json.dump(out, open(sys.argv[2], "w"))
PY
  echo "[$STAGE $(date +%H:%M:%S)] source ablation (test nll, bits/token): own source $(python -c "import json;d=json.load(open('$O/ablation.json'));print(f\"{d['own_source_nll']:.3f}, next paper's source {d['other_source_nll']:.3f} ({d['gap']:+.3f})\")")" >&2
fi
cat "$O/rouge.json"
