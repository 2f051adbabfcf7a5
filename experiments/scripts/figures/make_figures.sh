#!/bin/sh
# experiments/scripts/figures/make_figures.sh PLAT_BINARY: regenerates the figures of notes/00-05
# into notes/figures/ (run by `make figures`; needs gnuplot and Graphviz's dot, from Debian's
# gnuplot-nox and graphviz, and /usr/bin/python3 for reading plat's safetensors output):
#   plap-weight.png        the weight (r + eps)^((p-2)/2) against r         plap_weight.gp
#   attention-masks.png    the causal mask and the two self terms            attention_masks.gp
#   plap-graph.png         p-LaT's computation graph, drawn by hand          plap_graph.dot
#   qkv-layout.png         qkv [B, T, 3C] in memory                          qkv_layout.sh
#   graph-mlp.png          the graph plat records for plat mlp-demo          plat graph --model mlp
#   graph-lm-tiny.png      ... and for a tiny lm (1 layer, 2 heads, C 8)     plat graph --model lm
#   attention-maps-p.png   attention of three trained lm at p = 1.25, 2, 2.5 attention_maps.py/.gp
# The three models (C 64, L 2, H 2, context 32, 400 steps, a few minutes together) are trained
# into runs/figures/ the first time and reused after; FIGURES_RETRAIN=1 trains them again.
set -eu
PLAT=${1:-build/plat}
here=$(dirname "$0")
out=notes/figures
runs=runs/figures
die() { echo "make_figures: error: $*" >&2; exit 1; }
[ -x "$PLAT" ] || die "$PLAT is missing; build it with make (or give the plat binary as the argument)"
command -v gnuplot >/dev/null || die "gnuplot is missing; install it with: apt-get install gnuplot-nox"
command -v dot >/dev/null || die "Graphviz's dot is missing; install it with: apt-get install graphviz"
mkdir -p "$out" "$runs"

echo "make_figures: drawings"
gnuplot -e "out='$out/plap-weight.png'" "$here/plap_weight.gp"
gnuplot -e "out='$out/attention-masks.png'" "$here/attention_masks.gp"
dot -Tpng "$here/plap_graph.dot" -o "$out/plap-graph.png"
sh "$here/qkv_layout.sh" "$out/qkv-layout.png"

echo "make_figures: graphs recorded by plat graph"
# plat graph writes FILE.dot and, beside it, FILE.svg and FILE.png.
"$PLAT" graph --model mlp --out "$runs/graph-mlp.dot"
"$PLAT" graph --model lm --dim 8 --layers 1 --heads 2 --context 4 --attn plap --p 1.5 --out "$runs/graph-lm-tiny.dot"
cp "$runs/graph-mlp.png" "$out/graph-mlp.png"
cp "$runs/graph-lm-tiny.png" "$out/graph-lm-tiny.png"

echo "make_figures: attention maps at p = 1.25, 2, 2.5"
# Training on the KJV (make data); the sentence is the first 32 bytes of Genesis 1:1, one more
# byte for plat inspect's target.
DATA=${PLAT_DATA_DIR:-data}
[ -s "$DATA/kjv.txt" ] || die "$DATA/kjv.txt is missing; run make data first"
text="In the beginning God created the"
printf '%s ' "$text" > "$runs/sentence.txt"
plist="1.25 2 2.5"
files=""
for p in $plist; do
    run="$runs/lm-p$p"
    # Trained again when asked, or when the run did not reach its last step (interrupted).
    if [ "${FIGURES_RETRAIN:-0}" = 1 ] || ! grep -q "^400," "$run/metrics.csv" 2>/dev/null; then
        rm -rf "$run"
        # One thread, idle threads sleeping: on a busy machine, threads spinning while they wait
        # for a descheduled peer waste most of the time (tests/run.sh says the same).
        PLAT_THREADS=1 OMP_WAIT_POLICY=PASSIVE nice "$PLAT" train lm --dim 64 --layers 2 --heads 2 --context 32 --attn plap --p "$p" --self exclude --seed 0 \
            --steps 400 --batch 32 --lr 3e-3 --min-lr 3e-4 --warmup 20 --eval-every 400 --eval-batches 10 \
            --log-every 100 --data "$DATA" --run "$run"
    fi
    "$PLAT" inspect --checkpoint "$run/last.safetensors" --batch 1 --text "$runs/sentence.txt" \
        --out "$runs/inspect-p$p.safetensors" >/dev/null
    files="$files $runs/inspect-p$p.safetensors"
done
mkdir -p "$runs/maps"
/usr/bin/python3 "$here/attention_maps.py" "$runs/maps" $files
gnuplot -e "out='$out/attention-maps-p.png'; dir='$runs/maps'; text='$text'; layers=2; heads=2; plist='$plist'" \
    "$here/attention_maps.gp"

echo "make_figures: wrote $out/{plap-weight,attention-masks,plap-graph,qkv-layout,graph-mlp,graph-lm-tiny,attention-maps-p}.png"
