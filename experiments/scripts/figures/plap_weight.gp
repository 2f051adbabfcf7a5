# experiments/scripts/figures/plap_weight.gp: notes/figures/plap-weight.png, the p-Laplacian weight
# phi(r) = (r + eps)^((p - 2)/2) that multiplies exp(s_ij) for each key (notes/03, sections 3 and 6),
# against the squared distance r = ||v_i - v_j||^2, for four p, on log axes, eps = 1e-6 (the default).
# Run by make_figures.sh: gnuplot -e "out='notes/figures/plap-weight.png'" plap_weight.gp
if (!exists("out")) out = "plap-weight.png"
set terminal pngcairo size 900,600 font "Sans,11"
set output out
eps = 1e-6
phi(r, p) = (r + eps)**((p - 2) / 2.0)
set logscale xy
set format x "10^{%L}"
set format y "10^{%L}"
set xrange [1e-10:1e2]
set yrange [1e-2:1e4]
set samples 1000
set grid
set key bottom left box opaque
set xlabel "r = ||v_i - v_j||^2  (squared distance between two value vectors)"
set ylabel "weight  (r + eps)^{(p-2)/2}"
set title "The p-Laplacian weight of a key at squared distance r (eps = 10^{-6})"
set arrow from eps, graph 0 to eps, graph 1 nohead dt 2 lc rgb "#888888"
set label "r = eps: below it the weight\nstops growing (p < 2)" at 1.6e-6, 3e3 left
set label "p < 2: near keys weigh more" at 1e-3, 2.5e2 left tc rgb "#1f77b4"
set label "p > 2: far keys weigh more" at 1e-3, 1.5e-2 left tc rgb "#d62728"
plot phi(x, 1)   w l lw 2 lc rgb "#1f77b4" t "p = 1   (exponent -1/2)", \
     phi(x, 1.5) w l lw 2 lc rgb "#2ca02c" t "p = 1.5 (exponent -1/4)", \
     phi(x, 2)   w l lw 2 lc rgb "#000000" t "p = 2   (weight 1: softmax attention)", \
     phi(x, 3)   w l lw 2 lc rgb "#d62728" t "p = 3   (exponent +1/2)"
