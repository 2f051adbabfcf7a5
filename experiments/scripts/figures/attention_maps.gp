# experiments/scripts/figures/attention_maps.gp: notes/figures/attention-maps-p.png, the attention
# weights A_ij of three small byte-level lm models (p = 1.25, 2, 2.5; trained by make_figures.sh)
# on the same sentence: one row of panels per model, one panel per layer and head, token labels on
# both axes, ONE colour scale for every panel (log10 of the weight, so that a causal row spread
# over 30 keys is as visible as one on 2 keys; not each row scaled to its own maximum).
# Variables (gnuplot -e): out, dir (the matrices of attention_maps.py), text (the sentence),
# layers, heads, plist (the three p, space-separated).
set terminal pngcairo size 1800,1500 font "Sans,10"
set output out
T = strlen(text)
# Labels: one character per token; a space is drawn as "_".
tok(i) = (substr(text, i + 1, i + 1) eq " ") ? "_" : substr(text, i + 1, i + 1)
set xtics () scale 0 font ",8"
set ytics () scale 0 font ",8"
do for [i = 0:T-1] { set xtics add (tok(i) i); set ytics add (tok(i) i) }
set xtics offset 0, 0.3
set size ratio -1
set xrange [-0.5:T - 0.5]
set yrange [T - 0.5:-0.5]
set logscale cb
set cbrange [1e-3:1]
set format cb "10^{%L}"
set palette defined (0 "#ffffff", 0.35 "#fee391", 0.7 "#ec7014", 1 "#662506")
# One colour bar for all panels at the right edge (every panel draws it in the same place), so
# every panel has the same size.
set colorbox user origin screen 0.955, 0.15 size screen 0.012, 0.7
set multiplot layout 3, layers * heads margins 0.03, 0.93, 0.03, 0.92 spacing 0.03, 0.06 title sprintf("Attention weights A_{ij} (row i = query token, column j = key token) on \"%s\": one colour scale, log_{10}; self = exclude, causal", text) font ",13"
do for [m = 0:2] {
    do for [l = 0:layers-1] {
        do for [h = 0:heads-1] {
            set title sprintf("p = %s,  layer %d, head %d", word(plist, m + 1), l, h) font ",12"
            # A weight of exactly 0 (a masked key) has no logarithm: drawn white as below the scale.
            plot sprintf("%s/%d_l%d_h%d.txt", dir, m, l, h) matrix using 1:2:($3 > 0 ? $3 : 1e-3) with image notitle
        }
    }
}
unset multiplot
