#!/usr/bin/env bash
# experiments/scripts/phases/report.sh: the tables of notes/06c-what-p-lat-changes.md from the committed
# results alone (experiments/results/<phase>/runs.csv and probe/*.csv; no training, a second or two).
# Each table goes between <!-- phases:NAME --> and <!-- /phases:NAME --> in the chapter
# (experiments/scripts/note_block.sh); a phase with no results yet gets a line saying so and the
# command that makes them. Paired differences and their 95% t intervals: experiments/scripts/paired_stats.awk.
# Environment: PHASES_NOTES (default notes/06c-what-p-lat-changes.md), and those of phases.sh
# (PHASES_STEPS=... reports the smoke results of runs/phases-smoke/results instead).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/phases.sh"
NOTES=${PHASES_NOTES:-notes/06c-what-p-lat-changes.md}
[ -z "${PHASES_STEPS:-}" ] || NOTES=${PHASES_NOTES:-/dev/null/smoke}   # smoke results never reach the chapter: printed
PAIRED="$HERE/../paired_stats.awk"
BLOCK=$(mktemp)
trap 'rm -f "$BLOCK" "$BLOCK".*' EXIT

# put NAME: the block file into the chapter (or to stdout when the chapter is missing).
put() {
    if [ -f "$NOTES" ]; then bash "$HERE/../note_block.sh" "$NOTES" "phases:$1" "$BLOCK"; else echo "== $1"; cat "$BLOCK"; echo; fi
}
none() {  # PHASE: no results yet
    echo "No results yet. They come from \`bash experiments/scripts/phases/run.sh build/plat $1\`." > "$BLOCK"
}
have() { [ -s "$RESULTS_ROOT/$1/runs.csv" ] && [ "$(wc -l < "$RESULTS_ROOT/$1/runs.csv")" -gt 1 ]; }

# means CSV [VARIANTS]: per variant (in the order given, else of the file): seeds, mean +- sd of the
# validation and test loss, steps and training seconds.
means() {
    awk -F, -v want="${2:-}" '
        NR == 1 { next }
        { v = $1; if (!(v in n)) order[++k] = v; n[v]++; vs[v, n[v]] = $4; ts[v, n[v]] = $6; st[v] = $3; sec[v] += $9 }
        function ms(a, v,   i, m, s) { m = 0; for (i = 1; i <= n[v]; i++) m += a[v, i]; m /= n[v]; s = 0
            for (i = 1; i <= n[v]; i++) s += (a[v, i] - m) ^ 2
            return n[v] > 1 ? sprintf("%.4f ± %.4f", m, sqrt(s / (n[v] - 1))) : sprintf("%.4f", m) }
        END {
            print "| variant | seeds | steps | validation loss (nats) | test loss (nats) | training s (mean) |"
            print "|---|---|---|---|---|---|"
            if (want != "") k = split(want, order, " ")
            for (i = 1; i <= k; i++) { v = order[i]; if (!(v in n)) continue
                printf "| %s | %d | %s | %s | %s | %.0f |\n", v, n[v], st[v], ms(vs, v), ms(ts, v), sec[v] / n[v] }
        }' "$1"
}
# probe_files PHASE: its probe files, in the order of its variants, then seeds.
# Every seed found, in seed order: the report covers all committed runs, whatever PHASES_SEEDS the
# driver was given (a run with PHASES_SEEDS="3 4" must not hide seeds 0-2 from the tables).
probe_files() {
    local v f
    for v in $(phase_variants "$1"); do
        for f in "$RESULTS_ROOT/$1/probe/$v"-s*.csv; do [ -f "$f" ] && echo "$f"; done |
            awk -F'-s' '{ print $NF + 0, $0 }' | sort -n | cut -d' ' -f2-
    done
    return 0
}
last_step_of() { awk -F, 'NR > 1 && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }' "$1"; }
paired() {  # CSV VALUE PAIRS
    awk -F, -v value="$2" -v pairs="$3" -f "$PAIRED" "$1"
}

# ---- decisive -------------------------------------------------------------------------------------
if have decisive; then
    csv=$RESULTS_ROOT/decisive/runs.csv
    pairs="p2-exclude:softmax,p1.5-unit:softmax,p1.5-exclude:softmax,p1.5-exclude:p1.5-unit,p1.5-exclude:p2-exclude,p1.5-exclude:softmax-eqtime"
    {
        means "$csv" "$(phase_variants decisive)"
        echo
        echo "Paired differences on the whole validation split (variant minus the run it is against, same seed):"
        echo
        paired "$csv" val_loss "$pairs"
        echo
        echo "The same on the test split (the last 5% of the text, never used to choose anything):"
        echo
        paired "$csv" test_loss "$pairs"
        if [ -s "$RESULTS_ROOT/decisive/cost.csv" ]; then
            echo
            awk -F, '$1 ~ /per_step/ { c[$1] = $2 } $1 == "ratio" { r = $2 } $1 ~ /load/ { l = $2 }
                END { printf "Step cost (CPU seconds, one thread, 30 steps): softmax %.4f, p 1.5 exclude %.4f, ratio %.3f (load average %s when measured); softmax-eqtime gets round(2000 x %.3f) = %d steps.\n",
                      c["softmax_cpu_seconds_per_step"], c["p1.5-exclude_cpu_seconds_per_step"], r, l, r, int(2000 * r + 0.5) }' \
                "$RESULTS_ROOT/decisive/cost.csv"
        fi
    } > "$BLOCK"
else none decisive; fi
put decisive

# ---- continuity -----------------------------------------------------------------------------------
if have continuity; then
    csv=$RESULTS_ROOT/continuity/runs.csv
    { means "$csv" "$(phase_variants continuity)"; echo; paired "$csv" val_loss "p1.99-unit:softmax,p2.01-unit:softmax"; } > "$BLOCK"
else none continuity; fi
put continuity

# plot_depth_cosine PNG: one panel per depth L, the mean pairwise cosine of the tokens after each
# layer (0 = the embeddings) at the last saved step, mean over seeds with +-1 sd bars, one line per
# variant (shifted a little sideways so the bars do not hide each other), one y scale for all four.
plot_depth_cosine() {
    local png=$1 dat=$BLOCK.dc L v f k plots
    for L in 2 4 8 16; do
        for v in softmax p2-exclude p1.5-unit p1.5-exclude; do
            : > "$dat.L$L-$v"
            ls "$RESULTS_ROOT"/depth/probe/L$L-$v-s*.csv > /dev/null 2>&1 || continue
            for f in "$RESULTS_ROOT"/depth/probe/L$L-$v-s*.csv; do
                awk -F, -v last="$(last_step_of "$f")" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                    $1 + 0 == last + 0 && $c["cosine"] != "" { print $2, $c["cosine"] }' "$f"
            done | awk '{ n[$1]++; s[$1] += $2; q[$1] += $2 * $2; if ($1 > M) M = $1 }
                END { for (l = 0; l <= M; l++) if (n[l]) { mu = s[l] / n[l]; var = n[l] > 1 ? (q[l] - n[l] * mu * mu) / (n[l] - 1) : 0
                      printf "%d %.6f %.6f %d\n", l, mu, sqrt(var > 0 ? var : 0), n[l] } }' > "$dat.L$L-$v"
        done
    done
    mkdir -p "$(dirname "$png")"
    {
        echo 'if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 1200,800 noenhanced font ",10" } else { set terminal png size 1200,800 noenhanced }'
        echo "set output '$png'"
        echo "set multiplot layout 2,2 title 'over-smoothing: mean pairwise cosine similarity of the tokens after each layer (0 = embeddings), mean and +-1 sd over 3 seeds, one scale for all four'"
        echo "set yrange [0:0.45]; set xlabel 'layer'; set ylabel 'mean pairwise cosine'; set key right bottom; set grid"
        for L in 2 4 8 16; do
            plots="" k=0
            for v in softmax p2-exclude p1.5-unit p1.5-exclude; do
                [ -s "$dat.L$L-$v" ] && plots="$plots${plots:+, }'$dat.L$L-$v' using (\$1 + $k * 0.06 - 0.09):2:3 with yerrorlines title '$v'"
                k=$((k + 1))
            done
            echo "set title 'L = $L'; set xrange [-0.5:$L.5]; set xtics $([ "$L" -gt 8 ] && echo 2 || echo 1)"
            [ -n "$plots" ] && echo "plot $plots"
        done
        echo "unset multiplot"
    } | gnuplot 2>&1 | { grep -v "warning:" || true; } >&2
    [ -s "$png" ]
}

# ---- depth: the loss per depth, and the over-smoothing of the last layer ---------------------------
if have depth; then
    csv=$RESULTS_ROOT/depth/runs.csv
    # cosine of the last layer per run, from its probe file (columns: step,layer,...,cosine at 7).
    cos=$BLOCK.cos
    echo "variant,seed,cosine_last" > "$cos"
    for f in $(probe_files depth); do
        name=$(basename "$f" .csv)
        awk -F, -v v="${name%-s*}" -v s="${name##*-s}" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            { last = $c["cosine"] } END { print v "," s "," last }' "$f" >> "$cos"
    done
    pairs="" cpairs=""
    for L in 2 4 8 16; do
        for v in p2-exclude p1.5-unit p1.5-exclude; do pairs="$pairs${pairs:+,}L$L-$v:L$L-softmax"; done
    done
    {
        means "$csv" "$(phase_variants depth)"
        echo
        echo "Validation loss, paired against softmax at the same depth:"
        echo
        paired "$csv" val_loss "$pairs"
        echo
        echo "Mean pairwise cosine similarity of the tokens after the last layer (plat probe; higher = more smoothed), paired the same way:"
        echo
        paired "$cos" cosine_last "$pairs"
        # the curve through the layers, with its spread (gnuplot, when installed)
        fig=${PHASES_FIGURES:-notes/figures}/06c-depth-cosine.png
        if command -v gnuplot > /dev/null 2>&1 && [ -z "${PHASES_STEPS:-}" ]; then
            plot_depth_cosine "$fig" && { echo; echo "![mean pairwise cosine after each layer, L = 2, 4, 8, 16, four variants, mean and spread over seeds](figures/06c-depth-cosine.png)"; }
        fi
    } > "$BLOCK"
else none depth; fi
put depth

# plot_learned_p PNG: one panel per learnp variant, p (mean over heads and seeds) per layer against the step.
plot_learned_p() {
    local png=$1 dat=$BLOCK.lp v f panels="" n=0
    for v in $(phase_variants learnp); do
        ls "$RESULTS_ROOT"/learnp/probe/"$v"-s*.csv > /dev/null 2>&1 || continue
        for f in "$RESULTS_ROOT"/learnp/probe/"$v"-s*.csv; do
            awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $2 > 0 { print $1, $2, $c["p_mean"] }' "$f"
        done | awk '{ k = $1 " " $2; s[k] += $3; n[k]++; if ($2 > L) L = $2; steps[$1] = 1 }
            END { for (t in steps) { line = t; for (l = 1; l <= L; l++) { k = t " " l; line = line " " (n[k] ? s[k] / n[k] : "NaN") } print line } }' |
            sort -n > "$dat.$v.tmp"
        # the start: every layer at the p the variant starts from (learnp<P>-<self>), step 0
        local p0=${v#learnp}; p0=${p0%-*}
        awk -v p0="$p0" 'NR == 1 { line = 0; for (i = 2; i <= NF; i++) line = line " " p0; print line } { print }' "$dat.$v.tmp" > "$dat.$v"
        panels="$panels $v"; n=$((n + 1))
    done
    [ "$n" -gt 0 ] || return 1
    mkdir -p "$(dirname "$png")"
    {
        echo 'if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 1200,700 noenhanced font ",10" } else { set terminal png size 1200,700 noenhanced }'
        echo "set output '$png'"
        echo "set multiplot layout 2,3 title 'learned p per layer (mean over heads and seeds) against the training step (one scale for all six)'"
        echo "set yrange [1:2.6]; set xlabel 'step'; set ylabel 'p'; set key at graph 0.98, graph 0.58 right top; set grid"
        for v in $panels; do
            echo "set title '$v'"
            echo "plot for [l=2:5] '$dat.$v' using 1:l with linespoints title sprintf('layer %d', l - 1)"
        done
        echo "unset multiplot"
    } | gnuplot 2>&1 | { grep -v "warning:" || true; } >&2
    [ -s "$png" ]
}

# ---- learnp: where p goes ------------------------------------------------------------------------
if have learnp; then
    {
        means "$RESULTS_ROOT/learnp/runs.csv" "$(phase_variants learnp)"
        echo
        echo "p per layer at the end of training (mean over heads, then mean ± sd over seeds; all heads in the probe files):"
        echo
        for f in $(probe_files learnp); do
            name=$(basename "$f" .csv)
            awk -F, -v v="${name%-s*}" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                { if ($1 + 0 >= last) { last = $1 + 0 } row[$1 + 0, $2] = $c["p_mean"]; if ($2 > L) L = $2 }
                END { for (l = 1; l <= L; l++) print v "," l "," row[last, l] }' "$f"
        done | awk -F, '{ k = $1 "," $2; if (!(k in n)) o[++m] = k; n[k]++; s[k] += $3; q[k] += $3 * $3 }
            END { print "| variant | layer | seeds | final p |"; print "|---|---|---|---|"
                  for (i = 1; i <= m; i++) { k = o[i]; split(k, a, ","); mu = s[k] / n[k]; var = n[k] > 1 ? (q[k] - n[k] * mu * mu) / (n[k] - 1) : 0
                      printf "| %s | %s | %d | %.3f%s |\n", a[1], a[2], n[k], mu, (n[k] > 1 ? sprintf(" ± %.3f", sqrt(var > 0 ? var : 0)) : "") } }'
        # p over training: per variant, the mean over heads and seeds of each layer's p at every
        # saved step (gnuplot, when installed), into notes/figures/06c-learned-p.png.
        fig=${PHASES_FIGURES:-notes/figures}/06c-learned-p.png
        if command -v gnuplot > /dev/null 2>&1 && [ -z "${PHASES_STEPS:-}" ]; then
            plot_learned_p "$fig" && { echo; echo "![p per layer over training, from 1.25, 2 and 2.5, each self term](figures/06c-learned-p.png)"; }
        fi
    } > "$BLOCK"
else none learnp; fi
put learnp

# ---- cluster: attention mass on the query's own cluster ---------------------------------------------
if have cluster; then
    csv=$RESULTS_ROOT/cluster/runs.csv
    cpairs=""
    for t in cluster control; do
        for v in p1.25-unit p1.5-unit p1.5-exclude p2.5-unit; do cpairs="$cpairs${cpairs:+,}$t-$v:$t-softmax"; done
    done
    {
        means "$csv" "$(phase_variants cluster)"
        echo
        echo "Validation accuracy, paired against softmax on the same task:"
        echo
        paired "$csv" val_acc "$cpairs"
        echo
        echo "Attention per layer (mean over heads, queries and seeds; the query itself left out): on keys of the query's own cluster (the keys alike to it), and on keys of its answer cluster (the keys that carry the answer: the same keys on the cluster task, the next cluster's on the control), each beside what uniform attention would put there:"
        echo
        for f in $(probe_files cluster); do
            name=$(basename "$f" .csv)
            awk -F, -v v="${name%-s*}" -v last_step="$(last_step_of "$f")" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                ("cluster_mass" in c) && $2 > 0 && $1 + 0 == last_step + 0 { print v "," $2 "," $c["cluster_mass"] "," $c["cluster_uniform"] "," $c["answer_mass"] "," $c["answer_uniform"] }' "$f"
        done | awk -F, '{ k = $1 "," $2; if (!(k in n)) o[++m] = k; n[k]++; s[k] += $3; u[k] += $4; a[k] += $5; au[k] += $6 }
            END { print "| variant | layer | seeds | own cluster | uniform | answer cluster | uniform |"; print "|---|---|---|---|---|---|---|"
                  for (i = 1; i <= m; i++) { k = o[i]; split(k, x, ",")
                      printf "| %s | %s | %d | %.4f | %.4f | %.4f | %.4f |\n", x[1], x[2], n[k], s[k] / n[k], u[k] / n[k], a[k] / n[k], au[k] / n[k] } }'
        # Paired: the mean over layers of each run's own-cluster and answer-cluster mass.
        cm=$BLOCK.cm
        echo "variant,seed,cluster_mass,answer_mass" > "$cm"
        for f in $(probe_files cluster); do
            name=$(basename "$f" .csv)
            awk -F, -v v="${name%-s*}" -v sd="${name##*-s}" -v last_step="$(last_step_of "$f")" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                ("cluster_mass" in c) && $2 > 0 && $1 + 0 == last_step + 0 && $c["cluster_mass"] != "" { s += $c["cluster_mass"]; a += $c["answer_mass"]; n++ }
                END { if (n) print v "," sd "," s / n "," a / n }' "$f"
        done >> "$cm"
        if [ "$(wc -l < "$cm")" -gt 1 ]; then
            echo
            echo "Own-cluster mass (mean over layers), paired against softmax on the same task:"
            echo
            paired "$cm" cluster_mass "$cpairs"
            echo
            echo "Answer-cluster mass (mean over layers), paired the same way:"
            echo
            paired "$cm" answer_mass "$cpairs"
        fi
    } > "$BLOCK"
else none cluster; fi
put cluster
[ ! -f "$NOTES" ] || echo "phases report: tables written into $NOTES"
