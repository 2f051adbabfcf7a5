// tests/gdb/print_values.cpp: the program tests/gdb/run.sh stops in with gdb to check the
// pretty-printers of experiments/debug/plat.gdb. Values are small integers, so the expected
// text is known by hand: w = [[1, 2, 3], [4, 5, 6]], y = sum(w * w) = 91, dy/dw = 2 w.
#include "autograd/ops.h"

using namespace plat;

// A function of its own, so gdb can stop at `break stop_here` and look at the caller's frame.
void __attribute__((noinline)) stop_here() { asm volatile(""); }

int main() {
    Shape shape{2, 3};
    Tensor t = Tensor::from_data(shape, {1, 2, 3, 4, 5, 6});
    Tensor big = Tensor::zeros(Shape{4, 5});  // 20 values: only the first 8 are shown
    Tensor none;                               // empty
    Var w(t, true);
    Var y = sum_all(mul(w, w));
    Var undefined;
    y.backward();
    stop_here();
    return int(y.item()) == 91 ? 0 : 1;
}
