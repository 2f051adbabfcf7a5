// nn/config.h: the configuration of a model, as stored in a checkpoint's
// __metadata__["config"] and as given on the command line (same key names everywhere:
// --model, --dim, --layers, --heads, --context, --patch, --attn, --p, --self, --eps, --learn-p,
// --seed). notes/05-transformer.md describes each field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "nn/attention.h"

namespace plat {

// Size limits checked by validate() (and by the command line's options).
constexpr int kMaxDim = 4096, kMaxLayers = 64, kMaxHeads = 256, kMaxContext = 8192;

// The two models and the two attentions. A name ("lm", "plap") is parsed once, where it enters
// (the command line, a checkpoint's JSON); everywhere else the kinds are compared as enums.
enum class ModelKind { lm, vit };
enum class AttnKind { softmax, plap };
const char* model_kind_name(ModelKind k);  // "lm" / "vit"
const char* attn_kind_name(AttnKind k);    // "softmax" / "plap"
// Throw plat::Error naming the text and the choices.
ModelKind parse_model_kind(const std::string& name);
AttnKind parse_attn_kind(const std::string& name);

struct ModelConfig {
    ModelKind model = ModelKind::lm;  // lm (byte-level GPT-2 layout) or vit (28x28 images)
    int dim = 128;                 // C
    int layers = 4;                // L
    int heads = 4;                 // H; D = C / H
    int context = 128;             // lm: longest sequence T, size of transformer.wpe
    int patch = 4;                 // vit: patch side P; 28 % P == 0; N = (28/P)^2 patches
    AttnKind attn = AttnKind::softmax;  // softmax or plap (p-Laplacian)
    std::vector<double> p = {2.0};  // plap: one exponent for all layers, or one per layer
    // unit: then p = 2 is softmax attention exactly, and p is the one change against the baseline.
    // The paired runs of notes/06c-what-p-lat-changes.md (section 4) found no difference between the
    // two self terms, so nothing argues for the other one (exclude, the default before them).
    SelfTerm self = SelfTerm::unit;
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

// fmt prints each kind by its name: fmt::format("{} model", config.model) gives "lm model".
template <>
struct fmt::formatter<plat::ModelKind> : fmt::formatter<fmt::string_view> {
    template <typename Context>
    auto format(plat::ModelKind k, Context& ctx) const {
        return fmt::formatter<fmt::string_view>::format(plat::model_kind_name(k), ctx);
    }
};
template <>
struct fmt::formatter<plat::AttnKind> : fmt::formatter<fmt::string_view> {
    template <typename Context>
    auto format(plat::AttnKind k, Context& ctx) const {
        return fmt::formatter<fmt::string_view>::format(plat::attn_kind_name(k), ctx);
    }
};
