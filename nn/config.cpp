// nn/config.cpp: validation and JSON form of ModelConfig (nn/config.h). The JSON is what a
// checkpoint stores in __metadata__["config"]; from_json checks every key and then validate(),
// so a model is never built from a configuration it cannot run (notes/05-transformer.md).
#include "nn/config.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace plat {

// ordered_json keeps the keys in the order written, so the stored string reads like the struct.
using json = nlohmann::ordered_json;

const char* model_kind_name(ModelKind k) { return k == ModelKind::lm ? "lm" : "vit"; }
const char* attn_kind_name(AttnKind k) { return k == AttnKind::softmax ? "softmax" : "plap"; }

ModelKind parse_model_kind(const std::string& name) {
    if (name == "lm") return ModelKind::lm;
    if (name == "vit") return ModelKind::vit;
    fail("config: model = \"{}\" is not one of \"lm\", \"vit\"", printable(name));
}

AttnKind parse_attn_kind(const std::string& name) {
    if (name == "softmax") return AttnKind::softmax;
    if (name == "plap") return AttnKind::plap;
    fail("config: attn = \"{}\" is not one of \"softmax\", \"plap\"", printable(name));
}

double ModelConfig::p_for_layer(int layer) const {
    if (layer < 0 || layer >= layers) fail("config: layer {} is outside [0, {}) (layers = {})", layer, layers, layers);
    if (p.size() == 1) return p[0];
    if (int(p.size()) != layers)
        fail("config: p has {} values for layers = {}; give one value, or one per layer", p.size(), layers);
    return p[layer];
}

void ModelConfig::validate() const {
    // Checked in the order of the struct; the first problem is reported, naming the field, the
    // value seen and the valid range.
    // Upper limits as well: a configuration may come from an untrusted checkpoint, and the model
    // is built from it, so absurd sizes must be refused before anything is allocated. The limits
    // are the command line's (experiments/cli/options.cpp).
    if (dim <= 0 || dim > kMaxDim) fail("config: dim = {} must be in [1, {}]", dim, kMaxDim);
    if (layers <= 0 || layers > kMaxLayers) fail("config: layers = {} must be in [1, {}]", layers, kMaxLayers);
    if (heads <= 0 || heads > kMaxHeads) fail("config: heads = {} must be in [1, {}]", heads, kMaxHeads);
    if (dim % heads != 0)
        fail("config: dim = {} is not divisible by heads = {}; dim % heads must be 0 (each head has D = dim / heads "
             "channels)",
             dim, heads);
    if (model == ModelKind::lm && (context <= 0 || context > kMaxContext))
        fail("config: context = {} must be in [1, {}]", context, kMaxContext);
    if (model == ModelKind::vit) {
        if (patch <= 0) fail("config: patch = {} must be > 0", patch);
        if (28 % patch != 0)
            fail("config: patch = {} does not divide the image side 28; 28 % patch must be 0 (patch in 1, 2, 4, 7, 14, "
                 "28)",
                 patch);
    }
    if (p.size() != 1 && int(p.size()) != layers)
        fail("config: p has {} values; give 1 value (every layer) or layers = {} values (one per layer)", p.size(),
             layers);
    for (size_t l = 0; l < p.size(); l++)
        if (!(p[l] >= kMinP && p[l] <= kMaxP))  // !(...) also rejects NaN
            fail("config: p[{}] = {} is outside the valid range [{}, {}]", l, p[l], kMinP, kMaxP);
    if (!(eps > 0) || !std::isfinite(eps)) fail("config: eps = {} must be > 0 and finite", eps);
    if (learn_p && attn != AttnKind::plap)
        fail("config: learn_p = true needs attn = \"plap\" (attn = \"{}\" has no exponent p to learn)", attn);
}

std::string ModelConfig::to_json() const {
    json j;
    j["model"] = model_kind_name(model);
    j["dim"] = dim;
    j["layers"] = layers;
    j["heads"] = heads;
    if (model == ModelKind::vit)
        j["patch"] = patch;
    else
        j["context"] = context;
    j["attn"] = attn_kind_name(attn);
    // One value is written as a number, several as a list (the command line's --p 1.5 or --p 1.5,2,2,2).
    if (p.size() == 1)
        j["p"] = p[0];
    else
        j["p"] = p;
    j["self"] = self_term_name(self);
    j["eps"] = eps;  // nlohmann writes the shortest decimal that reads back to the same double
    j["learn_p"] = learn_p;
    j["seed"] = seed;
    return j.dump();
}

namespace {

// The value of a required key; names the key when it is missing.
const json& required(const json& j, const char* key) {
    auto it = j.find(key);
    if (it == j.end()) fail("config JSON: the key \"{}\" is missing", key);
    return *it;
}

int get_int(const json& j, const char* key) {
    const json& v = required(j, key);
    // An unsigned value above INT64_MAX would wrap to a negative int64_t: test it as unsigned.
    bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t(INT32_MAX)
                    : v.is_number_integer() ? v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX
                                            : false;
    if (!in_range)
        fail("config JSON: \"{}\" is {}; expected an integer", key, v.dump());
    return v.get<int>();
}

double get_number(const json& v, const char* key) {
    if (!v.is_number()) fail("config JSON: \"{}\" is {}; expected a number", key, v.dump());
    return v.get<double>();
}

std::string get_string(const json& j, const char* key) {
    const json& v = required(j, key);
    if (!v.is_string()) fail("config JSON: \"{}\" is {}; expected a string", key, v.dump());
    return v.get<std::string>();
}

}  // namespace

ModelConfig ModelConfig::from_json(const std::string& text) {
    // A configuration is a few hundred bytes; one from a file is untrusted, so a huge text is
    // refused before it is parsed (a huge list of p values costs far more memory to parse than its
    // size; notes/08-data-safety.md).
    if (text.size() > 65536)
        fail("config JSON: {} bytes is far longer than a configuration (at most 64 KiB)", text.size());
    json j;
    try {
        // The configuration may come from an untrusted file: refuse nesting (a valid
        // configuration is one object holding at most one list) before the recursive parser
        // could exhaust the stack on thousands of nested brackets.
        auto shallow = [](int depth, json::parse_event_t, json&) {
            if (depth > 2) fail("config JSON: nested deeper than a configuration can be (an object holding a list)");
            return true;
        };
        j = json::parse(text, shallow);
    } catch (const json::exception& e) {  // parse errors, and out_of_range for numbers like 1e999
        fail("config JSON: cannot parse: {}", e.what());
    }
    if (!j.is_object()) fail("config JSON: expected an object {{...}}, got a {}", j.type_name());

    ModelConfig c;
    c.model = parse_model_kind(get_string(j, "model"));
    const char* size_key = c.model == ModelKind::vit ? "patch" : "context";  // the one the other model lacks
    const char* keys[] = {"model", "dim", "layers", "heads", size_key, "attn", "p", "self", "eps", "learn_p", "seed"};
    for (auto it = j.begin(); it != j.end(); ++it) {
        bool known = false;
        for (const char* k : keys) known = known || it.key() == k;
        if (!known)
            fail("config JSON: unexpected key \"{}\" for model \"{}\"; the keys are model dim layers heads {} attn p "
                 "self eps learn_p seed",
                 printable(it.key()), c.model, size_key);
    }
    c.dim = get_int(j, "dim");
    c.layers = get_int(j, "layers");
    c.heads = get_int(j, "heads");
    if (c.model == ModelKind::vit)
        c.patch = get_int(j, "patch");
    else
        c.context = get_int(j, "context");
    c.attn = parse_attn_kind(get_string(j, "attn"));

    const json& p = required(j, "p");
    c.p.clear();
    if (p.is_array()) {
        for (const json& v : p) c.p.push_back(get_number(v, "p"));
        if (c.p.empty()) fail("config JSON: \"p\" is an empty list; give one value or one per layer");
    } else {
        c.p.push_back(get_number(p, "p"));
    }

    c.self = parse_self_term(get_string(j, "self"));
    c.eps = get_number(required(j, "eps"), "eps");

    const json& learn_p = required(j, "learn_p");
    if (!learn_p.is_boolean()) fail("config JSON: \"learn_p\" is {}; expected true or false", learn_p.dump());
    c.learn_p = learn_p.get<bool>();

    const json& seed = required(j, "seed");
    if (!seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
        fail("config JSON: \"seed\" is {}; expected an integer >= 0", seed.dump());
    c.seed = seed.get<uint64_t>();

    c.validate();
    return c;
}

}  // namespace plat
