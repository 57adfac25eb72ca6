#!/usr/bin/env bash
# A directory of raw text files -> sharded fairseq data-bin for --task pmlm, with bounded memory,
# all cores, and resumable: rerun the same command after an interruption and finished steps
# (SentencePiece model, encoded files, binarized shards) are skipped.
#
#   bash recipes/prepare_pretraining.sh TEXT_DIR OUT_DIR [SHARDS]
#   fairseq-train $(cat OUT_DIR/data-path) --user-dir REPO/fairseq_unilmv2 --task pmlm ...
#   (OUT_DIR/data-bin/README.txt: its dictionary, splits and commands)
# On many machines (a SLURM cluster, a corpus of 100s of GB): recipes/slurm_preprocess.sh runs the
# encoding and binarization below as job arrays (encode.py/binarize.py --piece K/N); same data-bin.
#
# TEXT_DIR's files (not subdirectories) are the corpus, in name order: UTF-8, one document a line
# (FORMAT=paragraphs: blank-line separated documents). Environment (defaults):
#   WORKERS=$(nproc) VOCAB_SIZE=32000 SAMPLE_LINES=2000000 (SentencePiece training sample)
#   TOKENS_PER_SAMPLE=512 (longer documents are split) VALID_LINES=5000 (held out from the start;
#   default for a corpus under 50000 encoded lines: a tenth of them; refused above half)
#   FORMAT=lines INVALID_UTF8=error (or skip) WORDPIECE_VOCAB= (a BERT vocab.txt: use it instead
#   of training SentencePiece; add CASED=1 for a cased vocabulary, refused otherwise)
#   MAX_UNK_RATE=0.05 (a shard with more <unk> tokens than this fraction is refused)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)  # no cd: TEXT_DIR, OUT_DIR and WORDPIECE_VOCAB stay relative to the caller
if [ $# -lt 2 ]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
TEXT=$1 OUT=$2 SHARDS=${3:-1}
WORKERS=${WORKERS:-$(nproc)}
log() { echo "[prepare $(date +%H:%M:%S)] $*" >&2; }

mapfile -d '' FILES < <(find "$TEXT" -maxdepth 1 -type f ! -name '.*' -print0 | sort -z)
if [ ${#FILES[@]} -eq 0 ]; then echo "error: no files in $TEXT" >&2; exit 2; fi
mkdir -p "$OUT"

if [ -n "${WORDPIECE_VOCAB:-}" ]; then
    DICT=$OUT/dict.txt
    [ -f "$DICT" ] || python "$REPO"/preprocess/wordpiece.py dict --vocab "$WORDPIECE_VOCAB" --output "$DICT"
    TOKENIZER=(--wordpiece-vocab "$WORDPIECE_VOCAB")
    [ -n "${CASED:-}" ] && TOKENIZER+=(--cased)
else
    DICT=$OUT/spm.dict.txt  # renamed last by spm.py: its presence means the model is complete
    if [ ! -f "$DICT" ]; then
        log "SentencePiece on a sample of ${SAMPLE_LINES:-2000000} lines of ${#FILES[@]} files"
        # spm.py's errors name its flag; this recipe's user sets VOCAB_SIZE (exit status kept: pipefail)
        { python "$REPO"/preprocess/spm.py train --input "${FILES[@]}" --model-prefix "$OUT/spm" \
            --vocab-size "${VOCAB_SIZE:-32000}" --input-sentence-size "${SAMPLE_LINES:-2000000}" \
            --max-sentence-length 65536 --workers "$WORKERS" 2>&1 1>&3 \
            | sed -u 's/--vocab-size \([0-9]\)/VOCAB_SIZE=\1/g' >&2; } 3>&1
    fi
    TOKENIZER=(--spm-model "$OUT/spm.model")
fi

log "encoding ${#FILES[@]} files with $WORKERS workers"
python "$REPO"/preprocess/encode.py "${TOKENIZER[@]}" --input "${FILES[@]}" --output-dir "$OUT/encoded" \
    --workers "$WORKERS" --format "${FORMAT:-lines}" --invalid-utf8 "${INVALID_UTF8:-error}" \
    --tokens-per-sample "${TOKENS_PER_SAMPLE:-512}" > "$OUT/encode.json"

ENCODED=()
for f in "${FILES[@]}"; do ENCODED+=("$OUT/encoded/$(basename "$f")"); done
# The validation set is held out of the encoded lines (documents, or pieces of long ones): check it
# against their count here, where VALID_LINES and SHARDS can be named (binarize.py knows only its flags).
LINES=$(cat "${ENCODED[@]}" | wc -l)
if [ -z "${VALID_LINES:-}" ]; then
    # default: 5000, or a tenth of a smaller corpus (deterministic: a rerun holds out the same lines)
    VALID_LINES=$(( LINES / 10 < 5000 ? LINES / 10 : 5000 ))
    [ "$VALID_LINES" -ge 1 ] || VALID_LINES=1
    if [ "$VALID_LINES" -lt 5000 ]; then
        log "note: the corpus has $LINES encoded lines: holding out $VALID_LINES (a tenth) for validation instead \
of the default 5000; set VALID_LINES to choose"
    fi
elif ! [[ $VALID_LINES =~ ^[0-9]+$ ]]; then
    echo "error: VALID_LINES=$VALID_LINES: give a number of lines (0: no validation set)" >&2
    exit 2
elif [ "$VALID_LINES" -gt $(( LINES / 2 )) ]; then
    echo "error: VALID_LINES=$VALID_LINES would hold out more than half of the corpus's $LINES encoded lines \
(one document, or piece of a long one, a line) for validation: set VALID_LINES=$(( LINES / 10 > 0 ? LINES / 10 : 1 )) \
(a tenth) or unset it (default: 5000, or a tenth of a smaller corpus)" >&2
    exit 2
fi
if [ $(( LINES - VALID_LINES )) -lt "$SHARDS" ]; then
    echo "error: $SHARDS shards need at least $SHARDS training lines; the corpus has $LINES encoded lines, \
$VALID_LINES of them held out for validation: give fewer SHARDS (the third argument) or more text" >&2
    exit 2
fi
log "binarizing $LINES lines ($VALID_LINES held out for validation) into $SHARDS shards"
python "$REPO"/preprocess/binarize.py --dict "$DICT" --train "${ENCODED[@]}" --valid-lines "$VALID_LINES" \
    --shards "$SHARDS" --destdir "$OUT/data-bin" --workers "$WORKERS" --max-unk-rate "${MAX_UNK_RATE:-0.05}" \
    > "$OUT/binarize.json"
python -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"])' "$OUT/binarize.json" > "$OUT/data-path"
log "done: fairseq-train $(cat "$OUT/data-path") --user-dir $REPO/fairseq_unilmv2 --task pmlm --criterion pmlm \
--tokens-per-sample ${TOKENS_PER_SAMPLE:-512} ... (how to use the data-bin: $OUT/data-bin/README.txt)"
