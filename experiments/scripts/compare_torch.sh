#!/usr/bin/env bash
# experiments/scripts/compare_torch.sh [PLAT]: the quality check beside PyTorch (notes/06b-plat-vs-pytorch.md).
# Trains the softmax baseline lm at nanoGPT's CPU scale (4 layers, 4 heads, dim 128, context 128,
# batch 16) on the KJV twice with the same budget: once with plat (`plat train lm`) and once with
# PyTorch (experiments/pytorch/train_torch.py: the same model, init scheme, data split, AdamW groups,
# schedule and clipping; its own random numbers). Then measures both final models with `plat eval`
# on the WHOLE validation split (bytes 90-95% of the text since the test split; the last 10%, 415104
# predicted bytes, when notes/06b's table was measured), the same windows for both, and prints one table: validation loss in nats and
# bits per byte, the training loss at the end, training time and tokens per second.
#
# The conversion check (the script stops if it fails): each checkpoint is also evaluated by PyTorch
# (train_torch.py --eval-checkpoint, plat_torch.load_plat_checkpoint) on the same windows, and
# plat eval must print the same loss, on the first batch alone and on the whole split, with the same
# number of tokens. Tolerance 2e-4 nats: plat eval prints 4 decimals (rounding <= 5e-5), and the two
# float32 forward passes of the same weights differ by far less (they agreed to every printed decimal
# in the check runs); a wrong tensor, name or layout changes the loss by much more.
#
# PLAT: the command line (default build/plat). Environment:
#   COMPARE_STEPS   optimizer steps of each run (default 2000; the time it takes is in
#                   notes/06b-plat-vs-pytorch.md; much more on a busy machine: check the load
#                   averages it prints).
#   COMPARE_SEEDS   seeds, each giving one plat and one PyTorch run (default "0": the issue asks for
#                   one run each; "0 1 2" adds mean +- sd rows and triples the time)
#   COMPARE_THREADS threads of both (default 2): PLAT_THREADS for plat, torch.set_num_threads for PyTorch
#   COMPARE_DIR     output directory (default runs/compare-torch; only its plat-s*/torch-s* runs are replaced)
#   PLAT_DATA_DIR   data directory holding kjv.txt (default data; `make data` makes it)
# Both run with OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep: on a shared machine spinning
# threads steal the cores they wait for).
set -euo pipefail

PLAT=${1:-build/plat}
STEPS=${COMPARE_STEPS:-2000}
SEEDS=${COMPARE_SEEDS:-0}
THREADS=${COMPARE_THREADS:-2}
OUT=${COMPARE_DIR:-runs/compare-torch}
DATA=${PLAT_DATA_DIR:-data}
PY=/usr/bin/python3
TORCH="$PY $(dirname "$0")/../pytorch/train_torch.py"
TOL=2e-4
export OMP_WAIT_POLICY=PASSIVE
export PLAT_THREADS=$THREADS
start=$(date +%s)

[ -x "$PLAT" ] || { echo "compare_torch: $PLAT is missing; build it with make" >&2; exit 1; }
[ -s "$DATA/kjv.txt" ] || { echo "compare_torch: $DATA/kjv.txt is missing; run make data first" >&2; exit 1; }
$PY -c "import torch" 2>/dev/null || { echo "compare_torch: $PY cannot import torch (Debian: python3-torch)" >&2; exit 1; }

# The settings of experiments/scripts/demo.sh with a longer budget. Identical for both, one option string.
MODEL="--dim 128 --layers 4 --heads 4 --context 128 --attn softmax"
TRAIN="--steps $STEPS --batch 16 --lr 4e-3 --min-lr 2e-4 --warmup 50 --weight-decay 0.1 --grad-clip 1"
TRAIN="$TRAIN --eval-every 200 --eval-batches 20 --log-every 100 --data $DATA"
EVAL="--batch 16 --data $DATA"   # plat eval: the whole split (--batches 0) or the first batch (--batches 1)

load() { cut -d' ' -f1-3 /proc/loadavg; }
# plat_eval CKPT BATCHES: "loss targets" from plat eval's line
#   "val: loss 1.2345 nats, 1.7810 bits per byte, accuracy 50.00%, over 415104 tokens in 203 batches ..."
plat_eval() {
    "$PLAT" eval --checkpoint "$1" --batches "$2" $EVAL |
        awk '/^val: loss/ { for (i = 1; i <= NF; i++) { if ($i == "loss") l = $(i + 1); if ($i == "over") n = $(i + 1) }
                            print l, n; found = 1 }
             END { if (!found) exit 1 }'
}
# torch_eval CKPT BATCHES: "loss targets first_batch_loss", PyTorch on the same windows.
torch_eval() {
    $TORCH --eval-checkpoint "$1" --final-batches "$2" --batch 16 --data "$DATA" --threads "$THREADS" |
        $PY -c 'import json, sys; r = json.loads(sys.stdin.read()); print(r["loss"], r["targets"], r["first_batch_loss"])'
}
# agree WHAT A B: |A - B| <= TOL or stop.
agree() {
    awk -v a="$2" -v b="$3" -v t="$TOL" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' ||
        { echo "compare_torch: conversion check FAILED: $1: plat eval $2, PyTorch $3 (tolerance $TOL)" >&2; exit 1; }
}
# summary RUN_DIR: "train_loss_last100 train_seconds wall_seconds tok_per_s" from metrics.csv
# (the same columns for both): training time = sum over steps of 2048 / throughput, validation excluded.
summary() {
    awk -F, 'NR > 1 { loss[NR] = $2; if ($5 != "") { t += 16 * 128 / $5; n++ }; wall = $9; last = NR }
             END { k = 0; s = 0; for (i = last; i > 1 && k < 100; i--) { s += loss[i]; k++ }
                   printf "%.4f %.1f %.1f %.0f\n", s / k, t, wall, n * 16 * 128 / t }' "$1/metrics.csv"
}

mkdir -p "$OUT"
echo "== plat against PyTorch: lm softmax, C=128 L=4 H=4 T=128, batch 16, $STEPS steps, lr 4e-3 -> 2e-4 (warm-up 50),"
echo "   $THREADS threads each, OMP_WAIT_POLICY=PASSIVE, seeds: $SEEDS; load average at start: $(load)"
: > "$OUT/rows.txt"
: > "$OUT/check.txt"
for seed in $SEEDS; do
    P="$OUT/plat-s$seed"
    T="$OUT/torch-s$seed"
    rm -rf "$P" "$T"
    echo
    echo "== plat, seed $seed (load $(load))"
    "$PLAT" train lm $MODEL --seed "$seed" $TRAIN --run "$P"
    echo
    echo "== PyTorch, seed $seed (load $(load))"
    $TORCH $MODEL --seed "$seed" $TRAIN --run "$T" --threads "$THREADS" --final-batches 0
    echo
    echo "== evaluation on the whole validation split, and the conversion check (load $(load))"
    for impl in plat torch; do
        dir=$P; [ "$impl" = torch ] && dir=$T
        ckpt="$dir/last.safetensors"
        read -r pl_loss pl_n < <(plat_eval "$ckpt" 0)
        read -r pl_first _ < <(plat_eval "$ckpt" 1)
        read -r th_loss th_n th_first < <(torch_eval "$ckpt" 0)
        echo "   $impl-s$seed: plat eval $pl_loss over $pl_n tokens (first batch $pl_first);" \
             "PyTorch on the same windows $(printf %.6f "$th_loss") over $th_n (first batch $(printf %.6f "$th_first"))" |
            tee -a "$OUT/check.txt"
        [ "$pl_n" = "$th_n" ] || { echo "compare_torch: plat eval used $pl_n tokens, PyTorch $th_n: not the same windows" >&2; exit 1; }
        agree "$impl-s$seed whole split" "$pl_loss" "$th_loss"
        agree "$impl-s$seed first batch" "$pl_first" "$th_first"
        read -r tl ts ws tps < <(summary "$dir")
        echo "$impl $seed $STEPS $pl_loss $tl $ts $ws $tps" >> "$OUT/rows.txt"
    done
    echo "   conversion check passed: both checkpoints give the same loss in plat and in PyTorch (|diff| <= $TOL)" |
        tee -a "$OUT/check.txt"
done

# The table (also kept in $OUT/table.txt).
{
    echo "== Results: validation = the whole validation split of the KJV (plat eval, the same windows for both); $THREADS threads"
    printf "%-10s %5s %6s %10s %9s %11s %10s %9s %8s\n" implementation seed steps "val nats" "val bpb" "train loss" "train time" "wall" "tok/s"
    awk '{ printf "%-10s %5s %6d %10.4f %9.4f %11.4f %9.0fs %8.0fs %8.0f\n",
                  ($1 == "torch" ? "pytorch" : $1), $2, $3, $4, $4 / log(2), $5, $6, $7, $8 }' "$OUT/rows.txt"
    awk '{ n[$1]++; s[$1] += $4; q[$1] += $4 * $4 }
         END {
             if (n["plat"] > 1) for (i = 1; i <= 2; i++) {
                 k = (i == 1 ? "plat" : "torch")
                 m = s[k] / n[k]; var = (q[k] - n[k] * m * m) / (n[k] - 1)
                 printf "%-10s  mean %.4f +- %.4f nats (sd over %d seeds)\n", (k == "torch" ? "pytorch" : k), m,
                        sqrt(var > 0 ? var : 0), n[k]
             }
             d = s["torch"] / n["torch"] - s["plat"] / n["plat"]
             printf "pytorch - plat: %+.4f nats (%+.4f bits per byte)%s\n", d, d / log(2), (n["plat"] > 1 ? ", means over seeds" : "")
         }' "$OUT/rows.txt"
    echo "(train loss: mean of the last 100 steps; train time: the steps alone; wall: training with its periodic"
    echo " validations; tok/s: training tokens / train time; bpb = nats / ln 2)"
} | tee "$OUT/table.txt"

# The conversion check's lines and the table, into notes/06b-plat-vs-pytorch.md between its markers
# (written to a temporary file and renamed: an interrupted run never leaves half a note).
NOTES=${COMPARE_NOTES-$(dirname "$0")/../../notes/06b-plat-vs-pytorch.md}
if [ -n "$NOTES" ] && [ -f "$NOTES" ]; then
    (grep -h "conversion check\|plat eval .* over" "$OUT/check.txt" 2>/dev/null || true; cat "$OUT/table.txt") |
        sed 's/^ *//; s/^/    /' > "$OUT/block.md"
    bash "$(dirname "$0")/note_block.sh" "$NOTES" compare:table "$OUT/block.md"
    echo "compare_torch: table written into $NOTES"
fi

plots=()
for seed in $SEEDS; do plots+=("$OUT/plat-s$seed=plat s$seed" "$OUT/torch-s$seed=pytorch s$seed"); done
"$PLAT" plot --out "$OUT/loss.png" "${plots[@]}"
echo "compare_torch: done in $(($(date +%s) - start)) s; load average at the end $(load); $OUT/{table.txt,loss.png}"
