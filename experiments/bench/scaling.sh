#!/bin/sh
# experiments/bench/scaling.sh: the context sweep beside PyTorch (notes/07-performance.md, "Scaling
# with the context"): lm C 128, L 4, H 4, T = 128 ... 2048 at B T = 4096 tokens per step (the configs
# lm-T128 ... lm-T2048), softmax and p-LaT, on THREADS threads. Each case runs under every threading
# preset and keeps its fastest (its median step, and that run's peak memory), so every ratio is
# against each framework at its best: plat under the OpenMP wait policies (unset, ACTIVE, PASSIVE);
# PyTorch under the same three with each BLAS library of BLAS: "default" is the system's libblas.so.3
# (what update-alternatives points at), "openmp" Debian's libopenblas0-openmp put first by
# LD_LIBRARY_PATH. A preset whose process maps the same library files (/proc/self/maps) as an
# earlier one is the same library: skipped.
#
#   sh experiments/bench/scaling.sh [BUILD]      measure (BUILD: the directory holding plat, default build)
#   sh experiments/bench/scaling.sh --report CSV  only the table and the figure, from a CSV it wrote
#   env: OUT=dir (default runs/bench-scaling): every run's JSON line (plat.jsonl, torch.jsonl), the
#          presets and their libraries (presets.txt), the fastest per case (scaling.csv), table.txt;
#        THREADS (default 2); TS="128 256 512 1024 2048" the contexts; BLAS="default openmp";
#        WAIT_QUIET=seconds (experiments/bench/common.sh);
#        QUICK=1: two steps per case, written to OUT only (a check of the pipeline, not a measurement).
# Without QUICK, the CSV is also copied to experiments/results/bench-scaling/HOST-DATE-HHMM.csv (to commit),
# and the table and figure made from that copy go into notes/07 and notes/figures/bench-scaling.png.
# 26 minutes on 2 nearly idle cores (measured 2026-12-06; more where the default BLAS is another build
# and PyTorch runs twice the presets); hours on busy ones, where the spinning wait policies crawl.
set -eu
. "$(dirname "$0")/common.sh"
HERE=$(dirname "$0")
NOTES=notes/07-performance.md
FIGURE=notes/figures/bench-scaling.png

# report CSV TABLE PNG: the table (text, also markdown-indented for the notes) and the figure.
report() {
    $PY - "$1" > "$2" <<'EOF'
import csv, sys, textwrap
rows = list(csv.DictReader(l for l in open(sys.argv[1]) if not l.startswith("#")))
for l in open(sys.argv[1]):
    if l.startswith("#"):
        print(textwrap.fill(l[1:].strip(), 120))
print("ms: median training step; x: PyTorch's step / plat's (> 1: plat faster); plap/sm: p-LaT's step / softmax's;")
print("MB: peak RSS of a fresh process per case; preset: the fastest library and OMP_WAIT_POLICY of each case.")
print(f"{'T':>5} {'B':>3} | {'plat sm':>7} {'plap':>7} {'plap/sm':>7} | {'torch sm':>8} {'plap':>7} {'plap/sm':>7} | "
      f"{'x sm':>5} {'x plap':>6} | {'plat MB sm':>10} {'plap':>5} | {'torch MB sm':>11} {'plap':>5} | torch presets (sm; plap)")
for r in rows:
    f = lambda k: float(r[k])
    print(f"{r['T']:>5} {r['B']:>3} | {f('plat_softmax_ms'):7.0f} {f('plat_plap_ms'):7.0f} "
          f"{f('plat_plap_ms') / f('plat_softmax_ms'):7.2f} | {f('torch_softmax_ms'):8.0f} {f('torch_plap_ms'):7.0f} "
          f"{f('torch_plap_ms') / f('torch_softmax_ms'):7.2f} | {f('torch_softmax_ms') / f('plat_softmax_ms'):5.2f} "
          f"{f('torch_plap_ms') / f('plat_plap_ms'):6.2f} | {f('plat_softmax_mb'):10.0f} {f('plat_plap_mb'):5.0f} | "
          f"{f('torch_softmax_mb'):11.0f} {f('torch_plap_mb'):5.0f} | {r['torch_softmax_preset']}; {r['torch_plap_preset']}")
EOF
    gnuplot -e "csv='$1'; out='$3'" "$HERE/scaling.gp"
}

# to_notes CSV TABLE: the table and figure of CSV into notes/07 (between its bench:scaling markers).
to_notes() {
    report "$1" "$2" "$FIGURE"
    { sed 's/^/    /' "$2"; echo; echo "![The context sweep: step time, PyTorch's step over plat's, p-LaT over softmax in time and"
      echo "memory, peak memory](figures/${FIGURE##*/})"; echo; echo "Data: \`$1\`."; } > "$2.md"
    bash "$HERE/../scripts/note_block.sh" "$NOTES" bench:scaling "$2.md"
    rm -f "$2.md"
    echo "scaling: the table of $1 is in $NOTES, its figure in $FIGURE"
}
if [ "${1:-}" = --report ]; then
    [ -f "${2:-}" ] || { echo "scaling: --report needs a CSV this script wrote (experiments/results/bench-scaling/*.csv)" >&2; exit 2; }
    tmp=$(mktemp)
    to_notes "$2" "$tmp"
    rm -f "$tmp"
    exit 0
fi

BUILD=${1:-build}
PLAT="$BUILD/plat"
TORCH="$PY experiments/pytorch/bench_torch.py"
OUT=${OUT:-runs/bench-scaling}
THREADS=${THREADS:-2}
TS=${TS:-128 256 512 1024 2048}
BLAS=${BLAS:-default openmp}
POLICIES="unset ACTIVE PASSIVE"
[ -x "$PLAT" ] || { echo "scaling: $PLAT not found; build it first: make BUILD=$BUILD $PLAT" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "scaling: gnuplot is missing; install it: apt-get install gnuplot-nox" >&2; exit 1; }
mkdir -p "$OUT"
: > "$OUT/plat.jsonl"
: > "$OUT/torch.jsonl"
: > "$OUT/presets.txt"
start=$(date +%s)

# Steps per case: a T = 2048 step takes seconds, so fewer of them; QUICK=1: two each.
steps_for() {
    if [ "${QUICK:-0}" = 1 ]; then echo "--steps 2 --warmup 0"; return; fi
    case "$1" in 128 | 256) echo "--steps 10 --warmup 2" ;; 512 | 1024) echo "--steps 5 --warmup 1" ;; *) echo "--steps 3 --warmup 1" ;; esac
}
# blas_env NAME: the LD_LIBRARY_PATH that puts Debian's OpenBLAS build NAME first ("default": none).
blas_env() {
    [ "$1" = default ] && { echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; return; }
    dir=$(dpkg -L "libopenblas0-$1" 2>/dev/null | grep '/libblas\.so\.3$' | head -n 1 | xargs -r dirname)
    [ -n "$dir" ] || { echo "scaling: libopenblas0-$1 is not installed: apt-get install libopenblas0-$1" >&2; exit 1; }
    echo "LD_LIBRARY_PATH=$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
mapped() {  # mapped ENV: the libraries torch maps under that environment, one line
    env "$1" $PY -c "import sys; sys.path.insert(0, 'experiments/pytorch'); import bench_torch as b; print(' '.join(b.mapped_libraries()))"
}

echo "== PyTorch's BLAS presets (the libraries each maps, /proc/self/maps)"
LIBS=""
seen=""
for b in $BLAS; do
    e=$(blas_env "$b")
    m=$(mapped "$e")
    echo "  $b ($e): $m" | tee -a "$OUT/presets.txt"
    case "$seen" in *"|$m|"*) echo "    the same files as an earlier preset: skipped" | tee -a "$OUT/presets.txt"; continue ;; esac
    seen="$seen|$m|"
    LIBS="$LIBS $b"
done

# run_plat POLICY T ATTN, run_torch BLAS POLICY T ATTN: one case in its own process, one JSON line.
run_plat() {
    with_policy "$1" env PLAT_THREADS="$THREADS" "$PLAT" bench --json --config "lm-T$2" --attn "$3" \
        $(steps_for "$2") --profile-steps 0 > "$OUT/line.json"
    tag_plat "$1" < "$OUT/line.json" >> "$OUT/plat.jsonl"
}
run_torch() {
    with_policy "$2" env "$(blas_env "$1")" $TORCH --json --threads "$THREADS" --config "lm-T$3" --attn "$4" \
        $(steps_for "$3") >> "$OUT/torch.jsonl"
}
for T in $TS; do
    for attn in softmax plap; do
        echo "== lm-T$T $attn, $THREADS threads, load $(load)"
        for policy in $POLICIES; do
            wait_idle
            run_plat "$policy" "$T" "$attn"
            for b in $LIBS; do
                wait_idle
                run_torch "$b" "$policy" "$T" "$attn"
            done
        done
    done
done
rm -f "$OUT/line.json"

# The fastest preset per case, one CSV row per T (the data file of notes/07's table and figure).
$PY - "$OUT/plat.jsonl" "$OUT/torch.jsonl" "$(($(date +%s) - start))" "${QUICK:-0}" > "$OUT/scaling.csv" <<'EOF'
import json, os, platform, sys, time
best, loads = {}, []
for path in sys.argv[1:3]:
    for r in map(json.loads, open(path)):
        loads.append(r["load_avg"])
        lib = "plat" if r["framework"] == "plat" else os.path.basename(os.path.dirname(
            next((p for p in r["blas"] if "blas" in os.path.basename(p)), "/?/unknown")))
        r["preset"] = f"{lib} {r['omp_wait_policy'] or 'unset'}"
        key = (r["framework"], r["T"], r["attn"])
        best[key] = min(best.get(key, r), r, key=lambda x: x["step_s"])
any_torch = next(r for k, r in best.items() if k[0] == "torch")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"# make bench-scaling, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.node()}: {os.cpu_count()} cores of "
      f"{cpu}; PyTorch {any_torch['torch']}; {any_torch['threads']} threads; run took {sys.argv[3]} s; "
      f"load average {min(loads):.2f}-{max(loads):.2f}"
      + ("; QUICK=1: two steps per case, a pipeline check, not a measurement" if sys.argv[4] == "1" else ""))
cols = ["T", "B"] + [f"{fw}_{a}_{m}" for m in ("ms", "mb", "preset") for fw in ("plat", "torch") for a in ("softmax", "plap")]
print(",".join(cols))
for T in sorted({k[1] for k in best}):
    row = {"T": T, "B": best[("plat", T, "softmax")]["batch"]}
    for fw in ("plat", "torch"):
        for a in ("softmax", "plap"):
            r = best[(fw, T, a)]
            row.update({f"{fw}_{a}_ms": f"{1e3 * r['step_s']:.1f}", f"{fw}_{a}_mb": f"{r['peak_rss_mb']:.0f}",
                        f"{fw}_{a}_preset": r["preset"]})
    print(",".join(str(row[c]) for c in cols))
EOF
if [ "${QUICK:-0}" = 1 ]; then
    report "$OUT/scaling.csv" "$OUT/table.txt" "$OUT/scaling.png"
    echo "scaling: QUICK=1 (a pipeline check): $OUT/{scaling.csv,table.txt,scaling.png}; nothing else written"
else
    mkdir -p experiments/results/bench-scaling
    data=experiments/results/bench-scaling/$(hostname)-$(date -u +%Y-%m-%d-%H%M).csv  # a second run the same day keeps the first
    cp "$OUT/scaling.csv" "$data"
    to_notes "$data" "$OUT/table.txt"
    echo "scaling: commit $data, $FIGURE and $NOTES"
fi
cat "$OUT/table.txt"
echo "scaling: done in $(($(date +%s) - start)) s"
