// nn/models.h: the two transformers behind one interface: the byte-level language model `lm`
// (GPT, nanoGPT's layout and names) and the vision transformer `vit` (VisionTransformer, timm's
// names), both made by make_model(config). The command line, the tests and the PyTorch
// reference comparison treat them alike through Model (notes/05-transformer.md).
//
// A training step, for either model, is train_step in experiments/training/step.cpp: forward,
// loss, backward, clip, AdamW, after_step.
#pragma once
#include <memory>
#include <vector>

#include "nn/batch.h"
#include "nn/config.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace plat {

// What forward() records when asked: per layer, the attention weights, the value vectors and
// the hidden state, for the attention maps, the nearest-neighbour attention mass and the
// over-smoothing measure (experiments/training/probe.h). The tensors share storage with the forward
// pass's values (values[l] is a copy), which nothing writes into afterwards: they stay valid
// and unchanged.
struct Trace {
    Tensor embedded;                 // the blocks' input x, [B, T, C] (vit: T = N + 1 tokens)
    std::vector<Tensor> attention;   // attention[l] = A of block l, [B, H, T, T]
    std::vector<Tensor> values;      // values[l] = v of block l, [B, T, C]; head h is channels [h*D, (h+1)*D)
    std::vector<Tensor> hidden;      // hidden[l] = output of block l, [B, T, C]
};

class Model : public Module {
public:
    explicit Model(const ModelConfig& config);

    const ModelConfig& config() const { return config_; }
    // Logits: lm [B, T, V = 256], vit [B, 10]. With `trace`, also fills it (one entry per layer).
    virtual Var forward(const Batch& batch, Trace* trace = nullptr) = 0;
    // Mean cross-entropy of the logits against batch.targets (one per row of logits).
    Var loss(const Var& logits, const Batch& batch) const;
    // Call after every optimizer step: clamps each learnable p to [kMinP, kMaxP] (notes/model-spec.md).
    void after_step();
    // Sets the rate of every Dropout layer (0 by default: no dropout).
    void set_dropout(double p);
    // The generator the dropout masks are drawn from, seeded from config.seed (kDropoutSeedMix).
    Generator& dropout_generator() { return dropout_gen_; }

protected:
    // Draws every parameter from Generator(config.seed), in named_parameters() order
    // (Module::initialize). Called by the derived constructors once all is registered.
    void init_from_seed();

    ModelConfig config_;
    Generator dropout_gen_;
    std::vector<Dropout*> dropouts_;  // every Dropout layer, for set_dropout
};

// The stack of blocks both models run (nn/models.cpp): x through every block in order, filling
// `trace` when given.
Var run_blocks(const std::vector<std::unique_ptr<Block>>& blocks, Var x, Trace* trace);

// lm: nanoGPT's GPT. Parameter names transformer.wte.weight ... transformer.ln_f.bias; the
// head is tied to transformer.wte.weight (stored once).
class GPT : public Model {
public:
    explicit GPT(const ModelConfig& config);
    Var forward(const Batch& batch, Trace* trace = nullptr) override;

    Embedding wte, wpe;
    Dropout drop;
    std::vector<std::unique_ptr<Block>> h;
    LayerNorm ln_f;
};

// timm's PatchEmbed: patchify, then proj = Linear(P*P, C) (timm's Conv2d, flattened).
class PatchEmbed : public Module {
public:
    PatchEmbed(int64_t patch, int64_t channels);
    Var forward(const Tensor& images) const;  // [B, 1, 28, 28] -> [B, N, C]

    int64_t patch;
    Linear proj;
};

// vit: timm's VisionTransformer on 28x28 single-channel images, class token, 10 classes.
class VisionTransformer : public Model {
public:
    explicit VisionTransformer(const ModelConfig& config);
    Var forward(const Batch& batch, Trace* trace = nullptr) override;

    int64_t grid;         // G = 28 / P patches per side
    int64_t num_patches;  // N = G * G
    Var cls_token;        // [1, 1, C]
    Var pos_embed;        // [1, N + 1, C]
    PatchEmbed patch_embed;
    Dropout pos_drop;
    std::vector<std::unique_ptr<Block>> blocks;
    LayerNorm norm;
    Linear head;  // C -> 10

protected:
    void reset_parameters(Generator& gen) override;  // cls_token, pos_embed ~ normal(0, 0.02)
};

// The number of scalars the configuration's model has, from the formula (no allocation):
//   per block 12 C^2 + 13 C (+ H with learn_p): c_attn 3C^2 + 3C, c_proj C^2 + C, c_fc 4C^2 + 4C,
//   mlp c_proj 4C^2 + C, two norms 4C;
//   lm:  V C + context C + L block + 2 C (ln_f);
//   vit: P^2 C + C (patch_embed) + C (cls_token) + (N + 1) C (pos_embed) + L block + 2 C + 10 C + 10.
// load_checkpoint uses it to refuse a file too small for its configuration before building it.
int64_t parameter_count(const ModelConfig& config);

// Builds the model the configuration names (lm or vit); the constructor validates the configuration.
std::unique_ptr<Model> make_model(const ModelConfig& config);

// images [B, 1, 28, 28] -> patches [B, N, P*P]: patch n = (gy, gx) in row-major order over the
// G x G grid, its pixels (py, px) flattened row-major (the same as timm's Conv2d with kernel and
// stride P, whose weight [C, 1, P, P] flattens to [C, P*P]).
Tensor patchify(const Tensor& images, int64_t patch);

}  // namespace plat
