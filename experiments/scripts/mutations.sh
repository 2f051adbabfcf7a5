#!/bin/sh
# experiments/scripts/mutations.sh: do the attention tests catch a wrong backward? Plants one bug at a
# time in nn/attention.cpp's hand-written backward, rebuilds, runs the tests that guard it and
# prints a table: mutation -> test cases failed per test file (notes/04-p-laplacian-backward.md,
# "How it is checked"). Works on a copy of the committed tree (git archive HEAD) in a temporary
# folder, so the checkout is never touched. Eight builds: up to half an hour on 2 busy cores.
#   experiments/scripts/mutations.sh            # run from anywhere inside the repository
set -eu

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/plat-mutations.XXXXXX")
trap 'rm -rf "$work"' EXIT
git -C "$root" archive HEAD | tar -x -C "$work"
cd "$work"
cp nn/attention.cpp attention.orig

# name | sed expression; each must change exactly one line of nn/attention.cpp.
mutations='drop the query side of dv (the rowsum(M) u_i term)|s/+= rowsum \* u\[i \* D + c\] - mu/+= 0 * rowsum * u[i * D + c] - mu/
drop the key side of dv (the - M u term)|s/- mu\[i \* D1 + c\];/- 0 * mu[i * D1 + c];/
same sign on both sides (+ M u)|s/- mu\[i \* D1 + c\];/+ mu[i * D1 + c];/
near pairs without their key side (dv_j -= M_ij (v_i - v_j))|s/dvj\[c\] -= mdiff;//
0.495 for 0.5 in dp|s/double(gi\[j\]) \* 0\.5 \*/double(gi[j]) * 0.495 */
2.02 for 2 in M = 2 dr|s/mi\[j\] = 2 \* half_pm2 \* gi\[j\]/mi[j] = real(2.02) * half_pm2 * gi[j]/
dk 1.01 times too large|s/i1 - i0, scale, dz + i0 \* T, T, q/i1 - i0, scale * real(1.01), dz + i0 * T, T, q/
softmax backward without the row dot|s/gi\[j\] = ai\[j\] \* (gi\[j\] - dot);/gi[j] = ai[j] * gi[j];/'

# "k of n" test cases failed in one test file, from doctest's summary line.
failed() {
    line=$("$1" -sf="*$2*" -nv 2>&1 | grep 'test cases:' | tail -n 1)
    n=$(echo "$line" | sed 's/.*test cases: *\([0-9]*\).*/\1/')
    k=$(echo "$line" | sed 's/.*| *\([0-9]*\) failed.*/\1/')
    echo "$k of $n"
}

row() {
    if nice make -s BUILD=build build/tests_f32 build/tests_f64 >build.log 2>&1; then
        echo "| $1 | $(failed build/tests_f64 gradcheck_attention) | $(failed build/tests_f64 gradcheck_worked_example)" \
             "| $(failed build/tests_f32 test_attention) | $(failed build/tests_f32 test_reference) |"
    else
        echo "| $1 | build failed | | | |"
    fi
}

echo "| mutation of nn/attention.cpp | gradcheck_attention.cpp | gradcheck_worked_example.cpp | test_attention.cpp | test_reference.cpp |"
echo "| --- | --- | --- | --- | --- |"
row "none (the code as committed)"
echo "$mutations" | while IFS='|' read -r name expr; do
    sed "$expr" attention.orig >nn/attention.cpp
    if cmp -s attention.orig nn/attention.cpp; then
        echo "| $name | the sed expression matched nothing: update this script | | | |"
        continue
    fi
    row "$name"
done
cp attention.orig nn/attention.cpp
