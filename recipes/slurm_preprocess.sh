#!/usr/bin/env bash
# A directory of raw text -> sharded fairseq data-bin for --task pmlm on a SLURM cluster: the steps
# of recipes/prepare_pretraining.sh as independent jobs, each atomic and resumable.
#
#   bash recipes/slurm_preprocess.sh TEXT_DIR OUT_DIR SHARDS [PIECES]
#
# Needs OUT_DIR/spm.model and OUT_DIR/spm.dict.txt (preprocess/spm.py train, one job: it reads a
# sample) and TEXT_DIR, OUT_DIR and this repository on a filesystem every node sees. Submits four
# jobs, each starting when the one before has succeeded:
#   encode    array of ENCODE_PIECES tasks: encode.py --piece K/N (whole files of TEXT_DIR, in name order)
#   prepare   binarize.py --prepare: plan.json and the line index (reads the encoded text once)
#   binarize  array of PIECES tasks (default SHARDS): binarize.py --piece K/PIECES (whole shards)
#   assemble  binarize.py --assemble: checks every shard, writes OUT_DIR/data-bin/data-path
# A failed or killed task: resubmit it (or run its command by hand); finished files and shards are
# skipped. Environment (defaults): CPUS=8 (per task) ENCODE_PIECES=min(files, 64) VALID_LINES=5000
# TOKENS_PER_SAMPLE=512 SBATCH_ARGS= (e.g. "--partition=cpu --time=8:00:00").
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 3 ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
TEXT=$(realpath "$1") OUT=$(realpath "$2") SHARDS=$3 PIECES=${4:-$3}
# checked before anything is submitted: a bad count would fail only in the binarize array
[[ "$SHARDS" =~ ^[1-9][0-9]*$ && "$PIECES" =~ ^[1-9][0-9]*$ ]] \
    || { echo "slurm_preprocess.sh: SHARDS ($SHARDS) and PIECES ($PIECES) must be positive integers" >&2; exit 2; }
(( PIECES <= SHARDS )) \
    || { echo "slurm_preprocess.sh: PIECES ($PIECES) must not exceed SHARDS ($SHARDS): a piece binarizes whole shards" >&2; exit 2; }
CPUS=${CPUS:-8}
mapfile -d '' FILES < <(find "$TEXT" -maxdepth 1 -type f ! -name '.*' -print0 | sort -z)
if [ ${#FILES[@]} -eq 0 ]; then echo "error: no files in $TEXT" >&2; exit 2; fi
for f in "$OUT/spm.model" "$OUT/spm.dict.txt"; do
    [ -f "$f" ] || { echo "error: $f is missing: train it first (preprocess/spm.py train --model-prefix $OUT/spm)" >&2; exit 2; }
done
ENCODE_PIECES=${ENCODE_PIECES:-$(( ${#FILES[@]} < 64 ? ${#FILES[@]} : 64 ))}
ENCODED=()
for f in "${FILES[@]}"; do ENCODED+=("$OUT/encoded/$(basename "$f")"); done
PY=$(command -v python)
ENCODE=("$PY" "$REPO/preprocess/encode.py" --spm-model "$OUT/spm.model" --input "${FILES[@]}"
        --output-dir "$OUT/encoded" --workers "$CPUS" --tokens-per-sample "${TOKENS_PER_SAMPLE:-512}")
BINARIZE=("$PY" "$REPO/preprocess/binarize.py" --dict "$OUT/spm.dict.txt" --train "${ENCODED[@]}"
          --valid-lines "${VALID_LINES:-5000}" --shards "$SHARDS" --destdir "$OUT/data-bin" --workers "$CPUS")
mkdir -p "$OUT/slurm"
# shellcheck disable=SC2086  # SBATCH_ARGS: several options
submit() { sbatch --parsable --cpus-per-task="$CPUS" --output="$OUT/slurm/%x-%A_%a.out" ${SBATCH_ARGS:-} "$@"; }
# ${ARRAY[*]@Q}: each argument quoted for the job's shell; \$SLURM_ARRAY_TASK_ID is expanded in the job
enc=$(submit --job-name=encode --array=0-$((ENCODE_PIECES - 1)) \
      --wrap "${ENCODE[*]@Q} --piece \$SLURM_ARRAY_TASK_ID/$ENCODE_PIECES")
prep=$(submit --job-name=prepare --dependency=afterok:"$enc" --wrap "${BINARIZE[*]@Q} --prepare")
bin=$(submit --job-name=binarize --dependency=afterok:"$prep" --array=0-$((PIECES - 1)) \
      --wrap "${BINARIZE[*]@Q} --piece \$SLURM_ARRAY_TASK_ID/$PIECES")
asm=$(submit --job-name=assemble --dependency=afterok:"$bin" --wrap "${BINARIZE[*]@Q} --assemble")
echo "submitted: encode $enc, prepare $prep, binarize $bin, assemble $asm (logs: $OUT/slurm)"
echo "then: fairseq-train \$(cat $OUT/data-bin/data-path) --user-dir $REPO/fairseq_unilmv2 --task pmlm --criterion pmlm ..."
