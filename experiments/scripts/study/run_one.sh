#!/usr/bin/env bash
# experiments/scripts/study/run_one.sh PLAT TASK VARIANT SEED: one run of the study (run.sh starts two at
# a time): train, then plat eval and plat probe, then one line of results in summary.csv. A run
# whose row is in STUDY_RESULTS/runs.csv (the committed results, common.sh) or whose summary.csv
# exists is skipped; one interrupted mid-training resumes from its last.safetensors; one whose
# settings changed (command.txt differs) starts over. A finished run's row also goes into
# STUDY_RESULTS/runs.csv and its probe rows into STUDY_RESULTS/layers.csv (replacing older ones),
# committed at once when that is the committed folder, experiments/results/study.
# Exit codes: 0 done, skipped or failed (a failure is recorded in the run's failed.txt and the
# study goes on); 255 when plat was stopped by a signal (Ctrl-C), which makes xargs stop at once.
set -uo pipefail

PLAT=$1 TASK=$2 VARIANT=$3 SEED=$4
source "$(dirname "$0")/common.sh"

DIR=$STUDY_ROOT/$TASK/$VARIANT/s$SEED
STEPS=$(task_steps "$TASK")
TRAIN_ARGS="$(task_model_args "$TASK") $(variant_args "$VARIANT") --seed $SEED $(task_train_args "$TASK" "$STEPS")"
COMMAND="plat train $TASK $TRAIN_ARGS"
label="$TASK $VARIANT s$SEED"

if [ -n "${STUDY_FRESH:-}" ] || { [ -f "$DIR/command.txt" ] && [ "$(cat "$DIR/command.txt")" != "$COMMAND" ]; }; then
    rm -rf "$DIR"
fi
if [ -z "${STUDY_FRESH:-}" ] && [ -f "$STUDY_RESULTS/runs.csv" ] &&
    awk -F, -v t="$TASK" -v v="$VARIANT" -v s="$SEED" '$1 == t && $2 == v && $3 == s { f = 1 } END { exit !f }' "$STUDY_RESULTS/runs.csv"; then
    echo "skip  $label (in $STUDY_RESULTS/runs.csv)"
    exit 0
fi
if [ -f "$DIR/summary.csv" ]; then
    echo "skip  $label (done)"
    exit 0
fi
if [ -f "$DIR/failed.txt" ]; then
    echo "skip  $label (failed before: $(head -c 200 "$DIR/failed.txt" | tr "\n" " "); delete $DIR or set STUDY_FRESH=1 to retry)"
    exit 0
fi

# Records a failure and ends this run (the study continues); a signal stops the whole study.
fail_run() {  # CODE WHAT LOG
    if [ "$1" -ge 128 ] && [ "$1" -lt 255 ]; then
        echo "stop  $label: interrupted (exit $1); run the study again to continue from the checkpoint"
        exit 255
    fi
    { echo "$2 failed (exit $1):"; tail -n 3 "$3"; } > "$DIR/failed.txt"
    echo "FAIL  $label: $2 failed (exit $1): $(tail -n 1 "$3")"
    exit 0
}

start=$(date +%s.%N)
if [ -f "$DIR/last.safetensors" ]; then
    # Continues where it stopped; a run already at its last step only says so.
    "$PLAT" train "$TASK" --resume "$DIR" --quiet >> "$DIR/train.log" 2>&1 || fail_run $? "training (resumed)" "$DIR/train.log"
else
    rm -rf "$DIR"
    mkdir -p "$DIR"
    echo "$COMMAND" > "$DIR/command.txt"
    # shellcheck disable=SC2086  # the argument strings are split on purpose
    "$PLAT" train "$TASK" $TRAIN_ARGS --quiet --run "$DIR" > "$DIR/train.log" 2>&1 || fail_run $? training "$DIR/train.log"
fi

# plat eval on the final model, each split into its own file; the numbers are parsed from its
# one-line report: "<split>: loss X nats[, Y bits per byte|token], accuracy Z%[ (Bayes-optimal
# E% expected, F% on these batches)], over ...".
# A smoke run (STUDY_STEPS) evaluates on 20 batches instead of the whole split, to stay quick.
eval_batches=0
[ -z "${STUDY_STEPS:-}" ] || eval_batches=20
for split in $(task_eval_splits "$TASK"); do
    "$PLAT" eval --checkpoint "$DIR/last.safetensors" --split "$split" --batches "$eval_batches" > "$DIR/eval_$split.txt" 2>&1 ||
        fail_run $? "plat eval --split $split" "$DIR/eval_$split.txt"
done
# plat probe: 8 held-out batches of 16, seed 0 (the same data for every run of a task), k = 4.
"$PLAT" probe --checkpoint "$DIR/last.safetensors" --batches 8 --batch 16 --seed 0 --k 4 --csv "$DIR/probe.csv" \
    > "$DIR/probe.txt" 2>&1 || fail_run $? "plat probe" "$DIR/probe.txt"
done_at=$(date +%s.%N)

# One line: task,variant,seed,steps,val_loss,val_bpb,val_acc,test_loss,test_acc,bayes_acc,
# nn_mass,uniform_mass,cosine_last,p_learned,train_seconds,total_seconds,cpu_seconds,quarter_loss,
# quarter_acc. nn_mass and
# uniform_mass are the means over the layers of the probe's rows; cosine_last is the last layer's;
# total_seconds is this session's wall time for the run (training, eval and probe), cpu_seconds
# its CPU time.
parse() {  # FILE -> "loss acc bayes" (bayes: the Bayes predictor on the same batches, or empty)
    awk '/^(val|test): loss / {
            loss = $3
            if (match($0, /accuracy [0-9.]+%/)) acc = substr($0, RSTART + 9, RLENGTH - 10) / 100
            if (match($0, /expected, [0-9.]+% on these/)) bayes = substr($0, RSTART + 10, RLENGTH - 20) / 100
            found = 1
         }
         END { if (!found) exit 1; printf "%s %s %s\n", loss, acc, bayes }' "$1"
}
read -r val_loss val_acc bayes < <(parse "$DIR/eval_val.txt") ||
    fail_run 1 "reading plat eval's output (the format changed?)" "$DIR/eval_val.txt"
test_loss="" test_acc=""
if [ -f "$DIR/eval_test.txt" ]; then
    read -r test_loss test_acc _ < <(parse "$DIR/eval_test.txt") ||
        fail_run 1 "reading plat eval's output (the format changed?)" "$DIR/eval_test.txt"
fi
probe_means=$(awk -F, 'NR > 1 && $1 > 0 { m += $2; u += $3; n++; last_cos = $6; if ($7 != "") { p += $7; np++ } }
    END { printf "%.6g,%.6g,%.6g,%s", m / n, u / n, last_cos, np ? sprintf("%.6g", p / np) : "" }' "$DIR/probe.csv")
val_bpb=$([ "$TASK" = vit ] || awk -v l="$val_loss" 'BEGIN { printf "%.6g", l / log(2) }')
# Training time: metrics.csv's elapsed seconds at the last step (summed over resumed sessions).
train_seconds=$(awk -F, 'NR > 1 { e = $9 } END { printf "%.1f", e }' "$DIR/metrics.csv")
total_seconds=$(awk -v a="$start" -v b="$done_at" 'BEGIN { printf "%.1f", b - a }')
# p_learned only for the learned-p variant (a fixed p is in the variant's name).
case $VARIANT in learnp-*) ;; *) probe_means=${probe_means%,*}, ;; esac
# The first validation during training (a quarter of the way, 10 batches): how fast a variant learns.
read -r quarter_loss quarter_acc < <(awk -F, 'NR > 1 && $6 != "" { print $6, $8; exit }' "$DIR/metrics.csv") || true
# CPU seconds (user + system) of every program this script ran for the run: bash's `times` prints
# the shell's own line, then its children's ("0m12.345s 0m0.678s").
# (`times` must run in this shell, not in a pipe's subshell, which has no children of its own.)
times > "$DIR/times.txt"
cpu_seconds=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.1f", t }' "$DIR/times.txt")
line="$TASK,$VARIANT,$SEED,$STEPS,$val_loss,$val_bpb,$val_acc,$test_loss,$test_acc,$bayes,$probe_means,$train_seconds,$total_seconds,$cpu_seconds,${quarter_loss:-},${quarter_acc:-}"
echo "$line" > "$DIR/summary.csv.tmp" && mv "$DIR/summary.csv.tmp" "$DIR/summary.csv"
# The raw results, kept where they can be committed: this run's row replaces any older one (two
# runs finish at a time, hence the lock; each file is rewritten through a temporary and a rename).
mkdir -p "$STUDY_RESULTS"
(
    flock 9
    key="$TASK,$VARIANT,$SEED,"
    for f in runs layers; do
        { [ -s "$STUDY_RESULTS/$f.csv" ] || { [ $f = runs ] && echo "$STUDY_RESULTS_HEADER" ||
              echo "task,variant,seed,$(head -n 1 "$DIR/probe.csv")"; }
          [ -s "$STUDY_RESULTS/$f.csv" ] && awk -v k="$key" 'index($0, k) != 1' "$STUDY_RESULTS/$f.csv"
          if [ $f = runs ]; then echo "$line"; else awk -v k="$key" 'NR > 1 { print k $0 }' "$DIR/probe.csv"; fi
        } > "$STUDY_RESULTS/$f.csv.tmp" && mv "$STUDY_RESULTS/$f.csv.tmp" "$STUDY_RESULTS/$f.csv"
    done
    # Committed at once (the committed folder only, never a smoke run's), so that an interrupted study
    # continues from here on any clone; these two files alone, retried while the index is locked.
    if [ "$STUDY_RESULTS" = experiments/results/study ] && [ "${STUDY_COMMIT:-1}" = 1 ]; then
        files=("$STUDY_RESULTS/runs.csv" "$STUDY_RESULTS/layers.csv")
        for i in 1 2 3 4 5; do
            git add -- "${files[@]}" 2>/dev/null &&
                git commit -q -m "experiments/results/study: $TASK $VARIANT seed $SEED (val loss $val_loss)" -- "${files[@]}" > /dev/null 2>&1 && break
            git diff --quiet HEAD -- "${files[@]}" 2>/dev/null && break
            [ $i = 5 ] && echo "note  $label: could not commit ${files[*]} (commit them by hand)"
            sleep $((i * 3))
        done
    fi
) 9> "$STUDY_ROOT/.results.lock"
printf "done  %-28s val loss %s, accuracy %s; train %s s, all %s s, CPU %s s\n" "$label" "$val_loss" "$val_acc" "$train_seconds" "$total_seconds" "$cpu_seconds"
