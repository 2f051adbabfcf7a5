// tests/gradcheck_attention.cpp: the hand-written backward of the two fused attention operations
// (nn/attention.cpp; derived in notes/04-p-laplacian-backward.md), in the double build, checked two
// independent ways: against central finite differences, and against the same forward composed of
// autograd primitives (value and every gradient). q, k, v (i.e. qkv) and p; causal and not;
// p in {1, 1.5, 2, 3}; both self terms; p learnable or constant.
//
// Finite-difference tolerances (GradCheckOptions defaults: step h = 1e-6, atol 1e-7, rtol 1e-5).
// The objective is L = sum(out * w), w ~ N(0, 1): |L| = O(10) for these sizes (80 outputs of O(1)).
// The central difference errs by truncation h^2/6 |L'''|, where L''' is O(1-100) for generic inputs
// (the log term's k-th derivative grows like 1/r^k, and normal value vectors keep r = O(1)), so
// ~1e-10, plus rounding ~1.1e-16 |L| / h ~ 1e-9: the numeric gradient is good to ~1e-8, and
// atol 1e-7 + rtol 1e-5 leaves a 10x margin (measured worst: 7e-10 absolute), while a gradient 1%
// wrong fails by orders of magnitude (checked at the end). The near-duplicate case has its own,
// derived, step.
// Fused vs composed: both compute the same formula in double, in different orders (BLAS blocks,
// fused loops vs separate primitive ops), so they agree to ~1e-15 relative per operation; over
// chains of ~T + D terms, say 1e-13. Asserted: 1e-10 relative to the largest entry of each
// compared tensor (measured: 8e-15); an error in the backward formula shows at 1e-3 or more.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/random.h"
#include "nn/attention.h"

using namespace plat;

namespace {

using Fn = std::function<Var(const std::vector<Var>&)>;

static_assert(sizeof(real) == sizeof(double), "gradcheck_*.cpp must be built with -DPLAT_REAL=double");

GradCheckResult expect_passes(const Fn& f, const std::vector<Tensor>& inputs, const GradCheckOptions& options = {}) {
    GradCheckResult r = gradcheck(f, inputs, options);
    CHECK_MESSAGE(r.passed, r.message << " (worst abs error " << r.worst_abs << ", worst rel " << r.worst_rel << ")");
    return r;
}

// The test size of the brief: B = 2, T = 5, C = 8, H = 2 (D = 4); qkv has 240 elements, checked
// one by one (below GradCheckOptions::max_elements).
constexpr int64_t kB = 2, kT = 5, kC = 8, kH = 2;

Tensor random_qkv(int64_t B, int64_t T, int64_t C, Generator& gen) { return Tensor::randn({B, T, 3 * C}, gen); }

// p [H] = p0, p0 + 0.25, ...: heads differ, so mixing up heads shows.
Tensor heads_p(int64_t H, real p0) {
    Tensor p({H});
    for (int64_t h = 0; h < H; h++) p[h] = p0 + real(0.25) * real(h);
    return p;
}

double max_abs(const Tensor& a) {
    double m = 0;
    for (int64_t i = 0; i < a.numel(); i++) m = std::max(m, std::fabs(double(a[i])));
    return m;
}

// max |a - b| / max |b| (0 when both are all zero; NaN-propagating).
double rel_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    double worst = 0;
    for (int64_t i = 0; i < a.numel(); i++) {
        double d = std::fabs(double(a[i]) - double(b[i]));
        if (!(d <= worst)) worst = d;
    }
    double scale = max_abs(b);
    return scale > 0 ? worst / scale : worst;
}

// Same value, and the same gradient for every input, from the fused and the composed forward.
// Seeded with a fixed random dL/dout. Returns the worst relative difference seen.
double fused_vs_composed(const Fn& fused, const Fn& composed, const std::vector<Tensor>& inputs,
                         const std::vector<bool>& requires, uint64_t seed_value) {
    std::vector<Var> a, b;
    for (size_t k = 0; k < inputs.size(); k++) {
        a.push_back(Var(inputs[k].clone(), requires[k]));
        b.push_back(Var(inputs[k].clone(), requires[k]));
    }
    Var out_a = fused(a), out_b = composed(b);
    double worst = rel_diff(out_a.value(), out_b.value());
    Generator gen(seed_value);
    Tensor seed = Tensor::randn(out_a.shape(), gen);
    out_a.backward(seed);
    out_b.backward(seed);
    for (size_t k = 0; k < inputs.size(); k++) {
        if (!requires[k]) {
            CHECK(a[k].grad().empty());
            continue;
        }
        REQUIRE_FALSE(a[k].grad().empty());
        REQUIRE_FALSE(b[k].grad().empty());
        worst = std::max(worst, rel_diff(a[k].grad(), b[k].grad()));
    }
    return worst;
}

// The identity whose backward scales the gradient by s: a deliberately wrong gradient path.
Var scale_grad(const Var& x, real s) {
    return record("scale_grad", x.value(), {x}, [s](Node& self) { add_into(self.inputs[0]->grad_buffer(), self.grad, s); });
}

}  // namespace

// ---- finite differences ----------------------------------------------------------------------

TEST_CASE("gradcheck attention: softmax_attention, causal and not") {
    Generator gen(1);
    Tensor qkv = random_qkv(kB, kT, kC, gen);
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        expect_passes([causal](const std::vector<Var>& v) { return softmax_attention(v[0], int(kH), causal); }, {qkv});
    }
}

TEST_CASE("gradcheck attention: plap_attention, p in {1, 1.5, 2, 3}, both self terms, learnable p") {
    Generator gen(2);
    Tensor qkv = random_qkv(kB, kT, kC, gen);
    for (bool causal : {false, true})
        for (real p0 : {real(1), real(1.5), real(2), real(3)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(causal);
                CAPTURE(p0);
                CAPTURE(self_term_name(self));
                GradCheckOptions options;
                // p = 1 is the edge of the domain: a step to p - h < 1 is rejected (plat::Error), so at
                // p0 = 1 only qkv is differenced; dp at p = 1 is checked against the composed version
                // below, and by differences at p0 = 1.5, 2 and 3.
                if (p0 == 1) options.check_input = {true, false};
                expect_passes(
                    [causal, self](const std::vector<Var>& v) {
                        return plap_attention(v[0], v[1], int(kH), causal, self, real(1e-6));
                    },
                    {qkv, heads_p(kH, p0)}, options);
            }
}

TEST_CASE("gradcheck attention: a lone key, T = 1 and the first causal token with exclude") {
    // Rows with a single admissible key: A = 1, out = v, and the softmax backward gives dz = 0, so
    // q and k get no gradient from those rows and p none at all when T = 1.
    Generator gen(3);
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        expect_passes(
            [causal](const std::vector<Var>& v) {
                return plap_attention(v[0], v[1], int(kH), causal, SelfTerm::exclude, real(1e-6));
            },
            {random_qkv(kB, 1, kC, gen), heads_p(kH, 1.5)});
    }
}

TEST_CASE("gradcheck attention: inputs above max_elements, along random directions, with threads") {
    // qkv [2, 33, 96]: 6336 > 2048 elements, so it is checked along 8 random directions; B*H = 8
    // pairs, D = 8, B*H*T*T*D = 69696 multiply-adds per gemm: above nn/attention.cpp's threshold for
    // threads (kParallelMinWork = 65536), so the pairs spread over the threads.
    Generator gen(4);
    Tensor qkv = random_qkv(2, 33, 32, gen);
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        expect_passes([causal](const std::vector<Var>& v) { return softmax_attention(v[0], 4, causal); }, {qkv});
        for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude})
            expect_passes(
                [causal, self](const std::vector<Var>& v) {
                    return plap_attention(v[0], v[1], 4, causal, self, real(1e-6));
                },
                {qkv, heads_p(4, 1.5)});
    }
}

TEST_CASE("gradcheck attention: near-duplicate value vectors") {
    // Token t's v is base[t % 2] + N(0, 1e-3) noise: r_ij ~ 2 D 1e-6 ~ 8e-6 for near-duplicates, a
    // few eps, where log(r + eps) bends hardest: its k-th derivative in v grows like
    // (2 |v_i - v_j| / (r + eps))^k ~ (2.8e-3 / 1e-5)^k ~ 300^k, so the third derivative of L
    // reaches ~1e8 (times dz and (p-2)/2). With the default h = 1e-6 the truncation error
    // h^2/6 |L'''| is ~2e-5 (measured 4.7e-5) against gradients up to ~30: too close to the tolerance.
    // h = 1e-7 cuts it 100x while rounding grows only to ~1e-16 |L| / h ~ 2e-8; the defaults
    // atol 1e-7 + rtol 1e-5 |numeric| then hold with margin (measured: worst absolute error 4.7e-7, against
    // an allowance of 1e-7 + 1e-5 |numeric|).
    GradCheckOptions options;
    options.step = 1e-7;
    Generator gen(5);
    const int64_t D = kC / kH;
    Tensor qkv = random_qkv(kB, kT, kC, gen);
    for (int64_t b = 0; b < kB; b++)
        for (int64_t h = 0; h < kH; h++) {
            std::vector<double> base(2 * D);
            for (double& x : base) x = gen.normal();
            for (int64_t t = 0; t < kT; t++)
                for (int64_t c = 0; c < D; c++)
                    qkv[(b * kT + t) * 3 * kC + 2 * kC + h * D + c] = base[(t % 2) * D + c] + 1e-3 * gen.normal();
        }
    for (bool causal : {false, true})
        for (real p0 : {real(1.5), real(3)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(causal);
                CAPTURE(p0);
                CAPTURE(self_term_name(self));
                expect_passes(
                    [causal, self](const std::vector<Var>& v) {
                        return plap_attention(v[0], v[1], int(kH), causal, self, real(1e-6));
                    },
                    {qkv, heads_p(kH, p0)}, options);
            }
}

// ---- fused vs composed ---------------------------------------------------------------------------

TEST_CASE("attention: fused equals composed in double, value and every gradient (1e-10 relative)") {
    Generator gen(6);
    Tensor qkv = random_qkv(kB, kT, kC, gen);
    double worst = 0;
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        double d = fused_vs_composed([causal](const std::vector<Var>& v) { return softmax_attention(v[0], int(kH), causal); },
                                     [causal](const std::vector<Var>& v) {
                                         return softmax_attention_composed(v[0], int(kH), causal);
                                     },
                                     {qkv}, {true}, 7);
        CHECK(d <= 1e-10);
        worst = std::max(worst, d);
        for (real p0 : {real(1), real(1.5), real(2), real(3)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude})
                // learnable p and qkv; p constant (the usual case); qkv constant (only dp flows)
                for (std::vector<bool> req : {std::vector<bool>{true, true}, {true, false}, {false, true}}) {
                    CAPTURE(p0);
                    CAPTURE(self_term_name(self));
                    CAPTURE(req[0]);
                    CAPTURE(req[1]);
                    Fn fused = [causal, self](const std::vector<Var>& v) {
                        return plap_attention(v[0], v[1], int(kH), causal, self, real(1e-6));
                    };
                    Fn composed = [causal, self](const std::vector<Var>& v) {
                        return plap_attention_composed(v[0], v[1], int(kH), causal, self, real(1e-6));
                    };
                    d = fused_vs_composed(fused, composed, {qkv, heads_p(kH, p0)}, req, 8);
                    CHECK(d <= 1e-10);
                    worst = std::max(worst, d);
                }
    }
    MESSAGE("fused vs composed, worst relative difference: " << worst);
}

TEST_CASE("attention: causal row blocks (T = 150): fused equals composed in double") {
    // Under a causal mask the fused kernels take the query rows in blocks of 64, each block's products
    // stopping at its last key (nn/attention.cpp, for_row_blocks); T = 150 is blocks of 64, 64 and
    // 22. The composed version knows nothing of blocks: every product is [T, T].
    Generator gen(16);
    Tensor qkv = random_qkv(1, 150, 8, gen);
    double d = fused_vs_composed([](const std::vector<Var>& v) { return softmax_attention(v[0], 2, true); },
                                 [](const std::vector<Var>& v) { return softmax_attention_composed(v[0], 2, true); },
                                 {qkv}, {true}, 9);
    CHECK(d <= 1e-10);
    for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
        CAPTURE(self_term_name(self));
        d = fused_vs_composed(
            [self](const std::vector<Var>& v) { return plap_attention(v[0], v[1], 2, true, self, real(1e-6)); },
            [self](const std::vector<Var>& v) { return plap_attention_composed(v[0], v[1], 2, true, self, real(1e-6)); },
            {qkv, heads_p(2, real(1.5))}, {true, true}, 10);
        CHECK(d <= 1e-10);
    }
}

TEST_CASE("attention: the weights returned are A, and out = A v per head") {
    // The optional `weights` output is the attention matrix itself: recomputing out = A v from it,
    // per head, in plain loops gives the operation's output (to double rounding, 1e-12 relative).
    Generator gen(9);
    Tensor qkv = random_qkv(kB, kT, kC, gen);
    const int64_t D = kC / kH;
    Tensor A;
    Tensor out = plap_attention(Var(qkv), Var(heads_p(kH, 1.5)), int(kH), true, SelfTerm::unit, real(1e-6), &A).value();
    REQUIRE(A.shape() == Shape{kB, kH, kT, kT});
    Tensor again({kB, kT, kC});
    for (int64_t b = 0; b < kB; b++)
        for (int64_t h = 0; h < kH; h++)
            for (int64_t i = 0; i < kT; i++)
                for (int64_t c = 0; c < D; c++) {
                    double acc = 0;
                    for (int64_t j = 0; j < kT; j++)
                        acc += A[((b * kH + h) * kT + i) * kT + j] * qkv[(b * kT + j) * 3 * kC + 2 * kC + h * D + c];
                    again[(b * kT + i) * kC + h * D + c] = acc;
                }
    CHECK(rel_diff(again, out) <= 1e-12);
}

// ---- the checker can fail here --------------------------------------------------------------------

TEST_CASE("gradcheck attention: a gradient 1% wrong, into qkv or into p, is rejected") {
    // scale_grad is the identity with a backward that multiplies by 1.01: the gradient reaching qkv
    // (or p) through it is 1% too large. At these sizes and tolerances the checker must notice.
    Generator gen(10);
    Tensor qkv = random_qkv(kB, kT, kC, gen);
    Fn wrong_qkv = [](const std::vector<Var>& v) {
        return plap_attention(scale_grad(v[0], real(1.01)), v[1], int(kH), true, SelfTerm::unit, real(1e-6));
    };
    Fn wrong_p = [](const std::vector<Var>& v) {
        return plap_attention(v[0], scale_grad(v[1], real(1.01)), int(kH), true, SelfTerm::unit, real(1e-6));
    };
    GradCheckResult r1 = gradcheck(wrong_qkv, {qkv, heads_p(kH, 1.5)});
    CHECK_FALSE(r1.passed);
    CHECK(r1.message.find("input 0") != std::string::npos);
    GradCheckResult r2 = gradcheck(wrong_p, {qkv, heads_p(kH, 1.5)});
    CHECK_FALSE(r2.passed);
    CHECK(r2.message.find("input 1") != std::string::npos);
}
