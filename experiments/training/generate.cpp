// experiments/training/generate.cpp: sampling bytes from a language model
// (experiments/training/generate.h).
#include "experiments/training/generate.h"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>

#include "autograd/var.h"
#include "core/error.h"

namespace plat {

int64_t sample_byte(const real* z, int64_t V, double temperature, int top_k, Generator& gen) {
    std::vector<int64_t> order(static_cast<size_t>(V));  // [V] byte ids, most likely first
    for (int64_t v = 0; v < V; v++) order[v] = v;
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return z[a] > z[b]; });
    const int64_t keep = top_k > 0 ? std::min<int64_t>(top_k, V) : V;
    std::vector<double> w(static_cast<size_t>(keep));  // [keep]
    const double zmax = double(z[order[0]]) / temperature;  // subtracted for stability
    double total = 0;
    for (int64_t i = 0; i < keep; i++) total += w[i] = std::exp(double(z[order[i]]) / temperature - zmax);
    double u = gen.uniform() * total;
    for (int64_t i = 0; i < keep; i++) {
        u -= w[i];
        if (u < 0) return order[i];
    }
    return order[keep - 1];  // u landed on the total itself through rounding
}

std::vector<int64_t> generate(Model& model, std::vector<int64_t> prompt, int64_t length, double temperature,
                              int top_k, uint64_t seed, const std::function<void(int64_t)>& on_byte) {
    const ModelConfig& config = model.config();
    if (prompt.empty()) fail("generate: the prompt is empty; give at least one byte to start from");
    if (!(temperature > 0)) fail("generate: temperature {} must be > 0", temperature);
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    Generator gen(seed);
    std::vector<int64_t> tokens = std::move(prompt), out;
    for (int64_t i = 0; i < length; i++) {
        // The last `context` bytes at most: positions beyond the context have no embedding.
        const int64_t T = std::min<int64_t>(int64_t(tokens.size()), config.context);
        std::vector<int64_t> window(tokens.end() - T, tokens.end());
        Var logits = model.forward(Batch::lm(1, T, window));  // [1, T, V]
        const int64_t V = config.vocab();
        const int64_t next = sample_byte(logits.value().data() + (T - 1) * V, V, temperature, top_k, gen);
        tokens.push_back(next);
        out.push_back(next);
        if (on_byte) on_byte(next);
    }
    model.train(was_training);
    return out;
}

std::string printable_bytes(const std::vector<int64_t>& bytes) {
    std::string out;
    for (int64_t b : bytes) {
        if (b == '\n' || b == '\t' || (b >= 0x20 && b < 0x7f))
            out += char(b);
        else
            out += fmt::format("\\x{:02x}", unsigned(b));
    }
    return out;
}

}  // namespace plat
