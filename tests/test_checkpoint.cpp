// tests/test_checkpoint.cpp: checkpoints (nn/checkpoint.h): every kind of bad checkpoint refused
// with one line that names the file and the problem, exact round trips of parameters, logits and
// optimizer state, and a save that fails half-way leaving the previous checkpoint loadable
// (notes/08-data-safety.md).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "nn/checkpoint.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

namespace {

// Small models: the lm has a learnable p (so its state has transformer.h.0.attn.p), the vit
// per-layer exponents. Every file below is a few KB (the lm: 3900 numbers, most in wte).
ModelConfig tiny_lm() { return tiny_plap_lm(8, 4, 5); }

ModelConfig tiny_vit() {
    ModelConfig c;
    c.model = ModelKind::vit;
    c.dim = 8;
    c.layers = 2;
    c.heads = 2;
    c.patch = 7;
    c.attn = AttnKind::plap;
    c.p = {1.25, 3.0};
    c.self = SelfTerm::exclude;
    c.seed = 6;
    return c;
}

Batch lm_batch(uint64_t seed) {
    Generator gen(seed);
    std::vector<int64_t> x(2 * 4), y(2 * 4);
    for (auto& v : x) v = gen.randint(256);
    for (auto& v : y) v = gen.randint(256);
    return Batch::lm(2, 4, x, y);
}

Batch vit_batch(uint64_t seed) {
    Generator gen(seed);
    std::vector<int64_t> labels = {3, 7};
    return Batch::vit(Tensor::uniform(Shape{2, 1, 28, 28}, gen), labels);
}

bool same_values(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return false;
    for (int64_t i = 0; i < a.numel(); i++)
        if (a[i] != b[i]) return false;
    return true;
}

// ---- building bad checkpoints from a good one --------------------------------------------
// Each builder returns the bytes of a whole file, so that every case of the table is one line.

TensorEntry f32_entry(const std::string& name, std::vector<int64_t> shape) {
    TensorEntry e;
    e.name = name;
    e.dtype = DType::F32;
    e.shape = std::move(shape);
    e.bytes.assign(size_t(e.numel()) * 4, 0);
    return e;
}

TensorEntry i64_entry(const std::string& name, std::vector<int64_t> shape) {
    TensorEntry e = f32_entry(name, std::move(shape));
    e.dtype = DType::I64;
    e.bytes.assign(size_t(e.numel()) * 8, 0);
    return e;
}

// A copy of `base` with tensors dropped, replaced or added and metadata changed, as file bytes.
struct Edit {
    TensorFile base;
    std::set<std::string> dropped, dropped_meta;
    std::vector<TensorEntry> added;
    std::map<std::string, std::string> meta;

    Edit drop(const std::string& name) const { Edit e = *this; e.dropped.insert(name); return e; }
    Edit put(TensorEntry entry) const { Edit e = *this; e.added.push_back(std::move(entry)); return e; }
    Edit replace(TensorEntry entry) const { return drop(entry.name).put(entry); }
    Edit drop_meta(const std::string& key) const { Edit e = *this; e.dropped_meta.insert(key); return e; }
    Edit set_meta(const std::string& key, const std::string& value) const { Edit e = *this; e.meta[key] = value; return e; }
    std::string bytes() const {
        TensorFile out;
        for (const TensorEntry& t : base.entries())
            if (!dropped.count(t.name)) out.put_entry(t);
        for (const TensorEntry& t : added) out.put_entry(t);
        for (const auto& [k, v] : base.metadata())
            if (!dropped_meta.count(k) && !meta.count(k)) out.set_metadata(k, v);
        for (const auto& [k, v] : meta) out.set_metadata(k, v);
        std::vector<uint8_t> b = serialize_safetensors(out);
        return std::string(b.begin(), b.end());
    }
};

// `good` with one field of one tensor's header entry set to `value`, the data section unchanged:
// for what TensorFile cannot express (offsets, dtypes plat does not write).
std::string header_edit(const std::string& good, const std::string& tensor, const std::string& field,
                        const nlohmann::json& value) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | uint8_t(good[i]);
    nlohmann::json header = nlohmann::json::parse(good.substr(8, n));
    REQUIRE(header.contains(tensor));
    header[tensor][field] = value;
    std::string text = header.dump();
    return le64(text.size()) + text + good.substr(8 + n);
}

// The lm configuration's JSON with one key changed or removed (null removes).
std::string config_with(const std::string& key, const nlohmann::json& value) {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(tiny_lm().to_json());
    if (value.is_null()) j.erase(key);
    else j[key] = value;
    return j.dump();
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
    size_t at = s.find(from);
    REQUIRE(at != std::string::npos);
    return s.replace(at, from.size(), to);
}

// One bad checkpoint: what it is, its bytes, a phrase the error must contain, and whether the
// file is written at all (not for "missing file").
struct Case {
    const char* what;
    std::string bytes;
    std::string phrase;
    bool write = true;
};

// Writes each case to its own file and checks load_checkpoint's error: a plat::Error whose
// message holds the phrase and the path, on one line; load_model says the same.
void check_cases(const TempDir& dir, const std::vector<Case>& cases) {
    for (size_t i = 0; i < cases.size(); i++) {
        const Case& c = cases[i];
        const std::string what = c.what;
        CAPTURE(what);
        const std::string path = dir.file("case" + std::to_string(i) + ".safetensors");
        if (c.write) write_bytes(path, c.bytes);
        const std::string message = error_of([&] { load_checkpoint(path); });
        CAPTURE(message);
        CHECK(contains(message, c.phrase));
        CHECK(contains(message, path));        // names the file
        CHECK_FALSE(contains(message, "\n"));  // one line
        CHECK(error_of([&] { load_model(path); }) == message);
    }
}

// The good checkpoint the bad ones are made from: the tiny lm, saved by save_checkpoint.
struct Good {
    std::string bytes;
    TensorFile file;
    Good(const TempDir& dir) {
        const std::string path = dir.file("good.safetensors");
        save_checkpoint(path, *make_model(tiny_lm()));
        bytes = read_bytes(path);
        file = load_safetensors(path);
        REQUIRE_NOTHROW(load_model(path));  // the starting point is itself loadable
    }
    Edit edit() const { return Edit{file, {}, {}, {}, {}}; }
    nlohmann::json offsets(const std::string& name) const {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | uint8_t(bytes[i]);
        return nlohmann::json::parse(bytes.substr(8, n))[name]["data_offsets"];
    }
};

}  // namespace

TEST_CASE("checkpoint: bad checkpoints are refused with one line naming the file and the problem") {
    TempDir dir("checkpoint-bad");
    const Good good(dir);
    const std::string bias = "transformer.ln_f.bias";  // [8], stored right before transformer.ln_f.weight [8]
    const std::vector<Case> cases = {
        // the file itself (core/safetensors.h checks these)
        {"missing file", "", "No such file", false},
        {"empty", "", "the file is empty"},
        {"truncated", good.bytes.substr(0, good.bytes.size() - 5), "run past the end of the data"},
        {"not safetensors (text)", "Once upon a time, this was not a checkpoint.\n", "over the 100 MB limit"},
        {"header not JSON", le64(16) + "{not json at all" + "", "the header is not valid JSON"},
        {"header length past the end", le64(1 << 20) + "{}", "runs past the end of the file"},
        {"offsets out of range", header_edit(good.bytes, bias, "data_offsets", {0, 1 << 30}), "run past the end of the data"},
        {"overlapping offsets", header_edit(good.bytes, "transformer.ln_f.weight", "data_offsets", good.offsets(bias)), "overlap in the data"},
        {"dtype BF16", header_edit(good.bytes, bias, "dtype", "BF16"), "has unsupported dtype BF16"},
        {"dtype F16", header_edit(good.bytes, bias, "dtype", "F16"), "has unsupported dtype F16"},
        // the tensors against the configuration (nn/checkpoint.cpp)
        {"parameter stored as I64", good.edit().replace(i64_entry(bias, {8})).bytes(), "tensor 'transformer.ln_f.bias' holds integers (I64)"},
        {"shape disagrees", good.edit().replace(f32_entry(bias, {9})).bytes(), "tensor 'transformer.ln_f.bias' has shape [9] but the configuration"},
        {"weight transposed", good.edit().replace(f32_entry("transformer.h.0.attn.c_attn.weight", {8, 24})).bytes(), "has shape [8, 24]"},
        {"learnable p with 3 heads' values", good.edit().replace(f32_entry("transformer.h.0.attn.p", {3})).bytes(), "'transformer.h.0.attn.p' has shape [3]"},
        {"missing tensor", good.edit().drop(bias).bytes(), "missing tensors for its configuration: transformer.ln_f.bias;"},
        {"unexpected tensor", good.edit().put(f32_entry("transformer.h.2.ln_1.weight", {8})).bytes(), "unexpected tensor 'transformer.h.2.ln_1.weight'"},
        {"unexpected p (learn_p false)", good.edit().set_meta("config", config_with("learn_p", false)).bytes(), "unexpected tensor 'transformer.h.0.attn.p'"},
        // the configuration
        {"no config in metadata", good.edit().drop_meta("config").bytes(), "no model configuration in __metadata__[\"config\"]"},
        {"config not JSON", good.edit().set_meta("config", "{model: lm}").bytes(), "its configuration is invalid (config JSON: cannot parse"},
        {"config empty", good.edit().set_meta("config", "").bytes(), "its configuration is invalid (config JSON: cannot parse"},
        {"config a list", good.edit().set_meta("config", "[1, 2]").bytes(), "expected an object"},
        {"config p = 7", good.edit().set_meta("config", config_with("p", 7)).bytes(), "p[0] = 7 is outside the valid range [1, 4]"},
        {"config dim % heads", good.edit().set_meta("config", config_with("heads", 3)).bytes(), "dim = 8 is not divisible by heads = 3"},
        {"config key missing", good.edit().set_meta("config", config_with("eps", nullptr)).bytes(), "the key \"eps\" is missing"},
        {"config dim a string", good.edit().set_meta("config", config_with("dim", "8")).bytes(), "\"dim\" is \"8\"; expected an integer"},
        {"config of a vit, lm tensors", good.edit().set_meta("config", tiny_vit().to_json()).bytes(), "missing tensors for its configuration: blocks.0."},
        {"config with 1 layer", good.edit().set_meta("config", config_with("layers", 1)).bytes(), "unexpected tensor 'transformer.h.1."},
        {"config with a longer context", good.edit().set_meta("config", config_with("context", 8)).bytes(), "'transformer.wpe.weight' has shape [4, 8] but the configuration"},
        // found while writing this table, fixed in nn/checkpoint.cpp and nn/config.cpp
        {"no format tag", good.edit().drop_meta("format").bytes(), "plat-checkpoint-1"},
        {"another format tag", good.edit().set_meta("format", "pt").bytes(), "plat-checkpoint-1"},
        {"config number past double", good.edit().set_meta("config", replaced(tiny_lm().to_json(), "\"dim\":8", "\"dim\":1e999")).bytes(), "its configuration is invalid (config JSON: cannot parse"},
        {"config nested 100000 deep", good.edit().set_meta("config", replaced(tiny_lm().to_json(), "\"dim\":8", "\"dim\":" + std::string(100000, '[') + std::string(100000, ']'))).bytes(), "its configuration is invalid"},
        {"config key with a newline", good.edit().set_meta("config", replaced(tiny_lm().to_json(), "\"seed\"", "\"se\\ned\"")).bytes(), "unexpected key"},
        {"config spread over lines, shape wrong", good.edit().set_meta("config", nlohmann::json::parse(config_with("context", 8)).dump(1)).bytes(), "'transformer.wpe.weight' has shape [4, 8]"},
        {"unexpected tensor named with a newline", good.edit().put(f32_entry("evil\nname", {1})).bytes(), "unexpected tensor"},
        {"optimizer state as I64", good.edit().put(i64_entry("adamw.step", {1})).bytes(), "'adamw.step' holds integers (I64)"},
        // A 4 KB file whose configuration claims a model it cannot hold: refused before make_model
        // allocates (dim = 512 and 8 layers: 26 million parameters, 104 MB; the claim is kept
        // this small so that a regression costs 100 MB, not the machine). Past the limits of
        // validate(), dim = 2^31 - 1 would ask for 2 TB at once.
        {"config claims a larger model", good.edit().set_meta("config", replaced(replaced(config_with("dim", 512), "\"layers\":2", "\"layers\":8"), "\"context\":4", "\"context\":1024")).bytes(), "but its configuration"},
        {"config claims dim = 2^31 - 1", good.edit().set_meta("config", replaced(config_with("dim", 2147483647), "\"heads\":2", "\"heads\":1")).bytes(), "dim = 2147483647"},
    };
    check_cases(dir, cases);
}

TEST_CASE("checkpoint: save then load gives identical parameters, configuration, metadata and logits") {
    TempDir dir("checkpoint-round-trip");
    for (const ModelConfig& config : {tiny_lm(), tiny_vit()}) {
        CAPTURE(config.to_json());
        std::unique_ptr<Model> model = make_model(config);
        // Parameters away from their initial values, so that a load which rebuilt the model from
        // the seed and ignored the file would be caught.
        for (auto& [name, var] : model->named_parameters())
            for (int64_t i = 0; i < var.value().numel(); i++) var.value()[i] += real(0.25) + real(i % 7) * real(0.01);
        const std::string path = dir.file(fmt::format("{}.safetensors", config.model));
        save_checkpoint(path, *model, nullptr, {{"train", "{\"step\": 12}"}});

        Checkpoint ck = load_checkpoint(path);
        CHECK(ck.config.to_json() == config.to_json());
        CHECK(ck.extra.at("train") == "{\"step\": 12}");
        CHECK(ck.extra.count("config") == 0);  // the configuration is ck.config, not an extra
        CHECK(ck.optimizer.empty());
        std::unique_ptr<Model> back = load_model(path);
        const StateDict a = model->state(), b = back->state();
        REQUIRE(a.size() == b.size());
        for (const auto& [name, t] : a) {
            CAPTURE(name);
            REQUIRE(b.count(name));
            CHECK(same_values(t, b.at(name)));  // F32 on disk, float in memory: bit for bit
            CHECK(same_values(t, ck.model.at(name)));
        }
        // The same parameters through the same code: identical logits, bit for bit.
        const Batch batch = config.model == ModelKind::lm ? lm_batch(3) : vit_batch(3);
        CHECK(same_values(model->forward(batch).value(), back->forward(batch).value()));
        CHECK(dir.listing().size() == (config.model == ModelKind::lm ? 1u : 2u));  // no temporary left behind
    }
    // The reserved metadata keys cannot be overwritten by extras.
    std::unique_ptr<Model> model = make_model(tiny_lm());
    CHECK(contains(error_of([&] { save_checkpoint(dir.file("x.safetensors"), *model, nullptr, {{"config", "{}"}}); }),
                   "metadata key 'config' is reserved"));
    CHECK(contains(error_of([&] { save_checkpoint(dir.file("x.safetensors"), *model, nullptr, {{"format", "pt"}}); }),
                   "metadata key 'format' is reserved"));
}

TEST_CASE("checkpoint: optimizer state round trip: training resumed from the file takes the same steps") {
    TempDir dir("checkpoint-optimizer");
    const Batch batch = lm_batch(9);
    auto train_step = [&](Model& model, Optimizer& opt) {
        Var loss = model.loss(model.forward(batch), batch);
        opt.zero_grad();
        loss.backward();
        opt.step();
        model.after_step();
        return loss.item();
    };
    for (int kind = 0; kind < 2; kind++) {
        CAPTURE(kind);  // 0: AdamW, 1: SGD with momentum
        auto make_opt = [&](Model& m) -> std::unique_ptr<Optimizer> {
            if (kind == 0) return std::make_unique<AdamW>(make_param_groups(m), 1e-2);
            return std::make_unique<SGD>(m.named_parameters(), 1e-1, 0.9);
        };
        std::unique_ptr<Model> a = make_model(tiny_lm());
        std::unique_ptr<Optimizer> oa = make_opt(*a);
        train_step(*a, *oa);
        train_step(*a, *oa);
        const std::string path = dir.file("run" + std::to_string(kind) + ".safetensors");
        save_checkpoint(path, *a, oa.get());

        Checkpoint ck = load_checkpoint(path);
        const StateDict saved = oa->state();
        REQUIRE(ck.optimizer.size() == saved.size());
        for (const auto& [name, t] : saved) {
            CAPTURE(name);
            REQUIRE(ck.optimizer.count(name));
            CHECK(same_values(t, ck.optimizer.at(name)));
        }
        // A fresh model and optimizer from the file continue exactly as the original does.
        std::unique_ptr<Model> b = load_model(path);
        std::unique_ptr<Optimizer> ob = make_opt(*b);
        ob->load_state(ck.optimizer);
        CHECK(ob->steps() == 2);
        const float next_a = train_step(*a, *oa), next_b = train_step(*b, *ob);
        CHECK(next_a == next_b);
        for (const auto& [name, t] : a->state()) {
            CAPTURE(name);
            CHECK(same_values(b->state().at(name), t));
        }
    }
}

TEST_CASE("checkpoint: a save that fails half-way leaves the previous checkpoint loadable") {
    TempDir dir("checkpoint-failed-save");
    const std::string path = dir.file("last.safetensors");
    std::unique_ptr<Model> old_model = make_model(tiny_lm());
    save_checkpoint(path, *old_model, nullptr, {{"train", "old"}});
    const std::string old_bytes = read_bytes(path);

    ModelConfig bigger = tiny_lm();
    bigger.dim = 32;
    bigger.heads = 4;
    std::unique_ptr<Model> new_model = make_model(bigger);  // about 130 KB on disk, over the limit below

    // A file-size limit of 32 KB makes write() fail with EFBIG part-way through the new file, as
    // a full disk would (tests/test_safetensors.cpp does the same; it works as root too).
    // SIGXFSZ would kill the process; ignored, write() reports the error instead.
    struct rlimit saved;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct rlimit small = saved;
    small.rlim_cur = 32768;
    REQUIRE(old_bytes.size() < small.rlim_cur);
    void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string message = error_of([&] { save_checkpoint(path, *new_model, nullptr, {{"train", "new"}}); });
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, saved_handler);
    CHECK(contains(message, "cannot save"));
    CHECK(contains(message, path));
    CHECK(contains(message, "File too large"));

    // The old checkpoint is there byte for byte, loads, and is the old model; nothing else is left.
    CHECK(read_bytes(path) == old_bytes);
    Checkpoint ck = load_checkpoint(path);
    CHECK(ck.extra.at("train") == "old");
    CHECK(ck.config.to_json() == tiny_lm().to_json());
    std::unique_ptr<Model> back = load_model(path);
    for (const auto& [name, t] : old_model->state()) CHECK(same_values(back->state().at(name), t));
    CHECK(dir.listing() == std::vector<std::string>{"last.safetensors"});

    // Without the limit the same save replaces it.
    save_checkpoint(path, *new_model, nullptr, {{"train", "new"}});
    CHECK(load_checkpoint(path).config.dim == 32);
    CHECK(dir.listing() == std::vector<std::string>{"last.safetensors"});
}
