// autograd/gradcheck.h: compare an operation's backward with central finite differences
// (notes/02-autograd.md, "Gradient checking"). Meaningful only in the double build
// (PLAT_REAL=double): in float, the finite-difference quotient loses about half the digits
// to rounding and no tolerance separates a right gradient from a slightly wrong one.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace plat {

struct GradCheckOptions {
    double step = 1e-6;   // central difference step h; error O(h^2) + O(ulp/h) ~ 1e-10 in double
    double atol = 1e-7;   // pass when |analytic - numeric| <= atol + rtol * |numeric|
    double rtol = 1e-5;
    // Inputs with more elements than this are checked along random directions instead of
    // element by element: d/dt f(x + t u) = <grad f, u> for a few random unit-free u.
    int64_t max_elements = 2048;
    int directions = 8;
    uint64_t seed = 1234;
    std::vector<bool> check_input;  // empty: check every input; else one flag per input
};

struct GradCheckResult {
    bool passed = true;
    double worst_abs = 0, worst_rel = 0;  // over every checked element or direction
    std::string message;                  // names the first failing input and element
};

// f maps the inputs to a Var of any shape. A non-scalar result is reduced to the scalar
// sum(out * w) with a fixed random w, so every output element's gradient is exercised.
GradCheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f,
                          const std::vector<Tensor>& inputs, const GradCheckOptions& options = {});

}  // namespace plat
