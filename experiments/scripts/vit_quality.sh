#!/usr/bin/env bash
# experiments/scripts/vit_quality.sh [PLAT]: the vision transformer's quality target (88% test accuracy on Fashion-MNIST)
# (notes/06-experiments.md, "Quality: the vision transformer on Fashion-MNIST"). Trains the baseline
# vit (softmax attention) and p-LaT (p-Laplacian attention, p = 1.5, self term unit) with the
# same model, data and budget, then measures both on the official 10,000-image test set with
# `plat eval --split test`: the final model (the number reported), and beside it the checkpoint
# with the best validation loss (5,000 images carved from the training set). Prints one table and writes it into notes/06-experiments.md between the markers
# <!-- quality:vit-table --> and <!-- /quality:vit-table -->.
#
# Model: 28x28 images cut into 16 patches of 7x7 (plus a class token: T = 17), C = 128, 4 blocks,
# 4 heads, dropout 0.1; AdamW, batch 128, 200 warm-up steps to lr 2e-3, cosine to 1e-4, VIT_STEPS
# steps (default 8000: about 19 epochs of the 55,000 training images). Measured on the 2-core
# machine: about 11 minutes a model with two threads when nothing else runs.
#
# Environment: VIT_STEPS (default 8000), VIT_DIR (default runs/vit-quality), VIT_NOTES (the notes
# file to update; default notes/06-experiments.md; empty: do not write), PLAT_DATA_DIR.
# A model whose run directory already holds a finished run (best.safetensors and a final line in
# metrics.csv at VIT_STEPS) is not trained again: delete the directory to retrain. The rows measured
# (and both runs' metrics.csv) go to experiments/results/vit-quality/, committed;
# `vit_quality.sh --report` rewrites the table from there with no training (make experiments-report).
set -euo pipefail

REPORT_ONLY=0
if [ "${1:-}" = --report ]; then REPORT_ONLY=1; shift; fi
PLAT=${1:-build/plat}
STEPS=${VIT_STEPS:-8000}
OUT=${VIT_DIR:-runs/vit-quality}
NOTES=${VIT_NOTES-notes/06-experiments.md}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# The measured rows are kept with the committed results (the full-length runs only), so that
# `--report` rewrites the table of notes/06 from them with no training (make experiments-report).
RESULTS=experiments/results/vit-quality
[ "$STEPS" = 8000 ] && [ "$OUT" = runs/vit-quality ] || RESULTS=$OUT/results
CSV_HEADER="model,final_val_loss,final_val_acc_pct,test_loss,test_acc_pct,best_test_acc_pct,best_step"

table_from() {  # CSV -> the markdown table
    echo "| model | final val loss (nats) | final val accuracy | test loss (nats) | test accuracy | test accuracy of the best-val-loss checkpoint |"
    echo "| --- | --- | --- | --- | --- | --- |"
    awk -F, 'NR > 1 { name = $1 == "softmax" ? "baseline (softmax)" : $1 == "plap" ? "p-LaT (p = 1.5, self term unit)" : $1
        printf "| %s | %s | %s%% | %s | **%s%%** | %s%% (step %s) |\n", name, $2, $3, $4, $5, $6, $7 }' "$1"
}
write_notes() {  # CSV: into the notes only from the committed results (a short or other run: $OUT/table.md)
    [ -n "$NOTES" ] && [ -f "$NOTES" ] && [ "$RESULTS" = experiments/results/vit-quality ] ||
        { mkdir -p "$OUT"; table_from "$1" > "$OUT/table.md"; return 0; }
    mkdir -p "$OUT"
    table_from "$1" > "$OUT/table.md"
    bash "$(dirname "$0")/note_block.sh" "$NOTES" quality:vit-table "$OUT/table.md"
    echo "vit_quality: table written into $NOTES"
}
if [ "$REPORT_ONLY" = 1 ]; then
    [ -s "$RESULTS/results.csv" ] || { echo "vit_quality: no $RESULTS/results.csv yet (run experiments/scripts/vit_quality.sh)"; exit 0; }
    write_notes "$RESULTS/results.csv"
    exit 0
fi

[ -x "$PLAT" ] || { echo "vit_quality: $PLAT is missing; build it with make" >&2; exit 1; }
mkdir -p "$OUT"

MODEL="--patch 7 --dim 128 --layers 4 --heads 4 --seed 0"
TRAIN="--steps $STEPS --batch 128 --lr 2e-3 --min-lr 1e-4 --warmup 200 --dropout 0.1 --eval-every 2000 --log-every 500 --quiet"

finished() {  # RUN: true when the run reached STEPS
    [ -s "$1/best.safetensors" ] && [ -s "$1/metrics.csv" ] &&
        awk -F, -v s="$STEPS" 'NR > 1 && $1 + 0 == s { found = 1 } END { exit found ? 0 : 1 }' "$1/metrics.csv"
}

train() {  # NAME ATTENTION-OPTIONS...
    local name=$1
    shift
    if finished "$OUT/$name"; then
        echo "== $name: already trained ($OUT/$name)"
        return
    fi
    rm -rf "${OUT:?}/$name"
    echo "== training $name: $*"
    local t0=$(date +%s)
    "$PLAT" train vit "$@" $MODEL $TRAIN --run "$OUT/$name"
    echo "   $(($(date +%s) - t0)) s"
}

train softmax --attn softmax
train plap --attn plap --p 1.5 --self unit

# One row per model, both measured on the test set by plat eval: the final model (the run's last
# checkpoint, at VIT_STEPS; the number reported) and the checkpoint with the best validation loss.
test_of() {  # CHECKPOINT -> "loss accuracy"
    "$PLAT" eval --checkpoint "$1" --split test |
        sed -n 's/^test: loss \([0-9.]*\) nats, accuracy \([0-9.]*\)%.*/\1 \2/p'
}
row() {  # NAME KEY -> one CSV row
    local loss acc bloss bacc val vacc bstep
    read -r loss acc < <(test_of "$OUT/$1/last.safetensors")
    read -r bloss bacc < <(test_of "$OUT/$1/best.safetensors")
    read -r val vacc bstep < <(awk -F, -v s="$STEPS" '
        NR > 1 && $6 != "" && $1 + 0 == s { val = $6; acc = $8 }
        NR > 1 && $6 != "" && (best == "" || $6 + 0 < best + 0) { best = $6; bstep = $1 }
        END { printf "%.4f %.2f %d\n", val, 100 * acc, bstep }' "$OUT/$1/metrics.csv")
    echo "$2,$val,$vacc,$loss,$acc,$bacc,$bstep"
}

mkdir -p "$RESULTS"
{
    echo "$CSV_HEADER"
    row softmax softmax
    row plap plap
} > "$RESULTS/results.csv.tmp" && mv "$RESULTS/results.csv.tmp" "$RESULTS/results.csv"
for name in softmax plap; do cp "$OUT/$name/metrics.csv" "$RESULTS/metrics-$name.csv"; done
echo
table_from "$RESULTS/results.csv"
echo "(test: the official 10,000 Fashion-MNIST test images; the final model after $STEPS steps of 128 images, seed 0)"
write_notes "$RESULTS/results.csv"
