#!/usr/bin/env bash
# experiments/plot_loss.sh OUT.png RUN_DIR[=LABEL] [RUN_DIR[=LABEL] ...]: one plot of several
# training runs' loss curves, from each run directory's metrics.csv (written by `plat train`):
# the training loss smoothed (thin) and the validation loss (points), one colour per run. It is
# the same plot `plat train` draws for a single run as loss.png (experiments/run_dir.cpp,
# plot_loss). Needs gnuplot (Debian: gnuplot-nox); without it, says so and exits 0.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 OUT.png RUN_DIR[=LABEL] [RUN_DIR[=LABEL] ...]" >&2
    exit 2
fi
out=$1
shift
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "plot skipped: gnuplot is not installed (sudo apt-get install gnuplot-nox)"
    exit 0
fi

plot=""
i=1
for arg in "$@"; do
    dir=${arg%%=*}
    label=${arg#*=}
    [ "$label" = "$arg" ] && label=$(basename "$dir")
    csv="$dir/metrics.csv"
    [ -f "$csv" ] || { echo "plot_loss: no $csv (not a plat train run directory?)" >&2; exit 1; }
    [ -n "$plot" ] && plot="$plot, "
    plot="$plot n = 0, \"$csv\" skip 1 using 1:(ema(\$2)) with lines lw 1 lc $i title \"$label train (smoothed)\","
    plot="$plot \"$csv\" skip 1 using 1:6 with linespoints pt 7 ps 0.8 lw 2 lc $i title \"$label validation\""
    i=$((i + 1))
done

tmp="$out.tmp.$$.plot"
gnuplot <<EOF
set datafile separator comma
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 900,560 noenhanced } else { set terminal png size 900,560 noenhanced }
set output "$tmp"
set xlabel "step"
set ylabel "loss (nats)"
set grid
set key top right
ema(x) = (s = (n == 0 ? x : 0.9 * s + 0.1 * x), n = n + 1, s)
plot $plot
set output
EOF
mv "$tmp" "$out"
echo "plot: $out"
