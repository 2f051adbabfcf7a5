// nn/batch.cpp: the two ways to build a Batch (nn/batch.h), each checking its sizes.
#include "nn/batch.h"

#include "core/error.h"

namespace plat {

Batch Batch::lm(int64_t B, int64_t T, std::vector<int64_t> x, std::vector<int64_t> y) {
    if (B <= 0 || T <= 0) fail("Batch::lm: B = {} and T = {} must be > 0", B, T);
    // y may be empty when only the logits are wanted (sampling); loss() then reports it.
    if (int64_t(x.size()) != B * T || (!y.empty() && int64_t(y.size()) != B * T))
        fail("Batch::lm: x has {} ids and y has {}; expected B * T = {} * {} = {} each (y may be empty)", x.size(),
             y.size(), B, T, B * T);
    Batch b;
    b.B = B;
    b.T = T;
    b.tokens = std::move(x);
    b.targets = std::move(y);
    return b;
}

Batch Batch::vit(Tensor images, std::vector<int64_t> labels) {
    if (images.ndim() != 4 || images.size(1) != 1 || images.size(2) != 28 || images.size(3) != 28)
        fail("Batch::vit: images have shape {}; expected [B, 1, 28, 28]", images.shape().str());
    if (!labels.empty() && int64_t(labels.size()) != images.size(0))
        fail("Batch::vit: {} labels for {} images; expected one label per image (or none, for predictions only)",
             labels.size(), images.size(0));
    Batch b;
    b.B = images.size(0);
    b.images = std::move(images);
    b.targets = std::move(labels);
    return b;
}

}  // namespace plat
