// nn/config.h: the configuration of a model, as stored in a checkpoint's
// __metadata__["config"] and as given on the command line (same key names everywhere:
// --model, --dim, --layers, --heads, --context, --patch, --attn, --p, --self, --eps, --learn-p,
// --seed). notes/05-transformer.md describes each field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/attention.h"

namespace plat {

// Size limits checked by validate() (and by the command line's options).
constexpr int kMaxDim = 4096, kMaxLayers = 64, kMaxHeads = 256, kMaxContext = 8192;

struct ModelConfig {
    std::string model = "lm";      // "lm" (byte-level GPT-2 layout) or "vit" (28x28 images)
    int dim = 128;                 // C
    int layers = 4;                // L
    int heads = 4;                 // H; D = C / H
    int context = 128;             // lm: longest sequence T, size of transformer.wpe
    int patch = 4;                 // vit: patch side P; 28 % P == 0; N = (28/P)^2 patches
    std::string attn = "softmax";  // "softmax" or "plap"
    std::vector<double> p = {2.0};  // plap: one exponent for all layers, or one per layer
    // exclude: the default since the study of notes/06-experiments.md (section 6): dropping j = i
    // gave a lower validation loss on all three tasks (KJV lm -0.04 nats at every p).
    SelfTerm self = SelfTerm::exclude;
    double eps = 1e-6;
    bool learn_p = false;          // plap: p becomes the parameter ...attn.p of shape [H]
    uint64_t seed = 0;

    int vocab() const { return 256; }    // lm: bytes
    int classes() const { return 10; }   // vit: Fashion-MNIST classes
    double p_for_layer(int layer) const;  // p[0] when one value is given
    // Throws plat::Error naming the first invalid field, its value and the valid range.
    void validate() const;
    std::string to_json() const;  // keys: model dim layers heads context|patch attn p self eps learn_p seed
    static ModelConfig from_json(const std::string& json);  // validates; names a missing key
};

}  // namespace plat
