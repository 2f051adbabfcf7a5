// tests/gradcheck_nn.cpp: the gradient of a whole model's loss with respect to every parameter,
// against central finite differences, in the double build (notes/05-transformer.md, "Testing").
// The lm and the vit, softmax and p-Laplacian attention (both self-term choices, learnable p,
// one p per layer). Each parameter is checked along random directions u: the backward pass
// gives <dL/dw, u>, and (L(w + h u) - L(w - h u)) / 2h estimates the same number.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/random.h"
#include "nn/models.h"

using namespace plat;

namespace {

// Tolerances, justified by measurement and by the two error terms of a central difference:
// - rounding: L (about 2 to 6) is computed in double with a relative error near 1e-15, so the
//   quotient (L+ - L-) / 2h carries about 1e-15 * L / h ~ 5e-9 at h = 1e-6 (measured: up to
//   3e-9 absolute over all cases);
// - truncation: h^2 / 6 * |L'''| along u (every function here is smooth: GELU, tanh, exp, log;
//   no kinks). The p-Laplacian's log(r + eps) has large higher derivatives: at h = 1e-5 the
//   worst case (vit, p = 1.7, cls_token) was off by 7.7e-6 relative, shrinking 100x per 10x
//   smaller h, as truncation does; at h = 1e-6 it is 8e-8.
// Directional derivatives are 1e-3 to 3; a wrong term (a missing wte contribution, a
// transposed weight, a dropped p-term) changes them by far more than 1e-6 relative.
constexpr double kStep = 1e-6;
constexpr double kAtol = 2e-8;
constexpr double kRtol = 1e-6;
constexpr int kDirections = 2;

// Moves the model away from its initialization, whose small weights make the network nearly
// linear and the attention nearly uniform: every parameter gets N(0, 0.3^2) noise added (p is
// left at its configured values, where the p-Laplacian terms matter).
void perturb(Model& model, uint64_t seed) {
    Generator gen(seed);
    for (const NamedParameter& np : model.named_parameters_with_roles()) {
        if (np.role == ParamRole::p) continue;
        Tensor t = np.var.value();
        Tensor noise = Tensor::randn(t.shape(), gen, 0, real(0.3));
        for (int64_t i = 0; i < t.numel(); i++) t[i] += noise[i];
    }
}

double loss_value(Model& model, const Batch& batch) {
    NoGradGuard no_grad;
    return model.loss(model.forward(batch), batch).item();
}

// Checks every parameter of the model along kDirections random directions. Returns the worst
// relative error seen, for the message.
double check_model(Model& model, const Batch& batch, uint64_t seed) {
    model.zero_grad();
    Var loss = model.loss(model.forward(batch), batch);
    loss.backward();
    Generator gen(seed);
    double worst = 0;
    for (const auto& [name, var] : model.named_parameters()) {
        INFO(name);
        REQUIRE(!var.grad().empty());  // every parameter takes part in the loss
        Tensor w = var.value();        // shares storage: perturbing it perturbs the model
        Tensor saved = w.clone(), grad = var.grad().clone();
        for (int d = 0; d < kDirections; d++) {
            Tensor u = Tensor::randn(w.shape(), gen);
            double analytic = 0;
            for (int64_t i = 0; i < w.numel(); i++) analytic += grad[i] * u[i];
            for (int64_t i = 0; i < w.numel(); i++) w[i] = saved[i] + kStep * u[i];
            double plus = loss_value(model, batch);
            for (int64_t i = 0; i < w.numel(); i++) w[i] = saved[i] - kStep * u[i];
            double minus = loss_value(model, batch);
            w.copy_from(saved);
            double numeric = (plus - minus) / (2 * kStep);
            double err = std::fabs(analytic - numeric);
            worst = std::max(worst, err / std::max(std::fabs(numeric), 1e-12));
            INFO(fmt::format("direction {}: analytic {:.12g}, numeric {:.12g}, error {:.3g}", d, analytic, numeric, err));
            CHECK(err <= kAtol + kRtol * std::fabs(numeric));
        }
    }
    return worst;
}

ModelConfig small(ModelKind model, AttnKind attn, std::vector<double> p, SelfTerm self,
                  bool learn_p) {
    ModelConfig c;
    c.model = model;
    c.dim = 8;
    c.layers = 2;
    c.heads = 2;
    c.context = 6;
    c.patch = 14;  // vit: 4 patches + the class token = 5 tokens
    c.attn = attn;
    c.p = p;
    c.self = self;
    c.learn_p = learn_p;
    c.seed = 5;
    return c;
}

Batch lm_batch() {
    // B = 2, T = 5, with a repeated id so that wte rows collect several gradients.
    std::vector<int64_t> x = {3, 200, 17, 3, 255, 0, 17, 17, 42, 99};
    std::vector<int64_t> y = {200, 17, 3, 255, 9, 17, 17, 42, 99, 1};
    return Batch::lm(2, 5, x, y);
}

Batch vit_batch() {
    Generator gen(77);
    return Batch::vit(Tensor::uniform(Shape{2, 1, 28, 28}, gen), {3, 8});
}

struct Case {
    const char* what;
    ModelConfig config;
};

}  // namespace

TEST_CASE("gradcheck nn: whole lm loss, every parameter, softmax and p-Laplacian attention") {
    std::vector<Case> cases = {
        {"softmax", small(ModelKind::lm, AttnKind::softmax, {2.0}, SelfTerm::unit, false)},
        {"plap p=1.5 unit", small(ModelKind::lm, AttnKind::plap, {1.5}, SelfTerm::unit, false)},
        {"plap p=[1.5,3] unit learn_p", small(ModelKind::lm, AttnKind::plap, {1.5, 3.0}, SelfTerm::unit, true)},
        {"plap p=[1.2,2.5] exclude learn_p", small(ModelKind::lm, AttnKind::plap, {1.2, 2.5}, SelfTerm::exclude, true)},
    };
    for (const Case& k : cases) {
        INFO("case: " << k.what);
        std::unique_ptr<Model> model = make_model(k.config);
        perturb(*model, 11);
        double worst = check_model(*model, lm_batch(), 21);
        MESSAGE(fmt::format("lm {}: worst relative error {:.2e}", k.what, worst));
    }
}

TEST_CASE("gradcheck nn: whole vit loss, every parameter, softmax and p-Laplacian attention") {
    std::vector<Case> cases = {
        {"softmax", small(ModelKind::vit, AttnKind::softmax, {2.0}, SelfTerm::unit, false)},
        {"plap p=[1.7,2.6] unit learn_p", small(ModelKind::vit, AttnKind::plap, {1.7, 2.6}, SelfTerm::unit, true)},
        {"plap p=1.3 exclude learn_p", small(ModelKind::vit, AttnKind::plap, {1.3}, SelfTerm::exclude, true)},
    };
    for (const Case& k : cases) {
        INFO("case: " << k.what);
        std::unique_ptr<Model> model = make_model(k.config);
        perturb(*model, 12);
        double worst = check_model(*model, vit_batch(), 22);
        MESSAGE(fmt::format("vit {}: worst relative error {:.2e}", k.what, worst));
    }
}

TEST_CASE("gradcheck nn: the tied lm head gives wte two contributions") {
    // dL/dwte = (embedding's scatter of dx) + (the head's dlogits^T x). Each alone is not the
    // gradient: check that the full one matches finite differences while the head's part alone
    // (computed here by hand from the forward pieces) does not.
    std::unique_ptr<Model> model = make_model(small(ModelKind::lm, AttnKind::softmax, {2.0}, SelfTerm::unit, false));
    perturb(*model, 13);
    auto& gpt = dynamic_cast<GPT&>(*model);
    Batch batch = lm_batch();
    // The head's contribution alone: recompute the final hidden state as a constant, so the
    // graph only reaches wte through logits = x wte^T.
    Tensor x_final;
    {
        NoGradGuard no_grad;
        Trace trace;
        gpt.forward(batch, &trace);
        x_final = gpt.ln_f.forward(Var(trace.hidden.back())).value();
    }
    gpt.zero_grad();
    Var head_only = cross_entropy(matmul(Var(x_final), gpt.wte.weight, false, true), batch.targets);
    head_only.backward();
    Tensor head_grad = gpt.wte.weight.grad().clone();
    gpt.zero_grad();
    Var loss = gpt.loss(gpt.forward(batch), batch);
    loss.backward();
    Tensor full_grad = gpt.wte.weight.grad().clone();
    // Rows of ids that appear in the input get the embedding's contribution on top.
    double diff_used = 0, diff_unused = 0;
    for (int64_t c = 0; c < 8; c++) {
        diff_used += std::fabs(full_grad[3 * 8 + c] - head_grad[3 * 8 + c]);        // id 3 is an input
        diff_unused += std::fabs(full_grad[100 * 8 + c] - head_grad[100 * 8 + c]);  // id 100 is not
    }
    CHECK(diff_used > 1e-4);
    CHECK(diff_unused < 1e-12);
    check_model(gpt, batch, 23);  // and the sum of the two is the true gradient
}
