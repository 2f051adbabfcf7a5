#!/bin/sh
# experiments/scripts/figures/qkv_layout.sh OUT.png: notes/figures/qkv-layout.png, how attention
# reads qkv [B, T, 3C] (c_attn's output, one row per token): q, k, v side by side in each row,
# the heads inside each of them, and 3C between the same channel of consecutive tokens
# (notes/04, section 7). Drawn for C = 4, H = 2 heads of D = 2, three tokens of batch entry b.
# Writes the DOT text (a table of cells) and renders it with Graphviz's dot.
set -eu
out=${1:-qkv-layout.png}
C=4; H=2; D=2
colour() {  # part (0 q, 1 k, 2 v) and head -> a fill colour
    case "$1$2" in
        00) echo "#9ecae1" ;; 01) echo "#c6dbef" ;;
        10) echo "#a1d99b" ;; 11) echo "#c7e9c0" ;;
        20) echo "#fdae6b" ;; 21) echo "#fdd0a2" ;;
    esac
}
{
    echo 'digraph qkv {'
    echo '  node [shape=plaintext, fontname="Helvetica"];'
    echo '  layout [label=<<table border="0" cellborder="1" cellspacing="0" cellpadding="6">'
    # Header: the three parts, then the heads in each, then each channel's offset in the row.
    printf '<tr><td border="0"></td>'
    for part in q k v; do printf '<td colspan="%d" bgcolor="#eeeeee"><b>%s</b>  (row offset %s)</td>' $C $part \
        "$( [ $part = q ] && echo 0 || { [ $part = k ] && echo C || echo 2C; } )"; done
    echo '<td border="0"></td></tr>'
    printf '<tr><td border="0"></td>'
    for part in 0 1 2; do for h in 0 1; do printf '<td colspan="%d" bgcolor="%s">head %d</td>' $D "$(colour $part $h)" $h; done; done
    echo '<td border="0"></td></tr>'
    printf '<tr><td border="0" align="right"><i>offset in the row</i></td>'
    for c in $(seq 0 $((3 * C - 1))); do printf '<td border="0"><font point-size="10">%d</font></td>' $c; done
    echo '<td border="0"></td></tr>'
    for t in 0 1 2; do
        printf '<tr><td border="0" align="right">token t = %d,  starts at (b T + %d) 3C</td>' $t $t
        for part in 0 1 2; do for h in 0 1; do for c in 0 1; do
            name=$(echo q k v | cut -d' ' -f$((part + 1)))
            printf '<td bgcolor="%s">%s<sub>%d</sub>[%d]</td>' "$(colour $part $h)" $name $t $((h * D + c))
        done; done; done
        echo '<td border="0" align="left">  + 3C = 12 floats to the next token</td></tr>'
    done
    echo '</table>>];'
    echo '  labelloc=t; fontname="Helvetica"; label="qkv [B, T, 3C] in memory, C = 4, H = 2, D = C / H = 2 (one batch entry b, three tokens)";'
    echo '  xlabel=""; labeljust=c;'
    echo '  note [label="head h of token t:  q at (b T + t) 3C + h D + c,   k at that + C,   v at that + 2C   (c < D)\\nso one head'"'"'s q (or k, or v) for all T tokens is a [T, D] matrix whose rows are 3C apart:\\nthe leading dimension a gemm is given, so it reads the head in place, with no copy", fontsize=12];'
    echo '  layout -> note [style=invis];'
    echo '}'
} | dot -Tpng -o "$out"
