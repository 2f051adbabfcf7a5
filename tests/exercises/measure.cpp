// tests/exercises/measure.cpp: one measurement per exercise of notes/exercises/, built only by the
// grader (tests/exercises/exercises.py) into the double build. Each prints "worst error: ..." for
// the learner and fails above its limit. The references are independent of the code under test:
// the definition written out in long double, central finite differences (autograd/gradcheck.h),
// or a closed form. The project's own tests judge each exercise too; these add the number.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels.h"
#include "core/random.h"
#include "nn/attention.h"
#include "nn/optim.h"

using namespace plat;

static_assert(sizeof(real) == sizeof(double), "tests/exercises/measure.cpp is built with -DPLAT_REAL=double");

namespace {

using Fn = std::function<Var(const std::vector<Var>&)>;

// Central differences in double are good to about 1e-8 on these sizes (tests/gradcheck_autograd.cpp
// works the error out); a wrong backward is off by far more. gradcheck's own test is
// |analytic - numeric| <= atol + rtol |numeric| with atol 1e-7, rtol 1e-5.
void report_gradcheck(const char* what, const Fn& f, const std::vector<Tensor>& inputs,
                      const GradCheckOptions& options = {}) {
    GradCheckResult r = gradcheck(f, inputs, options);
    std::printf("worst error: %.2e absolute, %.2e relative (%s; limit %.0e + %.0e |numeric|)\n", r.worst_abs,
                r.worst_rel, what, options.atol, options.rtol);
    CHECK_MESSAGE(r.passed, r.message);
}

void report(const char* what, double worst, double limit) {
    std::printf("worst error: %.2e (%s; limit %.0e)\n", worst, what, limit);
    CHECK(worst <= limit);
}

Tensor qkv_input(int64_t B, int64_t T, int64_t C, uint64_t seed) {
    Generator gen(seed);
    return Tensor::randn({B, T, 3 * C}, gen);
}

}  // namespace

TEST_CASE("exercise 01: softmax against the double-precision definition") {
    // Rows with large values (exp would overflow without the max subtracted), a large negative
    // offset (it would underflow to 0/0), a -inf entry (masked: weight exactly 0), one-element rows.
    Generator gen(11);
    double worst = 0;
    for (double offset : {0.0, 800.0, -800.0})
        for (int64_t C : {1, 3, 17}) {
            Tensor x = Tensor::randn({4, C}, gen, 0, 30);
            for (int64_t i = 0; i < x.numel(); i++) x[i] += real(offset);
            if (C > 1) x[1] = -INFINITY;
            Tensor y = softmax(x);
            for (int64_t n = 0; n < 4; n++) {
                long double m = -INFINITY, s = 0;
                for (int64_t j = 0; j < C; j++) m = std::fmax(m, (long double)x[n * C + j]);
                for (int64_t j = 0; j < C; j++) s += std::exp((long double)x[n * C + j] - m);
                for (int64_t j = 0; j < C; j++) {
                    double want = double(std::exp((long double)x[n * C + j] - m) / s);
                    double got = y[n * C + j];
                    worst = std::isfinite(got) ? std::fmax(worst, std::fabs(got - want)) : INFINITY;
                }
            }
        }
    report("softmax rows, up to |x| = 900, with a masked -inf entry", worst, 1e-13);
}

TEST_CASE("exercise 02: broadcasting gradients against finite differences") {
    Generator gen(12);
    // b is broadcast along a leading axis added by broadcasting and along an axis of size 1.
    Tensor a = Tensor::randn({2, 3, 4}, gen), b = Tensor::randn({3, 1}, gen);
    report_gradcheck("mul of [2, 3, 4] by [3, 1]", [](const std::vector<Var>& v) { return mul(v[0], v[1]); }, {a, b});
}

TEST_CASE("exercise 03: a deep chain and a wide diamond") {
    // x -> a_1 = 1.01 x -> ... -> a_n: dx = 1.01^n. Deep enough (20000) that a recursive walk of
    // the graph could overflow a small stack. Then the diamond: y = sum_k (c_k a) with a = 2x
    // shared, dy/dx = 2 sum_k c_k, which a node run before its gradient is complete gets wrong.
    Var x(Tensor::scalar(1), true);
    Var a = x;
    const int n = 20000;
    for (int i = 0; i < n; i++) a = mul_scalar(a, real(1.0001));
    a.backward();
    double chain_err = std::fabs(x.grad().item() - std::pow(1.0001, n)) / std::pow(1.0001, n);
    Var x2(Tensor::scalar(1), true);
    Var shared = mul_scalar(x2, 2);
    Var y = mul_scalar(shared, 1);
    for (int k = 2; k <= 10; k++) y = add(y, mul_scalar(shared, real(k)));
    y.backward();
    double diamond_err = std::fabs(x2.grad().item() - 2 * 55.0);
    report("relative error of the deep chain's gradient, absolute of the diamond's",
           std::fmax(chain_err, diamond_err), 1e-9);
}

TEST_CASE("exercise 04: matmul's gradients against finite differences") {
    Generator gen(14);
    Tensor a = Tensor::randn({2, 4, 3}, gen), b = Tensor::randn({5, 3}, gen);
    // batched a, shared 2-D b, transposed: a [2,4,3] times b^T [3,5]
    report_gradcheck("a [2, 4, 3] times b^T, b [5, 3] shared by the batch",
                     [](const std::vector<Var>& v) { return matmul(v[0], v[1], false, true); }, {a, b});
    Tensor c = Tensor::randn({3, 4}, gen), d = Tensor::randn({3, 2}, gen);
    report_gradcheck("c^T d, c [3, 4], d [3, 2]", [](const std::vector<Var>& v) { return matmul(v[0], v[1], true, false); },
                     {c, d});
}

TEST_CASE("exercise 05: layer norm's gradients against finite differences") {
    Generator gen(15);
    Tensor x = Tensor::randn({2, 3, 6}, gen), w = Tensor::randn({6}, gen), b = Tensor::randn({6}, gen);
    report_gradcheck("x [2, 3, 6], weight and bias [6]",
                     [](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2], real(1e-5)); }, {x, w, b});
}

TEST_CASE("exercise 06: GELU's gradient against finite differences") {
    Generator gen(16);
    Tensor x = Tensor::randn({40}, gen, 0, 3);  // the flat tails and the bend around 0
    report_gradcheck("x [40] ~ N(0, 9)", [](const std::vector<Var>& v) { return gelu(v[0]); }, {x});
}

TEST_CASE("exercise 07: cross-entropy's gradient against finite differences") {
    Generator gen(17);
    Tensor logits = Tensor::randn({2, 3, 5}, gen, 0, 2);
    std::vector<int64_t> targets = {0, 4, 2, 2, 1, 3};
    report_gradcheck("logits [2, 3, 5], 6 targets",
                     [targets](const std::vector<Var>& v) { return cross_entropy(v[0], targets); }, {logits});
}

TEST_CASE("exercise 08: AdamW against its closed form for a constant gradient") {
    // With a constant gradient g, m_t = (1 - b1^t) g and v_t = (1 - b2^t) g^2, so the bias-corrected
    // step is lr g / (|g| + eps) every step, and the decoupled decay multiplies w by (1 - lr wd):
    //   w_t = w_{t-1} (1 - lr wd) - lr g / (|g| + eps).
    const double lr = 0.01, wd = 0.5, eps = 1e-8, g = -0.3;
    Var w(Tensor::full(Shape{2, 2}, 2), true), bias(Tensor::full(Shape{2}, 2), true);
    AdamW opt({{"decay", {{"w", w}}, wd}, {"no_decay", {{"b", bias}}, 0.0}}, lr, 0.9, 0.95, eps);
    double want_w = 2, want_b = 2, worst = 0;
    for (int t = 1; t <= 5; t++) {
        w.grad() = Tensor::full(Shape{2, 2}, real(g));
        bias.grad() = Tensor::full(Shape{2}, real(g));
        opt.step();
        want_w = want_w * (1 - lr * wd) - lr * g / (std::fabs(g) + eps);
        want_b = want_b - lr * g / (std::fabs(g) + eps);
        for (int64_t k = 0; k < 4; k++) worst = std::fmax(worst, std::fabs(w.value()[k] - want_w));
        for (int64_t k = 0; k < 2; k++) worst = std::fmax(worst, std::fabs(bias.value()[k] - want_b));
    }
    report("5 steps, decayed and not decayed parameters", worst, 1e-12);
}

TEST_CASE("exercise 09: softmax attention's gradient against finite differences") {
    Tensor qkv = qkv_input(2, 5, 8, 19);
    for (bool causal : {false, true})
        report_gradcheck(causal ? "qkv [2, 5, 24], 2 heads, causal" : "qkv [2, 5, 24], 2 heads",
                         [causal](const std::vector<Var>& v) { return softmax_attention(v[0], 2, causal); }, {qkv});
}

TEST_CASE("exercise 10: the p-LaT forward against the naive definition") {
    // plap_attention_naive (nn/attention.cpp) computes every logit from the definition, in double,
    // one (b, h, i) at a time: a different method from the fused forward's passes.
    Tensor qkv = qkv_input(2, 6, 8, 20);
    Tensor p = Tensor::from_data({2}, {real(1.3), real(3)});
    double worst = 0;
    for (bool causal : {false, true})
        for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
            Tensor got = plap_attention(Var(qkv), Var(p), 2, causal, self, real(1e-6)).value();
            Tensor want = plap_attention_naive(qkv, p, 2, causal, self, real(1e-6));
            for (int64_t i = 0; i < got.numel(); i++) worst = std::fmax(worst, std::fabs(got[i] - want[i]));
        }
    report("out, p = (1.3, 3), causal or not, both self terms", worst, 1e-12);
}

TEST_CASE("exercise 11: the gradient into v against finite differences") {
    Tensor qkv = qkv_input(2, 5, 8, 21);
    Tensor p = Tensor::from_data({2}, {real(1.5), real(3)});
    for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
        GradCheckOptions options;
        options.check_input = {true, false};  // qkv only: p is exercise 12
        report_gradcheck(self == SelfTerm::unit ? "dqkv, p = (1.5, 3), unit" : "dqkv, p = (1.5, 3), exclude",
                         [self](const std::vector<Var>& v) {
                             return plap_attention(v[0], v[1], 2, true, self, real(1e-6));
                         },
                         {qkv, p}, options);
    }
}

TEST_CASE("exercise 12: dL/dp against finite differences") {
    Tensor qkv = qkv_input(3, 5, 8, 22);
    Tensor p = Tensor::from_data({2}, {real(1.5), real(2.5)});
    GradCheckOptions options;
    options.check_input = {false, true};  // p only
    report_gradcheck("dp, p = (1.5, 2.5), batch of 3",
                     [](const std::vector<Var>& v) {
                         return plap_attention(v[0], v[1], 2, false, SelfTerm::exclude, real(1e-6));
                     },
                     {qkv, p}, options);
}
