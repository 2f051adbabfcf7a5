// datasets/batch.h: the state that resumes a random batch sampler. The batches themselves are the
// one Batch of nn/batch.h, made by the KJV byte sampler (datasets/text.h) and the synthetic task
// (datasets/synthetic.h), so the byte-level language model trains on either with the same code
// (notes/06a-data.md).
#pragma once
#include <cstdint>
#include <vector>

#include "nn/batch.h"

namespace plat {

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
