#!/usr/bin/env bash
# Fine-tune a UniLMv2 (pmlm) checkpoint for summarization or question generation, decode with
# the papers' settings and score, on data you supply.
#
#   bash recipes/finetune.sh {cnndm|xsum|squad_qg} DATA_DIR PRETRAINED_DIR [WORK_DIR]
#
# DATA_DIR:       {train,valid,test}.{src,tgt}, raw text, one example a line, aligned (a " <q> "
#                 between summary sentences, as some CNN/DM releases have, is removed).
#                 squad_qg: src = "answer [SEP] passage" as you prepare it, tgt = the question.
# PRETRAINED_DIR: checkpoint.pt (from --task pmlm), dict.txt (its data-bin dictionary) and
#                 spm.model (the SentencePiece model that data was encoded with); after README's
#                 steps 1-4: ck-pretrain/checkpoint_last.pt, spm.dict.txt and spm.model under those
#                 names. ARCH (default unilmv2_base) is the pre-trained model's --arch.
# Settings follow s2s-ft (microsoft/unilm s2s-ft README and code): CNN/DM src 608 / tgt 160,
# target-mask 0.7, beam 5, length penalty 0 (raw log-prob sum), min length 48, trigram blocking;
# XSum src 720 / tgt 48, target-mask 0.4, beam 8, GNMT length penalty 0.9 ((5+len)/6)**0.9, as
# s2s-ft's decode_seq2seq.py ranks, hence --length-penalty-formula gnmt); both lr 7e-5, batch 64,
# 1000 warm-up steps, label smoothing 0.1 in s2s-ft's KL form (--label-smoothing-formula s2s-ft),
# weight decay 0.01 on all but biases and LayerNorm weights (run_seq2seq.py no_decay:
# --optimizer unilm_adam), "." exempt from n-gram blocking (--forbid_ignore_word ".").
# SQuAD QG is not in the s2s-ft README (unverified): src 464 / tgt 48, and the decoding of a public
# s2s-ft QG decode script (beam 5, length penalty 0, trigram blocking, "." exempt); BLEU-4.
# Hypotheses are capped at TGT tokens as s2s-ft's --max_tgt_length caps them: fairseq's search
# ends at --max-len-b tokens including </s>, so it gets TGT + 1 (docs/s2s-ft.md).
# Batch 64 = --batch-size 8 x --update-freq (8 / number of GPUs); set UPDATE_FREQ to change it.
# DRY_RUN=1 prints the commands instead of running them (after the input checks), writing nothing.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,26p' "$0"; exit 2; }
# paths as the caller gave them, before changing to the repository root
TASK=$1 DATA=$(realpath -m "$2") PRE=$(realpath -m "$3") W=$(realpath -m "${4:-runs/$1}")
ARCH=${ARCH:-unilmv2_base}  # the pre-trained model's --arch
cd "$(dirname "$0")/.."
case $TASK in
  cnndm)    SRC=608 TGT=160 MASK=0.7 STEPS=45000 BEAM=5 LENPEN=0   MINLEN=48 NGRAM=3 METRIC=rouge ;;
  xsum)     SRC=720 TGT=48  MASK=0.4 STEPS=48000 BEAM=8 LENPEN=0.9 MINLEN=1  NGRAM=3 METRIC=rouge ;;
  squad_qg) SRC=464 TGT=48  MASK=0.5 STEPS=20000 BEAM=5 LENPEN=0   MINLEN=1  NGRAM=3 METRIC=bleu ;;
  *) echo "unknown task $TASK: use cnndm, xsum or squad_qg" >&2; exit 2 ;;
esac

# Check everything before spending compute.
for f in "$PRE/checkpoint.pt" "$PRE/dict.txt" "$PRE/spm.model"; do
  [ -f "$f" ] || { echo "missing $f (see the header of $0)" >&2; exit 1; }
done
for s in train valid test; do
  for l in src tgt; do [ -f "$DATA/$s.$l" ] || { echo "missing $DATA/$s.$l (see the header of $0)" >&2; exit 1; }; done
  ns=$(wc -l < "$DATA/$s.src"); nt=$(wc -l < "$DATA/$s.tgt")
  [ "$ns" = "$nt" ] || { echo "$DATA/$s.src has $ns lines but $DATA/$s.tgt has $nt" >&2; exit 1; }
done
# run CMD...: run it, or print it under DRY_RUN
run() { if [ -n "${DRY_RUN:-}" ]; then printf '%q ' "$@"; echo; else "$@"; fi; }
MAXPOS=$((SRC + TGT + 1)); [ $MAXPOS -ge 512 ] || MAXPOS=512
NGPU=$(python -c 'import torch; print(max(torch.cuda.device_count(), 1))')
FP16=$(python -c 'import torch; print("--fp16" if torch.cuda.is_available() else "")')
UPDATE_FREQ=${UPDATE_FREQ:-$(( (8 + NGPU - 1) / NGPU ))}
USER_DIR=$PWD/fairseq_unilmv2
[ -n "${DRY_RUN:-}" ] || mkdir -p "$W/text"

for s in train valid test; do
  for l in src tgt; do
    if [ -n "${DRY_RUN:-}" ]; then
      echo "sed 's/ <q> / /g' $(printf '%q' "$DATA/$s.$l") | python preprocess/spm.py encode --model $(printf '%q' "$PRE/spm.model") > $(printf '%q' "$W/text/$s.$l")"
    elif [ ! -s "$W/text/$s.$l" ]; then
      python preprocess/spm.py encode --model "$PRE/spm.model" < <(sed 's/ <q> / /g' "$DATA/$s.$l") > "$W/text/$s.$l.tmp"
      mv "$W/text/$s.$l.tmp" "$W/text/$s.$l"
    fi
  done
done
[ -f "$W/bin/dict.src.txt" ] || run fairseq-preprocess -s src -t tgt --joined-dictionary --srcdict "$PRE/dict.txt" \
    --trainpref "$W/text/train" --validpref "$W/text/valid" --testpref "$W/text/test" --destdir "$W/bin" --workers 8

S2S=(--user-dir "$USER_DIR" --task unilm_seq2seq -s src -t tgt --max-source-positions $SRC --max-target-positions $TGT)
run fairseq-train "$W/bin" "${S2S[@]}" --arch "$ARCH" --max-positions $MAXPOS \
    --finetune-from-model "$PRE/checkpoint.pt" --criterion unilm_seq2seq --label-smoothing 0.1 \
    --label-smoothing-formula s2s-ft --target-mask-prob $MASK \
    --optimizer unilm_adam --adam-betas '(0.9,0.999)' --adam-eps 1e-8 --weight-decay 0.01 \
    --lr 7e-5 --lr-scheduler polynomial_decay --warmup-updates 1000 --total-num-update $STEPS --max-update $STEPS \
    --batch-size 8 --update-freq "$UPDATE_FREQ" --clip-norm 1.0 --save-dir "$W/checkpoints" \
    --no-epoch-checkpoints --save-interval-updates 5000 --keep-interval-updates 2 $FP16

NGRAM_FLAG=(); [ "$NGRAM" -gt 0 ] && NGRAM_FLAG=(--no-repeat-ngram-size "$NGRAM")
# s2s-ft's recipes let "." repeat (--forbid_ignore_word "."): the spellings this vocabulary has
DOTS=$(awk '$1 == "." || $1 == "▁." {printf "%s%s", sep, $1; sep = " "}' "$W/bin/dict.src.txt" 2>/dev/null || echo "▁.")
if [ "$NGRAM" -gt 0 ] && [ -n "$DOTS" ]; then NGRAM_FLAG+=(--no-repeat-ngram-ignore "$DOTS"); fi
GEN_OUT=$W/generate.out; [ -z "${DRY_RUN:-}" ] || GEN_OUT=/dev/stdout
# decoding: room for TGT tokens and the </s> fairseq's search ends every hypothesis with
run fairseq-generate "$W/bin" "${S2S[@]:0:10}" --max-target-positions $((TGT + 1)) --path "$W/checkpoints/checkpoint_last.pt" --gen-subset test \
    --beam $BEAM --lenpen $LENPEN --length-penalty-formula gnmt --min-len $MINLEN --max-len-a 0 \
    --max-len-b $((TGT + 1)) "${NGRAM_FLAG[@]}" --batch-size 32 --post-process sentencepiece > "$GEN_OUT"
[ -z "${DRY_RUN:-}" ] || exit 0
grep "^D-" "$W/generate.out" | sort -t- -k2 -n | cut -f3- > "$W/test.hyp"
if [ $METRIC = rouge ]; then  # the scorer splits sentences (pySBD) on both sides for ROUGE-Lsum
  sed 's/ <q> / /g' "$DATA/test.tgt" > "$W/test.ref"
  unilmv2-score rouge --hyp "$W/test.hyp" --ref "$W/test.ref"
else
  unilmv2-score bleu --hyp "$W/test.hyp" --ref "$DATA/test.tgt" --lowercase
fi
