// nn/optim.h: optimizers (SGD with momentum, AdamW with decoupled weight decay), the two
// AdamW parameter groups, gradient-norm clipping and the warm-up + cosine learning-rate
// schedule (notes/05-transformer.md, "Optimizers", "The schedule", "Clipping"). Each follows
// PyTorch's semantics (torch.optim.SGD, torch.optim.AdamW, torch.nn.utils.clip_grad_norm_).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/module.h"

namespace plat {

// A set of parameters sharing a weight decay, as torch's param_groups.
struct ParamGroup {
    std::string name;  // "decay" / "no_decay"
    NamedParameters params;
    double weight_decay = 0;
};

// The two groups of notes/model-spec.md: "decay" = every parameter with ndim >= 2 except embeddings
// (Linear weights); "no_decay" = biases, LayerNorm weights, embeddings (wte, wpe, cls_token,
// pos_embed) and p. Each rule is evaluated on its own, and the function throws plat::Error
// unless every parameter of the model falls in exactly one group.
std::vector<ParamGroup> make_param_groups(const Module& model, double weight_decay = 0.1);

class Optimizer {
public:
    explicit Optimizer(double lr) : lr(lr) {}
    virtual ~Optimizer() = default;

    // Applies one update to every parameter that has a gradient (one without is skipped, as
    // PyTorch skips grad None). Runs under NoGradGuard.
    virtual void step() = 0;
    void zero_grad();  // forget every parameter's gradient
    int64_t steps() const { return step_; }  // updates made so far

    // The optimizer's state as name -> Tensor, for checkpoints (sharing storage with the
    // optimizer's buffers; clone for a snapshot): "<kind>.step" (a one-element
    // tensor holding the count; float holds integers exactly up to 2^24) and one entry per
    // buffer and parameter, e.g. "adamw.m.transformer.wte.weight". load_state checks the
    // names (missing, unexpected) and shapes, naming the first that differs.
    virtual StateDict state() const = 0;
    virtual void load_state(const StateDict& state) = 0;

    double lr;  // set before each step by the schedule (lr_at)

protected:
    NamedParameters all_params_;  // every parameter, in order, names unique
    int64_t step_ = 0;
    // Shared by state()/load_state(): buffers named prefix + parameter name.
    void save_buffers(StateDict& out, const std::string& prefix, const std::vector<Tensor>& buffers) const;
    void load_buffers(const StateDict& in, const std::string& prefix, std::vector<Tensor>& buffers) const;
    void check_names(const StateDict& in, const std::vector<std::string>& prefixes, const std::string& kind) const;
};

// SGD with momentum (torch.optim.SGD, dampening 0, no Nesterov, no weight decay):
//   buf = momentum * buf + g   (buf = g on the first step)
//   w  -= lr * buf
class SGD : public Optimizer {
public:
    SGD(NamedParameters params, double lr, double momentum = 0);
    void step() override;
    StateDict state() const override;  // "sgd.step", "sgd.momentum_buffer.<name>"
    void load_state(const StateDict& state) override;

    double momentum;

private:
    std::vector<Tensor> buf_;  // one per parameter, its shape
};

// AdamW (torch.optim.AdamW, amsgrad off), per parameter w with gradient g at step t = 1, 2, ...:
//   w -= lr * wd * w                          (decoupled weight decay, the group's wd)
//   m  = beta1 m + (1 - beta1) g
//   v  = beta2 v + (1 - beta2) g^2
//   w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
class AdamW : public Optimizer {
public:
    AdamW(std::vector<ParamGroup> groups, double lr, double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8);
    void step() override;
    StateDict state() const override;  // "adamw.step", "adamw.m.<name>", "adamw.v.<name>"
    void load_state(const StateDict& state) override;

    double beta1, beta2, eps;
    const std::vector<ParamGroup>& groups() const { return groups_; }

private:
    std::vector<ParamGroup> groups_;
    std::vector<double> decay_;       // the weight decay of each parameter of all_params_
    std::vector<Tensor> m_, v_;       // first and second moments, one per parameter
};

// Scales every gradient by min(1, max_norm / (total + 1e-6)), where total is the 2-norm of all
// gradients together (as one long vector); returns total, measured before clipping
// (torch.nn.utils.clip_grad_norm_). Parameters without a gradient are skipped; a non-finite
// total is returned with the gradients left unchanged.
double clip_grad_norm(const std::vector<Var>& params, double max_norm);

// Learning rate at update number `step` (the AdamW step count t after the update, 1-based;
// lr_at(0) = 0 is where the warm-up starts):
//   step <= W:      max_lr * step / W                                        (linear warm-up from 0)
//   W < step <= S:  min_lr + (max_lr - min_lr) * (1 + cos(pi * (step - W) / (S - W))) / 2
//   step > S:       min_lr
// with W = warmup_steps, S = total_steps. W = 0 means no warm-up.
struct CosineSchedule {
    double max_lr = 1e-3;
    double min_lr = 1e-4;
    int64_t warmup_steps = 0;
    int64_t total_steps = 1;
    double lr_at(int64_t step) const;
};

}  // namespace plat
