#!/usr/bin/env bash
# experiments/scripts/study/report.sh [PLAT]: the study's results, from the runs run.sh made (it runs this
# at the end; run it alone to redo the tables and plots without training anything, ~2 s):
#   1. reads the raw results run_one.sh keeps (STUDY_RESULTS/runs.csv and layers.csv, by default
#      experiments/results/study, committed: no run directory is needed) into STUDY_ROOT/report in
#      the order of the tables, and their mean ± standard deviation over seeds (stats.awk);
#   2. plots with gnuplot into notes/figures/: validation loss and accuracy against p, the
#      nearest-neighbour attention mass against p, the cosine similarity per layer, and the
#      attention maps of softmax and p-LaT (p = 1.5) on one input (plat attention);
#   3. rewrites, in notes/06-experiments.md, every block between <!-- study:NAME --> and
#      <!-- /study:NAME --> (into a temporary copy, then one rename).
# Environment: STUDY_ROOT (default runs/study), STUDY_RESULTS (common.sh), STUDY_NOTES and STUDY_FIGURES (default
# notes/06-experiments.md and notes/figures for the committed results, else copies in STUDY_ROOT/report).
set -euo pipefail

PLAT=${1:-build/plat}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/common.sh"
OUT=$STUDY_ROOT/report
# The chapter and its figures are rewritten from the committed results only; a smoke run or another
# STUDY_ROOT writes a copy of the chapter and its plots into its own report folder.
if [ "$STUDY_RESULTS" = experiments/results/study ]; then
    NOTES=${STUDY_NOTES:-notes/06-experiments.md}
    FIG=${STUDY_FIGURES:-notes/figures}
else
    mkdir -p "$OUT/figures"
    [ -f "$OUT/06-experiments.md" ] || cp notes/06-experiments.md "$OUT/06-experiments.md"
    NOTES=${STUDY_NOTES:-$OUT/06-experiments.md}
    FIG=${STUDY_FIGURES:-$OUT/figures}
fi
mkdir -p "$OUT" "$FIG"
export PLAT_THREADS=${PLAT_THREADS:-2} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

# ---- 1. collect, in the order of the tables ------------------------------------------------------

echo "$STUDY_RESULTS_HEADER" > "$OUT/runs.csv"
echo "task,variant,seed,layer,nn_mass,uniform_mass,ratio,queries,cosine,p_mean,p_heads" > "$OUT/layers.csv"
: > "$OUT/failed.txt"
for task in $STUDY_ALL_TASKS; do
    for variant in $(study_variants); do
        for f in runs layers; do
            [ -f "$STUDY_RESULTS/$f.csv" ] || continue
            awk -F, -v t="$task" -v v="$variant" 'NR > 1 && $1 == t && $2 == v' "$STUDY_RESULTS/$f.csv" | sort -t, -k3,3n -k4,4n >> "$OUT/$f.csv"
        done
        for dir in "$STUDY_ROOT/$task/$variant"/s*; do
            seed=${dir##*/s}
            if [ -f "$dir/failed.txt" ]; then
                echo "$task $variant s$seed: $(head -n 1 "$dir/failed.txt") $(tail -n 1 "$dir/failed.txt")" >> "$OUT/failed.txt"
            fi
        done
    done
done
runs=$(($(wc -l < "$OUT/runs.csv") - 1))
echo "report: $runs finished runs in $STUDY_RESULTS$( [ -s "$OUT/failed.txt" ] && echo ", $(wc -l < "$OUT/failed.txt") failed")"
if [ "$runs" -eq 0 ]; then
    echo "report: nothing to report; run the study first (bash experiments/scripts/study/run.sh)" >&2
    exit 1
fi

# Per (task, variant): mean, sd, n of val_loss bpb val_acc test_acc bayes nn uniform cos_last
# p_learned train_s total_s steps cpu_s quarter_loss quarter_acc -> columns 3.. in triples:
#   val_loss 3-5, bpb 6-8, val_acc 9-11, test_acc 12-14, bayes 15-17, nn 18-20, uniform 21-23,
#   cos_last 24-26, p_learned 27-29, train_s 30-32, total_s 33-35, steps 36-38, cpu_s 39-41,
#   quarter_loss 42-44, quarter_acc 45-47.
awk -v keys=1,2 -v values=5,6,7,9,10,11,12,13,14,15,16,4,17,18,19 -v header=1 -f "$HERE/stats.awk" "$OUT/runs.csv" > "$OUT/by_variant.csv"
# Per (task, variant, layer): nn, uniform, cosine, p_mean -> columns 4.. in triples.
awk -v keys=1,2,4 -v values=5,6,9,10 -v header=1 -f "$HERE/stats.awk" "$OUT/layers.csv" > "$OUT/by_layer.csv"
# Learned p per (task, layer, head), over seeds.
awk -F, 'NR > 1 && $2 ~ /^learnp/ && $11 != "" { n = split($11, p, ";"); for (h = 1; h <= n; h++) print $1 "," $4 "," h - 1 "," p[h] }' \
    "$OUT/layers.csv" > "$OUT/learned_p.csv"
awk -v keys=1,2,3 -v values=4 -f "$HERE/stats.awk" "$OUT/learned_p.csv" > "$OUT/learned_p_stats.csv"

tasks_present=$(cut -d, -f1 "$OUT/by_variant.csv" | uniq | tr '\n' ' ')

# ---- 2. tables (markdown, one file per notes block) ----------------------------------------------

# Shared awk helpers: pm(mean, sd, format) -> "m ± sd"; variant_label(v); the p of a variant.
AWK_LIB='
function fmt(x, f) { return x == "" ? "–" : sprintf(f, x) }
function pm(m, s, f) { if (m == "") return "–"; return s == "" ? sprintf(f, m) : sprintf(f " ± " f, m, s) }
function pm100(m, s, f) { return pm(m == "" ? "" : m * 100, s == "" ? "" : s * 100, f) }
function variant_p(v, s) { if (v !~ /^p[0-9]/) return ""; s = substr(v, 2); sub(/-.*/, "", s); return s }
function variant_self(v) { if (v == "softmax") return ""; sub(/^[^-]*-/, "", v); return v }
function variant_label(v) {
    if (v == "softmax") return "softmax (baseline)"
    if (v ~ /^learnp/) return "p learned (from 2), " variant_self(v)
    return "p = " variant_p(v) ", " variant_self(v)
}'

smoke_note() {  # TASK -> a warning line when the runs are shorter than the study's
    local steps
    steps=$(awk -F, -v t="$1" '$1 == t { print $36; exit }' "$OUT/by_variant.csv")
    if [ -n "$steps" ] && [ "${steps%.*}" != "$(task_base_steps "$1")" ]; then
        echo "**Smoke run: $steps steps per run instead of $(task_base_steps "$1"); these numbers are placeholders that only show the pipeline works.**"
        echo
    fi
}

results_table() {  # TASK -> markdown
    local task=$1
    smoke_note "$task"
    awk -F, -v task="$task" "$AWK_LIB"'
    $1 != task { next }
    {
        v = $2
        if (v == "softmax") base = $3
        loss = pm($3, $4, "%.4f")
        delta = (base != "" && v != "softmax") ? sprintf("%+.4f", $3 - base) : ""
        nn = pm($18, $19, "%.3f") " (" fmt($21, "%.3f") ")"
        cosine = pm($24, $25, "%.3f")
        pl = pm($27, $28, "%.2f")
        if (task == "lm")
            row[++n] = sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |", variant_label(v), loss, delta,
                               pm($6, $7, "%.4f"), pm100($9, $10, "%.2f"), pm($42, $43, "%.3f"), nn, cosine, pl, $5)
        else
            row[++n] = sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |", variant_label(v), loss, delta,
                               pm100($9, $10, "%.2f"), pm100($12, $13, "%.2f"), pm100($45, $46, "%.1f"), nn, cosine, pl, $5)
        if ($15 != "") bayes = $15
    }
    END {
        if (task == "lm")
            print "| variant | val loss (nats) | vs softmax | bits per byte | next-byte accuracy % | val loss at 1/4 | NN mass (uniform) | cosine, last layer | learned p | seeds |"
        else
            print "| variant | val loss (nats) | vs softmax | val accuracy % | test accuracy % | val accuracy % at 1/4 | NN mass (uniform) | cosine, last layer | learned p | seeds |"
        print "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        for (i = 1; i <= n; i++) print row[i]
        if (task == "synthetic" && bayes != "")
            printf "\nThe Bayes-optimal predictor scores %.2f%% on the same validation batches (notes/06a-data.md, section 9).\n", bayes * 100
    }' "$OUT/by_variant.csv"
}

probe_table() {  # TASK -> markdown: NN mass and cosine per layer
    local task=$1
    smoke_note "$task"
    awk -F, -v task="$task" "$AWK_LIB"'
    $1 != task { next }
    {
        v = $2; l = $3 + 0
        if (!(v in seen)) { seen[v] = 1; order[++n] = v }
        if (l > L) L = l
        if (l > 0) { nn[v, l] = pm($4, $5, "%.3f"); un[l] = $7 }
        cs[v, l] = pm($10, $11, "%.3f")
    }
    END {
        head = "| variant |"; rule = "| --- |"
        for (l = 1; l <= L; l++) { head = head sprintf(" NN mass, layer %d |", l); rule = rule " --- |" }
        for (l = 0; l <= L; l++) { head = head sprintf(" cosine, %s |", l == 0 ? "embedding" : "layer " l); rule = rule " --- |" }
        print head; print rule
        for (i = 1; i <= n; i++) {
            v = order[i]; line = "| " variant_label(v) " |"
            for (l = 1; l <= L; l++) line = line " " nn[v, l] " |"
            for (l = 0; l <= L; l++) line = line " " cs[v, l] " |"
            print line
        }
        printf "\nUniform attention over the keys each query may attend to would put on its k = 4 nearest neighbours"
        sep = ": "
        for (l = 1; l <= L; l++) { printf "%slayer %d %.3f", sep, l, un[l]; sep = ", " }
        print " (the same in every layer: it depends only on how many keys each query may attend to; with the self term excluded it is k / (n - 1) instead of k / n, slightly more)."
    }' "$OUT/by_layer.csv"
}

learned_p_table() {  # -> markdown for every task with a learned-p run
    local any=0 task
    for task in $tasks_present; do
        grep -q "^$task," "$OUT/learned_p_stats.csv" || continue
        any=1
        echo "$(task_title "$task") ($task), p per layer and head, mean ± sd over seeds (started at 2, clamped to [1, 4]):"
        echo
        awk -F, -v task="$task" "$AWK_LIB"'
        $1 != task { next }
        { l = $2 + 0; h = $3 + 0; cell[l, h] = pm($4, $5, "%.2f"); if (l > L) L = l; if (h > H) H = h }
        END {
            head = "| layer |"; rule = "| --- |"
            for (h = 0; h <= H; h++) { head = head " head " h " |"; rule = rule " --- |" }
            print head; print rule
            for (l = 1; l <= L; l++) { line = "| " l " |"; for (h = 0; h <= H; h++) line = line " " cell[l, h] " |"; print line }
        }' "$OUT/learned_p_stats.csv"
        echo
    done
    [ "$any" -eq 1 ] || echo "(no learned-p run has finished yet)"
}

paired_table() {  # TASK -> markdown: every variant against softmax, paired by seed (paired_stats.awk)
    local task=$1 value
    awk -F, -v t="$task" 'NR == 1 || $1 == t' "$OUT/runs.csv" > "$OUT/paired-$task.csv"
    for value in val_loss $([ "$task" = lm ] || echo val_acc); do
        echo "Paired against softmax ($value; two runs with the same seed start from the same weights and see the same batches):"
        echo
        awk -v value="$value" -v baseline=softmax -f "$HERE/../paired_stats.awk" "$OUT/paired-$task.csv"
        echo
    done
}

nn_summary_table() {  # -> markdown: the nearest-neighbour mass of the unit variants against p, per task
    awk -F, '
    { k = $1 "," $2; m[k] = $18; if ($21 != "") u[$1] = $21; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } }
    END {
        split("p2.5-unit softmax p1.75-unit p1.5-unit p1.25-unit", vs, " ")
        print "| task (uniform mass) | p = 2.5 | p = 2 (softmax) | p = 1.75 | p = 1.5 | p = 1.25 |"
        print "| --- | --- | --- | --- | --- | --- |"
        for (i = 1; i <= n; i++) {
            t = order[i]; line = sprintf("| %s, unit (%.3f) |", t, u[t])
            for (j = 1; j <= 5; j++) { k = t "," vs[j]; line = line sprintf(" %s |", (k in m && m[k] != "") ? sprintf("%.3f", m[k]) : "-") }
            print line
        }
        print ""
        print "Means over seeds and layers (the tables above give each with its spread)."
    }' "$OUT/by_variant.csv"
}

status_block() {
    echo "Generated by \`make experiments\` (experiments/scripts/study/report.sh) on $(date -u '+%Y-%m-%d %H:%M UTC') from the $runs finished runs in \`$STUDY_RESULTS\`."
    echo
    echo "| task | runs | steps per run | seconds per run: training | with eval and probe | CPU seconds per run | failed |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    local task
    for task in $STUDY_ALL_TASKS; do
        local failed
        failed=$(grep -c "^$task " "$OUT/failed.txt" || true)
        awk -F, -v task="$task" -v failed="$failed" '
            $1 == task { n += $5; steps = $36; tr += $30 * $5; tot += $33 * $5; cpu += $39 * $5 }
            END { if (n == 0) printf "| %s | 0 (not run yet: `STUDY_TASKS=%s make experiments`) | | | | | %d |\n", task, task, failed
                  else printf "| %s | %d | %s | %.0f | %.0f | %.0f | %d |\n", task, n, steps, tr / n, tot / n, cpu / n, failed }' "$OUT/by_variant.csv"
    done
    echo
    if [ -f "$STUDY_ROOT/last_session.txt" ]; then
        read -r secs l1 l5 l15 count steps < "$STUDY_ROOT/last_session.txt"
        echo "The last \`make experiments\` session ($count runs requested, steps: $steps) took $((secs / 60)) min $((secs % 60)) s of wall time, two runs at a time (runs finished in an earlier session are skipped, so after an interruption this is the time of the remainder); load average at its end $l1 $l5 $l15 (2 cores)."
        echo
    fi
    if grep -q "steps" <(for t in $tasks_present; do smoke_note "$t"; done); then
        echo "**This is a smoke run (STUDY_STEPS): the runs are far too short for any conclusion. Every number and plot below is a placeholder until the full study is run with \`make experiments\`.**"
        echo
    fi
    if [ -s "$OUT/failed.txt" ]; then
        echo "Failed runs (left out of the tables):"
        echo
        sed 's/^/    /' "$OUT/failed.txt"
        echo
    fi
}

# ---- 3. plots ------------------------------------------------------------------------------------

GNUPLOT_TERM='if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size W,H noenhanced font ",10" } else { set terminal png size W,H noenhanced }'
term() { echo "${GNUPLOT_TERM//W,H/$1,$2}"; }
# gnuplot with its warnings dropped (a subset of the study leaves some data files empty, and
# gnuplot warns about each); errors still show, and the missing picture then stops the script.
gp() { gnuplot 2>&1 | { grep -v "warning:" || true; } >&2; }
plots=0

plot_task() {  # TASK: loss/accuracy vs p, NN mass vs p, cosine per layer
    local task=$1 d="$OUT/$task"
    # Per self mode: p loss loss_sd acc acc_sd nn nn_sd uniform (mean over layers) cos_last
    for self in unit exclude; do
        awk -F, -v task="$task" -v self="$self" "$AWK_LIB"'
            $1 == task && variant_p($2) != "" && variant_self($2) == self {
                acc = task == "vit" ? $12 : $9; accsd = task == "vit" ? $13 : $10
                print variant_p($2), $3, $4 + 0, acc * 100, accsd * 100, $18, $19 + 0, $21 }' "$OUT/by_variant.csv" > "$d-$self.dat"
    done
    # Softmax and learned p as single values: loss loss_sd acc acc_sd nn nn_sd uniform p_learned p_learned_sd
    local sm_loss="" sm_loss_sd sm_acc sm_acc_sd sm_nn sm_nn_sd sm_uni
    read -r sm_loss sm_loss_sd sm_acc sm_acc_sd sm_nn sm_nn_sd sm_uni _ _ < <(awk -F, -v task="$task" '$1 == task && $2 == "softmax" {
        acc = task == "vit" ? $12 : $9; accsd = task == "vit" ? $13 : $10
        print $3, $4 + 0, acc * 100, accsd * 100, $18, $19 + 0, $21, 0, 0 }' "$OUT/by_variant.csv") || true
    awk -F, -v task="$task" '$1 == task && $2 ~ /^learnp/ {
        acc = task == "vit" ? $12 : $9; accsd = task == "vit" ? $13 : $10
        print $27, $28 + 0, $3, $4 + 0, acc * 100, accsd * 100, $18, $19 + 0 }' "$OUT/by_variant.csv" > "$d-learnp.dat"
    [ -n "${sm_loss:-}" ] || { echo "report: no softmax run of $task; its plots are skipped"; return 0; }
    # Accuracy: vit on the test set; lm (next byte) and synthetic on the validation data, where
    # plat eval also scores the Bayes-optimal predictor on the same batches.
    local acc_label="validation accuracy (%)"
    [ "$task" = vit ] && acc_label="test accuracy (%)"
    [ "$task" = lm ] && acc_label="next-byte accuracy on the validation text (%)"
    local bayes
    bayes=$(awk -F, -v task="$task" '$1 == task && $15 != "" { print $15 * 100; exit }' "$OUT/by_variant.csv")

    gp <<EOF
$(term 1100 460)
set output "$FIG/study-$task-loss.png.tmp"
set multiplot layout 1,2 title "$(task_title "$task"): after training, mean ± sd over seeds"
set grid
set xlabel "p"
set xrange [1.1:2.65]
set key top left opaque box samplen 2 font ",9"
set offsets 0, 0, graph 0.4, graph 0.05  # headroom above the data for the key
set ylabel "validation loss (nats)"
plot "$d-unit.dat" using 1:2:3 with yerrorlines lw 2 pt 7 lc 1 title "p-LaT, self unit", \
     "$d-exclude.dat" using (\$1 + 0.02):2:3 with yerrorlines lw 2 pt 5 lc 2 title "p-LaT, self exclude", \
     "$d-learnp.dat" using 1:3:2:4 with xyerrorbars pt 9 ps 1.5 lc 3 title "p learned (x: mean learned p)", \
     $sm_loss with lines lw 2 lc rgb "black" title "softmax (dotted: ± sd)", \
     $sm_loss - $sm_loss_sd with lines dt 3 lc rgb "black" notitle, \
     $sm_loss + $sm_loss_sd with lines dt 3 lc rgb "black" notitle
set ylabel "$acc_label"
plot "$d-unit.dat" using 1:4:5 with yerrorlines lw 2 pt 7 lc 1 title "p-LaT, self unit", \
     "$d-exclude.dat" using (\$1 + 0.02):4:5 with yerrorlines lw 2 pt 5 lc 2 title "p-LaT, self exclude", \
     "$d-learnp.dat" using 1:5:2:6 with xyerrorbars pt 9 ps 1.5 lc 3 title "p learned", \
     $sm_acc with lines lw 2 lc rgb "black" title "softmax"$( [ -n "$bayes" ] && echo ", $bayes with lines dt 2 lw 2 lc rgb \"dark-green\" title \"Bayes-optimal (same batches)\"" )
unset multiplot
set output
EOF
    mv "$FIG/study-$task-loss.png.tmp" "$FIG/study-$task-loss.png"

    gp <<EOF
$(term 800 480)
set output "$FIG/study-$task-nn-mass.png.tmp"
set title "$(task_title "$task"): attention on the 4 nearest keys in value space"
set grid
set xlabel "p"
set ylabel "attention mass on the 4 nearest neighbours, mean over layers"
set xrange [1.1:2.65]
set key top right
plot "$d-unit.dat" using 1:6:7 with yerrorlines lw 2 pt 7 lc 1 title "p-LaT, self unit", \
     "$d-exclude.dat" using (\$1 + 0.02):6:7 with yerrorlines lw 2 pt 5 lc 2 title "p-LaT, self exclude", \
     "$d-learnp.dat" using 1:7:2:8 with xyerrorbars pt 9 ps 1.5 lc 3 title "p learned (x: mean learned p)", \
     $sm_nn with lines lw 2 lc rgb "black" title "softmax", \
     $sm_uni with lines dt 2 lc rgb "gray30" title "uniform attention over the allowed keys", \
     "$d-exclude.dat" using 1:8 with lines dt 3 lc 2 title "the same without the self term (exclude)"
set output
EOF
    mv "$FIG/study-$task-nn-mass.png.tmp" "$FIG/study-$task-nn-mass.png"

    # Cosine per layer, one file per variant: layer mean sd
    local v files_unit="" files_excl=""
    for v in $(study_variants); do
        awk -F, -v task="$task" -v v="$v" '$1 == task && $2 == v { print $3, $10, $11 + 0 }' "$OUT/by_layer.csv" > "$d-cos-$v.dat"
        [ -s "$d-cos-$v.dat" ] || continue
        case $v in *-exclude) files_excl="$files_excl $v" ;; softmax) ;; *) files_unit="$files_unit $v" ;; esac
    done
    gp <<EOF
$(term 1200 440)
set output "$FIG/study-$task-cosine.png.tmp"
set multiplot layout 1,2 title "$(task_title "$task"): mean pairwise cosine similarity of the tokens after each layer (0 = embedding)"
set grid
set xlabel "layer"
set ylabel "mean cosine similarity"
set key outside right top samplen 2 font ",9"
set xtics 1
set title "self term unit (and learned p)"
plot "$d-cos-softmax.dat" using 1:2:3 with yerrorlines lw 3 lc rgb "black" title "softmax"$(
    [ -z "$files_unit" ] || echo ", for [v in \"$files_unit\"] \"$d-cos-\".v.\".dat\" using 1:2 with linespoints lw 2 title v")
set title "self term exclude"
plot "$d-cos-softmax.dat" using 1:2:3 with yerrorlines lw 3 lc rgb "black" title "softmax"$(
    [ -z "$files_excl" ] || echo ", for [v in \"$files_excl\"] \"$d-cos-\".v.\".dat\" using 1:2 with linespoints lw 2 title v")
unset multiplot
set output
EOF
    mv "$FIG/study-$task-cosine.png.tmp" "$FIG/study-$task-cosine.png"
    plots=$((plots + 3))
}

# Attention maps of seed 0's softmax and p = 1.5 (unit) models on one input: head 0 of every layer,
# one row per model, token labels on both axes, one colour scale (log10 of the weight) for every
# panel with its colour bar (plat attention writes every layer and head; the others stay in the
# report directory).
attention_maps() {  # TASK
    local task=$1 input=() what labels
    case $task in
        lm)
            # Revelation 21:1, from the held-out validation text, cropped to the context (64 bytes).
            input=(--text "And I saw a new heaven and a new earth: for the first heaven and")
            what="'And I saw a new heaven and a new earth: for the first heaven and' (Revelation 21:1, held-out text)"
            ;;
        vit)
            input=(--index 0)
            what="test image 0 (an ankle boot); token c is the class token, then the 16 patches row by row"
            ;;
        synthetic)
            # The row of notes/06a-data.md, section 9: 48 tokens of the cluster task.
            input=(--text 'AZKO[RR`_KRQD^JZMUB`I`KPHFNNV`FTZOEFPV[K[LL\BUUW')
            what="the 48-token cluster-task sequence of notes/06a-data.md, section 9"
            ;;
    esac
    # The weights of head 0 in each layer, seed 0, for softmax and p = 1.5 (unit), are kept with the
    # committed results (STUDY_RESULTS/attention/TASK-VARIANT/layerL.txt, `plat attention --weights`),
    # so that the figure is redrawn without the checkpoints; written again whenever the runs exist.
    local v dir store layers l f T
    for v in softmax p1.5-unit; do
        dir=$STUDY_ROOT/$task/$v/s0 store=$STUDY_RESULTS/attention/$task-$v
        [ -f "$dir/last.safetensors" ] || continue
        rm -rf "$OUT/attention/$task-$v" && mkdir -p "$OUT/attention/$task-$v" "$store"
        "$PLAT" attention --checkpoint "$dir/last.safetensors" "${input[@]}" --weights --size 64 \
            --out "$OUT/attention/$task-$v" > "$OUT/attention-$task-$v.log"
        for f in "$OUT/attention/$task-$v"/layer*_head0.txt; do
            l=${f##*/layer}; l=${l%%_*}
            cp "$f" "$store/layer$l.txt"
        done
    done
    for v in softmax p1.5-unit; do
        [ -f "$STUDY_RESULTS/attention/$task-$v/layer0.txt" ] ||
            { echo "report: no attention weights for $task $v in $STUDY_RESULTS/attention (run the study); that figure is skipped"; return 0; }
    done
    layers=$(ls "$STUDY_RESULTS/attention/$task-softmax"/layer*.txt | wc -l)
    T=$(wc -l < "$STUDY_RESULTS/attention/$task-softmax/layer0.txt")
    # Token labels on both axes: the input's characters (a space drawn as _), or c and the patch numbers;
    # gnuplot's single-quoted strings, where only a quote needs doubling.
    if [ "$task" = vit ]; then
        labels=$(awk 'BEGIN { s = "'"'c'"' 0"; for (i = 1; i <= 16; i++) s = s sprintf(", '"'%d'"' %d", i - 1, i); print s }')
    else
        labels=$(printf '%s' "${input[1]}" | head -c "$T" | awk -v q="'" 'BEGIN { RS = "^$" } { s = ""
            for (i = 1; i <= length($0); i++) { c = substr($0, i, 1); if (c == " ") c = "_"; if (c == q) c = q q
                s = s (i > 1 ? ", " : "") q c q " " (i - 1) } print s }')
    fi
    gp <<EOF
$(term $((layers * 420 + 140)) 920)
set output "$FIG/study-$task-attention.png.tmp"
set multiplot layout 2,$layers margins 0.04, 0.92, 0.04, 0.86 spacing 0.04, 0.08 title "$(task_title "$task"): attention weights of head 0 in each layer, seed 0\ninput: $what\nrow i = query token, column j = key token; one colour scale for every panel (log10 of the weight)" font ",12"
set xtics ($labels) scale 0 font ",6" offset 0, 0.4
set ytics ($labels) scale 0 font ",6"
set size ratio -1
set xrange [-0.5:$T - 0.5]; set yrange [$T - 0.5:-0.5]
set logscale cb; set cbrange [1e-3:1]; set format cb "%g"
set palette defined (0 "#ffffff", 0.35 "#fee391", 0.7 "#ec7014", 1 "#662506")
set colorbox user origin screen 0.94, 0.15 size screen 0.012, 0.6
unset key
$(for v in softmax p1.5-unit; do for ((l = 0; l < layers; l++)); do
    name="softmax"; [ "$v" = softmax ] || name="p-LaT p = 1.5, unit"
    echo "set title \"$name, layer $((l + 1))\" font \",10\""
    echo "plot \"$STUDY_RESULTS/attention/$task-$v/layer$l.txt\" matrix using 1:2:(\$3 > 0 ? \$3 : 1e-3) with image"
done; done)
unset multiplot
set output
EOF
    mv "$FIG/study-$task-attention.png.tmp" "$FIG/study-$task-attention.png"
    plots=$((plots + 1))
}

if command -v gnuplot > /dev/null 2>&1; then
    for task in $tasks_present; do
        plot_task "$task"
        attention_maps "$task"
    done
    echo "report: $plots plots in $FIG/study-*.png"
else
    echo "report: gnuplot is not installed (sudo apt-get install gnuplot-nox): the plots are skipped, the tables are made"
fi

# ---- 4. the blocks of the notes ------------------------------------------------------------------

if [ ! -f "$NOTES" ]; then
    echo "report: $NOTES is missing; the tables are in $OUT/*.md only" >&2
fi
blocks=(status)
status_block > "$OUT/block-status.md"
for task in $STUDY_ALL_TASKS; do
    blocks+=("$task-table" "$task-paired" "$task-probe")
    if [[ " $tasks_present " == *" $task "* ]]; then
        results_table "$task" > "$OUT/block-$task-table.md"
        paired_table "$task" > "$OUT/block-$task-paired.md"
        probe_table "$task" > "$OUT/block-$task-probe.md"
    else
        echo "(no run of this task has finished yet: \`STUDY_TASKS=$task make experiments\`)" > "$OUT/block-$task-table.md"
        echo "(no run of this task has finished yet)" > "$OUT/block-$task-paired.md"
        echo "(no run of this task has finished yet)" > "$OUT/block-$task-probe.md"
    fi
done
blocks+=(learned-p nn-summary)
learned_p_table > "$OUT/block-learned-p.md"
nn_summary_table > "$OUT/block-nn-summary.md"

if [ -f "$NOTES" ]; then
    for name in "${blocks[@]}"; do
        bash "$(dirname "$0")/../note_block.sh" "$NOTES" "study:$name" "$OUT/block-$name.md"
    done
    echo "report: ${#blocks[@]} blocks of $NOTES regenerated"
fi
