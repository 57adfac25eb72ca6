#!/usr/bin/env bash
# Fine-tune a pre-trained checkpoint on aclsum (abstract -> summary, pseudo-mask seq2seq), decode
# the test set with beam search and score it; shared by demo.sh and compare_objectives.sh.
#   bash recipes/aclsum_downstream.sh DATA_WORKDIR CHECKPOINT|none OUTDIR [fairseq-train args...]
# DATA_WORKDIR comes from prepare_demo_data.sh; "none" fine-tunes from random initialisation.
# Environment: FT_UPDATES (500); DATA_BIN (DATA_WORKDIR/bin-aclsum); POST=sentencepiece (the
# default) or wordpiece (joins BERT's ## pieces); GEN_ARGS: more fairseq-generate flags (last, so they
# override). Args after OUTDIR go to fairseq-train last (they override the defaults here, e.g. a
# converted model's --arch and sizes, --lr).
# Writes OUTDIR/test.hyp and OUTDIR/rouge.json (the scorer's JSON, F1 x 100), and prints the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:?usage: aclsum_downstream.sh DATA_WORKDIR CHECKPOINT|none OUTDIR [args...]}
CKPT=${2:?checkpoint or none}
O=${3:?output folder}
shift 3
USER_DIR=$PWD/fairseq_unilmv2
FT_UPDATES=${FT_UPDATES:-500}
DATA_BIN=${DATA_BIN:-$D/bin-aclsum}
POST=${POST:-sentencepiece}
read -r -a gen_args <<< "${GEN_ARGS:-}"
case $POST in
  sentencepiece) post=(--post-process sentencepiece); join=(cat) ;;
  wordpiece) post=(); join=(sed 's/ ##//g') ;;  # fairseq's --post-process wordpiece is not BERT's ## convention
  *) echo "aclsum_downstream.sh: POST must be sentencepiece or wordpiece, not $POST" >&2; exit 2 ;;
esac
mkdir -p "$O"
init=()
[ "$CKPT" = none ] || init=(--finetune-from-model "$CKPT")
fairseq-train "$DATA_BIN" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt --arch unilmv2_tiny \
    --criterion unilm_seq2seq --label-smoothing 0.1 --max-source-positions 256 --max-target-positions 128 \
    "${init[@]}" --target-mask-prob 0.5 \
    --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 --lr 5e-4 --lr-scheduler polynomial_decay \
    --warmup-updates 30 --total-num-update "$FT_UPDATES" --max-update "$FT_UPDATES" --batch-size 16 --clip-norm 1.0 \
    --save-dir "$O/ck" --no-epoch-checkpoints --seed 1 --num-workers 0 \
    --validate-interval 10 --save-interval 10 --log-format simple --log-interval 100 "$@" > "$O/finetune.log" 2>&1 \
    || { tail -n 30 "$O/finetune.log" >&2; exit 1; }
grep -E "\| (train|valid) \|" "$O/finetune.log" | tail -n 2 >&2

# With 100 training pairs the validation loss bottoms out within a few epochs, long before the
# model writes fluent summaries, so we decode the last checkpoint, not the "best" one.
fairseq-generate "$DATA_BIN" --user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt \
    --max-source-positions 256 --max-target-positions 128 --path "$O/ck/checkpoint_last.pt" \
    --beam 5 --lenpen 1.0 --min-len 20 --max-len-b 100 --no-repeat-ngram-size 3 --batch-size 32 \
    --gen-subset test "${post[@]}" "${gen_args[@]}" > "$O/generate.out" 2> "$O/generate.log"
grep -E "Translated" "$O/generate.log" >&2 || true
grep "^D-" "$O/generate.out" | sort -t- -k2 -n | cut -f3 | "${join[@]}" > "$O/test.hyp"
unilmv2-score rouge --hyp "$O/test.hyp" --ref "$D/raw/test.tgt" 2> "$O/score.log" | tail -n 1 > "$O/rouge.json" \
    || { cat "$O/score.log" >&2; exit 1; }
grep "^unilmv2-score: warning" "$O/score.log" >&2 || true
cat "$O/rouge.json"
