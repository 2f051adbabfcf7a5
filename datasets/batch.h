// datasets/batch.h: what a language-model batch looks like, and the state that resumes a sampler.
// Shared by the KJV byte sampler (datasets/text.h) and the synthetic task (datasets/synthetic.h),
// so the byte-level language model trains on either with the same code (notes/06a-data.md).
#pragma once
#include <cstdint>
#include <vector>

namespace plat {

// Token ids, row-major [B, T]: row b, position t is x[b * T + t]. Ids are in [0, 256).
struct LMBatch {
    int64_t B = 0, T = 0;
    std::vector<int64_t> x;  // [B, T] inputs
    std::vector<int64_t> y;  // [B, T] targets for the logits at the same positions
};

// Everything a random batch sampler needs to draw the same batches again after a restart:
// the generator's one 64-bit word and how many batches were drawn. Saved in checkpoints.
struct SamplerState {
    uint64_t generator_state = 0;
    int64_t step = 0;  // batches drawn so far
    bool operator==(const SamplerState& o) const {
        return generator_state == o.generator_state && step == o.step;
    }
};

}  // namespace plat
