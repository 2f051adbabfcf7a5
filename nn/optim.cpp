// nn/optim.cpp: SGD, AdamW, the parameter groups, clipping and the schedule (nn/optim.h,
// notes/05-transformer.md "Optimizers"). Updates are computed per element in double and
// stored in `real`, under NoGradGuard so they are never recorded on the graph.
#include "nn/optim.h"

#include <cmath>
#include <set>

#include "core/error.h"
#include "core/kernels.h"

namespace plat {

// ---- parameter groups ----------------------------------------------------------------------------

std::vector<ParamGroup> make_param_groups(const Module& model, double weight_decay) {
    ParamGroup decay{"decay", {}, weight_decay}, no_decay{"no_decay", {}, 0.0};
    std::vector<NamedParameter> params = model.named_parameters_with_roles();
    for (const NamedParameter& p : params) {
        // The two rules of notes/model-spec.md, each written out on its own, so that a parameter
        // falling in both or in neither (a new kind of parameter nobody classified) is caught
        // below rather than silently decayed or not.
        bool in_decay = p.var.value().ndim() >= 2 && p.role != ParamRole::embedding;
        bool in_no_decay = p.role == ParamRole::bias || p.role == ParamRole::norm || p.role == ParamRole::embedding ||
                           p.role == ParamRole::p;
        if (in_decay == in_no_decay)
            fail("make_param_groups: parameter \"{}\" (shape {}, role {}) is in {} groups; each parameter must be in "
                 "exactly one of decay (ndim >= 2, not an embedding) and no_decay (biases, norm weights, embeddings, p)",
                 p.name, p.var.shape().str(), param_role_name(p.role), in_decay ? "both" : "neither of the");
        (in_decay ? decay : no_decay).params.push_back({p.name, p.var});
    }
    // Complete and disjoint: together the groups hold each parameter once.
    std::set<const Node*> seen;
    for (const ParamGroup* g : {&decay, &no_decay})
        for (const auto& np : g->params)
            if (!seen.insert(np.second.node().get()).second)
                fail("make_param_groups: parameter \"{}\" appears twice", np.first);
    if (seen.size() != params.size())
        fail("make_param_groups: the groups hold {} parameters, the model has {}", seen.size(), params.size());
    return {decay, no_decay};
}

// ---- Optimizer -------------------------------------------------------------------------------------

void Optimizer::zero_grad() {
    for (auto& np : all_params_) np.second.zero_grad();
}

void Optimizer::check_names(const StateDict& in, const std::vector<std::string>& prefixes,
                            const std::string& kind) const {
    std::set<std::string> expected = {kind + ".step"};
    for (const std::string& prefix : prefixes)
        for (const auto& np : all_params_) expected.insert(prefix + np.first);
    std::string missing, unexpected;
    for (const std::string& name : expected)
        if (!in.count(name)) missing += (missing.empty() ? "" : ", ") + name;
    for (const auto& kv : in)
        if (!expected.count(kv.first)) unexpected += (unexpected.empty() ? "" : ", ") + kv.first;
    if (!missing.empty() || !unexpected.empty())
        fail("{}: load_state: the optimizer state does not match its parameters; missing: [{}]; unexpected: [{}]", kind,
             missing, unexpected);
    const Tensor& step = in.at(kind + ".step");
    if (step.numel() != 1 || step[0] < 0 || std::floor(step[0]) != step[0])
        fail("{}: load_state: \"{}.step\" must be one non-negative integer, got {}", kind, kind, step.str());
}

void Optimizer::save_buffers(StateDict& out, const std::string& prefix, const std::vector<Tensor>& buffers) const {
    for (size_t i = 0; i < all_params_.size(); i++) out[prefix + all_params_[i].first] = buffers[i];
}

void Optimizer::load_buffers(const StateDict& in, const std::string& prefix, std::vector<Tensor>& buffers) const {
    for (size_t i = 0; i < all_params_.size(); i++) {
        const std::string name = prefix + all_params_[i].first;
        const Tensor& t = in.at(name);
        if (t.shape() != buffers[i].shape())
            fail("load_state: optimizer tensor \"{}\" has shape {}; its parameter has shape {}", name, t.shape().str(),
                 buffers[i].shape().str());
    }
    for (size_t i = 0; i < all_params_.size(); i++) buffers[i].copy_from(in.at(prefix + all_params_[i].first));
}

namespace {

void check_unique(const NamedParameters& params, const char* who) {
    std::set<std::string> names;
    std::set<const Node*> nodes;
    for (const auto& np : params) {
        if (!np.second.defined()) fail("{}: parameter \"{}\" is an undefined Var", who, np.first);
        if (!names.insert(np.first).second) fail("{}: the parameter name \"{}\" appears twice", who, np.first);
        if (!nodes.insert(np.second.node().get()).second)
            fail("{}: parameter \"{}\" is given twice (under two names); it would be updated twice", who, np.first);
    }
}

}  // namespace

// ---- SGD -------------------------------------------------------------------------------------------

SGD::SGD(NamedParameters params, double lr, double momentum) : Optimizer(lr), momentum(momentum) {
    check_unique(params, "SGD");
    if (!(momentum >= 0 && momentum < 1)) fail("SGD: momentum = {} is outside [0, 1)", momentum);
    all_params_ = std::move(params);
    for (const auto& np : all_params_) buf_.push_back(Tensor::zeros(np.second.shape()));
}

void SGD::step() {
    if (!(lr >= 0)) fail("SGD::step: lr = {} must be >= 0", lr);
    NoGradGuard no_grad;
    step_++;
    for (size_t i = 0; i < all_params_.size(); i++) {
        Var& w = all_params_[i].second;
        if (w.grad().empty()) continue;
        Tensor &value = w.value(), &buf = buf_[i];
        const Tensor& g = w.grad();
        // buf starts at 0, so the first step's momentum * 0 + g is torch's "buf = g".
        for (int64_t k = 0; k < value.numel(); k++) {
            double b = momentum * double(buf[k]) + double(g[k]);
            buf[k] = real(b);
            value[k] = real(double(value[k]) - lr * b);
        }
    }
}

StateDict SGD::state() const {
    StateDict out;
    out["sgd.step"] = Tensor::scalar(real(step_));
    save_buffers(out, "sgd.momentum_buffer.", buf_);
    return out;
}

void SGD::load_state(const StateDict& in) {
    check_names(in, {"sgd.momentum_buffer."}, "sgd");
    load_buffers(in, "sgd.momentum_buffer.", buf_);
    step_ = int64_t(in.at("sgd.step")[0]);
}

// ---- AdamW -----------------------------------------------------------------------------------------

AdamW::AdamW(std::vector<ParamGroup> groups, double lr, double beta1, double beta2, double eps)
    : Optimizer(lr), beta1(beta1), beta2(beta2), eps(eps), groups_(std::move(groups)) {
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
        fail("AdamW: betas ({}, {}) must each be in [0, 1)", beta1, beta2);
    if (!(eps > 0)) fail("AdamW: eps = {} must be > 0", eps);
    for (const ParamGroup& g : groups_) {
        if (!(g.weight_decay >= 0)) fail("AdamW: group \"{}\" has weight_decay {}; expected >= 0", g.name, g.weight_decay);
        for (const auto& np : g.params) {
            all_params_.push_back(np);
            decay_.push_back(g.weight_decay);
        }
    }
    check_unique(all_params_, "AdamW");
    for (const auto& np : all_params_) {
        m_.push_back(Tensor::zeros(np.second.shape()));
        v_.push_back(Tensor::zeros(np.second.shape()));
    }
}

void AdamW::step() {
    if (!(lr >= 0)) fail("AdamW::step: lr = {} must be >= 0", lr);
    NoGradGuard no_grad;
    step_++;
    // Bias correction: m and v start at 0, so after t steps E[m] = (1 - beta1^t) E[g]; dividing
    // by (1 - beta1^t) (and sqrt(1 - beta2^t) for v) removes that shrinkage (notes/05, "AdamW").
    double t = double(step_);
    double bias_correction1 = 1 - std::pow(beta1, t);
    double bias_correction2_sqrt = std::sqrt(1 - std::pow(beta2, t));
    double step_size = lr / bias_correction1;
    for (size_t i = 0; i < all_params_.size(); i++) {
        Var& w = all_params_[i].second;
        if (w.grad().empty()) continue;
        Tensor &value = w.value(), &m = m_[i], &v = v_[i];
        const Tensor& g = w.grad();
        double decay = 1 - lr * decay_[i];  // decoupled: shrink w itself, not the gradient
        for (int64_t k = 0; k < value.numel(); k++) {
            double gk = g[k];
            double mk = beta1 * double(m[k]) + (1 - beta1) * gk;
            double vk = beta2 * double(v[k]) + (1 - beta2) * gk * gk;
            m[k] = real(mk);
            v[k] = real(vk);
            double denom = std::sqrt(vk) / bias_correction2_sqrt + eps;
            value[k] = real(double(value[k]) * decay - step_size * mk / denom);
        }
    }
}

StateDict AdamW::state() const {
    StateDict out;
    out["adamw.step"] = Tensor::scalar(real(step_));
    save_buffers(out, "adamw.m.", m_);
    save_buffers(out, "adamw.v.", v_);
    return out;
}

void AdamW::load_state(const StateDict& in) {
    check_names(in, {"adamw.m.", "adamw.v."}, "adamw");
    load_buffers(in, "adamw.m.", m_);
    load_buffers(in, "adamw.v.", v_);
    step_ = int64_t(in.at("adamw.step")[0]);
}

// ---- clipping ------------------------------------------------------------------------------------

double clip_grad_norm(const std::vector<Var>& params, double max_norm) {
    if (!(max_norm > 0)) fail("clip_grad_norm: max_norm = {} must be > 0", max_norm);
    double total_sq = 0;  // in double, in parameter order: the same on every run
    for (const Var& w : params) {
        const Tensor& g = w.grad();
        for (int64_t k = 0; k < g.numel(); k++) total_sq += double(g[k]) * double(g[k]);
    }
    double total = std::sqrt(total_sq);
    // A non-finite total (an overflow or a NaN in some gradient) is returned with the gradients
    // left alone, for the caller to detect and report.
    if (!std::isfinite(total)) return total;
    // torch adds 1e-6 so a zero norm never divides by zero; the clipped norm is then just
    // below max_norm.
    double coef = max_norm / (total + 1e-6);
    if (coef < 1) {
        NoGradGuard no_grad;
        for (const Var& w : params) {
            Tensor g = w.grad();  // shares storage
            for (int64_t k = 0; k < g.numel(); k++) g[k] = real(double(g[k]) * coef);
        }
    }
    return total;
}

// ---- schedule ------------------------------------------------------------------------------------

double CosineSchedule::lr_at(int64_t step) const {
    if (warmup_steps < 0 || total_steps < warmup_steps || !(max_lr >= min_lr && min_lr >= 0))
        fail("CosineSchedule: need 0 <= warmup_steps <= total_steps and max_lr >= min_lr >= 0; got warmup {}, total "
             "{}, max_lr {}, min_lr {}",
             warmup_steps, total_steps, max_lr, min_lr);
    if (step < 0) fail("CosineSchedule::lr_at: step {} must be >= 0", step);
    if (step <= warmup_steps && warmup_steps > 0) return max_lr * double(step) / double(warmup_steps);
    if (step >= total_steps) return min_lr;
    double progress = double(step - warmup_steps) / double(total_steps - warmup_steps);  // in [0, 1)
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + std::cos(M_PI * progress));
}

}  // namespace plat
