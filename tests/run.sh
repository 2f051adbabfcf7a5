#!/bin/sh
# tests/run.sh BUILD: run both doctest programs and close with one summary line
# ("tests: N passed, M failed") that adds up their test cases. Exits non-zero on any failure.
build=${1:-build}
# Idle OpenMP threads sleep instead of spinning. The tests measure no speed, and on a busy 2-core
# machine spinning threads that wait for a descheduled peer made small suites many times slower
# (notes/07-performance.md, "Measured history of the changes").
# (libgomp reads this when the program starts, so it must be set here, not by the program.)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
status=0
passed=0
failed=0
for prog in "$build/tests_f32" "$build/tests_f64"; do
    echo "== $prog"
    log=$(mktemp)
    "$prog" 2>&1 | tee "$log"
    rc=$(tail -n 1 "$log" | grep -q "Status: SUCCESS" && echo 0 || echo 1)
    [ "$rc" = 0 ] || status=1
    # doctest's summary: "[doctest] test cases: 12 | 12 passed | 0 failed | 0 skipped"
    line=$(grep "test cases:" "$log" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.*| *\([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.*| *\([0-9]*\) failed.*/\1/p')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-1}))
    rm -f "$log"
done
# The house's checks, one test each: the notes' citations (the checker's self-test first), the
# size budget and the paired statistics of the experiments (tests/check_notes.sh,
# tests/size_budget.sh, tests/paired_stats.sh).
for check in "tests/check_notes.sh --self-test" tests/check_notes.sh tests/size_budget.sh tests/paired_stats.sh; do
    echo "== $check"
    if bash $check; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
done
# The debugger test: gdb prints a Shape, Tensors and Vars through experiments/debug/plat.gdb's
# pretty-printers (tests/gdb/run.sh); exit code 77 means gdb is not installed: skipped, not counted.
echo "== tests/gdb/run.sh"
sh tests/gdb/run.sh "$build"
case $? in 0) passed=$((passed + 1)) ;; 77) ;; *) failed=$((failed + 1)); status=1 ;; esac
echo "tests: $passed passed, $failed failed"
exit $status
