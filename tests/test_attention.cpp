// tests/test_attention.cpp: the fused attention operations in float (nn/attention.cpp;
// notes/03-attention-as-laplacian.md, notes/04-p-laplacian-backward.md): against the plain-loop
// references computed in double, and the properties of notes/03-attention-as-laplacian.md, "What is tested": p = 2 is softmax
// attention, "exclude" ignores the scale of v, causality, rows summing to 1 with exact zeros where
// masked, no NaN/Inf anywhere in p in [1, 4], eps insensitivity, near-duplicate values (the trap of
// notes/04-p-laplacian-backward.md, "Numerical traps", with the expansion formula shown failing), and the errors at the boundary.
// The backward's correctness is checked in double (tests/gradcheck_attention.cpp); here only its
// float path, its causality and its independence of the thread count.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/random.h"
#include "core/threads.h"
#include "nn/attention.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

namespace {

// qkv [B, T, 3C] ~ N(0, 1), then q and k scaled by qk and v by vs.
Tensor random_qkv(int64_t B, int64_t T, int64_t C, uint64_t seed, real qk = 1, real vs = 1) {
    Generator gen(seed);
    Tensor x = Tensor::randn({B, T, 3 * C}, gen);
    for (int64_t n = 0; n < B * T; n++)
        for (int64_t c = 0; c < 3 * C; c++) x[n * 3 * C + c] *= c < 2 * C ? qk : vs;
    return x;
}

// p [H] = p0, p0 + step, p0 + 2 step, ...: heads differ, so a head mixed up with another shows.
Tensor heads_p(int64_t H, real p0, real step = 0) {
    Tensor p({H});
    for (int64_t h = 0; h < H; h++) p[h] = p0 + step * real(h);
    return p;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    double worst = 0;
    for (int64_t i = 0; i < a.numel(); i++) {
        double d = std::fabs(double(a[i]) - double(b[i]));
        if (!(d <= worst)) worst = d;  // a NaN makes it NaN
    }
    return worst;
}

double max_abs(const Tensor& a) {
    double m = 0;
    for (int64_t i = 0; i < a.numel(); i++) m = std::max(m, std::fabs(double(a[i])));
    return m;
}

bool all_finite(const Tensor& a) {
    for (int64_t i = 0; i < a.numel(); i++)
        if (!std::isfinite(a[i])) return false;
    return true;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return false;
    for (int64_t i = 0; i < a.numel(); i++)
        if (!(a[i] == b[i])) return false;
    return true;
}

const real kPs[] = {1, 1.25, 1.5, 2, 3, 4};

}  // namespace

// ---- against the naive references --------------------------------------------------------------

TEST_CASE("attention: fused forward matches the naive double-precision reference") {
    // Tolerance 2e-5 (absolute; A is in [0, 1] and |v| <= ~4 here). The fused kernel is all float:
    // the logits s + b carry rounding ~1e-7 * (|s| + |b|) <= ~2e-6 (|b| <= ~8 for p = 4 at these
    // distances), exp turns that into the same relative error in A, and out sums T such terms
    // times |v|: ~1e-5 at the very worst; measured: 7e-7 on out, 2.4e-7 on A. A wrong mask, head
    // offset or sign is off by 1e-2 or more.
    const double tol = 2e-5;
    struct Size {
        int64_t B, T, C, H;
    };
    // The second size has T = 33, D = 8: BLAS takes its blocked paths, and T*T is not a multiple of 4.
    for (Size s : {Size{2, 7, 12, 3}, Size{2, 33, 32, 4}}) {
        Tensor qkv = random_qkv(s.B, s.T, s.C, 11);
        for (bool causal : {false, true}) {
            CAPTURE(s.T);
            CAPTURE(causal);
            Tensor A, A_ref;
            Tensor out = softmax_attention(Var(qkv), int(s.H), causal, &A).value();
            Tensor ref = softmax_attention_naive(qkv, int(s.H), causal, &A_ref);
            CHECK(max_abs_diff(out, ref) <= tol);
            CHECK(max_abs_diff(A, A_ref) <= tol);
            for (real p0 : kPs)
                for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                    CAPTURE(p0);
                    CAPTURE(self_term_name(self));
                    Tensor p = heads_p(s.H, p0, real(0.25));  // p0, p0 + 0.25, ...
                    out = plap_attention(Var(qkv), Var(p), int(s.H), causal, self, real(1e-6), &A).value();
                    ref = plap_attention_naive(qkv, p, int(s.H), causal, self, real(1e-6), &A_ref);
                    CHECK(max_abs_diff(out, ref) <= tol);
                    CHECK(max_abs_diff(A, A_ref) <= tol);
                }
        }
    }
}

TEST_CASE("attention: causal row blocks (T = 150): the fused forward matches the naive reference") {
    // Under a causal mask the kernels take the query rows in blocks of 64 (nn/attention.cpp,
    // for_row_blocks); T = 150 is blocks of 64, 64 and 22. Tolerance as in the test above.
    const int64_t B = 1, T = 150, C = 16, H = 2;
    Tensor qkv = random_qkv(B, T, C, 13);
    Tensor A, A_ref;
    Tensor out = softmax_attention(Var(qkv), int(H), true, &A).value();
    Tensor ref = softmax_attention_naive(qkv, int(H), true, &A_ref);
    CHECK(max_abs_diff(out, ref) <= 2e-5);
    CHECK(max_abs_diff(A, A_ref) <= 2e-5);
    for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
        CAPTURE(self_term_name(self));
        Tensor p = heads_p(H, real(1.5), real(0.25));
        out = plap_attention(Var(qkv), Var(p), int(H), true, self, real(1e-6), &A).value();
        ref = plap_attention_naive(qkv, p, int(H), true, self, real(1e-6), &A_ref);
        CHECK(max_abs_diff(out, ref) <= 2e-5);
        CHECK(max_abs_diff(A, A_ref) <= 2e-5);
    }
}

TEST_CASE("attention: the fused backward agrees with the composed one in float") {
    // The double build checks the backward's formulas (tests/gradcheck_attention.cpp); this checks
    // its float path (cblas_sgemm, float accumulation). Tolerance: 1e-5 relative to the largest
    // gradient entry: both sides round differently, ~6e-8 relative per operation over sums of
    // ~T + D terms (measured: 2e-7 on dqkv, 4e-7 on dp); a wrong term is off by a sizeable fraction
    // of a typical gradient.
    const int64_t B = 2, T = 9, C = 16, H = 2;
    Tensor qkv = random_qkv(B, T, C, 12);
    Generator gen(13);
    Tensor seed = Tensor::randn({B, T, C}, gen);
    for (bool causal : {false, true})
        for (real p0 : {real(1), real(1.5), real(3)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(causal);
                CAPTURE(p0);
                CAPTURE(self_term_name(self));
                Var x1(qkv.clone(), true), p1(heads_p(H, p0, real(0.5)), true);
                Var x2(qkv.clone(), true), p2(heads_p(H, p0, real(0.5)), true);
                plap_attention(x1, p1, int(H), causal, self, real(1e-6)).backward(seed);
                plap_attention_composed(x2, p2, int(H), causal, self, real(1e-6)).backward(seed);
                CHECK(max_abs_diff(x1.grad(), x2.grad()) <= 1e-5 * max_abs(x2.grad()));
                CHECK(max_abs_diff(p1.grad(), p2.grad()) <= 1e-5 * max_abs(p2.grad()));
            }
}

// ---- the properties (notes/03, "What is tested") -----------------------------------------

TEST_CASE("attention: p = 2 with the unit self term is softmax attention") {
    // With p = 2, (p - 2)/2 = 0 exactly, so b_ij = 0 * log(r_ij + eps) = 0 (the log is finite as
    // eps > 0) and s_ij + 0 = s_ij: the logits are the very same floats as softmax attention's, and
    // so are A, out and (the distance term of the backward being skipped when (p-2)/2 = 0) the
    // gradient: equal bitwise, stronger than "to float rounding".
    const int64_t B = 2, T = 8, C = 12, H = 3;
    Tensor qkv = random_qkv(B, T, C, 21);
    Generator gen(22);
    Tensor seed = Tensor::randn({B, T, C}, gen);
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        Tensor A_soft, A_plap;
        Var x1(qkv.clone(), true), x2(qkv.clone(), true);
        Var soft = softmax_attention(x1, int(H), causal, &A_soft);
        Var plap = plap_attention(x2, Var(heads_p(H, 2)), int(H), causal, SelfTerm::unit, real(1e-6), &A_plap);
        CHECK(bitwise_equal(soft.value(), plap.value()));
        CHECK(bitwise_equal(A_soft, A_plap));
        soft.backward(seed);
        plap.backward(seed);
        CHECK(bitwise_equal(x1.grad(), x2.grad()));
        // The references too, computed independently in double: equal to double rounding.
        Tensor ref_soft = softmax_attention_naive(qkv, int(H), causal);
        Tensor ref_plap = plap_attention_naive(qkv, heads_p(H, 2), int(H), causal, SelfTerm::unit, real(1e-6));
        CHECK(max_abs_diff(ref_soft, ref_plap) <= 1e-6);
    }
}

TEST_CASE("attention: with exclude, scaling v by c > 0 leaves A unchanged and scales out by c") {
    // b_ij = (p-2)/2 log(c^2 r_ij + eps) = (p-2)/2 log(c^2) + (p-2)/2 log(r_ij + eps/c^2): the first
    // term is the same for every j in the row and cancels in the softmax (the diagonal, the only
    // entry without it, is excluded). What is left moves b by at most |p-2|/2 * eps / (c^2 r_min),
    // at most 2e-6 / r_min (p = 1, c = 0.5), and A by about twice that: below 1e-4 for any
    // r_min > 0.04 (D = 4 normal vectors: r_min is O(1)); plus float rounding of the logs (~1e-6).
    // Tolerance 1e-4 on A, and 1e-4 * c * max|v| on out (out = A (c v)). Measured: 1.9e-6 on A,
    // 6e-7 c max|v| on out.
    // The unit self term is not invariant (b_ii = 0 does not move while the rest moves by
    // (p-2)/2 log c^2): checked too, so the test is known to be able to fail.
    const int64_t B = 2, T = 8, C = 12, H = 3;
    Tensor qkv = random_qkv(B, T, C, 31);
    const double vmax = max_abs(qkv);
    for (bool causal : {false, true})
        for (real p0 : {real(1), real(1.5), real(3), real(4)})
            for (real c : {real(0.5), real(3), real(10)}) {
                CAPTURE(causal);
                CAPTURE(p0);
                CAPTURE(c);
                Tensor scaled = qkv.clone();
                for (int64_t n = 0; n < B * T; n++)
                    for (int64_t ch = 2 * C; ch < 3 * C; ch++) scaled[n * 3 * C + ch] *= c;
                Tensor p = heads_p(H, p0, real(0.25));
                Tensor A1, A2;
                Tensor out1 = plap_attention(Var(qkv), Var(p), int(H), causal, SelfTerm::exclude, real(1e-6), &A1).value();
                Tensor out2 = plap_attention(Var(scaled), Var(p), int(H), causal, SelfTerm::exclude, real(1e-6), &A2).value();
                CHECK(max_abs_diff(A1, A2) <= 1e-4);
                Tensor c_out1 = out1.clone();
                for (int64_t i = 0; i < c_out1.numel(); i++) c_out1[i] *= c;
                CHECK(max_abs_diff(c_out1, out2) <= 1e-4 * c * vmax);
                // unit: A moves by far more than the tolerance (p != 2 here; |log c^2| >= 1.4)
                Tensor U1, U2;
                plap_attention(Var(qkv), Var(p), int(H), causal, SelfTerm::unit, real(1e-6), &U1);
                plap_attention(Var(scaled), Var(p), int(H), causal, SelfTerm::unit, real(1e-6), &U2);
                CHECK(max_abs_diff(U1, U2) > 1e-2);
            }
}

TEST_CASE("attention: causal outputs do not depend on later tokens (forward and backward)") {
    // Masking by loop bounds: row i reads only tokens j <= i, so changing tokens t > i0 (their q, k
    // and v) leaves out[:, 0..i0] and A[:, :, 0..i0, :] bitwise unchanged. The masked products
    // 0 * v_j inside the A v gemm add exact zeros. Backward: a loss on outputs 0..i0 only sends
    // exactly zero gradient to tokens t > i0.
    const int64_t B = 2, T = 9, C = 8, H = 2, i0 = 3;
    Tensor qkv = random_qkv(B, T, C, 41);
    Tensor later = qkv.clone();
    Generator gen(42);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = i0 + 1; t < T; t++)
            for (int64_t c = 0; c < 3 * C; c++) later[(b * T + t) * 3 * C + c] = real(5 * gen.normal());
    Tensor seed = Tensor::randn({B, T, C}, gen);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = i0 + 1; t < T; t++)
            for (int64_t c = 0; c < C; c++) seed[(b * T + t) * C + c] = 0;

    auto check_prefix = [&](const Tensor& o1, const Tensor& o2, const Tensor& A1, const Tensor& A2) {
        bool same_out = true, same_A = true, later_moved = false;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < C; c++) {
                    bool eq = o1[(b * T + t) * C + c] == o2[(b * T + t) * C + c];
                    if (t <= i0) same_out = same_out && eq;
                    else later_moved = later_moved || !eq;
                }
        for (int64_t bh = 0; bh < B * H; bh++)
            for (int64_t i = 0; i <= i0; i++)
                for (int64_t j = 0; j < T; j++) same_A = same_A && A1[(bh * T + i) * T + j] == A2[(bh * T + i) * T + j];
        CHECK(same_out);
        CHECK(same_A);
        CHECK(later_moved);  // the perturbation did reach the later outputs: the test can fail
    };
    auto check_grad = [&](const Tensor& g) {
        bool zero_later = true, nonzero_early = false;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < 3 * C; c++) {
                    real x = g[(b * T + t) * 3 * C + c];
                    if (t > i0) zero_later = zero_later && x == 0;
                    else nonzero_early = nonzero_early || x != 0;
                }
        CHECK(zero_later);
        CHECK(nonzero_early);
    };

    Tensor A1, A2;
    Var x(qkv.clone(), true);
    Var o1 = softmax_attention(x, int(H), true, &A1);
    Tensor o2 = softmax_attention(Var(later), int(H), true, &A2).value();
    check_prefix(o1.value(), o2, A1, A2);
    o1.backward(seed);
    check_grad(x.grad());
    for (real p0 : kPs)
        for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
            CAPTURE(p0);
            CAPTURE(self_term_name(self));
            Tensor p = heads_p(H, p0, real(0.5));
            Var xp(qkv.clone(), true);
            Var q1 = plap_attention(xp, Var(p), int(H), true, self, real(1e-6), &A1);
            Tensor q2 = plap_attention(Var(later), Var(p), int(H), true, self, real(1e-6), &A2).value();
            check_prefix(q1.value(), q2, A1, A2);
            q1.backward(seed);
            check_grad(xp.grad());
        }
}

TEST_CASE("attention: rows of A sum to 1, masked entries are exactly 0, a lone key gets weight 1") {
    // Sum tolerance 1e-5: T <= 16 float terms in [0, 1] normalised by one division, error ~T ulp.
    const int64_t B = 2, T = 16, C = 8, H = 2;
    Tensor qkv = random_qkv(B, T, C, 51, real(2));
    auto check_rows = [&](const Tensor& A, bool causal, bool exclude) {
        bool sums = true, masked_zero = true, self_zero = true, lone = true;
        for (int64_t bh = 0; bh < B * H; bh++)
            for (int64_t i = 0; i < T; i++) {
                const real* a = A.data() + (bh * T + i) * T;
                double s = 0;
                for (int64_t j = 0; j < T; j++) s += a[j];
                sums = sums && std::fabs(s - 1) <= 1e-5;
                if (causal)
                    for (int64_t j = i + 1; j < T; j++) masked_zero = masked_zero && a[j] == 0;
                // exclude: the diagonal is 0, except for the first token under a causal mask,
                // whose only key is itself: exp(0) / exp(0) = 1 exactly.
                if (exclude && !(causal && i == 0)) self_zero = self_zero && a[i] == 0;
                if (exclude && causal && i == 0) lone = lone && a[0] == 1;
            }
        CHECK(sums);
        CHECK(masked_zero);
        CHECK(self_zero);
        CHECK(lone);
    };
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        Tensor A;
        softmax_attention(Var(qkv), int(H), causal, &A);
        check_rows(A, causal, false);
        for (real p0 : kPs)
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(p0);
                CAPTURE(self_term_name(self));
                plap_attention(Var(qkv), Var(heads_p(H, p0)), int(H), causal, self, real(1e-6), &A);
                check_rows(A, causal, self == SelfTerm::exclude);
            }
    }
    // T = 1, not causal: the lone token attends to itself with weight 1, excluded or not.
    Tensor one = random_qkv(2, 1, C, 52), A;
    Tensor out = plap_attention(Var(one), Var(heads_p(H, 1.5)), int(H), false, SelfTerm::exclude, real(1e-6), &A).value();
    CHECK(A[0] == 1);
    CHECK(A[1] == 1);
    CHECK(out[0] == one[2 * C]);  // out = v
}

TEST_CASE("attention: no NaN or Inf for p in [1, 4], identical values, huge and tiny inputs") {
    // Inputs: generic; every value vector identical (r_ij = 0 off the diagonal too, b_ij =
    // (p-2)/2 log eps, ~ +6.9 for p = 1); huge (q, k ~ 1e4, so logits ~ 1e8 and each row one-hot;
    // v ~ 1e6, r ~ 1e13, far below float's 3e38); tiny (all ~ 1e-8, r << eps); all zeros.
    // Forward and backward (qkv and p) must be finite. With identical values out must equal them:
    // out_i = sum_j A_ij v = v since the row sums to 1 (tolerance 1e-6 relative).
    const int64_t B = 2, T = 6, C = 8, H = 2;
    struct Input {
        const char* name;
        Tensor qkv;
    };
    Tensor same = random_qkv(B, T, C, 61);
    for (int64_t n = 0; n < B * T; n++)
        for (int64_t c = 2 * C; c < 3 * C; c++) same[n * 3 * C + c] = same[c];  // v of token (0, 0)
    std::vector<Input> inputs = {{"generic", random_qkv(B, T, C, 62)},
                                 {"identical v", same},
                                 {"huge", random_qkv(B, T, C, 63, real(1e4), real(1e6))},
                                 {"tiny", random_qkv(B, T, C, 64, real(1e-8), real(1e-8))},
                                 {"zeros", Tensor::zeros({B, T, 3 * C})}};
    Generator gen(65);
    Tensor seed = Tensor::randn({B, T, C}, gen);
    for (const Input& in : inputs)
        for (bool causal : {false, true})
            for (real p0 : kPs)
                for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                    CAPTURE(in.name);
                    CAPTURE(causal);
                    CAPTURE(p0);
                    CAPTURE(self_term_name(self));
                    Var x(in.qkv.clone(), true), p(heads_p(H, p0), true);
                    Tensor A;
                    Var out = plap_attention(x, p, int(H), causal, self, real(1e-6), &A);
                    out.backward(seed);
                    CHECK(all_finite(out.value()));
                    CHECK(all_finite(A));
                    CHECK(all_finite(x.grad()));
                    CHECK(all_finite(p.grad()));
                    if (std::string(in.name) == "identical v") {
                        double worst = 0;
                        for (int64_t n = 0; n < B * T; n++)
                            for (int64_t c = 0; c < C; c++)
                                worst = std::max(worst, std::fabs(double(out.value()[n * C + c]) - same[2 * C + c]));
                        CHECK(worst <= 1e-6 * max_abs(same));
                    }
                }
}

TEST_CASE("attention: results barely move between eps = 1e-6 and eps = 1e-7 on generic inputs") {
    // "Close", derived: b_ij moves by |p-2|/2 |log(r + e1) - log(r + e2)| <= |p-2|/2 (e1 - e2) / (r_min + e2)
    // =: db. A row's logits all move by at most db, so each A_ij moves by at most a factor e^(2 db)
    // and out_i = sum_j A_ij v_j by at most (e^(2 db) - 1) max|v| ~ 2 db max|v|. r_min is measured on
    // the inputs below (in double; r_min ~ 4 here, so db <= 2.3e-7 and the first term is <= 1.5e-6).
    // Plus 2e-6 for float rounding of two separate computations (a few ulp of |out| <= ~4; measured
    // differences: 1.2e-7 on A, 2.4e-7 on out).
    // (Near-duplicate values, r ~ eps, are eps-sensitive by design: that is the next test's regime.)
    const int64_t B = 2, T = 8, C = 16, H = 2, D = C / H;
    Tensor qkv = random_qkv(B, T, C, 71);
    double r_min = INFINITY;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++)
                for (int64_t j = 0; j < i; j++) {
                    double r = 0;
                    for (int64_t c = 0; c < D; c++) {
                        double d = double(qkv[(b * T + i) * 3 * C + 2 * C + h * D + c]) -
                                   double(qkv[(b * T + j) * 3 * C + 2 * C + h * D + c]);
                        r += d * d;
                    }
                    r_min = std::min(r_min, r);
                }
    const double vmax = max_abs(qkv);
    for (bool causal : {false, true})
        for (real p0 : {real(1), real(1.5), real(3), real(4)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(causal);
                CAPTURE(p0);
                CAPTURE(self_term_name(self));
                Tensor p = heads_p(H, p0);
                Tensor A6, A7;
                Tensor o6 = plap_attention(Var(qkv), Var(p), int(H), causal, self, real(1e-6), &A6).value();
                Tensor o7 = plap_attention(Var(qkv), Var(p), int(H), causal, self, real(1e-7), &A7).value();
                double db = std::fabs(p0 - 2) / 2 * (1e-6 - 1e-7) / (r_min + 1e-7);
                CHECK(max_abs_diff(A6, A7) <= std::expm1(2 * db) + 2e-6);
                CHECK(max_abs_diff(o6, o7) <= std::expm1(2 * db) * vmax + 2e-6);
            }
}

namespace {

// The expansion r_ij = ||v_i||^2 + ||v_j||^2 - 2 v_i.v_j, in float: what the fused kernel must NOT
// do (notes/04, "Numerical traps"). A minimal float forward around it, for the test below to show failing.
// Clamped at 0 (the usual "fix" for a negative r) so it fails by being wrong, not by producing NaN.
// Returns out [B, T, C] and A [B, H, T, T] in *weights.
Tensor plap_forward_by_expansion(const Tensor& qkv, const Tensor& p, int64_t H, bool causal, SelfTerm self, real eps,
                                 Tensor* weights) {
    const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, D = C / H;
    Tensor out({B, T, C}), att({B, H, T, T});
    std::vector<float> w(T);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < T; i++) {
                auto at = [&](int64_t t, int64_t part, int64_t c) {
                    return float(qkv[(b * T + t) * 3 * C + part * C + h * D + c]);
                };
                int64_t jend = causal ? i + 1 : T;
                bool skip = self == SelfTerm::exclude && jend > 1;
                float m = -INFINITY, sum = 0;
                for (int64_t j = 0; j < jend; j++) {
                    float s = 0, vii = 0, vjj = 0, vij = 0;
                    for (int64_t c = 0; c < D; c++) {
                        s += at(i, 0, c) * at(j, 1, c);
                        vii += at(i, 2, c) * at(i, 2, c);
                        vjj += at(j, 2, c) * at(j, 2, c);
                        vij += at(i, 2, c) * at(j, 2, c);
                    }
                    w[j] = s / std::sqrt(float(D));
                    float r = std::max(0.f, vii + vjj - 2 * vij);
                    if (j != i) w[j] += (float(p[h]) - 2) / 2 * std::log(r + float(eps));
                    if (!(skip && j == i)) m = std::max(m, w[j]);
                }
                for (int64_t j = 0; j < jend; j++) sum += (w[j] = (skip && j == i) ? 0.f : std::exp(w[j] - m));
                for (int64_t j = 0; j < jend; j++) att[((b * H + h) * T + i) * T + j] = w[j] / sum;
                for (int64_t c = 0; c < D; c++) {
                    float acc = 0;
                    for (int64_t j = 0; j < jend; j++) acc += w[j] / sum * at(j, 2, c);
                    out[(b * T + i) * C + h * D + c] = acc;
                }
            }
    *weights = att;
    return out;
}

}  // namespace

TEST_CASE("attention: near-duplicate value vectors agree with the double-precision computation") {
    // Per head, three base vectors of size ~3 per entry; token t's v is base[t % 3] plus N(0, 1e-4)
    // noise, so every token has near-duplicates (r_ij ~ 2 D 1e-8 ~ 1.6e-7, below eps = 1e-6, where
    // log(r + eps) is steepest) and far tokens too (r ~ 100), and A decides how much of each cluster
    // a row mixes. Direct differences v_i - v_j of such close floats are exact (Sterbenz), so the
    // fused float result carries only the usual rounding: tolerance 2e-5 as in the naive comparison
    // (measured: < 2e-6 on out, < 5e-7 on A).
    // The expansion ||v_i||^2 + ||v_j||^2 - 2 v_i.v_j instead subtracts numbers ~ 2 * 9 D ~ 150 whose
    // float rounding is ~ 150 * 6e-8 ~ 1e-5 > eps: r + eps comes out wrong by up to 10x (or negative,
    // log -> NaN, without the clamp), so b_ij by up to |p-2|/2 log 10. For p < 2 the near-duplicates
    // carry most of the weight and the same comparison fails (measured: A off by 0.3 for p = 1 and
    // 3e-4 for p = 1.5, out by 0.1-0.9 and 2e-3); checked below. For p > 2 their weight
    // phi = (r + eps)^((p-2)/2) is ~1e-3 (p = 3) or ~1e-6 (p = 4) of a far token's, so the error
    // does not show in A: the trap is a p < 2 trap, and p < 2 is the regime p-LaT is about.
    const int64_t B = 2, T = 8, C = 16, H = 2, D = C / H;
    Generator gen(81);
    Tensor qkv = random_qkv(B, T, C, 82);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            std::vector<double> base(3 * D);
            for (double& x : base) x = 3 * gen.normal();
            for (int64_t t = 0; t < T; t++)
                for (int64_t c = 0; c < D; c++)
                    qkv[(b * T + t) * 3 * C + 2 * C + h * D + c] = real(base[(t % 3) * D + c] + 1e-4 * gen.normal());
        }
    const double tol = 2e-5;
    for (bool causal : {false, true})
        for (real p0 : {real(1), real(1.5), real(3), real(4)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(causal);
                CAPTURE(p0);
                CAPTURE(self_term_name(self));
                Tensor p = heads_p(H, p0);
                Tensor A, A_ref, A_bad;
                Tensor out = plap_attention(Var(qkv), Var(p), int(H), causal, self, real(1e-6), &A).value();
                Tensor ref = plap_attention_naive(qkv, p, int(H), causal, self, real(1e-6), &A_ref);
                CHECK(max_abs_diff(out, ref) <= tol);
                CHECK(max_abs_diff(A, A_ref) <= tol);
                plap_forward_by_expansion(qkv, p, H, causal, self, real(1e-6), &A_bad);
                if (p0 < 2) CHECK(max_abs_diff(A_bad, A_ref) > 5 * tol);
            }
}

TEST_CASE("attention: the distance pass recomputes near pairs and stays within its bound elsewhere") {
    // pairwise_sq_distances (notes/04 section 9b) against the naive twin, which sums the direct differences
    // in double. Values: three clusters of 8 tokens (base vectors ~ N(0, 9) per entry, plus an offset of
    // 50 that every value shares, which centring must remove) with N(0, 1e-4) noise inside a cluster:
    // r ~ 3e-7 within a cluster, ~ 300 across.
    // Bounds, u = 2^-24: a recomputed pair is a float sum of D squares, relative error <= (D + 2) u; a
    // kept pair errs by at most beta (n_i + n_j), beta = 2 (D + 2) u, and was kept because
    // r > kRecomputeBelow (n_i + n_j), so its relative error is below beta / (kRecomputeBelow - beta).
    // Both are checked on every pair with the larger one. Without recomputation (recompute_below = 0)
    // the within-cluster pairs come out wrong by far more than r itself: the expansion's noise,
    // ~ u (n_i + n_j) ~ 1e-5, is 30 times r there.
    const int64_t T = 24, D = 16, ldv = 20;  // v is a column block of a wider matrix, as in qkv
    const double u = std::numeric_limits<real>::epsilon() / 2;
    const double beta = 2 * (D + 2) * u, bound = beta / (double(kRecomputeBelow) - beta);
    Generator gen(91);
    std::vector<double> base(3 * D);
    for (double& x : base) x = 3 * gen.normal();
    Tensor v({T * ldv});
    for (int64_t t = 0; t < T; t++)
        for (int64_t c = 0; c < D; c++) v[t * ldv + c] = real(50 + base[(t % 3) * D + c] + 1e-4 * gen.normal());
    std::vector<real> ref(T * T), work(T * D + T + D);
    pairwise_sq_distances_naive(ref.data(), v.data(), ldv, T, D);
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        std::vector<real> r(T * T, real(7));  // 7: the upper triangle must keep it
        const int64_t recomputed = pairwise_sq_distances(r.data(), v.data(), ldv, T, D, causal, work.data());
        // Centred on the mean, exactly the 3 * 28 within-cluster pairs are near; centred on v_0 (causal),
        // cluster 0's own norms are tiny too, so its pairs may be kept: at least the other two clusters'.
        if (causal) CHECK(recomputed >= 2 * 28);
        else CHECK(recomputed == 3 * 28);
        double worst_near = 0, worst_far = 0;
        for (int64_t i = 0; i < T; i++) {
            CHECK(r[i * T + i] == 0);
            for (int64_t j = i + 1; j < T; j++) CHECK(r[i * T + j] == real(7));
            for (int64_t j = 0; j < i; j++) {
                const double rel = std::fabs(double(r[i * T + j]) - double(ref[i * T + j])) / double(ref[i * T + j]);
                (i % 3 == j % 3 ? worst_near : worst_far) = std::max(i % 3 == j % 3 ? worst_near : worst_far, rel);
            }
        }
        CHECK(worst_near <= bound);
        CHECK(worst_far <= bound);
        if (!causal) CHECK(worst_near <= (D + 2) * u);  // every near pair was recomputed

        std::vector<real> bad(T * T);
        const int64_t none = pairwise_sq_distances(bad.data(), v.data(), ldv, T, D, causal, work.data(), real(0));
        double worst_bad = 0;
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = i % 3; j < i; j += 3)
                worst_bad = std::max(worst_bad, std::fabs(double(bad[i * T + j]) - double(ref[i * T + j])) /
                                                    double(ref[i * T + j]));
        CHECK(none < recomputed);
        CHECK(worst_bad > 1);  // the expansion alone: wrong by more than r itself
    }
}

TEST_CASE("attention: near-duplicate values: the fused backward agrees with the composed one") {
    // The backward's two routes into v: near pairs by direct differences, the rest through symm on the
    // centred values (notes/04 section 9b). The composed version differentiates direct differences
    // everywhere. Values as in the near-duplicate test (three clusters, 1e-4 noise); p = 1.5 and 3
    // (the near pairs' M_ij ~ 1/(r + eps) ~ 1e6 g). Tolerance 2e-5 of the largest entry: both sides
    // round differently (measured: below 6e-7). Sending the near pairs through symm as well misses
    // by 1e-4 to 2e-3: the cancellation this route exists for.
    const int64_t B = 1, T = 9, C = 16, H = 2, D = C / H;
    Generator gen(93);
    Tensor qkv = random_qkv(B, T, C, 94);
    for (int64_t h = 0; h < H; h++) {
        std::vector<double> base(3 * D);
        for (double& x : base) x = 3 * gen.normal();
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < D; c++)
                qkv[t * 3 * C + 2 * C + h * D + c] = real(base[(t % 3) * D + c] + 1e-4 * gen.normal());
    }
    Tensor seed = Tensor::randn({B, T, C}, gen);
    for (bool causal : {false, true})
        for (real p0 : {real(1.5), real(3)}) {
            CAPTURE(causal);
            CAPTURE(p0);
            Var x1(qkv.clone(), true), p1(heads_p(H, p0), true);
            Var x2(qkv.clone(), true), p2(heads_p(H, p0), true);
            plap_attention(x1, p1, int(H), causal, SelfTerm::exclude, real(1e-6)).backward(seed);
            plap_attention_composed(x2, p2, int(H), causal, SelfTerm::exclude, real(1e-6)).backward(seed);
            CHECK(max_abs_diff(x1.grad(), x2.grad()) <= 2e-5 * max_abs(x2.grad()));
            CHECK(max_abs_diff(p1.grad(), p2.grad()) <= 2e-5 * max_abs(p2.grad()));
        }
}

// ---- determinism and errors ----------------------------------------------------------------------

TEST_CASE("attention: forward and backward do not depend on the thread count") {
    // Threads split the (b, h) pairs; each pair's arithmetic is the same whichever thread runs it,
    // and dp is summed over b in a fixed order: results are bitwise equal for 1 and 2 threads.
    // B*H*T*T*D = 12 * 1600 * 8 is above the kernels' threshold for using threads (kParallelMinWork).
    const int64_t B = 3, T = 40, C = 32, H = 4;
    Tensor qkv = random_qkv(B, T, C, 91);
    Generator gen(92);
    Tensor seed = Tensor::randn({B, T, C}, gen);
    int saved = get_num_threads();
    Tensor out[2], dx[2], dp[2];
    for (int n : {1, 2}) {
        set_num_threads(n);
        Var x(qkv.clone(), true), p(heads_p(H, 1.5, 0.5), true);
        Var o = plap_attention(x, p, int(H), true, SelfTerm::exclude, real(1e-6));
        o.backward(seed);
        out[n - 1] = o.value();
        dx[n - 1] = x.grad();
        dp[n - 1] = p.grad();
    }
    set_num_threads(saved);
    CHECK(bitwise_equal(out[0], out[1]));
    CHECK(bitwise_equal(dx[0], dx[1]));
    CHECK(bitwise_equal(dp[0], dp[1]));
}

TEST_CASE("attention: errors at the boundary name the value and what was expected") {
    const int64_t H = 2;
    Tensor qkv = random_qkv(2, 5, 8, 101);
    Var x(qkv), p(heads_p(H, 1.5));
    auto plap_msg = [&](const Tensor& q, const Tensor& pv, int heads, real eps) {
        return error_of([&] { plap_attention(Var(q), Var(pv), heads, true, SelfTerm::unit, eps); });
    };
    CHECK(contains(plap_msg(qkv, heads_p(H, 0.5), int(H), real(1e-6)), "p >= 1"));
    CHECK(contains(plap_msg(qkv, heads_p(H, 0.5), int(H), real(1e-6)), "p[0] = 0.5"));
    CHECK(contains(plap_msg(qkv, heads_p(H, NAN), int(H), real(1e-6)), "finite p >= 1"));
    CHECK(contains(plap_msg(qkv, heads_p(H, INFINITY), int(H), real(1e-6)), "finite p >= 1"));
    CHECK(contains(plap_msg(qkv, heads_p(H, 1.5), int(H), real(0)), "eps > 0"));
    CHECK(contains(plap_msg(qkv, heads_p(H, 1.5), int(H), real(-1e-6)), "eps > 0"));
    CHECK(contains(plap_msg(qkv, heads_p(H, 1.5), int(H), real(NAN)), "eps > 0"));
    CHECK(contains(plap_msg(qkv, heads_p(3, 1.5), int(H), real(1e-6)), "expected [H] = [2]"));
    CHECK(contains(plap_msg(Tensor::zeros({10, 24}), heads_p(H, 1.5), int(H), real(1e-6)), "expected [B, T, 3C]"));
    CHECK(contains(plap_msg(Tensor::zeros({2, 5, 25}), heads_p(H, 1.5), int(H), real(1e-6)), "multiple of 3"));
    CHECK(contains(plap_msg(Tensor::zeros({2, 5, 24}), heads_p(3, 1.5), 3, real(1e-6)), "divisible by the number of heads"));
    CHECK(contains(plap_msg(qkv, heads_p(H, 1.5), 0, real(1e-6)), "heads = 0"));
    CHECK(contains(error_of([&] { softmax_attention(Var(Tensor::zeros({2, 5, 25})), 2, true); }), "multiple of 3"));
    CHECK(contains(error_of([&] { softmax_attention(Var(Tensor::zeros({2, 5, 24})), 3, true); }), "C = 8"));
    CHECK(contains(error_of([&] { plap_attention_composed(x, Var(heads_p(H, 0.9)), int(H), true, SelfTerm::unit, real(1e-6)); }),
                   "p >= 1"));
    CHECK(contains(error_of([&] { plap_attention_naive(qkv, heads_p(H, 1.5), int(H), true, SelfTerm::unit, real(0)); }),
                   "eps > 0"));
    // p = 1 exactly is allowed (the boundary of the valid range).
    CHECK_NOTHROW(plap_attention(x, Var(heads_p(H, 1)), int(H), true, SelfTerm::unit, real(1e-6)));
    CHECK(parse_self_term("unit") == SelfTerm::unit);
    CHECK(parse_self_term("exclude") == SelfTerm::exclude);
    CHECK(std::string(self_term_name(parse_self_term("exclude"))) == "exclude");
    CHECK(contains(error_of([] { parse_self_term("diag"); }), "\"unit\""));
}
