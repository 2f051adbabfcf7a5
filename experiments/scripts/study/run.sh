#!/usr/bin/env bash
# experiments/scripts/study/run.sh [PLAT]: the study behind `make experiments` (notes/06-experiments.md).
# For each task (KJV byte LM, Fashion-MNIST ViT, the synthetic cluster task) it trains 12 attention
# variants (softmax; p-LaT with p in {1.25, 1.5, 1.75, 2, 2.5} x self term {unit, exclude}; p-LaT
# with p learned per head from 2) with seeds 0, 1, 2: 108 runs, two at a time on one thread each.
# Each run is then evaluated (plat eval) and probed (plat probe); report.sh turns the results into
# the tables and plots of notes/06-experiments.md.
#
# Time: about 25 minutes on the 2-core machine when nothing else runs (2 950 CPU seconds in all,
# two runs side by side), about 50 minutes with the load average at 3.5 from other programs
# (notes/06-experiments.md, "The set-up"). Interrupt it with Ctrl-C at any time: each plat saves its
# checkpoint, and the next `make experiments` continues (finished runs are skipped, interrupted
# ones resume).
#
# Environment:
#   STUDY_TASKS=lm,vit,synthetic  which tasks (comma-separated)
#   STUDY_SEEDS=0,1,2             which seeds
#   STUDY_VARIANTS=...            which variants (default all 12: softmax, p1.25-unit ... p2.5-unit,
#                                 p1.25-exclude ... p2.5-exclude, learnp-unit)
#   STUDY_STEPS=N                 steps of every run instead of the tasks' own: a smoke run, e.g.
#                                 `STUDY_STEPS=20 make experiments` exercises everything in ~5 min
#   STUDY_SCALE=F                 multiplies the tasks' steps (0.5: a half-length study)
#   STUDY_FRESH=1                 start every run over (delete and retrain) instead of skipping
#   STUDY_JOBS=2                  runs at a time (default 2: one per core, PLAT_THREADS=1 each)
#   STUDY_ROOT=runs/study         where the runs go: <root>/<task>/<variant>/s<seed>
#   PLAT_DATA_DIR=data            the data (make data)
set -euo pipefail

PLAT=${1:-build/plat}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"

TASKS=$(echo "${STUDY_TASKS:-lm,vit,synthetic}" | tr ',' ' ')
SEEDS=$(echo "${STUDY_SEEDS:-0,1,2}" | tr ',' ' ')
VARIANTS=$(echo "${STUDY_VARIANTS:-$(study_variants | tr '\n' ',')}" | tr ',' ' ')
for variant in $VARIANTS; do variant_args "$variant" > /dev/null || exit 2; done
JOBS=${STUDY_JOBS:-2}
DATA=${PLAT_DATA_DIR:-data}
# One thread per run: on models this small two single-threaded runs side by side finish sooner
# than one run after another on two threads (notes/06-experiments.md, "The set-up"). Idle OpenMP
# threads sleep instead of spinning (see experiments/scripts/demo.sh).
export PLAT_THREADS=${PLAT_THREADS:-1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export STUDY_ROOT STUDY_STEPS="${STUDY_STEPS:-}" STUDY_SCALE="${STUDY_SCALE:-}" STUDY_FRESH="${STUDY_FRESH:-}"

if [ ! -x "$PLAT" ]; then
    echo "study: $PLAT is missing; build it with make" >&2
    exit 1
fi
for task in $TASKS; do
    case $task in
        lm) [ -s "$DATA/kjv.txt" ] || { echo "study: $DATA/kjv.txt is missing; run make data first" >&2; exit 1; } ;;
        vit) [ -s "$DATA/fashion-mnist/t10k-images-idx3-ubyte" ] ||
            { echo "study: $DATA/fashion-mnist is missing; run make data first" >&2; exit 1; } ;;
        synthetic) ;;
        *) echo "study: unknown task '$task' in STUDY_TASKS; the tasks are lm, vit, synthetic" >&2; exit 2 ;;
    esac
done

jobs=()
for task in $TASKS; do
    for variant in $VARIANTS; do
        for seed in $SEEDS; do jobs+=("$task $variant $seed"); done
    done
done
total=${#jobs[@]}
echo "study: $total runs ($(echo $TASKS | wc -w) tasks x $(echo $VARIANTS | wc -w) variants x $(echo $SEEDS | wc -w) seeds), $JOBS at a time, PLAT_THREADS=$PLAT_THREADS, into $STUDY_ROOT"
for task in $TASKS; do
    echo "  $task: $(task_steps "$task") steps; plat train $task $(task_model_args "$task") $(task_train_args "$task" "$(task_steps "$task")")"
done
if [ -n "$STUDY_STEPS" ]; then echo "  STUDY_STEPS=$STUDY_STEPS: a smoke run; its numbers mean nothing"; fi
echo "  load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$STUDY_ROOT"
start=$(date +%s)

# The pool: xargs keeps JOBS runs going; each line of output is numbered, with the time so far
# and an estimate of the time left from the runs that did work (skipped ones take no time).
set +e
printf '%s\n' "${jobs[@]}" | xargs -P "$JOBS" -L 1 bash "$HERE/run_one.sh" "$PLAT" |
    {
        n=0 worked=0
        while IFS= read -r line; do
            n=$((n + 1))
            case $line in done*|FAIL*) worked=$((worked + 1)) ;; esac
            elapsed=$(($(date +%s) - start))
            left="?"
            [ "$worked" -gt 0 ] && left=$(((total - n) * elapsed / worked / 60))
            printf '[%3d/%d %3d min, ~%s min left] %s\n' "$n" "$total" $((elapsed / 60)) "$left" "$line"
        done
    }
status=${PIPESTATUS[1]}
set -e
end=$(date +%s)
if [ "$status" -ne 0 ]; then
    echo "study: stopped after $(((end - start) / 60)) min (xargs exit $status); run it again to continue where it stopped" >&2
    exit 130
fi
echo "study: the runs took $(((end - start) / 60)) min $(((end - start) % 60)) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=$(find "$STUDY_ROOT" -mindepth 4 -maxdepth 4 -name failed.txt | wc -l)
[ "$failed" -eq 0 ] || echo "study: $failed runs failed (their failed.txt says why); the tables leave them out and say so"
# The wall time of this session, for the report's set-up block.
echo "$((end - start)) $(cut -d' ' -f1-3 /proc/loadavg) $total ${STUDY_STEPS:-full}" > "$STUDY_ROOT/last_session.txt"

bash "$HERE/report.sh" "$PLAT"
