// tests/test_step.cpp: the pieces of the training library below the Trainer: train_step (the one
// training-step recipe, experiments/training/step.h), sampling bytes (experiments/training/generate.h)
// and the engine's per-operation timing (autograd/profile.h). The expected values are computed here
// by other means: the recipe written out by hand, probabilities from the logits, FLOPs from the
// shapes by the formulas of notes/07-performance.md.
#include <doctest/doctest.h>

#include <cmath>
#include <map>

#include "autograd/ops.h"
#include "autograd/profile.h"
#include "core/error.h"
#include "core/random.h"
#include "experiments/training/generate.h"
#include "experiments/training/step.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

namespace {


Batch bytes_batch(int64_t B, int64_t T, uint64_t seed) {
    Generator gen(seed);
    std::vector<int64_t> x(B * T), y(B * T);
    for (int64_t i = 0; i < B * T; i++) x[i] = gen.randint(256), y[i] = gen.randint(256);
    return Batch::lm(B, T, std::move(x), std::move(y));
}

}  // namespace

TEST_CASE("train_step: is exactly the recipe written out by hand, step after step") {
    std::unique_ptr<Model> a = make_model(tiny_plap_lm()), b = make_model(tiny_plap_lm());
    AdamW opt_a(make_param_groups(*a, 0.1), 1e-3), opt_b(make_param_groups(*b, 0.1), 1e-3);
    for (int step = 0; step < 3; step++) {
        const Batch batch = bytes_batch(2, 8, 10 + step);
        const double lr = 0.05 * (step + 1);  // large, so a p crosses its clamp and the norm clips
        const StepResult r = train_step(*a, opt_a, batch, lr, 0.5);
        // The recipe, by hand.
        Var loss = b->loss(b->forward(batch), batch);
        b->zero_grad();
        loss.backward();
        const double norm = clip_grad_norm(b->parameters(), 0.5);
        opt_b.lr = lr;
        opt_b.step();
        b->after_step();
        CHECK(r.updated);
        CHECK(r.loss == double(loss.item()));
        CHECK(r.grad_norm == norm);
        CHECK(r.forward_s >= 0);
        CHECK(r.seconds() >= r.forward_s);
        const auto pa = a->named_parameters(), pb = b->named_parameters();
        REQUIRE(pa.size() == pb.size());
        for (size_t i = 0; i < pa.size(); i++) {
            INFO(pa[i].first);
            const Tensor &x = pa[i].second.value(), &y = pb[i].second.value();
            bool same = true;
            for (int64_t k = 0; k < x.numel(); k++) same = same && x[k] == y[k];
            CHECK(same);
        }
    }
    CHECK(opt_a.steps() == 3);
}

TEST_CASE("train_step: a non-finite loss leaves every parameter as it was") {
    std::unique_ptr<Model> m = make_model(tiny_plap_lm());
    AdamW opt(make_param_groups(*m, 0.1), 1e-3);
    m->named_parameters().front().second.value()[0] = std::nanf("");  // one NaN in wte: the loss is NaN
    std::vector<Tensor> before;
    for (const auto& [name, v] : m->named_parameters()) before.push_back(v.value().clone());
    const StepResult r = train_step(*m, opt, bytes_batch(2, 8, 1), 1e-3, 1.0);
    CHECK_FALSE(r.updated);
    CHECK(std::isnan(r.loss));
    CHECK(opt.steps() == 0);
    size_t i = 0;
    for (const auto& [name, v] : m->named_parameters()) {
        const Tensor& now = v.value();
        bool same = true;
        for (int64_t k = 0; k < now.numel(); k++)
            same = same && (now[k] == before[i][k] || (std::isnan(now[k]) && std::isnan(before[i][k])));
        CHECK(same);
        i++;
    }
}

TEST_CASE("sample_byte: top-k, temperature and ties, against probabilities computed from the logits") {
    // z = [log 1, log 3, log 3, log 1] - 5: probabilities 1/8, 3/8, 3/8, 1/8 at temperature 1.
    const real z[4] = {real(0 - 5), real(std::log(3.0) - 5), real(std::log(3.0) - 5), real(0 - 5)};
    Generator gen(1);
    // top_k = 1 is the argmax whatever the draw; the tie between bytes 1 and 2 goes to the smaller.
    for (int i = 0; i < 50; i++) CHECK(sample_byte(z, 4, 1.0, 1, gen) == 1);
    // top_k = 0: frequencies close to 1/8, 3/8, 3/8, 1/8 over 20000 draws (std of a frequency
    // <= sqrt(0.25 / 20000) = 0.0035; 0.015 is more than 4 std).
    std::map<int64_t, int> count;
    const int n = 20000;
    for (int i = 0; i < n; i++) count[sample_byte(z, 4, 1.0, 0, gen)]++;
    const double expect[4] = {0.125, 0.375, 0.375, 0.125};
    for (int64_t v = 0; v < 4; v++) CHECK(std::fabs(double(count[v]) / n - expect[v]) < 0.015);
    // top_k = 2 keeps bytes 1 and 2 only, each with 1/2.
    count.clear();
    for (int i = 0; i < n; i++) count[sample_byte(z, 4, 1.0, 2, gen)]++;
    CHECK(count[0] + count[3] == 0);
    CHECK(std::fabs(double(count[1]) / n - 0.5) < 0.015);
    // Temperature 2 flattens: p ~ sqrt(1, 3, 3, 1), so byte 0 has 1 / (2 + 2 sqrt 3) = 0.1830.
    count.clear();
    for (int i = 0; i < n; i++) count[sample_byte(z, 4, 2.0, 0, gen)]++;
    CHECK(std::fabs(double(count[0]) / n - 1 / (2 + 2 * std::sqrt(3.0))) < 0.015);
}

TEST_CASE("generate: deterministic for a seed, one byte per step, the model left in its mode") {
    std::unique_ptr<Model> m = make_model(tiny_plap_lm());
    m->train();
    std::vector<int64_t> seen;
    const std::vector<int64_t> a = generate(*m, {65, 66}, 12, 0.8, 0, 7, [&](int64_t b) { seen.push_back(b); });
    const std::vector<int64_t> b = generate(*m, {65, 66}, 12, 0.8, 0, 7);
    CHECK(a.size() == 12);
    CHECK(a == b);
    CHECK(seen == a);
    CHECK(m->is_training());
    for (int64_t v : a) CHECK((v >= 0 && v < 256));
    // More bytes than the context: the window slides (positions past the context have no embedding).
    CHECK(generate(*m, {65}, 20, 1.0, 0, 1).size() == 20);
    CHECK(contains(error_of([&] { generate(*m, {}, 3, 1.0, 0, 1); }), "prompt is empty"));
    CHECK(printable_bytes({'a', '\n', 7, 200}) == "a\n\\x07\\xc8");
}

TEST_CASE("OpProfile: the engine times every operation; its FLOPs agree with the shapes") {
    // y = linear(x, W1, b1) -> gelu -> linear(., W2, b2) -> sum: x [4, 3], W1 [5, 3], W2 [2, 5].
    Generator gen(2);
    Var x(Tensor::randn({4, 3}, gen), false), w1(Tensor::randn({5, 3}, gen), true), b1(Tensor::zeros({5}), true);
    Var w2(Tensor::randn({2, 5}, gen), true), b2(Tensor::zeros({2}), true);
    {
        Var off = sum_all(linear(gelu(linear(x, w1, b1)), w2, b2));
        CHECK(OpProfile::active() == nullptr);  // nothing records without a profile
        off.backward();
    }
    OpProfile prof;
    CHECK(OpProfile::active() == &prof);
    Var loss = sum_all(linear(gelu(linear(x, w1, b1)), w2, b2));
    loss.backward();
    std::map<std::string, OpTiming> by;
    for (const OpTiming& t : prof.ops()) by[t.op] = t;
    REQUIRE(by.size() == 4);
    // Products: 2 * rows * out * in forward; backward the same for each operand with a gradient.
    const OpTiming& l1 = by.at("linear [4, 5] from [4, 3]");
    CHECK(l1.calls == 1);
    CHECK(l1.forward_flops == 2 * 4 * 5 * 3);
    CHECK(l1.backward_flops == 2 * 4 * 5 * 3);  // x has no gradient: only dW1
    const OpTiming& l2 = by.at("linear [4, 2] from [4, 5]");
    CHECK(l2.forward_flops == 2 * 4 * 2 * 5);
    CHECK(l2.backward_flops == 2 * (2 * 4 * 2 * 5));  // dW2 and the gradient into gelu's output
    CHECK(by.at("gelu [4, 5]").forward_flops == 0);  // same shape in and out: no "from"
    CHECK(by.count("sum_all [1] from [4, 2]") == 1);
    for (const auto& [name, t] : by) {
        INFO(name);
        CHECK(t.forward_s >= 0);
        CHECK(t.backward_s >= 0);
    }
    CHECK(prof.backward_total_s() >= 0);
    CHECK(contains(error_of([] { OpProfile nested; }), "do not nest"));
}

TEST_CASE("OpProfile: a GPT step's matrix-product FLOPs are the formula's") {
    // Per block with R = B T rows: 24 R C^2 (qkv, proj, fc, fc_out) + 4 B T^2 C (attention's two
    // products over the T x T square); the tied head 2 R C V. Backward: twice the forward (the
    // embedding's inputs are indices, and every product has two operands with gradients).
    const ModelConfig c = tiny_plap_lm();
    std::unique_ptr<Model> m = make_model(c);
    AdamW opt(make_param_groups(*m, 0.1), 1e-3);
    const int64_t B = 2, T = 8;
    const double R = B * T, C = c.dim, L = c.layers, V = 256;
    const double forward = L * (24 * R * C * C + 4 * B * T * T * C) + 2 * R * C * V;
    OpProfile prof;
    train_step(*m, opt, bytes_batch(B, T, 4), 1e-3, 1.0);
    double fwd = 0, bwd = 0;
    for (const OpTiming& t : prof.ops()) fwd += t.forward_flops, bwd += t.backward_flops;
    CHECK(fwd == doctest::Approx(forward).epsilon(1e-12));
    CHECK(bwd == doctest::Approx(2 * forward).epsilon(1e-12));
}
