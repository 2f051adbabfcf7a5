// experiments/training/inspect.h: what `plat inspect` computes, callable from tests
// (experiments/cli/inspect.cpp; notes/05-transformer.md, "Looking inside: plat inspect").
#pragma once
#include <string>

#include "core/safetensors.h"
#include "nn/models.h"

namespace plat {

// lm: the first B windows of T + 1 bytes of the file at `path`; window b starts at byte b*T.
Batch lm_inspect_batch(const std::string& path, int64_t B, int64_t T);
// vit: the first B Fashion-MNIST test images from `dir`, normalized by the training statistics.
Batch vit_inspect_batch(const std::string& dir, int64_t B);
// One forward and backward pass on `batch` (eval mode), as a file: every parameter, x, y,
// logits, loss, grad.<name> and attn.<layer>, and the configuration in the metadata.
TensorFile inspect_batch(Model& model, const Batch& batch);

}  // namespace plat
