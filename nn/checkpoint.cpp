// nn/checkpoint.cpp: save_checkpoint / load_checkpoint (nn/checkpoint.h).
#include "nn/checkpoint.h"

#include "core/error.h"
#include "core/safetensors.h"

namespace plat {

void save_checkpoint(const std::string& path, const Model& model, const Optimizer* optimizer,
                     const std::map<std::string, std::string>& extra) {
    TensorFile file;
    file.set_metadata("format", kCheckpointFormat);
    file.set_metadata("config", model.config().to_json());
    for (const auto& [key, value] : extra) {
        if (key == "format" || key == "config") fail("save_checkpoint: metadata key '{}' is reserved", key);
        file.set_metadata(key, value);
    }
    for (const auto& [name, tensor] : model.state()) file.put(name, tensor);
    if (optimizer)
        for (const auto& [name, tensor] : optimizer->state()) file.put(name, tensor);
    save_safetensors(path, file);
}

namespace {

// load_checkpoint's work; also hands back the (randomly initialized) model it built to learn the
// expected names and shapes, so load_model need not build a second one.
Checkpoint read_checkpoint(const std::string& path, std::unique_ptr<Model>& model) {
    TensorFile file = load_safetensors(path);  // every structural check of the file format
    const std::string fix = "pass a checkpoint written by `plat train` (runs/<name>/last.safetensors or best.safetensors)";
    if (!file.has_metadata("format") || file.metadata("format") != kCheckpointFormat)
        fail("checkpoint '{}': __metadata__[\"format\"] is {}, not \"{}\", so it is not a plat checkpoint; {}", path,
             file.has_metadata("format") ? "\"" + printable(file.metadata("format")) + "\"" : "missing",
             kCheckpointFormat, fix);
    if (!file.has_metadata("config"))
        fail("checkpoint '{}': no model configuration in __metadata__[\"config\"]; {}", path, fix);
    Checkpoint ck;
    try {
        ck.config = ModelConfig::from_json(file.metadata("config"));
    } catch (const Error& e) {
        fail("checkpoint '{}': its configuration is invalid ({}); {}", path, e.what(), fix);
    }

    // Optimizer state is named "<optimizer>.<...>"; everything else must be a parameter.
    auto is_optimizer_state = [](const std::string& name) {
        return name.rfind("adamw.", 0) == 0 || name.rfind("sgd.", 0) == 0;
    };
    // The model is built before its tensors are compared by name, and its size is set by the
    // configuration, not by the file: a tiny file claiming a huge model would allocate without
    // bound. So first compare the configuration's parameter count with the values the file
    // holds; beyond a generous margin (missing tensors get their specific message below) it is
    // refused here, before any allocation.
    int64_t values = 0;
    for (const TensorEntry& e : file.entries())
        if (!is_optimizer_state(e.name)) values += e.numel();
    if (parameter_count(ck.config) > 2 * values + (int64_t(1) << 20))
        fail("checkpoint '{}': its tensors hold {} values, but its configuration {} describes a model of {}; {}", path,
             values, ck.config.to_json(), parameter_count(ck.config), fix);

    model = make_model(ck.config);
    StateDict expected = model->state();
    std::string missing;
    for (const auto& [name, tensor] : expected) {
        if (!file.has(name)) {
            missing += (missing.empty() ? "" : ", ") + name;
            continue;
        }
        if (file.entry(name).dtype == DType::I64)
            fail("checkpoint '{}': tensor '{}' holds integers (I64), a parameter must be F32; {}", path, name, fix);
        Tensor t = file.get(name);
        if (t.shape() != tensor.shape())
            fail("checkpoint '{}': tensor '{}' has shape {} but the configuration {} needs {}; {}", path, name,
                 t.shape().str(), ck.config.to_json(), tensor.shape().str(), fix);
        ck.model[name] = t;
    }
    if (!missing.empty()) fail("checkpoint '{}': missing tensors for its configuration: {}; {}", path, missing, fix);
    for (const std::string& name : file.names()) {
        if (expected.count(name)) continue;
        if (is_optimizer_state(name)) {
            if (file.entry(name).dtype == DType::I64)
                fail("checkpoint '{}': optimizer tensor '{}' holds integers (I64), optimizer state must be F32; {}", path,
                     printable(name), fix);
            ck.optimizer[name] = file.get(name);
        }
        else
            fail("checkpoint '{}': unexpected tensor '{}', which the configuration's model does not have; {}", path,
                 printable(name), fix);
    }
    for (const auto& [key, value] : file.metadata())
        if (key != "config" && key != "format") ck.extra[key] = value;
    return ck;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
    std::unique_ptr<Model> unused;
    return read_checkpoint(path, unused);
}

std::unique_ptr<Model> load_model(const std::string& path) {
    std::unique_ptr<Model> model;
    Checkpoint ck = read_checkpoint(path, model);
    model->load_state(ck.model);
    return model;
}

}  // namespace plat
