#!/usr/bin/env bash
# tests/paired_stats.sh: experiments/scripts/paired_stats.awk on a small table whose intervals were
# worked out by hand (bash and awk only, well under a second). Baseline softmax: 2.00, 2.10, 1.90
# for seeds 0, 1, 2. Variant a differs by -0.05, -0.06, -0.04: mean -0.05, sd 0.01, half-width
# t(0.975, 2) * sd / sqrt(3) = 4.303 * 0.01 / 1.7320508 = 0.024844, so [-0.0748, -0.0252]: lower.
# Variant b: -0.02, -0.03, -0.01, the same spread around -0.02: [-0.0448, +0.0048] covers 0.
# Variant c, two seeds: +0.10, +0.20, mean 0.15, sd 0.0707107, 12.706 * 0.0707107 / sqrt(2) = 0.6353.
# Variant d: +0.10, +0.11, +0.09: [+0.0752, +0.1248], higher. Variant e has one seed: no interval.
set -u
awk=${AWK:-awk}
here=$(cd "$(dirname "$0")" && pwd)
out=$(cat <<'CSV' | $awk -F, -v value=val_loss -v baseline=softmax -f "$here/../experiments/scripts/paired_stats.awk"
variant,seed,val_loss
softmax,0,2.00
softmax,1,2.10
softmax,2,1.90
a,0,1.95
a,1,2.04
a,2,1.86
b,0,1.98
b,1,2.07
b,2,1.89
c,0,2.10
c,1,2.30
d,0,2.10
d,1,2.21
d,2,1.99
e,2,1.80
CSV
)
fail=0
expect() {
    if ! grep -qF -- "$1" <<< "$out"; then echo "paired_stats test: expected the line part '$1'"; fail=1; fi
}
expect "| a | softmax | 3 | -0.0500, -0.0600, -0.0400 | -0.0500 | [-0.0748, -0.0252] | lower |"
expect "| b | softmax | 3 | -0.0200, -0.0300, -0.0100 | -0.0200 | [-0.0448, +0.0048] | no difference detected |"
expect "| c | softmax | 2 | +0.1000, +0.2000 | +0.1500 | [-0.4853, +0.7853] | no difference detected |"
expect "| d | softmax | 3 | +0.1000, +0.1100, +0.0900 | +0.1000 | [+0.0752, +0.1248] | higher |"
expect "| e | softmax | 1 | -0.1000 | -0.1000 | (needs 2 paired seeds) | not measured |"
expect "val_loss: 5 comparisons in this table"
# An explicit list of pairs: a against b (-0.03, -0.03, -0.03: sd 0, the interval is the point).
out=$(printf 'variant,seed,val_loss\na,0,1\na,1,2\nb,0,1.5\nb,1,2.5\n' |
      $awk -F, -v pairs=a:b -f "$here/../experiments/scripts/paired_stats.awk")
expect "| a | b | 2 | -0.5000, -0.5000 | -0.5000 | [-0.5000, -0.5000] | lower |"
expect "val_loss: 1 comparison in this table"
# A header without the column asked for, or no baseline: an error, non-zero exit.
if printf 'variant,seed,val_loss\na,0,1\n' | $awk -F, -f "$here/../experiments/scripts/paired_stats.awk" 2>/dev/null; then
    echo "paired_stats test: no baseline must fail"; fail=1
fi
if printf 'variant,seed,x\n' | $awk -F, -v value=val_loss -f "$here/../experiments/scripts/paired_stats.awk" 2>/dev/null; then
    echo "paired_stats test: a missing column must fail"; fail=1
fi
[ "$fail" = 0 ] && echo "paired_stats test: passed"
exit $fail
