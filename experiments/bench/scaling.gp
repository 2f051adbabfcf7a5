# experiments/bench/scaling.gp: the figure of the context sweep (notes/07-performance.md, "Scaling with
# the context") from the CSV experiments/bench/scaling.sh writes, one row per T: (a) step time against
# T, (b) PyTorch's step over plat's, (c) p-LaT over softmax in step time and peak memory, (d) peak memory.
# Run by scaling.sh: gnuplot -e "csv='experiments/results/bench-scaling/HOST-DATE-HHMM.csv'; out='x.png'" scaling.gp
if (!exists("csv")) csv = "runs/bench-scaling/scaling.csv"
if (!exists("out")) out = "bench-scaling.png"
info = system("sed -n 's/^# //p' '" . csv . "' | head -n 1")
set terminal pngcairo size 1300,960 font "Sans,10"
set output out
set datafile separator ","
set datafile columnheaders
set grid
set logscale x 2
set xrange [100:2600]
set xtics (128, 256, 512, 1024, 2048)
set xlabel "context T (B = 4096 / T: the same 4096 tokens per step)"
set key top left box opaque
plat_sm = "lw 2 lc rgb '#1f77b4' pt 7"
plat_pl = "lw 2 lc rgb '#2ca02c' pt 5"
torch_sm = "lw 2 lc rgb '#1f77b4' dt 2 pt 6"
torch_pl = "lw 2 lc rgb '#2ca02c' dt 2 pt 4"
set multiplot layout 2,2 title "lm C 128, L 4, H 4: one training step as the context grows\n{/*0.8 " . info . "}"

set title "(a) step time (median; each framework at its fastest preset)"
set logscale y
set ylabel "ms per step"
plot csv u "T":"plat_softmax_ms" w lp @plat_sm t "plat softmax", \
     csv u "T":"plat_plap_ms" w lp @plat_pl t "plat p-LaT (p = 1.5)", \
     csv u "T":"torch_softmax_ms" w lp @torch_sm t "PyTorch softmax", \
     csv u "T":"torch_plap_ms" w lp @torch_pl t "PyTorch p-LaT"

set title "(b) PyTorch's step time / plat's (above 1: plat faster)"
set offsets 0, 0, graph 0.45, 0   # room above the curves for the key
unset logscale y
set ylabel "ratio"
set yrange [0:*]
plot csv u "T":(column("torch_softmax_ms") / column("plat_softmax_ms")) w lp @plat_sm t "softmax", \
     csv u "T":(column("torch_plap_ms") / column("plat_plap_ms")) w lp @plat_pl t "p-LaT", \
     1 w l lc rgb "#888888" dt 3 notitle

set title "(c) p-LaT / softmax, each framework"
time_plat = "lw 2 lc rgb '#d62728' pt 7"
time_torch = "lw 2 lc rgb '#d62728' dt 2 pt 6"
mem_plat = "lw 2 lc rgb '#9467bd' pt 5"
mem_torch = "lw 2 lc rgb '#9467bd' dt 2 pt 4"
plot csv u "T":(column("plat_plap_ms") / column("plat_softmax_ms")) w lp @time_plat t "plat, step time", \
     csv u "T":(column("torch_plap_ms") / column("torch_softmax_ms")) w lp @time_torch t "PyTorch, step time", \
     csv u "T":(column("plat_plap_mb") / column("plat_softmax_mb")) w lp @mem_plat t "plat, peak memory", \
     csv u "T":(column("torch_plap_mb") / column("torch_softmax_mb")) w lp @mem_torch t "PyTorch, peak memory", \
     1 w l lc rgb "#888888" dt 3 notitle

set title "(d) peak memory (resident set of a fresh process per case)"
set offsets 0, 0, 0, 0
set logscale y
set yrange [*:*]
set ylabel "MB"
plot csv u "T":"plat_softmax_mb" w lp @plat_sm t "plat softmax", \
     csv u "T":"plat_plap_mb" w lp @plat_pl t "plat p-LaT", \
     csv u "T":"torch_softmax_mb" w lp @torch_sm t "PyTorch softmax", \
     csv u "T":"torch_plap_mb" w lp @torch_pl t "PyTorch p-LaT"
unset multiplot
