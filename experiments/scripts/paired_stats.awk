# experiments/scripts/paired_stats.awk: paired comparisons of runs that share a seed, as a markdown
# table (notes/06c-what-p-lat-changes.md, "Reading a paired interval").
#   awk -F, -v value=val_loss -v baseline=softmax [-v pairs=a:b,c:d] [-v digits=4] -f paired_stats.awk runs.csv
# runs.csv has a header naming its columns; `variant` and `seed` must be among them. Two runs with the
# same seed start from the same weights and see the same batches, so the per-seed difference
# d_s = value(variant, s) - value(baseline, s) removes most of the seed-to-seed noise.
# For each comparison (every variant against `baseline`, or the "variant:baseline" list `pairs`):
# the differences per seed, their mean, and the 95% t interval mean +- t(0.975, n - 1) * sd / sqrt(n)
# over the n seeds both runs have. The verdict says "no difference detected" when the interval
# covers 0; "lower" or "higher" only when it excludes 0. Each interval is 95% on its own: with k
# comparisons in one table, about k / 20 of them exclude 0 by chance when nothing differs, so the
# last line states k. Fewer than 2 paired seeds: the row says so and gives no interval.
BEGIN {
    FS = ","
    if (value == "") value = "val_loss"
    if (digits == "") digits = 4
    # t(0.975, df), df = 1..10 (standard tables); beyond 10 seeds we use df = 10, slightly wider.
    split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228", T, " ")
}
NR == 1 {
    for (i = 1; i <= NF; i++) col[$i] = i
    if (!("variant" in col) || !("seed" in col) || !(value in col)) {
        printf "paired_stats: the header of %s lacks variant, seed or %s\n", FILENAME, value > "/dev/stderr"
        bad = 1
        exit 2
    }
    next
}
{
    v = $col["variant"]; s = $col["seed"]; x = $col[value]
    if (x == "" || tolower(x) ~ /nan/) next
    if (!(v in seen)) { seen[v] = 1; order[++nvar] = v }
    if (!((v, s) in val)) { val[v, s] = x + 0 }
    if (!(s in seedseen)) { seedseen[s] = 1; seeds[++nseed] = s }
}
END {
    if (bad) exit 2
    # The comparisons: the list given, or every variant against the baseline.
    k = 0
    if (pairs != "") {
        m = split(pairs, P, ",")
        for (i = 1; i <= m; i++) { split(P[i], ab, ":"); A[++k] = ab[1]; B[k] = ab[2] }
    } else {
        if (baseline == "") { print "paired_stats: give -v baseline=VARIANT or -v pairs=a:b,..." > "/dev/stderr"; exit 2 }
        for (i = 1; i <= nvar; i++) if (order[i] != baseline) { A[++k] = order[i]; B[k] = baseline }
    }
    f = "%+." digits "f"
    printf "| %s | against | seeds | per-seed difference | mean | 95%% interval | verdict |\n", "variant"
    printf "|---|---|---|---|---|---|---|\n"
    for (c = 1; c <= k; c++) {
        n = 0; sum = 0; list = ""
        for (j = 1; j <= nseed; j++) {
            s = seeds[j]
            if (((A[c], s) in val) && ((B[c], s) in val)) {
                d[++n] = val[A[c], s] - val[B[c], s]
                sum += d[n]
                list = list (list == "" ? "" : ", ") sprintf(f, d[n])
            }
        }
        if (n < 2) {
            printf "| %s | %s | %d | %s | %s | (needs 2 paired seeds) | not measured |\n", A[c], B[c], n,
                   (n ? list : "-"), (n ? sprintf(f, sum / n) : "-")
            continue
        }
        mean = sum / n
        sq = 0
        for (j = 1; j <= n; j++) sq += (d[j] - mean) ^ 2
        sd = sqrt(sq / (n - 1))
        half = T[n - 1 > 10 ? 10 : n - 1] * sd / sqrt(n)
        lo = mean - half; hi = mean + half
        verdict = (lo <= 0 && hi >= 0) ? "no difference detected" : (hi < 0 ? "lower" : "higher")
        printf "| %s | %s | %d | %s | " f " | [" f ", " f "] | %s |\n", A[c], B[c], n, list, mean, lo, hi, verdict
    }
    printf "\n%s: %d comparison%s in this table, each a 95%% interval on its own (about 1 in 20 excludes 0 by chance).\n", value, k, (k == 1 ? "" : "s")
}
