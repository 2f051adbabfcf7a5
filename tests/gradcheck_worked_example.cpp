// tests/gradcheck_worked_example.cpp: the worked example of notes/04-p-laplacian-backward.md,
// "A worked example by hand", computed by the fused operation (`plap_attention`, nn/attention.cpp)
// through autograd and held to the values derived there with pencil and fractions; then the
// identity behind it (shift invariance) on random inputs. Double build (real = double).
//
// The example: one head, T = 3 tokens, D = 1 (C = 1, H = 1, B = 1). q = (1, 1, 1), k = (0, 0, 0),
// so every score s_ij = q_i k_j = 0 and only the distance term shapes A; v = (0, 1, 2). The loss is
// L = out_0 + 2 out_1 + 3 out_2, i.e. dout = (1, 2, 3). The hand values hold for eps -> 0; the test
// passes eps = 1e-12, which moves each log(r + eps) by at most eps / r = 1e-12 (r is 1 or 4 here),
// so every value below moves by ~1e-12; tolerance 1e-10 absolute (double rounding is ~1e-16).
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.h"
#include "core/random.h"
#include "nn/attention.h"

using namespace plat;

namespace {

static_assert(sizeof(real) == sizeof(double), "gradcheck_*.cpp must be built with -DPLAT_REAL=double");

constexpr double kTol = 1e-10;

// qkv [1, 3, 3]: row t holds (q_t, k_t, v_t), the layout of notes/04 section 7 with C = 1.
Tensor example_qkv() { return Tensor::from_data({1, 3, 3}, {1, 0, 0, 1, 0, 1, 1, 0, 2}); }

struct Result {
    Tensor out, A, dqkv, dp;
};

// L = sum(out * w) through autograd; the gradients reaching qkv and p are then dL/dqkv and dL/dp.
Result run(const Tensor& qkv, real p, bool causal, SelfTerm self, real eps, const Tensor& w) {
    Var x(qkv.clone(), true), pv(Tensor::full({1}, p), true);
    Result r;
    Var out = plap_attention(x, pv, 1, causal, self, eps, &r.A);
    Var loss = sum_all(mul(out, Var(w)));
    loss.backward();
    r.out = out.value();
    r.dqkv = x.grad();
    r.dp = pv.grad();
    return r;
}

void check_near(double got, double want, const char* what, int i) {
    CAPTURE(what);
    CAPTURE(i);
    CHECK(std::fabs(got - want) <= kTol);
}

// The hand values, one struct per setting. dp is written as its closed form c * ln 2.
struct Hand {
    double A[3][3], out[3], dv[3], dk[3], dp;
};

void check_against_hand(const Result& r, const Hand& h) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) check_near(r.A[i * 3 + j], h.A[i][j], "A", i * 3 + j);
    for (int i = 0; i < 3; i++) check_near(r.out[i], h.out[i], "out", i);
    for (int i = 0; i < 3; i++) check_near(r.dqkv[i * 3 + 0], 0.0, "dq", i);  // dq_i = sum_j dz_ij k_j, k = 0
    for (int i = 0; i < 3; i++) check_near(r.dqkv[i * 3 + 1], h.dk[i], "dk", i);
    for (int i = 0; i < 3; i++) check_near(r.dqkv[i * 3 + 2], h.dv[i], "dv", i);
    check_near(r.dp[0], h.dp, "dp", 0);
}

}  // namespace

TEST_CASE("worked example: p = 1, exclude, not causal, by hand (notes/04)") {
    // notes/04, "A worked example by hand", setting 1. A_ij is proportional to 1 / |v_i - v_j|.
    const double ln2 = std::log(2.0);
    Hand h = {
        {{0, 2.0 / 3, 1.0 / 3}, {1.0 / 2, 0, 1.0 / 2}, {1.0 / 3, 2.0 / 3, 0}},  // A
        {4.0 / 3, 1.0, 2.0 / 3},                                                // out
        {5.0 / 9, 50.0 / 9, -1.0 / 9},                                          // dv
        {-5.0 / 3, 4.0 / 9, 11.0 / 9},                                          // dk: column sums of dz
        -4.0 / 9 * ln2,                                                          // dp
    };
    Result r = run(example_qkv(), 1, false, SelfTerm::exclude, 1e-12, Tensor::from_data({1, 3, 1}, {1, 2, 3}));
    check_against_hand(r, h);
}

TEST_CASE("worked example: p = 3, unit, causal, by hand (notes/04)") {
    // Setting 2: the diagonal keeps weight exp(s_ii) = 1; off it the weight is |v_i - v_j|.
    const double ln2 = std::log(2.0);
    Hand h = {
        {{1, 0, 0}, {1.0 / 2, 1.0 / 2, 0}, {1.0 / 2, 1.0 / 4, 1.0 / 4}},  // A
        {0.0, 1.0 / 2, 3.0 / 4},                                           // out
        {73.0 / 16, 17.0 / 16, 3.0 / 8},                                   // dv
        {-13.0 / 8, 11.0 / 16, 15.0 / 16},                                 // dk: column sums of dz
        -9.0 / 8 * ln2,                                                     // dp
    };
    Result r = run(example_qkv(), 3, true, SelfTerm::unit, 1e-12, Tensor::from_data({1, 3, 1}, {1, 2, 3}));
    check_against_hand(r, h);
}

TEST_CASE("worked example: the distance term's part of dv sums to zero over tokens (random inputs)") {
    // Shift invariance. r_ij depends on v only through differences v_i - v_j, so shifting every
    // value of a head by the same vector u leaves A unchanged and moves every out_i by u (rows of A
    // sum to 1). Hence d/dt L(v + t u) = sum_i dout_i . u, for every u:
    //     sum_m dv_m = sum_i dout_i                                     (1)
    // The weighted sum's part of dv is (A^T dout)_m = sum_i A_im dout_i, which sums over m to
    // sum_i dout_i as well, so the distance term's part, dv - A^T dout, sums to zero:
    //     sum_m (dv_m - sum_i A_im dout_i) = 0                          (2)
    // (In the code each pair adds +w (v_i - v_j) to dv_i and the same with a minus to dv_j.)
    // A^T dout is recomputed here from the returned A in plain loops. (1) and (2) hold to double
    // rounding: checked to 1e-12 relative to the size of the terms summed (sum_m |dv_m| + |(A^T dout)_m|);
    // and the distance part must be far from 0, so (2) cannot pass by that part being absent. B = 2, T = 6, C = 8, H = 2.
    const int64_t B = 2, T = 6, C = 8, H = 2, D = C / H;
    Generator gen(42);
    for (bool causal : {false, true})
        for (real p : {real(1), real(1.5), real(3), real(4)})
            for (SelfTerm self : {SelfTerm::unit, SelfTerm::exclude}) {
                CAPTURE(causal);
                CAPTURE(p);
                CAPTURE(self_term_name(self));
                Tensor qkv = Tensor::randn({B, T, 3 * C}, gen);
                Tensor w = Tensor::randn({B, T, C}, gen);
                Var x(qkv.clone(), true);
                Tensor A;
                Var out = plap_attention(x, Var(Tensor::full({H}, p)), int(H), causal, self, real(1e-6), &A);
                sum_all(mul(out, Var(w))).backward();
                const Tensor& g = x.grad();
                for (int64_t b = 0; b < B; b++)
                    for (int64_t h = 0; h < H; h++)
                        for (int64_t c = 0; c < D; c++) {
                            double total = 0, dout_sum = 0, dist_sum = 0, dist_abs = 0, scale = 0;
                            for (int64_t m = 0; m < T; m++) {
                                double dv = g[(b * T + m) * 3 * C + 2 * C + h * D + c];
                                double through_sum = 0;  // (A^T dout)_m
                                for (int64_t i = 0; i < T; i++)
                                    through_sum += A[((b * H + h) * T + i) * T + m] * w[(b * T + i) * C + h * D + c];
                                total += dv;
                                dout_sum += w[(b * T + m) * C + h * D + c];
                                dist_sum += dv - through_sum;
                                dist_abs += std::fabs(dv - through_sum);
                                scale += std::fabs(dv) + std::fabs(through_sum);
                            }
                            CHECK(dist_abs > 1e-3);                              // the part is there
                            CHECK(std::fabs(dist_sum) <= 1e-12 * scale);  // (2)
                            CHECK(std::fabs(total - dout_sum) <= 1e-12 * scale);  // (1)
                        }
            }
}
