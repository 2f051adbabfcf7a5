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

Checkpoint load_checkpoint(const std::string& path) {
    TensorFile file = load_safetensors(path);
    const std::string fix = "pass a checkpoint written by `plat train` (runs/<name>/last.safetensors or best.safetensors)";
    if (!file.has_metadata("config"))
        fail("checkpoint '{}': no model configuration in __metadata__[\"config\"], so it is not a plat checkpoint; {}",
             path, fix);
    Checkpoint ck;
    try {
        ck.config = ModelConfig::from_json(file.metadata("config"));
    } catch (const Error& e) {
        fail("checkpoint '{}': its configuration is invalid ({}); {}", path, e.what(), fix);
    }
    // Which names the configuration's model has: build it (cheap at these sizes) and ask.
    std::unique_ptr<Model> model = make_model(ck.config);
    StateDict expected = model->state();
    std::string missing;
    for (const auto& [name, tensor] : expected) {
        if (!file.has(name)) {
            missing += (missing.empty() ? "" : ", ") + name;
            continue;
        }
        const TensorEntry& e = file.entry(name);
        if (e.dtype == DType::I64)
            fail("checkpoint '{}': tensor '{}' holds integers (I64), a parameter must be F32; {}", path, name, fix);
        Tensor t = file.get(name);
        if (t.shape() != tensor.shape())
            fail("checkpoint '{}': tensor '{}' has shape {} but the configuration {} needs {}; the file and its "
                 "configuration disagree: {}",
                 path, name, t.shape().str(), file.metadata("config"), tensor.shape().str(), fix);
        ck.model[name] = t;
    }
    if (!missing.empty())
        fail("checkpoint '{}': missing tensors for its configuration: {}; {}", path, missing, fix);
    for (const std::string& name : file.names()) {
        if (expected.count(name)) continue;
        // Everything else must be optimizer state, named "<optimizer>.<...>".
        if (name.rfind("adamw.", 0) == 0 || name.rfind("sgd.", 0) == 0)
            ck.optimizer[name] = file.get(name);
        else
            fail("checkpoint '{}': unexpected tensor '{}', which the configuration's model does not have; {}", path,
                 name, fix);
    }
    for (const auto& [key, value] : file.metadata())
        if (key != "config") ck.extra[key] = value;
    return ck;
}

std::unique_ptr<Model> load_model(const std::string& path) {
    Checkpoint ck = load_checkpoint(path);
    std::unique_ptr<Model> model = make_model(ck.config);
    model->load_state(ck.model);
    return model;
}

}  // namespace plat
