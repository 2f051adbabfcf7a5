#!/usr/bin/env bash
# experiments/scripts/demo.sh [PLAT]: the end-to-end demo behind `make demo` (after `make data` and the
# build). Trains two small byte-level language models on the KJV with the same budget (the same
# steps, batch and schedule): a softmax baseline and a p-LaT (p-Laplacian attention, p = 1.5, self
# term "unit", so that p is the only difference: at p = 2 it would be the baseline); then prints their validation loss (nats and bits per byte) and speed side by
# side, plots both loss curves in one picture, and prints a short sample from each.
# PLAT is the command line (default build/plat). Environment: PLAT_DATA_DIR (default ./data),
# DEMO_DIR (default runs/demo), DEMO_STEPS (default 1500; the time it takes is in the README and
# notes/07-performance.md, "Measured history of the changes").
set -euo pipefail

PLAT=${1:-build/plat}
DEMO_DIR=${DEMO_DIR:-runs/demo}
STEPS=${DEMO_STEPS:-1500}
DATA=${PLAT_DATA_DIR:-data}
start=$(date +%s)
# Idle OpenMP threads sleep instead of spinning: on a machine where anything else runs, spinning
# threads steal the cores they wait for (notes/07-performance.md, "Measured history of the changes").
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

if [ ! -x "$PLAT" ]; then
    echo "demo: $PLAT is missing; build it with make" >&2
    exit 1
fi
if [ ! -s "$DATA/kjv.txt" ]; then
    echo "demo: $DATA/kjv.txt is missing; run make data first" >&2
    exit 1
fi

# Model: C = 128, L = 4, H = 4, context 128 (0.84M parameters). Training: batch 16 x 128 bytes,
# AdamW with 50 warm-up steps to lr 4e-3 (better than 2e-3 at this budget: notes/07-performance.md,
# "Measured history of the changes") and a cosine down to 2e-4; validation every 100 steps on 20 batches
# (40960 bytes) of the validation split (bytes 90-95% of the text).
MODEL="--dim 128 --layers 4 --heads 4 --context 128 --seed 0"
TRAIN="--steps $STEPS --batch 16 --lr 4e-3 --min-lr 2e-4 --warmup 50 --eval-every 100 --eval-batches 20 --log-every 50"

# A fresh demo each time: only its own two run directories are removed.
rm -rf "$DEMO_DIR/softmax" "$DEMO_DIR/plap"
mkdir -p "$DEMO_DIR"

echo "== 1/2: softmax attention (the baseline)"
"$PLAT" train lm --attn softmax $MODEL $TRAIN --run "$DEMO_DIR/softmax"
echo
echo "== 2/2: p-Laplacian attention, p = 1.5 (p-LaT)"
"$PLAT" train lm --attn plap --p 1.5 --self unit $MODEL $TRAIN --run "$DEMO_DIR/plap"
echo

# The table, from each run's metrics.csv: the final validation (the last row that has one) and
# the training speed: total tokens / total time of the training steps, which with a fixed 2048
# tokens per step is steps / sum(1 / throughput) (validation time excluded).
summary() {  # RUN_DIR LABEL
    awk -F, -v label="$2" 'NR > 1 {
            if ($5 != "") { time += 1 / $5; steps++ }
            if ($6 != "") { val = $6; bpb = $7; acc = $8; vstep = $1 }
            if ($6 != "" && (best == "" || $6 + 0 < best + 0)) best = $6
            elapsed = $9
        }
        END { printf "%-22s %6d %10.4f %10.4f %10.4f %8.1f%% %9.0f %8.0fs\n",
                     label, vstep, val, bpb, best, 100 * acc, steps / time, elapsed }' "$1/metrics.csv"
}
echo "== Results after $STEPS steps of 16 x 128 bytes (validation: bytes 90-95% of the KJV, 20 batches)"
printf "%-22s %6s %10s %10s %10s %9s %9s %9s\n" "model" "step" "val nats" "val bpb" "best nats" "val acc" "tok/s" "time"
summary "$DEMO_DIR/softmax" "softmax"
summary "$DEMO_DIR/plap" "plap p=1.5 (p-LaT)"
echo "(bpb = bits per byte = nats / ln 2; a uniform guess over 256 bytes is 8 bpb; tok/s excludes validation)"
echo

"$PLAT" plot --out "$DEMO_DIR/loss.png" "$DEMO_DIR/softmax=softmax" "$DEMO_DIR/plap=plap p=1.5"
echo

for run in softmax plap; do
    echo "== Sample from $run (best checkpoint, temperature 0.8, top-k 40)"
    "$PLAT" sample --checkpoint "$DEMO_DIR/$run" --prompt "And God said" --length 240 --temperature 0.8 --top-k 40 --seed 1
    echo
done

end=$(date +%s)
echo "demo: done in $((end - start)) s; run directories $DEMO_DIR/softmax and $DEMO_DIR/plap, plot $DEMO_DIR/loss.png"
