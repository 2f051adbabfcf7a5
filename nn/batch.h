// nn/batch.h: what a model eats: one batch of either task, the one batch type of the project.
// The datasets' samplers (datasets/text.h, datasets/synthetic.h, datasets/fashion_mnist.h) make
// it, the models (nn/models.h) and the training library (experiments/training/) consume it.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace plat {

// One batch of either task. Build it with Batch::lm or Batch::vit.
struct Batch {
    int64_t B = 0;                 // sequences (lm) or images (vit)
    int64_t T = 0;                 // lm: tokens per sequence; vit: 0
    std::vector<int64_t> tokens;   // lm: input byte ids x [B, T]
    Tensor images;                 // vit: pixels [B, 1, 28, 28]
    std::vector<int64_t> targets;  // lm: y [B, T], the byte after each x; vit: labels [B] in [0, 10)

    // Targets may be left empty when only the logits are wanted (sampling, prediction).
    static Batch lm(int64_t B, int64_t T, std::vector<int64_t> x, std::vector<int64_t> y = {});
    static Batch vit(Tensor images, std::vector<int64_t> labels = {});
};

}  // namespace plat
