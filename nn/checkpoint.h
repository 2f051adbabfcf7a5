// nn/checkpoint.h: a model (and optionally its optimizer and training progress) in one
// safetensors file (notes/08-data-safety.md, "Checkpoints"). Tensors are stored under their
// state_dict names, so the PyTorch mirror (experiments/pytorch/plat_torch.py,
// load_plat_checkpoint) reads the same file; __metadata__ holds "format", "config" (the model
// configuration JSON, nn/config.h) and any extra JSON strings the caller adds ("train").
// Optimizer buffers are stored under their own names ("adamw.m.<param>", ...), which no
// model parameter can collide with.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "nn/models.h"
#include "nn/optim.h"

namespace plat {

constexpr const char* kCheckpointFormat = "plat-checkpoint-1";

struct Checkpoint {
    ModelConfig config;
    StateDict model;      // parameter name -> tensor
    StateDict optimizer;  // optimizer state (empty when none was saved)
    std::map<std::string, std::string> extra;  // the other metadata entries
};

// Writes atomically (core/safetensors.h): a kill during the save leaves the previous file intact.
void save_checkpoint(const std::string& path, const Model& model, const Optimizer* optimizer = nullptr,
                     const std::map<std::string, std::string>& extra = {});

// Reads and checks a checkpoint: a valid safetensors file (core/safetensors.h), the format tag
// __metadata__["format"] == kCheckpointFormat,
// a configuration that validates, and exactly the parameters that configuration's model has,
// with the right shapes. Every problem is one plat::Error naming the file and the fix.
Checkpoint load_checkpoint(const std::string& path);

// The model a checkpoint holds, built from its configuration with its parameters loaded.
std::unique_ptr<Model> load_model(const std::string& path);

}  // namespace plat
