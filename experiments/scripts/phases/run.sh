#!/usr/bin/env bash
# experiments/scripts/phases/run.sh [PLAT [PHASE...]]: the runs behind notes/06c-what-p-lat-changes.md
# (phases.sh lists them): decisive, continuity, learnp, cluster, depth, in that order unless named.
# Two runs at a time, each single-threaded (PLAT_THREADS=1); every finished run adds its row to
# experiments/results/<phase>/runs.csv and is committed at once, so the work can stop at any
# moment (Ctrl-C, a reboot) and the next call continues: runs with a row are skipped, interrupted
# ones resume from their last checkpoint (saved at every validation). A second pass at the end
# evaluates runs that were trained but could not be evaluated yet. Then report.sh rewrites the tables.
# Start it detached on a shared machine:
#   nice -n 10 setsid nohup bash experiments/scripts/phases/run.sh build/plat > runs/phases.log 2>&1 &
# Smoke mode (a few minutes, nothing committed, results in runs/phases-smoke/results):
#   PHASES_STEPS=4 PHASES_SEEDS="0 1" bash experiments/scripts/phases/run.sh build/plat
# Environment: PHASES_JOBS (runs at a time, default 2), and those of phases.sh.
set -euo pipefail

# All of it in one function, read whole before it runs: the driver runs for hours, and bash reads a
# script as it goes, so an edit of this file would otherwise change the running driver mid-way.
main() {
    PLAT=${1:-build/plat}
    shift || true
    HERE=$(cd "$(dirname "$0")" && pwd)
    source "$HERE/phases.sh"
    PHASES=${*:-$PHASES_ALL}
    JOBS=${PHASES_JOBS:-2}
    export PLAT_THREADS=1 OMP_WAIT_POLICY=passive
    export PHASES_STEPS="${PHASES_STEPS:-}" PHASES_SEEDS PHASES_RESULTS="$RESULTS_ROOT" PHASES_RUNS="$RUNS_ROOT"

    [ -x "$PLAT" ] || { echo "phases: $PLAT is missing; build it with make" >&2; exit 1; }
    [ -s "${PLAT_DATA_DIR:-data}/kjv.txt" ] || { echo "phases: ${PLAT_DATA_DIR:-data}/kjv.txt is missing; run make data first" >&2; exit 1; }
    jobs=()
    for phase in $PHASES; do
        variants=$(phase_variants "$phase") || exit 2
        # Seed by seed, so that every variant has its first paired seeds early.
        for seed in $PHASES_SEEDS; do
            for variant in $variants; do jobs+=("$phase $variant $seed"); done
        done
    done
    echo "phases: ${#jobs[@]} runs ($PHASES; seeds $PHASES_SEEDS), $JOBS at a time, PLAT_THREADS=1, plat $PLAT," \
         "results in $RESULTS_ROOT; load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%H:%MZ)"
    start=$(date +%s)
    for pass in 1 2; do
        set +e
        printf '%s\n' "${jobs[@]}" | xargs -P "$JOBS" -L 1 bash "$HERE/run_one.sh" "$PLAT" |
            while IFS= read -r line; do printf '[pass %d, %4d min, %s] %s\n' "$pass" $((($(date +%s) - start) / 60)) "$(date -u +%H:%MZ)" "$line"; done
        status=${PIPESTATUS[1]}
        set -e
        if [ "$status" -ne 0 ]; then
            echo "phases: stopped (xargs exit $status); run it again to continue where it stopped" >&2
            exit 130
        fi
    done
    echo "phases: done in $((($(date +%s) - start) / 60)) min; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    bash "$HERE/report.sh" || true
}
main "$@"
exit
