#!/bin/sh
# tests/gdb/run.sh BUILD: the debugger test. Compiles tests/gdb/print_values.cpp with -O0 -g
# against BUILD/libplat.a, runs it under gdb in batch mode with the pretty-printers of
# experiments/debug/plat.gdb, and checks what `print` shows for a Shape, Tensors and Vars.
# Ends with "gdb: N passed, M failed" (its checks) and exits non-zero on a failure; tests/run.sh
# counts the whole as one test. Exits 77 (skipped) with a message only when gdb is not installed.
build=${1:-build}
if ! command -v gdb >/dev/null 2>&1; then
    echo "gdb test skipped: gdb is not installed (apt-get install gdb, or make deps)"
    exit 77
fi
# The link line of the Makefile's programs (BLAS_LIB there). A library built with the sanitizers
# (make test-debug) needs them at link time too.
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
san=""
nm "$build/libplat.a" 2>/dev/null | grep -q __asan_ && san="-fsanitize=address,undefined"
prog="$build/gdb_print_values"
passed=0
failed=0
if ! g++ -std=c++17 -O0 -g $san -fopenmp -I. tests/gdb/print_values.cpp "$build/libplat.a" -o "$prog" \
        -L$blas -Wl,-rpath,$blas -lopenblas -lfmt -lm; then
    echo "gdb: 0 passed, 1 failed (tests/gdb/print_values.cpp did not build)"
    exit 1
fi
out=$(ASAN_OPTIONS=detect_leaks=0 gdb -nx -batch -x experiments/debug/plat.gdb -x tests/gdb/commands.gdb "$prog" 2>&1)

# expect TEXT: one line of gdb's output must contain TEXT exactly.
expect() {
    if printf '%s\n' "$out" | grep -qF -- "$1"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "gdb test FAILED: no line contains: $1"
    fi
}
expect '= Shape[2, 3]'
expect '= Tensor[2, 3] 1 2 3 4 5 6'
expect '= Tensor[4, 5] 0 0 0 0 0 0 0 0 ... (20 values)'
expect '= Tensor(empty)'
# w: a leaf holding its gradient 2w after backward; y: sum_all's result, its gradient freed.
expect '= Var leaf (requires_grad) value=Tensor[2, 3] 1 2 3 4 5 6 grad=Tensor[2, 3] 2 4 6 8 10 12'
expect '= Var sum_all (requires_grad, 1 input) value=Tensor[1] 91 grad=none'
expect '= Var(undefined)'
expect '= Node leaf (requires_grad) value=Tensor[2, 3] 1 2 3 4 5 6'
if [ "$failed" != 0 ]; then
    echo "---- gdb's output:"
    printf '%s\n' "$out"
fi
echo "gdb: $passed passed, $failed failed"
[ "$failed" = 0 ]
