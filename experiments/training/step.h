// experiments/training/step.h: one training step, the recipe every loop in plat runs (the Trainer,
// the benchmark, the tests): forward, loss, backward, clip, update. Read it first: it is the whole
// of training in a dozen lines (notes/00a-one-training-step.md traces it down to the BLAS call).
#pragma once
#include "nn/batch.h"
#include "nn/models.h"
#include "nn/optim.h"

namespace plat {

struct StepResult {
    double loss = 0;        // the batch's mean cross-entropy, before the update
    double grad_norm = 0;   // the 2-norm of all gradients, before clipping
    bool updated = false;   // false when loss or grad_norm is not finite: nothing was changed
    // Wall seconds of the three phases: forward (logits and loss), backward (zero_grad, backward,
    // freeing the graph), update (clip, AdamW, clamping a learnable p).
    double forward_s = 0, backward_s = 0, update_s = 0;
    double seconds() const { return forward_s + backward_s + update_s; }
};

// One update of `model` on `batch` with learning rate `lr`, the gradients' total 2-norm clipped to
// `max_norm` (max_norm <= 0: measured, not clipped). When the loss or the norm is not finite it
// returns with updated = false before touching the parameters, so the caller can stop cleanly.
StepResult train_step(Model& model, AdamW& optimizer, const Batch& batch, double lr, double max_norm);

}  // namespace plat
