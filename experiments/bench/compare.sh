#!/bin/sh
# experiments/bench/compare.sh: plat against PyTorch on the same training steps, side by side
# (notes/07-performance.md, "plat and PyTorch"). Runs `plat bench` and
# experiments/pytorch/bench_torch.py on lm-s, lm-m and vit-s, softmax and p-Laplacian attention, on
# 1 and 2 threads, each (config, attn, threads) for plat and then at once for PyTorch so both see the
# same machine, and prints one table. About 6 minutes on a quiet 2-core machine; 11-15 minutes when
# other programs share the cores (two-thread steps then slow down 2-60x; the table marks such rows),
# plus whatever WAIT_QUIET waits.
#
#   sh experiments/bench/compare.sh [BUILD]      BUILD: the build directory holding plat (default build)
#   env: OUT=dir (default runs/bench) keeps the JSON lines and the table;
#        WAIT_QUIET=seconds: wait for idle cores before each case (experiments/bench/common.sh);
#        THREADS="1 2" (default) the thread counts to run;
#        QUICK=1 runs two steps per case (a check that the script works, not a measurement).
#
# First it picks each framework's fastest OpenMP wait policy (unset, ACTIVE or PASSIVE) on a short lm-s
# run with the largest thread count, and uses it for all of that framework's runs. Debian's torch and plat both use the
# system's libgomp (and OpenBLAS's OpenMP build), so the policy means the same to both: ACTIVE spins
# at every barrier, PASSIVE sleeps at once, unset spins a while and then sleeps.
set -eu
. "$(dirname "$0")/common.sh"
BUILD=${1:-build}
PLAT="$BUILD/plat"
TORCH="$PY experiments/pytorch/bench_torch.py"
OUT=${OUT:-runs/bench}
[ -x "$PLAT" ] || { echo "bench_compare: $PLAT not found; build it first: make BUILD=$BUILD $PLAT" >&2; exit 1; }
mkdir -p "$OUT"
: > "$OUT/plat.jsonl"
: > "$OUT/torch.jsonl"
: > "$OUT/policy.jsonl"
start=$(date +%s)

THREADS=${THREADS:-1 2}

# Steps per configuration: lm-m takes seconds per step, so fewer of them.
# QUICK=1: two steps each, to check that the script runs (the numbers then mean little).
steps_for() {
    if [ "${QUICK:-0}" = 1 ]; then echo "--steps 2 --warmup 0"; return; fi
    case "$1" in lm-m) echo "--steps 5 --warmup 1" ;; *) echo "--steps 10 --warmup 2" ;; esac
}

best_policy() {  # best_policy FRAMEWORK: the policy with the fastest median step in the trial
    $PY - "$OUT/policy.jsonl" "$1" <<'EOF'
import json, sys
rows = [r for r in map(json.loads, open(sys.argv[1])) if r["framework"] == sys.argv[2]]
print(min(rows, key=lambda r: r["step_s"])["omp_wait_policy"] or "unset")
EOF
}
TRIAL=${THREADS##* }  # the last thread count asked for; the policy only matters with more than one
BEST_PLAT=unset
BEST_TORCH=unset
if [ "$TRIAL" -gt 1 ]; then
    echo "== OpenMP wait policy (lm-s softmax, $TRIAL threads, 6 steps each)"
    for policy in unset ACTIVE PASSIVE; do
        wait_idle
        with_policy "$policy" $TORCH --json --threads "$TRIAL" --config lm-s --attn softmax --steps 6 --warmup 1 \
            >> "$OUT/policy.jsonl"
        with_policy "$policy" env PLAT_THREADS="$TRIAL" "$PLAT" bench --json --config lm-s --attn softmax --steps 6 \
            --warmup 1 --profile-steps 0 | tag_plat "$policy" >> "$OUT/policy.jsonl"
    done
    $PY - "$OUT/policy.jsonl" <<'EOF'
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    print(f"  {r['framework']:5s} OMP_WAIT_POLICY={r['omp_wait_policy'] or 'unset':7s} step {1e3 * r['step_s']:7.1f} ms "
          f"(min {1e3 * r['step_min_s']:7.1f}), CPU use {100 * r['cpu_util']:3.0f}%, load {r['load_avg']:.2f}")
EOF
    BEST_TORCH=$(best_policy torch)
    BEST_PLAT=$(best_policy plat)
    echo "  fastest: OMP_WAIT_POLICY=$BEST_PLAT for plat, $BEST_TORCH for PyTorch"
fi

for threads in $THREADS; do
    for config in lm-s lm-m vit-s; do
        for attn in softmax plap; do
            wait_idle
            echo "== $config $attn, $threads thread(s), load $(load)"
            with_policy "$BEST_PLAT" env PLAT_THREADS="$threads" "$PLAT" bench --json --config "$config" --attn "$attn" \
                $(steps_for "$config") --profile-steps 1 | tag_plat "$BEST_PLAT" >> "$OUT/plat.jsonl"
            wait_idle
            with_policy "$BEST_TORCH" $TORCH --json --threads "$threads" --config "$config" --attn "$attn" \
                $(steps_for "$config") >> "$OUT/torch.jsonl"
        done
    done
done

$PY - "$OUT/plat.jsonl" "$OUT/torch.jsonl" "$(($(date +%s) - start))" <<'EOF' | tee "$OUT/table.txt"
import json, sys
plat = {(r["config"], r["attn"], r["threads"]): r for r in map(json.loads, open(sys.argv[1]))}
torch = {(r["config"], r["attn"], r["threads"]): r for r in map(json.loads, open(sys.argv[2]))}
pol = lambda rows: ",".join(sorted({r.get("omp_wait_policy") or "unset" for r in rows.values()}))
print(f"OMP_WAIT_POLICY: plat {pol(plat)}, torch {pol(torch)}")
print("plat/torch ms: median step (and the fastest step). ratio = torch / plat median step (> 1: plat faster);")
print("r_min: the same for the fastest steps; r_cpu: for CPU seconds per step (all threads), the measure least")
print("disturbed by other programs on 1 thread. plap/sm = plat's plap median step / its softmax one.")
print("GF/s = matmul GFLOP/s (notes/07 formula); % = of the same process's 2048^3 sgemm. MB = peak RSS of a fresh")
print("process per case. * = CPU use below 85% of threads x wall: other programs shared the cores during the run")
print("(or, with OMP_WAIT_POLICY=PASSIVE on 2 threads, threads slept at barriers: compare the load column of the JSON).")
hdr = (f"{'config':6} {'attn':7} {'thr':>3} | {'plat ms':>8} {'(min)':>6} | {'torch ms':>8} {'(min)':>6} | "
       f"{'ratio':>5} {'r_min':>5} {'r_cpu':>5} | {'plap/sm':>7} | {'plat GF/s':>9} {'%':>4} | {'torch GF/s':>10} {'%':>4} | "
       f"{'plat MB':>7} {'torch MB':>8}")
print(hdr)
print("-" * len(hdr))
for key in sorted(plat, key=lambda k: (k[2], ["lm-s", "lm-m", "vit-s"].index(k[0]), k[1] != "softmax")):
    p, t = plat[key], torch.get(key)
    if t is None:
        continue
    if abs(p["gflop_per_step"] - t["gflop_per_step"]) > 1e-6 * p["gflop_per_step"]:
        sys.exit(f"bench_compare: the FLOP counts differ for {key}: plat {p['gflop_per_step']}, torch {t['gflop_per_step']}")
    sm = plat.get((key[0], "softmax", key[2]))
    ratio_plap = f"{p['step_s'] / sm['step_s']:7.2f}" if sm and key[1] == "plap" else " " * 7
    flag = lambda r: "*" if r["cpu_util"] < 0.85 else " "
    print(f"{key[0]:6} {key[1]:7} {key[2]:>3} | {1e3 * p['step_s']:7.0f}{flag(p)} {1e3 * p['step_min_s']:6.0f} | "
          f"{1e3 * t['step_s']:7.0f}{flag(t)} {1e3 * t['step_min_s']:6.0f} | {t['step_s'] / p['step_s']:5.2f} "
          f"{t['step_min_s'] / p['step_min_s']:5.2f} {t['cpu_s_per_step'] / p['cpu_s_per_step']:5.2f} | {ratio_plap} | "
          f"{p['gflops']:9.1f} {100 * p['fraction']:3.0f}% | {t['gflops']:10.1f} {100 * t['fraction']:3.0f}% | "
          f"{p['peak_rss_mb']:7.0f} {t['peak_rss_mb']:8.0f}")
print(f"total time of bench_compare.sh: {int(sys.argv[3])} s")
EOF
