#!/usr/bin/env bash
# experiments/scripts/phases/run_one.sh PLAT PHASE VARIANT SEED: one run of a phase (run.sh starts two at a
# time): train (or continue an interrupted run from its last.safetensors), evaluate the final model on
# the whole validation and test splits (plat eval), probe it (plat probe: per layer; learnp: at every
# saved validation step too), then append one row to RESULTS/PHASE/runs.csv, the probe's rows to
# RESULTS/PHASE/probe/VARIANT-sSEED.csv, and commit those files (git commit -- <them> only).
# A run whose row is already in runs.csv is skipped: the committed results are what a new session
# continues from. A run trained by a plat whose eval has no LM test split yet stays "waiting" and is
# evaluated by a later pass. Exit 255 when plat was stopped by a signal (xargs then stops).
set -uo pipefail
# Everything below is in one function that bash reads whole before running it: a run lasts long,
# and bash reads a script as it goes, so editing this file would otherwise break the runs under way.
{
PLAT=$1 PHASE=$2 VARIANT=$3 SEED=$4
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/phases.sh"
label="$PHASE $VARIANT s$SEED"
OUTDIR=$RESULTS_ROOT/$PHASE
CSV=$OUTDIR/runs.csv
PROBE_CSV=$OUTDIR/probe/$VARIANT-s$SEED.csv
DIR=$RUNS_ROOT/$PHASE/$VARIANT/s$SEED
LOCK=$RUNS_ROOT/.lock
mkdir -p "$OUTDIR/probe" "$RUNS_ROOT"

if [ -f "$CSV" ] && awk -F, -v v="$VARIANT" -v s="$SEED" '$1 == v && $2 == s { f = 1 } END { exit !f }' "$CSV"; then
    echo "skip  $label (in $CSV)"
    exit 0
fi

# The CPU-time ratio behind softmax-eqtime, measured once (under the lock, so only one job does it):
# 10 and 40 steps of softmax and of p 1.5 exclude, single-threaded; the CPU seconds (user + system)
# of the 30 steps between are the step cost, start-up and the final validation cancel.
measure_cost() {
    local cost=$RESULTS_ROOT/decisive/cost.csv tmp=$RUNS_ROOT/cost
    [ -s "$cost" ] && return 0
    rm -rf "$tmp"; mkdir -p "$tmp"
    echo "cost  measuring the step cost of softmax and p 1.5 exclude (10 and 40 steps each; load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "attention,steps,cpu_seconds" > "$tmp/raw.csv"
    local a n
    for a in softmax p1.5-exclude; do
        for n in 10 40; do
            TIMEFORMAT='%U %S'
            # shellcheck disable=SC2046
            # The recipe's options with validation off except the final one (plat refuses an option given twice).
            local opts
            opts=$(decisive_train "$n" | sed 's/--eval-every [0-9]*/--eval-every 0/; s/--eval-batches [0-9]*/--eval-batches 1/')
            { time "$PLAT" train lm $DECISIVE_MODEL $(attn_args "$a") --seed 0 $opts \
                  --quiet --run "$tmp/$a-$n" > "$tmp/$a-$n.log" 2>&1 ; } 2> "$tmp/time.txt" ||
                { echo "cost  $a, $n steps: $(tail -n 1 "$tmp/$a-$n.log")"; return 1; }
            echo "$a,$n,$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/time.txt")" >> "$tmp/raw.csv"
        done
    done
    awk -F, 'NR > 1 { c[$1, $2] = $3 }
             END { s = (c["softmax", 40] - c["softmax", 10]) / 30; p = (c["p1.5-exclude", 40] - c["p1.5-exclude", 10]) / 30
                   print "quantity,value"
                   printf "softmax_cpu_seconds_per_step,%.4f\np1.5-exclude_cpu_seconds_per_step,%.4f\nratio,%.4f\n", s, p, p / s }' \
        "$tmp/raw.csv" > "$tmp/cost.csv"
    echo "load_average_at_end,$(cut -d' ' -f1 /proc/loadavg)" >> "$tmp/cost.csv"
    mv "$tmp/cost.csv" "$cost"
    commit "experiments/results/decisive/cost.csv: the CPU-time ratio of a p 1.5 exclude step to a softmax step (sets softmax-eqtime's steps)" "$cost"
}

# commit MESSAGE FILES...: commit these files alone (never with PHASES_STEPS; retries while the index is locked).
commit() {
    local msg=$1; shift
    [ -z "${PHASES_STEPS:-}" ] && [ "${PHASES_COMMIT:-1}" = 1 ] || return 0
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        if git add -- "$@" 2>/dev/null && git commit -q -m "$msg" -- "$@" > /dev/null 2>&1; then return 0; fi
        git diff --quiet HEAD -- "$@" 2>/dev/null && return 0   # nothing left to commit
        sleep $((i * 3))
    done
    echo "note  $label: could not commit $* (commit them by hand)"
}

# The cluster phase needs the control task (plat train synthetic --control) and the probe's cluster mass.
if [ "$PHASE" = cluster ] && ! "$PLAT" train --help 2>&1 | grep -q -- "--control"; then
    echo "wait  $label: this plat has no --control task yet"
    exit 0
fi
if [ "$VARIANT" = softmax-eqtime ] && [ -z "${PHASES_STEPS:-}" ]; then
    exec 9> "$LOCK.cost"
    flock 9
    measure_cost || { echo "FAIL  $label: measuring the step cost failed"; exit 0; }
    flock -u 9
fi
ARGS=$(run_args "$PHASE" "$VARIANT" "$SEED") || { echo "FAIL  $label: no options (see above)"; exit 0; }
STEPS=$(phase_steps "$PHASE" "$VARIANT")
COMMAND="plat train $ARGS"
if [ -f "$DIR/command.txt" ] && [ "$(cat "$DIR/command.txt")" != "$COMMAND" ]; then rm -rf "$DIR"; fi
if [ -f "$DIR/failed.txt" ]; then
    echo "skip  $label (failed before: $(head -c 200 "$DIR/failed.txt" | tr '\n' ' '); delete $DIR to retry)"
    exit 0
fi
fail_run() {  # CODE WHAT LOG
    if [ "$1" -ge 128 ] && [ "$1" -lt 255 ]; then echo "stop  $label: interrupted (exit $1)"; exit 255; fi
    { echo "$2 failed (exit $1):"; tail -n 3 "$3"; } > "$DIR/failed.txt"
    echo "FAIL  $label: $2 failed (exit $1): $(tail -n 1 "$3")"
    exit 0
}

# learnp: a copy of last.safetensors at every validation (the trainer saves it then, atomically),
# so that the probe can read p along the way.
watch_checkpoints() {
    mkdir -p "$DIR/steps"
    while sleep 5; do
        if [ -f "$DIR/last.safetensors" ] && [ "$DIR/last.safetensors" -nt "$DIR/steps/.seen" ]; then
            touch "$DIR/steps/.seen"
            cp "$DIR/last.safetensors" "$DIR/steps/ck-$(date +%s%N).safetensors"
        fi
    done
}

last_step() { awk -F, 'NR > 1 { s = $1 } END { print s + 0 }' "$DIR/metrics.csv" 2>/dev/null || echo 0; }
start=$(date +%s)
watcher=""
if [ "$(last_step)" -lt "$STEPS" ] || [ ! -f "$DIR/last.safetensors" ]; then
    if [ "$PHASE" = learnp ]; then watch_checkpoints & watcher=$!; fi
    if [ -f "$DIR/last.safetensors" ]; then
        echo "train $label (continuing from step $(last_step))"
        "$PLAT" train "${ARGS%% *}" --resume "$DIR" --quiet >> "$DIR/train.log" 2>&1
    else
        echo "train $label: $COMMAND"
        rm -rf "$DIR"; mkdir -p "$DIR"; echo "$COMMAND" > "$DIR/command.txt"
        [ -z "$watcher" ] || mkdir -p "$DIR/steps"
        # shellcheck disable=SC2086  # the argument string is split on purpose
        "$PLAT" train $ARGS --quiet --run "$DIR" > "$DIR/train.log" 2>&1
    fi
    code=$?
    if [ -n "$watcher" ]; then sleep 6; kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null; fi
    [ "$code" = 0 ] || fail_run "$code" training "$DIR/train.log"
fi

# plat eval: the whole validation and test splits (synthetic: plat eval's fixed 50 batches of each).
eval_batches=0
[ -z "${PHASES_STEPS:-}" ] || eval_batches=4
for split in val test; do
    if ! "$PLAT" eval --checkpoint "$DIR/last.safetensors" --split "$split" --batches "$eval_batches" > "$DIR/eval_$split.txt" 2>&1; then
        if grep -q "no test split" "$DIR/eval_$split.txt"; then
            echo "wait  $label: trained; this plat has no LM test split yet, evaluated by a later pass"
            exit 0
        fi
        fail_run 1 "plat eval --split $split" "$DIR/eval_$split.txt"
    fi
done
parse() {  # FILE -> "loss accuracy" from "<split>: loss X nats, ..., accuracy Z%, ..."
    awk '/^(val|test): loss / { loss = $3; if (match($0, /accuracy [0-9.]+%/)) acc = substr($0, RSTART + 9, RLENGTH - 10) / 100; found = 1 }
         END { if (!found) exit 1; printf "%s %s\n", loss, acc }' "$1"
}
read -r val_loss val_acc < <(parse "$DIR/eval_val.txt") || fail_run 1 "reading plat eval's output" "$DIR/eval_val.txt"
read -r test_loss test_acc < <(parse "$DIR/eval_test.txt") || fail_run 1 "reading plat eval's output" "$DIR/eval_test.txt"

# plat probe: 8 held-out batches of 16, seed 0 (the same data for every run of a phase), k = 4; the final
# model, and for learnp every saved step too. Rows: the step, then the probe's CSV columns.
probe_rows() {  # CHECKPOINT HEADER(yes|no) -> "step,<probe.csv columns>" rows
    "$PLAT" probe --checkpoint "$1" --batches 8 --batch 16 --seed 0 --k 4 --csv "$DIR/probe.tmp.csv" > "$DIR/probe.txt" 2>&1 ||
        return 1
    local step
    step=$(sed -n 's/.*, step \([0-9]*\).*/\1/p' "$DIR/probe.txt" | head -n 1)
    awk -F, -v s="$step" -v h="$2" 'NR == 1 { if (h == "yes") print "step," $0; next } { print s "," $0 }' "$DIR/probe.tmp.csv"
}
(
    probe_rows "$DIR/last.safetensors" yes || exit 1
    for ck in "$DIR"/steps/ck-*.safetensors; do
        [ -f "$ck" ] || continue
        probe_rows "$ck" no || exit 1
    done
) > "$DIR/probe_all.csv" || fail_run 1 "plat probe" "$DIR/probe.txt"
# One set of rows per (step, layer), in step order (a step saved twice gives the same rows).
{ head -n 1 "$DIR/probe_all.csv"; tail -n +2 "$DIR/probe_all.csv" | sort -t, -k1,1n -k2,2n -u; } > "$DIR/probe_final.csv"

train_loss=$(awk -F, -v n="$STEPS" 'NR > 1 && $1 > n - n / 10 { s += $2; c++ } END { if (c) printf "%.4f", s / c }' "$DIR/metrics.csv")
train_seconds=$(awk -F, 'NR > 1 { e = $9 } END { printf "%.1f", e }' "$DIR/metrics.csv")
times > "$DIR/times.txt"
cpu_seconds=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.1f", t }' "$DIR/times.txt")
row="$VARIANT,$SEED,$STEPS,$val_loss,$val_acc,$test_loss,$test_acc,$train_loss,$train_seconds,$cpu_seconds,$(date -u +%Y-%m-%dT%H:%MZ)"

exec 8> "$LOCK"
flock 8
[ -s "$CSV" ] || echo "$RESULTS_HEADER" > "$CSV"
cp "$DIR/probe_final.csv" "$PROBE_CSV"
echo "$row" >> "$CSV"
commit "experiments/results/$PHASE: $VARIANT seed $SEED (val $val_loss, test $test_loss nats)" "$CSV" "$PROBE_CSV"
flock -u 8
printf "done  %-32s val %s, test %s; %s s of training, this session %s s wall, %s s CPU\n" "$label" "$val_loss" "$test_loss" \
    "$train_seconds" "$(($(date +%s) - start))" "$cpu_seconds"
exit
}
