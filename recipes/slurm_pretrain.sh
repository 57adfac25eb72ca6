#!/usr/bin/env bash
# UniLMv2 PMLM pre-training on several machines under SLURM: srun starts one task per GPU and
# unilmv2-launch makes each task a fairseq rank from its SLURM variables (rank SLURM_PROCID, GPU
# SLURM_LOCALID, rendezvous on the step's first node at a port derived from the job id; set
# MASTER_ADDR/MASTER_PORT to choose them). Activate the environment, then submit from the clone:
#
#   DATA=/path/to/data-bin sbatch --nodes 4 recipes/slurm_pretrain.sh
#
# DATA:     preprocess/binarize.py's --destdir (its data-path lists the shards, one epoch each).
# SAVE_DIR: checkpoints (default checkpoints/pretrain in the clone). Submitting the same job again
#           (or --requeue after a node failure) resumes from SAVE_DIR/checkpoint_last.pt and
#           reproduces the uninterrupted run's losses update for update, when the number of
#           processes is the same.
# Batch: the paper's 7680 sequences of 512 tokens an update = BATCH 16 x UPDATE_FREQ x tasks;
# UPDATE_FREQ is computed from the job's task count (SEQUENCES / (BATCH x tasks), rounded up).
# Other settings: ARCH (unilmv2_base), OBJECTIVE (pmlm|mlm|mpnet|maelm), TOKENS (512),
# UPDATES (500000), WARMUP (24000), LR (6e-4), WORKERS (data loader processes per task, 2).
# CPU=1: CPU processes instead (gloo; no --fp16): give --ntasks-per-node the processes a node
# runs and drop --gpus-per-node. See docs/scaling.md.
#SBATCH --job-name=unilmv2-pretrain
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --cpus-per-task=8
#SBATCH --time=72:00:00
#SBATCH --output=%x-%j.log
set -euo pipefail

# sbatch runs a copy of this file from its spool directory: find the clone from where it was submitted
REPO=${REPO:-${SLURM_SUBMIT_DIR:-$PWD}}
[ -d "$REPO/fairseq_unilmv2" ] || { echo "REPO=$REPO is not the fairseq-unilmv2 clone: submit from it or set REPO" >&2; exit 2; }
DATA=${DATA:?set DATA to the data-bin directory written by preprocess/binarize.py}
[ -f "$DATA/data-path" ] || { echo "$DATA/data-path is missing: DATA must be binarize.py's --destdir" >&2; exit 2; }
command -v unilmv2-launch > /dev/null || { echo "unilmv2-launch not found: activate the environment before sbatch" >&2; exit 2; }

ARCH=${ARCH:-unilmv2_base} OBJECTIVE=${OBJECTIVE:-pmlm} TOKENS=${TOKENS:-512} BATCH=${BATCH:-16}
SEQUENCES=${SEQUENCES:-7680} UPDATES=${UPDATES:-500000} WARMUP=${WARMUP:-24000} LR=${LR:-6e-4}
WORKERS=${WORKERS:-2} SAVE_DIR=${SAVE_DIR:-$REPO/checkpoints/pretrain}
TASKS=${SLURM_NTASKS:-1}
UPDATE_FREQ=${UPDATE_FREQ:-$(( (SEQUENCES + BATCH * TASKS - 1) / (BATCH * TASKS) ))}
if [ "${CPU:-0}" = 1 ]; then DEVICE=(--cpu); else DEVICE=(--fp16); fi
echo "$TASKS processes on ${SLURM_NNODES:-1} nodes: $BATCH x $UPDATE_FREQ x $TASKS = $((BATCH * UPDATE_FREQ * TASKS)) sequences an update"

# --kill-on-bad-exit: a rank that fails ends the step, instead of the others waiting in an all-reduce
srun --label --kill-on-bad-exit=1 unilmv2-launch -- \
    fairseq-train "$(cat "$DATA/data-path")" --user-dir "$REPO/fairseq_unilmv2" \
    --task pmlm --criterion pmlm --objective "$OBJECTIVE" --arch "$ARCH" --tokens-per-sample "$TOKENS" \
    --optimizer adam --adam-betas '(0.9,0.98)' --adam-eps 1e-6 --weight-decay 0.01 --clip-norm 1.0 \
    --lr "$LR" --lr-scheduler polynomial_decay --warmup-updates "$WARMUP" \
    --total-num-update "$UPDATES" --max-update "$UPDATES" --batch-size "$BATCH" --update-freq "$UPDATE_FREQ" \
    --num-workers "$WORKERS" "${DEVICE[@]}" \
    --save-dir "$SAVE_DIR" --save-interval-updates 2000 --keep-interval-updates 3 --no-epoch-checkpoints \
    --log-format simple --log-interval 100
