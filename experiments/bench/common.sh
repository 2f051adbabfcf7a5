# experiments/bench/common.sh: what compare.sh and scaling.sh share (sourced, not run): waiting for
# idle cores, and running a command under an OpenMP wait policy (notes/07-performance.md, section 8).
#   env: WAIT_QUIET=seconds: before each case, wait up to that long for the cores to be idle (90% idle
#        over 3 s in /proc/stat), so that other programs disturb the measurement less.
PY=/usr/bin/python3
WAIT_QUIET=${WAIT_QUIET:-0}
load() { cut -d' ' -f1 /proc/loadavg; }
# idle_fraction: the share of all cores' time spent idle over the next 3 seconds (/proc/stat).
idle_fraction() {
    a=$(head -n 1 /proc/stat)
    sleep 3
    b=$(head -n 1 /proc/stat)
    echo "$a
$b" | awk '{ t = 0; for (i = 2; i <= NF; i++) t += $i; idle[NR] = $5 + $6; total[NR] = t }
               END { printf "%.2f\n", (idle[2] - idle[1]) / (total[2] - total[1]) }'
}
# wait_idle: waits up to WAIT_QUIET seconds for the cores to be at least 90% idle.
wait_idle() {
    [ "$WAIT_QUIET" -gt 0 ] || return 0
    waited=0
    while [ "$waited" -lt "$WAIT_QUIET" ]; do
        f=$(idle_fraction)
        awk -v f="$f" 'BEGIN { exit !(f >= 0.9) }' && return 0
        sleep 2
        waited=$((waited + 5))
    done
    echo "   (still busy after waiting ${WAIT_QUIET}s: idle $f)"
}
# with_policy POLICY COMMAND...: runs COMMAND with OMP_WAIT_POLICY set, or unset for "unset".
with_policy() {
    p=$1
    shift
    if [ "$p" = unset ]; then env -u OMP_WAIT_POLICY "$@"; else env OMP_WAIT_POLICY="$p" "$@"; fi
}
# tag_plat POLICY: plat bench's JSON lines (stdin to stdout) with the wait policy they ran under
# (bench_torch.py records its own).
tag_plat() { sed "s/\"framework\":\"plat\"/\"framework\":\"plat\",\"omp_wait_policy\":\"$1\"/"; }
