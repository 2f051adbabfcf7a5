#!/bin/bash
# tests/fuzz/run.sh [SECONDS]: build plat's four libFuzzer targets (the safetensors, idx and config
# readers, and the command line) with clang, AddressSanitizer and UBSan into build-fuzz/, then run
# each for SECONDS (default 120) from its committed seed corpus (notes/08-data-safety.md,
# "Fuzzing"). Exits non-zero when a target finds a crash, a
# sanitizer report, a leak, a hang, an allocation over the limits or a broken invariant; the
# input is saved as build-fuzz/crashes/<target>/crash-<sha1> (reproduce: build-fuzz/fuzz_<target> FILE).
#   bash tests/fuzz/run.sh 60            every target, 60 s each
#   bash tests/fuzz/run.sh 60 config     one target
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-120}
shift || true
targets=${*:-safetensors idx config cli}
CXX=${FUZZ_CXX:-clang++}
OUT=build-fuzz
BLAS_INC=/usr/include/x86_64-linux-gnu/openblas-openmp
BLAS_LIB=/usr/lib/x86_64-linux-gnu/openblas-openmp

# The library in float (-DPLAT_REAL=float), instrumented for coverage (fuzzer-no-link) and checked by
# ASan and UBSan; a UBSan report aborts (-fno-sanitize-recover) so that libFuzzer records it.
# No -fopenmp: the parsers have no parallel loops, the pragmas elsewhere are ignored, and one
# thread keeps runs reproducible. libgomp is still linked: core/threads.cpp calls omp_* and
# OpenBLAS (the Makefile's OpenMP build) needs it.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CXXFLAGS="-std=c++17 -O1 -g $SAN -DPLAT_REAL=float -I. -I$BLAS_INC"
WARN="-Wall -Wextra -Wno-unused-parameter"  # for the targets; the library's warnings are the Makefile build's business
LDLIBS="-L$BLAS_LIB -Wl,-rpath,$BLAS_LIB -lopenblas -lgomp -lfmt -lm"
# Only what the three file parsers link against: core/, datasets/idx.cpp and files.cpp, nn/config.cpp,
# and nn/attention.cpp (config reads and names the self term: parse_self_term, self_term_name)
# with autograd/ under it.
LIB_SRC="$(ls core/*.cpp) autograd/ops.cpp autograd/profile.cpp autograd/var.cpp datasets/idx.cpp datasets/files.cpp nn/config.cpp nn/attention.cpp"
# The command line's target registers every command, so it links the whole library and all of
# experiments/ but main.cpp (as the Makefile's tests_f32 does).
CLI_SRC="$(ls core/*.cpp autograd/*.cpp nn/*.cpp datasets/*.cpp) $(ls experiments/training/*.cpp experiments/bench/*.cpp experiments/cli/*.cpp | grep -v '^experiments/cli/main.cpp$')"

# Recompiles `src` into `obj` unless obj is newer than the source and every header it includes
# (the compiler's -MMD list in obj.d).
compile() {
    local src=$1 obj=$2 flags=$3
    if [ -f "$obj" ] && [ -f "$obj.d" ]; then
        local stale=0 dep
        for dep in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$obj.d"); do
            [ "$dep" -nt "$obj" ] && { stale=1; break; }
        done
        [ $stale = 0 ] && return 0
    fi
    mkdir -p "$(dirname "$obj")"
    echo "  $CXX $src"
    $CXX $CXXFLAGS $flags -MMD -MF "$obj.d" -c "$src" -o "$obj"
}

echo "== building the fuzz targets into $OUT/"
for t in $targets; do
    srcs=$LIB_SRC
    [ "$t" = cli ] && srcs=$CLI_SRC
    objs=""
    for src in $srcs; do
        compile "$src" "$OUT/obj/${src%.cpp}.o" "-fsanitize=fuzzer-no-link"
        objs="$objs $OUT/obj/${src%.cpp}.o"
    done
    compile "tests/fuzz/fuzz_$t.cpp" "$OUT/obj/fuzz_$t.o" "-fsanitize=fuzzer $WARN"
    $CXX $SAN -fsanitize=fuzzer "$OUT/obj/fuzz_$t.o" $objs -o "$OUT/fuzz_$t" $LDLIBS
done

# -rss_limit_mb: the whole process; -malloc_limit_mb: any single allocation. Inputs are at most
# -max_len bytes, so a parser that asks for hundreds of MB has trusted a size it read.
# -timeout: one input taking longer is a hang. -detect_leaks: on (ASan's LeakSanitizer).
status=0
for t in $targets; do
    work="$OUT/corpus/$t"     # grows as libFuzzer finds new coverage; the committed seeds stay as they are
    crashes="$OUT/crashes/$t"
    mkdir -p "$work" "$crashes"
    dict=""
    [ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
    echo "== fuzz_$t for ${seconds} s (log: $OUT/fuzz_$t.log)"
    set +e
    "$OUT/fuzz_$t" "$work" "tests/fuzz/corpus/$t" $dict \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -artifact_prefix="$crashes/" -print_final_stats=1 >"$OUT/fuzz_$t.log" 2>&1
    rc=$?
    set -e
    # libFuzzer's final statistics: stat::number_of_executed_units, stat::peak_rss_mb.
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$OUT/fuzz_$t.log")
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$OUT/fuzz_$t.log")
    cov=$(grep -o 'cov: [0-9]*' "$OUT/fuzz_$t.log" | tail -n 1)
    if [ $rc = 0 ]; then
        echo "   ok: ${runs:-?} executions, $cov, peak RSS ${rss:-?} MB, corpus $(ls "$work" | wc -l) inputs"
    else
        status=1
        echo "   FOUND A PROBLEM (exit $rc), ${runs:-?} executions; the report:"
        grep -E -m 20 '^(fuzz invariant|fuzz:)|ERROR|SUMMARY|terminate called|what\(\)|Test unit written|runtime error' \
            "$OUT/fuzz_$t.log" | sed 's/^/   /'
    fi
done
exit $status
