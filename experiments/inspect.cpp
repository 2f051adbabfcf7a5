// experiments/inspect.cpp: `plat inspect`, the learner's microscope. For one batch it writes a
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
#include "experiments/commands.h"
#include "experiments/inspect.h"
#include "experiments/model_options.h"
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

}  // namespace

// lm: the first B windows of T + 1 bytes of the text; window b starts at byte b*T, x is its
// first T bytes and y its last T (so consecutive windows overlap by one byte).
Batch lm_inspect_batch(const std::string& path, int64_t B, int64_t T) {
    std::vector<uint8_t> bytes = load_text_bytes(path);
    int64_t need = B * T + 1;
    if (int64_t(bytes.size()) < need)
        fail("inspect: '{}' has {} bytes, but --batch {} windows of context {} + 1 need {}; use a longer text or a "
             "smaller --batch/--context",
             path, bytes.size(), B, T, need);
    std::vector<int64_t> x(B * T), y(B * T);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            x[b * T + t] = bytes[b * T + t];
            y[b * T + t] = bytes[b * T + t + 1];
        }
    return Batch::lm(B, T, std::move(x), std::move(y));
}

// vit: the first B test images, normalized by the training set's mean and std.
Batch vit_inspect_batch(const std::string& dir, int64_t B) {
    FashionMNIST data = load_fashion_mnist(dir);
    int64_t n = data.test_images.size(0);
    if (B > n) fail("inspect: --batch {} is more than the {} test images", B, n);
    ImageBatch batch = image_batch(data.test_images, data.test_labels, 0, B);
    return Batch::vit(batch.images, batch.labels);
}

TensorFile inspect_batch(Model& model, const Batch& batch) {
    const ModelConfig& config = model.config();
    // One forward and backward pass, recording each layer's attention weights.
    model.eval();  // no dropout: the file shows the deterministic computation
    Trace trace;
    Var logits = model.forward(batch, &trace);
    Var loss = model.loss(logits, batch);
    model.zero_grad();
    loss.backward();

    TensorFile file;
    file.set_metadata("config", config.to_json());
    for (const auto& [name, param] : model.named_parameters()) file.put(name, param.value());
    if (config.model == "lm") {
        file.put_int64("x", {batch.B, batch.T}, batch.tokens);
        file.put_int64("y", {batch.B, batch.T}, batch.targets);
    } else {
        file.put("x", batch.images);
        file.put_int64("y", {batch.B}, batch.targets);
    }
    file.put("logits", logits.value());
    file.put("loss", loss.value());
    for (const auto& [name, param] : model.named_parameters()) file.put("grad." + name, param.grad());
    for (size_t l = 0; l < trace.attention.size(); l++) file.put(fmt::format("attn.{}", l), trace.attention[l]);
    return file;
}

namespace {

void run_inspect(InspectOptions& o) {
    std::unique_ptr<Model> model = model_from_options_or_checkpoint(o.model, o.checkpoint);
    const ModelConfig& config = model->config();
    Batch batch = config.model == "lm"
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
