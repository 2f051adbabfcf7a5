# experiments/scripts/study/stats.awk: mean, sample standard deviation and count per group of a CSV's
# rows, for the study's tables (experiments/scripts/study/report.sh).
#   awk -v keys=1,2 -v values=5,7 [-v header=1] -f stats.awk file.csv
# groups the rows by the key columns (in the order the groups first appear) and prints, per group,
# the keys and then for each value column: mean, standard deviation, count. The standard deviation
# is the sample one (divided by n - 1; empty when n = 1); empty or "nan" fields are left out of
# the count. Two passes over the stored values (no sum-of-squares cancellation).
BEGIN {
    FS = OFS = ","
    nk = split(keys, K, ",")
    nv = split(values, V, ",")
}
NR == 1 && header { next }
{
    key = $K[1]
    for (i = 2; i <= nk; i++) key = key OFS $K[i]
    if (!(key in seen)) {
        seen[key] = 1
        order[++groups] = key
    }
    for (i = 1; i <= nv; i++) {
        x = $V[i]
        if (x == "" || tolower(x) ~ /nan/) continue
        c = ++n[key, i]
        value[key, i, c] = x + 0
    }
}
END {
    for (g = 1; g <= groups; g++) {
        key = order[g]
        line = key
        for (i = 1; i <= nv; i++) {
            c = n[key, i] + 0
            if (c == 0) {
                line = line OFS "" OFS "" OFS 0
                continue
            }
            sum = 0
            for (j = 1; j <= c; j++) sum += value[key, i, j]
            mean = sum / c
            sq = 0
            for (j = 1; j <= c; j++) sq += (value[key, i, j] - mean) ^ 2
            sd = c > 1 ? sprintf("%.6g", sqrt(sq / (c - 1))) : ""
            line = line OFS sprintf("%.6g", mean) OFS sd OFS c
        }
        print line
    }
}
