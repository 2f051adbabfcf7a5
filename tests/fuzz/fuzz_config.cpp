// tests/fuzz/fuzz_config.cpp: libFuzzer target for ModelConfig::from_json (nn/config.h), which
// reads the configuration stored in every checkpoint's __metadata__["config"]
// (notes/08-data-safety.md, "Fuzzing"). Any text must give a valid configuration or throw
// plat::Error with a one-line message; an accepted configuration must validate, give p for
// every layer, and survive to_json -> from_json unchanged.
#include <cstdint>
#include <string>

#include "nn/config.h"
#include "tests/fuzz/fuzz_common.h"

using namespace plat;
using plat_fuzz::fuzz_check;

static bool same(const ModelConfig& a, const ModelConfig& b) {
    bool size_same = a.model == ModelKind::vit ? a.patch == b.patch : a.context == b.context;  // the key each one stores
    return a.model == b.model && a.dim == b.dim && a.layers == b.layers && a.heads == b.heads && size_same &&
           a.attn == b.attn && a.p == b.p && a.self == b.self && a.eps == b.eps && a.learn_p == b.learn_p &&
           a.seed == b.seed;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    ModelConfig c;
    try {
        c = ModelConfig::from_json(text);
    } catch (const Error& e) {
        plat_fuzz::check_message(e);
        return 0;
    }
    c.validate();  // from_json validated: this must not throw (an escaping exception is a finding)
    for (int l = 0; l < c.layers && l < 64; l++) {
        double p = c.p_for_layer(l);
        fuzz_check(p >= 1 && p <= 4, "p_for_layer in [1, 4]");
    }
    ModelConfig back = ModelConfig::from_json(c.to_json());
    fuzz_check(same(c, back), "to_json -> from_json keeps every field");
    return 0;
}
