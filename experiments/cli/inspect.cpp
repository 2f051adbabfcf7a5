// experiments/cli/inspect.cpp: `plat inspect`, the learner's microscope. For one batch it writes a
// safetensors file holding everything a training step sees: every parameter under its
// state_dict name, the input `x` exactly as fed, the targets `y`, the `logits`, the `loss`,
// each parameter's gradient as `grad.<name>`, and each layer's attention weights as
// `attn.<layer>` [B, H, T, T]; __metadata__["config"] is the model configuration. It is the
// same format as the PyTorch reference files (tests/reference/README.md), so it loads in NumPy
// or PyTorch the same way (notes/05-transformer.md, "Looking inside: plat inspect").
#include <fmt/core.h>

#include "core/error.h"
#include "core/safetensors.h"
#include "datasets/fashion_mnist.h"
#include "datasets/files.h"
#include "datasets/text.h"
#include "experiments/cli/commands.h"
#include "experiments/training/inspect.h"
#include "experiments/cli/options.h"
#include "nn/checkpoint.h"

namespace plat {

namespace {

struct InspectOptions {
    ModelOptions model;
    std::string checkpoint;
    int batch = 4;
    std::string text;  // default: data_dir()/kjv.txt
    std::string data;  // vit: default data_dir()/fashion-mnist
    std::string out = "inspect.safetensors";
};

void run_inspect(InspectOptions& o) {
    std::unique_ptr<Model> model = model_from_options_or_checkpoint(o.model, o.checkpoint);
    const ModelConfig& config = model->config();
    Batch batch = config.model == ModelKind::lm
                      ? lm_inspect_batch(o.text.empty() ? data_dir() + "/kjv.txt" : o.text, o.batch, config.context)
                      : vit_inspect_batch(o.data.empty() ? data_dir() + "/fashion-mnist" : o.data, o.batch);

    TensorFile file = inspect_batch(*model, batch);
    save_safetensors(o.out, file);

    fmt::print("wrote {}: {} tensors (parameters, x, y, logits, loss {:.6f}, gradients, {} attention maps)\n", o.out,
               file.size(), file.get("loss").item(), config.layers);
    fmt::print("load it in Python: see notes/05-transformer.md, \"Looking inside: plat inspect\"\n");
}

}  // namespace

void register_inspect(CLI::App& app) {
    auto o = std::make_shared<InspectOptions>();
    CLI::App* cmd = app.add_subcommand(
        "inspect", "Write one batch's parameters, input, logits, loss, gradients and attention weights to a safetensors file");
    add_model_options(cmd, o->model);
    cmd->add_option("--checkpoint", o->checkpoint, "take the model (and its configuration) from this checkpoint");
    cmd->add_option("--batch", o->batch, "batch size B")->capture_default_str()->check(CLI::Range(1, 4096));
    cmd->add_option("--text", o->text, "lm: the text whose first B windows form the batch (default: DATA/kjv.txt)");
    cmd->add_option("--data", o->data, "vit: the Fashion-MNIST directory (default: DATA/fashion-mnist)");
    cmd->add_option("--out", o->out, "the safetensors file to write")->capture_default_str();
    cmd->callback([o] { run_inspect(*o); });
}

}  // namespace plat
