// experiments/training/generate.h: text from a trained byte-level language model, one byte at a time
// (`plat sample`; notes/05-transformer.md).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/random.h"
#include "nn/models.h"

namespace plat {

// Draws the next byte from logits z [V]: p_v proportional to exp(z_v / temperature) over the
// top_k largest z (all V when top_k = 0; ties broken by the smaller byte), inverse-CDF sampling
// with one uniform number from `gen`.
int64_t sample_byte(const real* z, int64_t V, double temperature, int top_k, Generator& gen);

// Continues `prompt` (byte ids; at most the model's context, the caller crops) by `length` bytes:
// each step runs the model on the last `context` bytes and samples from the last position's
// logits. Calls on_byte with each new byte as it is drawn (to print it at once); returns them all.
// Runs in eval mode without recording a graph.
std::vector<int64_t> generate(Model& model, std::vector<int64_t> prompt, int64_t length, double temperature,
                              int top_k, uint64_t seed, const std::function<void(int64_t)>& on_byte = {});

// Text as it goes to the terminal: newline, tab and printable ASCII as they are, any other byte
// as \xNN, so a model's stray control bytes cannot drive the terminal.
std::string printable_bytes(const std::vector<int64_t>& bytes);

}  // namespace plat
