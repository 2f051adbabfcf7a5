// experiments/training/inspect.cpp: the learner's microscope behind `plat inspect`
// (experiments/training/inspect.h): one batch's whole training step as a safetensors file.
#include "experiments/training/inspect.h"

#include <fmt/core.h>

#include "autograd/var.h"
#include "core/error.h"
#include "datasets/fashion_mnist.h"
#include "datasets/text.h"

namespace plat {

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
    return image_batch(data.test_images, data.test_labels, 0, B);
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
    if (config.model == ModelKind::lm) {
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

}  // namespace plat
