// tests/gradcheck_autograd.cpp: every autograd operation's backward against central finite
// differences, in the double build (notes/02-autograd.md, "Gradient checking"). Also: the coarse
// ops against the same formula composed from primitives, and a deliberately wrong backward that
// gradcheck must reject, so the checker is known to be able to fail.
//
// Tolerances (GradCheckOptions defaults: step h = 1e-6, atol = 1e-7, rtol = 1e-5). The objective
// is L = sum(f(x) * w) with w ~ N(0, 1). The central difference (L(x+h) - L(x-h)) / 2h errs by
//   truncation  h^2/6 |L'''|        ~ 1e-12 * |L'''|   (L''' is O(1-100) for these inputs),
//   rounding    eps |L| / h         ~ 1.1e-16 * |L| / 1e-6 ~ 1e-10 * |L|   (|L| <= ~50 here),
// so the numeric gradient is good to ~1e-8 at worst; atol 1e-7 + rtol 1e-5 leaves a margin of
// 10x or more above that, while a backward that is wrong by 1% of a gradient of size 0.01 or
// more (error >= 1e-4) fails by three orders of magnitude (see "gradcheck rejects...").
// Kinks are avoided: relu inputs at least 0.1 away from 0 and max inputs at least 0.05 apart
// (both >> h), so the perturbations never cross a kink.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/kernels.h"
#include "core/random.h"

using namespace plat;

namespace {

using Fn = std::function<Var(const std::vector<Var>&)>;

static_assert(sizeof(real) == sizeof(double), "gradcheck_*.cpp must be built with -DPLAT_REAL=double");

void expect_passes(const Fn& f, const std::vector<Tensor>& inputs, const GradCheckOptions& options = {}) {
    GradCheckResult r = gradcheck(f, inputs, options);
    CHECK_MESSAGE(r.passed, r.message << " (worst abs error " << r.worst_abs << ", worst rel " << r.worst_rel << ")");
}

Tensor randn(const Shape& s, Generator& gen) { return Tensor::randn(s, gen); }
Tensor uniform(const Shape& s, Generator& gen, real lo, real hi) { return Tensor::uniform(s, gen, lo, hi); }

// Values with |x| in [0.1, 1.1]: away from relu's kink at 0 by far more than h.
Tensor away_from_zero(const Shape& s, Generator& gen) {
    Tensor t = uniform(s, gen, real(0.1), real(1.1));
    for (int64_t i = 0; i < t.numel(); i++)
        if (gen.uniform() < 0.5) t[i] = -t[i];
    return t;
}

// Distinct values spaced 0.05 apart in a shuffled order: max has no ties within any perturbation.
Tensor distinct(const Shape& s, Generator& gen) {
    Tensor t(s);
    std::vector<int64_t> order(t.numel());
    std::iota(order.begin(), order.end(), 0);
    for (int64_t i = t.numel() - 1; i > 0; i--) std::swap(order[i], order[gen.randint(i + 1)]);
    for (int64_t i = 0; i < t.numel(); i++) t[i] = real(0.05) * real(order[i]) - 1;
    return t;
}

}  // namespace

// ---- binary ops with broadcasting ------------------------------------------------------------

TEST_CASE("gradcheck add, sub, mul, div with broadcasting") {
    Generator gen(1);
    struct Case {
        Shape a, b;
    };
    // Same shape; [3,4] + [4] (a row vector); [4] + [3,4] (broadcast on the left); [2,1,4] * [3,1]
    // (both stretched); scalar-like [1] on either side; [3,1] with [1,4] (an outer product).
    std::vector<Case> cases = {{{3, 4}, {3, 4}}, {{3, 4}, {4}},       {{4}, {3, 4}}, {{2, 1, 4}, {3, 1}},
                               {{1}, {3, 4}},    {{3, 4}, {1}},       {{3, 1}, {1, 4}}};
    for (const Case& c : cases) {
        CAPTURE(c.a.str());
        CAPTURE(c.b.str());
        Tensor a = randn(c.a, gen), b = randn(c.b, gen);
        // div's denominator in [0.5, 2] with either sign: far from the pole at 0.
        Tensor d = away_from_zero(c.b, gen);
        for (int64_t i = 0; i < d.numel(); i++) d[i] = d[i] > 0 ? d[i] + real(0.4) : d[i] - real(0.4);
        expect_passes([](const std::vector<Var>& v) { return add(v[0], v[1]); }, {a, b});
        expect_passes([](const std::vector<Var>& v) { return sub(v[0], v[1]); }, {a, b});
        expect_passes([](const std::vector<Var>& v) { return mul(v[0], v[1]); }, {a, b});
        expect_passes([](const std::vector<Var>& v) { return div(v[0], v[1]); }, {a, d});
    }
}

TEST_CASE("gradcheck add_scalar, mul_scalar, neg") {
    Generator gen(2);
    Tensor x = randn({2, 3}, gen);
    expect_passes([](const std::vector<Var>& v) { return add_scalar(v[0], real(1.5)); }, {x});
    expect_passes([](const std::vector<Var>& v) { return mul_scalar(v[0], real(-2.5)); }, {x});
    expect_passes([](const std::vector<Var>& v) { return neg(v[0]); }, {x});
}

// ---- matmul ----------------------------------------------------------------------------------

TEST_CASE("gradcheck matmul: every transpose combination, 2-D, batched and shared b") {
    Generator gen(3);
    const int64_t M = 3, K = 4, N = 5;
    // Leading (batch) dims of a; b is either 2-D (shared) or has the same leading dims.
    std::vector<Shape> batches = {Shape{}, Shape{2}, Shape{2, 2}};
    for (const Shape& batch : batches)
        for (bool shared : {true, false}) {
            if (batch.ndim() == 0 && !shared) continue;  // 2-D @ 2-D is the shared case
            for (bool ta : {false, true})
                for (bool tb : {false, true}) {
                    Shape sa = batch, sb = shared ? Shape{} : batch;
                    sa.push_back(ta ? K : M);
                    sa.push_back(ta ? M : K);
                    sb.push_back(tb ? N : K);
                    sb.push_back(tb ? K : N);
                    CAPTURE(sa.str());
                    CAPTURE(sb.str());
                    CAPTURE(ta);
                    CAPTURE(tb);
                    expect_passes([ta, tb](const std::vector<Var>& v) { return matmul(v[0], v[1], ta, tb); },
                                  {randn(sa, gen), randn(sb, gen)});
                }
        }
}

TEST_CASE("gradcheck matmul on inputs larger than max_elements (random directions)") {
    // [40, 60] has 2400 > 2048 elements, so both inputs are checked along 8 random directions.
    Generator gen(4);
    expect_passes([](const std::vector<Var>& v) { return matmul(v[0], v[1]); }, {randn({40, 60}, gen), randn({60, 3}, gen)});
}

// ---- elementwise functions -----------------------------------------------------------------

TEST_CASE("gradcheck exp, log, pow, sqrt, tanh, relu") {
    Generator gen(5);
    Tensor x = randn({3, 4}, gen);
    Tensor pos = uniform({3, 4}, gen, real(0.5), real(2));  // log, sqrt, fractional powers: x > 0
    expect_passes([](const std::vector<Var>& v) { return exp(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return log(v[0]); }, {pos});
    expect_passes([](const std::vector<Var>& v) { return sqrt(v[0]); }, {pos});
    expect_passes([](const std::vector<Var>& v) { return tanh(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return relu(v[0]); }, {away_from_zero({3, 4}, gen)});
    for (real p : {real(2), real(3), real(-1)}) {
        CAPTURE(p);
        expect_passes([p](const std::vector<Var>& v) { return pow(v[0], p); }, {away_from_zero({3, 4}, gen)});
    }
    for (real p : {real(0.5), real(-1.5), real(2.7)}) {
        CAPTURE(p);
        expect_passes([p](const std::vector<Var>& v) { return pow(v[0], p); }, {pos});
    }
}

// ---- reductions -------------------------------------------------------------------------------

TEST_CASE("gradcheck sum, mean, max along each axis, with and without keepdim") {
    Generator gen(6);
    Tensor x = randn({2, 3, 4}, gen);
    Tensor xd = distinct({2, 3, 4}, gen);
    for (int axis : {0, 1, 2, -1})
        for (bool keepdim : {false, true}) {
            CAPTURE(axis);
            CAPTURE(keepdim);
            expect_passes([=](const std::vector<Var>& v) { return sum(v[0], axis, keepdim); }, {x});
            expect_passes([=](const std::vector<Var>& v) { return mean(v[0], axis, keepdim); }, {x});
            expect_passes([=](const std::vector<Var>& v) { return max(v[0], axis, keepdim); }, {xd});
        }
    expect_passes([](const std::vector<Var>& v) { return sum_all(v[0]); }, {x});
}

// ---- data movement --------------------------------------------------------------------------

TEST_CASE("gradcheck reshape, transpose, slice, concat") {
    Generator gen(7);
    Tensor x = randn({2, 3, 4}, gen);
    expect_passes([](const std::vector<Var>& v) { return reshape(v[0], {4, 6}); }, {x});
    expect_passes([](const std::vector<Var>& v) { return transpose(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return transpose(v[0]); }, {randn({3, 5}, gen)});
    for (int axis : {0, 1, 2, -1}) {
        CAPTURE(axis);
        int64_t n = x.shape()[axis];
        expect_passes([=](const std::vector<Var>& v) { return slice(v[0], axis, 1, n); }, {x});
        expect_passes([=](const std::vector<Var>& v) { return slice(v[0], axis, 0, 1); }, {x});
        // Three parts of sizes 1, 2 and 3 along the axis.
        std::vector<Tensor> parts;
        for (int64_t len : {1, 2, 3}) parts.push_back(randn(x.shape().with(axis, len), gen));
        expect_passes([=](const std::vector<Var>& v) { return concat(v, axis); }, parts);
    }
}

// ---- softmax ----------------------------------------------------------------------------------

TEST_CASE("gradcheck softmax and log_softmax") {
    Generator gen(8);
    Tensor x = randn({2, 3, 5}, gen);
    expect_passes([](const std::vector<Var>& v) { return softmax(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return log_softmax(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return softmax(v[0]); }, {randn({7}, gen)});
}

// ---- coarse ops ---------------------------------------------------------------------------------

TEST_CASE("gradcheck layer_norm") {
    Generator gen(9);
    Tensor x = randn({2, 3, 8}, gen), w = randn({8}, gen), b = randn({8}, gen);
    expect_passes([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); }, {x, w, b});
    // A row with a tiny variance: rstd is large, the backward's cancellation is at its worst.
    Tensor flat = Tensor::full({2, 8}, real(0.3));
    for (int64_t i = 0; i < flat.numel(); i++) flat[i] += real(0.01) * real(gen.normal());
    expect_passes([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2], real(1e-3)); },
                  {flat, randn({8}, gen), randn({8}, gen)});
    // 150 rows: the backward sums dweight and dbias in blocks of 64 rows (64, 64, 22), then the blocks.
    expect_passes([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); },
                  {randn({3, 50, 8}, gen), randn({8}, gen), randn({8}, gen)});
}

TEST_CASE("gradcheck gelu") {
    Generator gen(10);
    expect_passes([](const std::vector<Var>& v) { return gelu(v[0]); }, {Tensor::randn({4, 6}, gen, 0, 2)});
}

TEST_CASE("gradcheck linear: 2-D and 3-D inputs") {
    Generator gen(19);
    auto f = [](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); };
    expect_passes(f, {randn({5, 4}, gen), randn({3, 4}, gen), randn({3}, gen)});
    expect_passes(f, {randn({2, 3, 4}, gen), randn({6, 4}, gen), randn({6}, gen)});
    expect_passes(f, {randn({4}, gen), randn({2, 4}, gen), randn({2}, gen)});  // one row, no batch axis
}

TEST_CASE("gradcheck embedding, with repeated ids") {
    Generator gen(11);
    std::vector<int64_t> ids = {3, 0, 3, 4, 1, 3};  // id 3 three times: its row collects three gradients
    expect_passes([ids](const std::vector<Var>& v) { return embedding(v[0], ids, {2, 3}); }, {randn({5, 4}, gen)});
}

TEST_CASE("gradcheck cross_entropy") {
    Generator gen(12);
    std::vector<int64_t> targets = {0, 4, 2, 2, 1, 3};
    expect_passes([targets](const std::vector<Var>& v) { return cross_entropy(v[0], targets); },
                  {randn({2, 3, 5}, gen)});
    // A graph ending in the loss with an upstream gradient != 1: the loss scaled by 3.
    expect_passes([targets](const std::vector<Var>& v) { return mul_scalar(cross_entropy(v[0], targets), 3); },
                  {randn({6, 5}, gen)});
}

// ---- the coarse ops against the same formula composed from primitives ---------------------------
// Forward values and every gradient of the fused op must match the composed graph's to rounding
// (1e-12 in double: each side is a handful of O(1) operations per element).

namespace {

void expect_same_value_and_grads(const Fn& fused, const Fn& composed, const std::vector<Tensor>& inputs) {
    std::vector<Var> a, b;
    for (const Tensor& t : inputs) {
        a.push_back(Var(t.clone(), true));
        b.push_back(Var(t.clone(), true));
    }
    Var ya = fused(a), yb = composed(b);
    REQUIRE(ya.shape() == yb.shape());
    for (int64_t i = 0; i < ya.value().numel(); i++) CHECK(ya.value()[i] == doctest::Approx(yb.value()[i]).epsilon(1e-12));
    Generator gen(99);
    Tensor seed = Tensor::randn(ya.shape(), gen);
    ya.backward(seed);
    yb.backward(seed);
    for (size_t k = 0; k < inputs.size(); k++) {
        CAPTURE(k);
        REQUIRE(!a[k].grad().empty());
        REQUIRE(!b[k].grad().empty());
        for (int64_t i = 0; i < inputs[k].numel(); i++) CHECK(std::fabs(a[k].grad()[i] - b[k].grad()[i]) < 1e-12);
    }
}

}  // namespace

TEST_CASE("gradcheck layer_norm, gelu, linear, cross_entropy: fused equals composed, value and gradients") {
    Generator gen(13);
    const real eps = real(1e-5);
    expect_same_value_and_grads(
        [eps](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2], eps); },
        [eps](const std::vector<Var>& v) {
            // (x - mean) / sqrt(mean((x - mean)^2) + eps) * w + b
            Var centered = sub(v[0], mean(v[0], -1, true));
            Var var = mean(mul(centered, centered), -1, true);
            Var norm = div(centered, sqrt(add_scalar(var, eps)));
            return add(mul(norm, v[1]), v[2]);
        },
        {randn({2, 3, 8}, gen), randn({8}, gen), randn({8}, gen)});
    expect_same_value_and_grads(
        [](const std::vector<Var>& v) { return gelu(v[0]); },
        [](const std::vector<Var>& v) {
            // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
            Var inner = mul_scalar(add(v[0], mul_scalar(pow(v[0], 3), real(0.044715))), std::sqrt(real(2) / real(M_PI)));
            return mul(mul_scalar(v[0], real(0.5)), add_scalar(tanh(inner), 1));
        },
        {randn({4, 6}, gen)});
    expect_same_value_and_grads([](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
                                [](const std::vector<Var>& v) { return add(matmul(v[0], v[1], false, true), v[2]); },
                                {randn({2, 3, 5}, gen), randn({7, 5}, gen), randn({7}, gen)});
    std::vector<int64_t> targets = {1, 0, 4, 2};
    expect_same_value_and_grads(
        [targets](const std::vector<Var>& v) { return cross_entropy(v[0], targets); },
        [targets](const std::vector<Var>& v) {
            // -mean over rows of log_softmax[target], the pick done with a one-hot mask.
            Tensor onehot({4, 5});
            for (int64_t n = 0; n < 4; n++) onehot[n * 5 + targets[n]] = 1;
            Var picked = sum_all(mul(log_softmax(v[0]), Var(onehot)));
            return mul_scalar(picked, real(-0.25));
        },
        {randn({4, 5}, gen)});
}

// ---- reuse: the diamond and x * x ---------------------------------------------------------------

TEST_CASE("gradcheck graphs that reuse a value: the diamond and x * x") {
    Generator gen(14);
    Tensor x = randn({3, 4}, gen);
    expect_passes([](const std::vector<Var>& v) { return mul(v[0], v[0]); }, {x});  // d(x^2) = 2x
    // The diamond: a feeds b and c, both feed d. a is not a leaf, so its gradient must be
    // complete (both contributions) before it passes it on (notes, "Why topological order").
    expect_passes(
        [](const std::vector<Var>& v) {
            Var a = tanh(v[0]);
            Var b = exp(a), c = mul(a, v[1]);
            return mul(b, c);
        },
        {x, randn({4}, gen)});
    // A longer chain of reuse: a used three times at different depths.
    expect_passes(
        [](const std::vector<Var>& v) {
            Var a = mul_scalar(v[0], real(0.7));
            Var b = add(a, mul(a, a));
            return sum(mul(b, a), -1);
        },
        {x});
}

TEST_CASE("gradcheck a small two-layer network end to end") {
    Generator gen(15);
    std::vector<int64_t> targets = {2, 0, 1, 2};
    expect_passes(
        [targets](const std::vector<Var>& v) {
            Var h = gelu(add(matmul(layer_norm(v[0], v[3], v[4]), v[1]), v[2]));
            return cross_entropy(matmul(h, v[1], false, true), targets);  // weight tied, used twice
        },
        {randn({4, 5}, gen), Tensor::randn({5, 3}, gen, 0, real(0.5)), randn({3}, gen), randn({5}, gen),
         randn({5}, gen)});
}

// ---- the checker itself ---------------------------------------------------------------------

namespace {

// x^2 with a backward that is 1% too large: 2.02 x instead of 2 x.
Var wrong_square(const Var& x) {
    return record("wrong_square", plat::mul(x.value(), x.value()), {x}, [](Node& self) {
        Tensor dx = plat::mul(self.grad, self.inputs[0]->value);
        add_into(self.inputs[0]->grad_buffer(), dx, real(2.02));
    });
}

}  // namespace

TEST_CASE("gradcheck rejects a backward that is wrong by 1%") {
    Generator gen(16);
    Fn f = [](const std::vector<Var>& v) { return wrong_square(v[0]); };
    // Element by element.
    Tensor x = randn({3, 4}, gen), x_before = x.clone();
    GradCheckResult r = gradcheck(f, {x});
    for (int64_t i = 0; i < x.numel(); i++) CHECK(x[i] == x_before[i]);  // perturbed a private copy
    CHECK_FALSE(r.passed);
    CHECK(r.message.find("input 0") != std::string::npos);
    CHECK(r.message.find("element") != std::string::npos);
    CHECK(r.worst_rel == doctest::Approx(0.02 / 2.02).epsilon(1e-4));  // |2.02x - 2x| / |2.02x|
    // Along random directions (an input above max_elements).
    GradCheckOptions few;
    few.max_elements = 4;
    GradCheckResult rd = gradcheck(f, {randn({3, 4}, gen)}, few);
    CHECK_FALSE(rd.passed);
    CHECK(rd.message.find("random direction") != std::string::npos);
    // The same op with the right backward passes both ways: the failure is the 1%, nothing else.
    Fn right = [](const std::vector<Var>& v) { return mul(v[0], v[0]); };
    expect_passes(right, {randn({3, 4}, gen)});
    expect_passes(right, {randn({3, 4}, gen)}, few);
}

TEST_CASE("gradcheck: check_input skips inputs; an unused input has gradient 0") {
    Generator gen(17);
    Fn f = [](const std::vector<Var>& v) { return wrong_square(v[0]) + v[1]; };
    GradCheckOptions only_b;
    only_b.check_input = {false, true};
    expect_passes(f, {randn({3}, gen), randn({3}, gen)}, only_b);  // the wrong input is not checked
    Fn ignores_b = [](const std::vector<Var>& v) { return exp(v[0]); };
    expect_passes(ignores_b, {randn({3}, gen), randn({2}, gen)});
    GradCheckOptions wrong_count;
    wrong_count.check_input = {true};
    CHECK_THROWS_AS(gradcheck(f, {randn({3}, gen), randn({3}, gen)}, wrong_count), Error);
}

TEST_CASE("gradcheck ops on inputs large enough for their parallel loops") {
    // 64 x 256 = 16384 elements reaches the OpenMP threshold (kParallelMin in autograd/ops.cpp),
    // so these run the parallel row/channel loops; the inputs are checked along random directions.
    Generator gen(18);
    const int64_t N = 64, C = 256;
    Tensor x = randn({N, C}, gen);
    expect_passes([](const std::vector<Var>& v) { return layer_norm(v[0], v[1], v[2]); },
                  {x, randn({C}, gen), randn({C}, gen)});
    expect_passes([](const std::vector<Var>& v) { return gelu(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
                  {x, randn({96, C}, gen), randn({96}, gen)});  // the bias gradient's column blocks
    expect_passes([](const std::vector<Var>& v) { return softmax(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return log_softmax(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return tanh(v[0]); }, {x});
    expect_passes([](const std::vector<Var>& v) { return sum(v[0], 0); }, {x});
    std::vector<int64_t> targets(N), ids(N * 4);
    for (auto& t : targets) t = gen.randint(C);
    for (auto& t : ids) t = gen.randint(16);  // many repeats
    expect_passes([targets](const std::vector<Var>& v) { return cross_entropy(v[0], targets); }, {x});
    expect_passes([ids](const std::vector<Var>& v) { return embedding(v[0], ids, {N * 4}); }, {randn({16, C}, gen)});
}
