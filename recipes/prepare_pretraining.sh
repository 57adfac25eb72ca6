#!/usr/bin/env bash
# A directory of raw text files -> sharded fairseq data-bin for --task pmlm, with bounded memory,
# all cores, and resumable: rerun the same command after an interruption and finished steps
# (SentencePiece model, encoded files, binarized shards) are skipped.
#
#   bash recipes/prepare_pretraining.sh TEXT_DIR OUT_DIR [SHARDS]
#   fairseq-train $(cat OUT_DIR/data-path) --user-dir fairseq_unilmv2 --task pmlm ...
#
# TEXT_DIR's files (not subdirectories) are the corpus, in name order: UTF-8, one document a line
# (FORMAT=paragraphs: blank-line separated documents). Environment (defaults):
#   WORKERS=$(nproc) VOCAB_SIZE=32000 SAMPLE_LINES=2000000 (SentencePiece training sample)
#   TOKENS_PER_SAMPLE=512 (longer documents are split) VALID_LINES=5000 (held out from the start)
#   FORMAT=lines INVALID_UTF8=error (or skip) WORDPIECE_VOCAB= (a BERT vocab.txt: use it instead
#   of training SentencePiece; add CASED=1 for a cased vocabulary, refused otherwise)
#   MAX_UNK_RATE=0.05 (a shard with more <unk> tokens than this fraction is refused)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
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
    [ -f "$DICT" ] || python preprocess/wordpiece.py dict --vocab "$WORDPIECE_VOCAB" --output "$DICT"
    TOKENIZER=(--wordpiece-vocab "$WORDPIECE_VOCAB")
    [ -n "${CASED:-}" ] && TOKENIZER+=(--cased)
else
    DICT=$OUT/spm.dict.txt  # renamed last by spm.py: its presence means the model is complete
    if [ ! -f "$DICT" ]; then
        log "SentencePiece on a sample of ${SAMPLE_LINES:-2000000} lines of ${#FILES[@]} files"
        python preprocess/spm.py train --input "${FILES[@]}" --model-prefix "$OUT/spm" \
            --vocab-size "${VOCAB_SIZE:-32000}" --input-sentence-size "${SAMPLE_LINES:-2000000}" \
            --max-sentence-length 65536 --workers "$WORKERS"
    fi
    TOKENIZER=(--spm-model "$OUT/spm.model")
fi

log "encoding ${#FILES[@]} files with $WORKERS workers"
python preprocess/encode.py "${TOKENIZER[@]}" --input "${FILES[@]}" --output-dir "$OUT/encoded" \
    --workers "$WORKERS" --format "${FORMAT:-lines}" --invalid-utf8 "${INVALID_UTF8:-error}" \
    --tokens-per-sample "${TOKENS_PER_SAMPLE:-512}" > "$OUT/encode.json"

ENCODED=()
for f in "${FILES[@]}"; do ENCODED+=("$OUT/encoded/$(basename "$f")"); done
log "binarizing into $SHARDS shards"
python preprocess/binarize.py --dict "$DICT" --train "${ENCODED[@]}" --valid-lines "${VALID_LINES:-5000}" \
    --shards "$SHARDS" --destdir "$OUT/data-bin" --workers "$WORKERS" --max-unk-rate "${MAX_UNK_RATE:-0.05}" \
    > "$OUT/binarize.json"
python -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"])' "$OUT/binarize.json" > "$OUT/data-path"
log "done: fairseq-train $(cat "$OUT/data-path") --user-dir fairseq_unilmv2 --task pmlm --tokens-per-sample ${TOKENS_PER_SAMPLE:-512} ..."
