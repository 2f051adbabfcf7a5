# experiments/scripts/figures/attention_masks.gp: notes/figures/attention-masks.png, which keys j
# each query i may attend to, for T = 6 tokens: without and with the causal mask, and the two self
# terms of p-LaT (notes/03, section 5): `unit` keeps j = i with weight 1 (no distance term),
# `exclude` drops it, except for a query with no other key (token 0 under the causal mask).
# Run by make_figures.sh: gnuplot -e "out='notes/figures/attention-masks.png'" attention_masks.gp
if (!exists("out")) out = "attention-masks.png"
set terminal pngcairo size 1200,440 font "Sans,11"
set output out
T = 6
# The colour of entry (i, j): 0 masked (a future key), 1 a key with its distance term,
# 2 j = i kept with weight 1, 3 j = i excluded.
cell(i, j, causal, exclude) = (causal && j > i) ? 0 : (j != i) ? 1 : \
    (exclude && !(causal && i == 0)) ? 3 : 2
# One block per panel (index 0..3: causal = index / 2, exclude = index % 2), one line "j i colour"
# per cell; blocks are separated by two blank lines, as gnuplot's `index` expects.
set print $cells
do for [panel = 0:3] {
    do for [i = 0:T-1] {
        do for [j = 0:T-1] { print sprintf("%d %d %d", j, i, cell(i, j, panel / 2, panel % 2)) }
        print ""
    }
    print ""
}
unset print
set palette defined (0 "white", 1 "#3b6ea8", 2 "#8fc98f", 3 "#f4a259")
set cbrange [-0.5:3.5]
set palette maxcolors 4
unset colorbox
set size ratio -1
set xrange [-0.5:T - 0.5]
set yrange [T - 0.5:-0.5]
set xtics 0, 1, T - 1 scale 0
set ytics 0, 1, T - 1 scale 0
set xlabel "key j"
set ylabel "query i"
# Thin grey lines between the cells, drawn over the image.
do for [k = 0:T] {
    set arrow from k - 0.5, -0.5 to k - 0.5, T - 0.5 nohead front lc rgb "#bbbbbb" lw 1
    set arrow from -0.5, k - 0.5 to T - 0.5, k - 0.5 nohead front lc rgb "#bbbbbb" lw 1
}
set multiplot layout 1, 4 title "Which keys j each query i sees (T = 6)\n{/:Bold blue}: a key, weight (r_{ij} + eps)^{(p-2)/2}     {/:Bold green}: j = i with weight 1     {/:Bold orange}: j = i excluded     white: masked (a future token)" font ",12"
titles = "'no mask, self = unit' 'no mask, self = exclude' 'causal, self = unit' 'causal, self = exclude (default)'"
do for [panel = 0:3] {
    set title word(titles, panel + 1)
    plot $cells index panel using 1:2:3 with image notitle
}
unset multiplot
