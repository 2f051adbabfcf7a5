// experiments/training/step.cpp: train_step (experiments/training/step.h).
#include "experiments/training/step.h"

#include <cmath>
#include <limits>

#include "autograd/profile.h"

namespace plat {

StepResult train_step(Model& model, AdamW& optimizer, const Batch& batch, double lr, double max_norm) {
    StepResult r;
    double t0 = wall_seconds();
    {
        Var logits = model.forward(batch);  // lm [B, T, V], vit [B, 10]
        Var loss = model.loss(logits, batch);  // [1], mean cross-entropy
        r.loss = loss.item();
        const double t1 = wall_seconds();
        r.forward_s = t1 - t0;
        t0 = t1;
        optimizer.zero_grad();
        loss.backward();  // every parameter's .grad; intermediate gradients are freed on the way
    }  // the graph (every activation) is released here, before the update
    const double t1 = wall_seconds();
    r.backward_s = t1 - t0;
    t0 = t1;
    // The norm is measured even without clipping (max_norm = inf leaves the gradients alone).
    const double limit = max_norm > 0 ? max_norm : std::numeric_limits<double>::infinity();
    r.grad_norm = clip_grad_norm(model.parameters(), limit);
    if (std::isfinite(r.loss) && std::isfinite(r.grad_norm)) {
        optimizer.lr = lr;
        optimizer.step();
        model.after_step();  // clamps a learnable p to its range
        r.updated = true;
    }
    r.update_s = wall_seconds() - t0;
    return r;
}

}  // namespace plat
