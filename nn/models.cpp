// nn/models.cpp: the lm (GPT) and the vit (VisionTransformer) of nn/models.h, following
// notes/model-spec.md exactly: the layouts, the parameter names and the initialization
// (notes/05-transformer.md, "The language model", "The vision transformer").
#include "nn/models.h"

#include <algorithm>

#include "autograd/ops.h"
#include "core/error.h"

namespace plat {

namespace {
// The dropout masks come from their own generator, so switching dropout on or off never
// changes the initial parameters. Its seed is config.seed XOR this constant.
constexpr uint64_t kDropoutSeedMix = 0xd1b54a32d192ed03ULL;
}  // namespace

// ---- Batch ---------------------------------------------------------------------------------------

// ---- Model ---------------------------------------------------------------------------------------

Model::Model(const ModelConfig& config) : config_(config), dropout_gen_(config.seed ^ kDropoutSeedMix) {
    config_.validate();
}

Var Model::loss(const Var& logits, const Batch& batch) const {
    if (batch.targets.empty()) fail("Model::loss: the batch has no targets; build it with targets to compute a loss");
    return cross_entropy(logits, batch.targets);
}

void Model::after_step() {
    // p must stay in [kMinP, kMaxP] (nn/attention.h; notes/03-attention-as-laplacian.md, "p itself"):
    // below 1 the energy is not convex, and the attention operation requires p >= 1.
    for (NamedParameter& np : named_parameters_with_roles()) {
        if (np.role != ParamRole::p) continue;
        Tensor& p = np.var.value();
        for (int64_t i = 0; i < p.numel(); i++) p[i] = std::min(real(kMaxP), std::max(real(kMinP), p[i]));
    }
}

void Model::set_dropout(double p) {
    if (!(p >= 0 && p < 1)) fail("set_dropout: p = {} is outside [0, 1)", p);
    for (Dropout* d : dropouts_) d->p = p;
}

void Model::init_from_seed() {
    Generator gen(config_.seed);
    initialize(gen);
}

// ---- GPT (lm) --------------------------------------------------------------------------------------

GPT::GPT(const ModelConfig& c)
    : Model(c), wte(c.vocab(), c.dim), wpe(c.context, c.dim), drop(&dropout_gen_), ln_f(c.dim) {
    // nanoGPT keeps these in an nn.ModuleDict called `transformer`; the dotted names here give
    // the same state_dict names without a container class.
    register_module("transformer.wte", wte);
    register_module("transformer.wpe", wpe);
    register_module("transformer.drop", drop);
    dropouts_.push_back(&drop);
    for (int l = 0; l < c.layers; l++) {
        h.push_back(std::make_unique<Block>(c, l, /*causal=*/true, kGptNames, &dropout_gen_));
        register_module("transformer.h." + std::to_string(l), *h.back());
        dropouts_.push_back(&h.back()->attn.drop);
        dropouts_.push_back(&h.back()->mlp.drop);
    }
    register_module("transformer.ln_f", ln_f);
    init_from_seed();
}

// The stack of blocks both models share: x [B, T, C] through block 0, 1, ..., L - 1. With a trace,
// records the blocks' input and, per block, its attention weights, values and output.
Var run_blocks(const std::vector<std::unique_ptr<Block>>& blocks, Var x, Trace* trace) {
    if (trace) {
        trace->embedded = x.value();
        trace->attention.assign(blocks.size(), Tensor());
        trace->values.assign(blocks.size(), Tensor());
        trace->hidden.assign(blocks.size(), Tensor());
    }
    for (size_t l = 0; l < blocks.size(); l++) {
        x = blocks[l]->forward(x, trace ? &trace->attention[l] : nullptr, trace ? &trace->values[l] : nullptr);
        if (trace) trace->hidden[l] = x.value();
    }
    return x;
}

Var GPT::forward(const Batch& batch, Trace* trace) {
    int64_t B = batch.B, T = batch.T;
    if (B <= 0 || T <= 0 || int64_t(batch.tokens.size()) != B * T)
        fail("GPT::forward: the batch has B = {}, T = {} and {} token ids; expected B, T > 0 and B * T ids (build it "
             "with Batch::lm)",
             B, T, batch.tokens.size());
    if (T > config_.context)
        fail("GPT::forward: sequences of T = {} tokens are longer than the context {} (transformer.wpe has {} rows)", T,
             config_.context, config_.context);
    std::vector<int64_t> positions(T);
    for (int64_t t = 0; t < T; t++) positions[t] = t;
    Var tok = wte.forward(batch.tokens, Shape{B, T});  // [B, T, C]
    Var pos = wpe.forward(positions, Shape{T});        // [T, C], broadcast over B
    Var x = drop.forward(add(tok, pos));               // [B, T, C]
    x = run_blocks(h, x, trace);  // [B, T, C]
    x = ln_f.forward(x);
    // The tied head: logits = x wte^T [B, T, V]. wte.weight is used twice (here and in the
    // embedding), so its gradient collects both contributions (notes/05, "Weight tying").
    return matmul(x, wte.weight, false, true);
}

// ---- VisionTransformer (vit) ----------------------------------------------------------------------

Tensor patchify(const Tensor& images, int64_t P) {
    if (images.ndim() != 4 || images.size(1) != 1 || images.size(2) != 28 || images.size(3) != 28)
        fail("patchify: images have shape {}; expected [B, 1, 28, 28]", images.shape().str());
    if (P <= 0 || 28 % P != 0) fail("patchify: patch = {} does not divide 28", P);
    int64_t B = images.size(0), G = 28 / P, N = G * G;
    Tensor out(Shape{B, N, P * P});  // [B, N, P*P]
    for (int64_t b = 0; b < B; b++)
        for (int64_t gy = 0; gy < G; gy++)
            for (int64_t gx = 0; gx < G; gx++) {
                real* dst = out.data() + (b * N + gy * G + gx) * P * P;  // patch n = gy * G + gx
                for (int64_t py = 0; py < P; py++)
                    for (int64_t px = 0; px < P; px++)
                        dst[py * P + px] = images[(b * 28 + gy * P + py) * 28 + gx * P + px];
            }
    return out;
}

PatchEmbed::PatchEmbed(int64_t patch, int64_t channels) : patch(patch), proj(patch * patch, channels) {
    register_module("proj", proj);
}

Var PatchEmbed::forward(const Tensor& images) const {
    return proj.forward(Var(patchify(images, patch)));  // [B, N, P*P] -> [B, N, C]
}

VisionTransformer::VisionTransformer(const ModelConfig& c)
    : Model(c),
      grid(28 / c.patch),
      num_patches(grid * grid),
      patch_embed(c.patch, c.dim),
      pos_drop(&dropout_gen_),
      norm(c.dim),
      head(c.dim, c.classes()) {
    // timm's order: the model's own parameters (cls_token, pos_embed), then its submodules.
    cls_token = register_parameter("cls_token", Tensor(Shape{1, 1, c.dim}), ParamRole::embedding);
    pos_embed = register_parameter("pos_embed", Tensor(Shape{1, num_patches + 1, c.dim}), ParamRole::embedding);
    register_module("patch_embed", patch_embed);
    register_module("pos_drop", pos_drop);
    dropouts_.push_back(&pos_drop);
    for (int l = 0; l < c.layers; l++) {
        blocks.push_back(std::make_unique<Block>(c, l, /*causal=*/false, kTimmNames, &dropout_gen_));
        register_module("blocks." + std::to_string(l), *blocks.back());
        dropouts_.push_back(&blocks.back()->attn.drop);
        dropouts_.push_back(&blocks.back()->mlp.drop);
    }
    register_module("norm", norm);
    register_module("head", head);
    init_from_seed();
}

void VisionTransformer::reset_parameters(Generator& gen) {
    cls_token.value().copy_from(Tensor::randn(cls_token.shape(), gen, 0, real(kInitStd)));
    pos_embed.value().copy_from(Tensor::randn(pos_embed.shape(), gen, 0, real(kInitStd)));
}

Var VisionTransformer::forward(const Batch& batch, Trace* trace) {
    const Tensor& images = batch.images;
    if (images.ndim() != 4 || images.size(1) != 1 || images.size(2) != 28 || images.size(3) != 28)
        fail("VisionTransformer::forward: images have shape {}; expected [B, 1, 28, 28] (build the batch with "
             "Batch::vit)",
             images.shape().str());
    int64_t B = images.size(0), C = config_.dim;
    Var x = patch_embed.forward(images);  // [B, N, C]
    // The class token, the same learned vector for every image: broadcast [1, 1, C] to [B, 1, C]
    // by adding zeros (the add's backward sums the B copies' gradients back into cls_token).
    Var cls = add(Var(Tensor::zeros(Shape{B, 1, C})), cls_token);
    x = concat({cls, x}, 1);                   // [B, N + 1, C], token 0 is the class token
    x = pos_drop.forward(add(x, pos_embed));  // pos_embed [1, N + 1, C] broadcasts over B
    x = run_blocks(blocks, x, trace);  // [B, N + 1, C]
    x = norm.forward(x);
    Var cls_out = reshape(slice(x, 1, 0, 1), Shape{B, C});  // token 0 of each image, [B, C]
    return head.forward(cls_out);                             // [B, 10]
}

// ---- make_model --------------------------------------------------------------------------------

std::unique_ptr<Model> make_model(const ModelConfig& config) {
    // The Model constructor validates the configuration (one place for every way a model is made).
    if (config.model == ModelKind::lm) return std::make_unique<GPT>(config);
    return std::make_unique<VisionTransformer>(config);
}

int64_t parameter_count(const ModelConfig& c) {
    const int64_t C = c.dim, L = c.layers;
    const int64_t block = 12 * C * C + 13 * C + (c.learn_p ? c.heads : 0);
    if (c.model == ModelKind::lm) return int64_t(c.vocab()) * C + int64_t(c.context) * C + L * block + 2 * C;
    const int64_t P = c.patch, N = (28 / P) * (28 / P);
    return P * P * C + C + C + (N + 1) * C + L * block + 2 * C + int64_t(c.classes()) * C + c.classes();
}

}  // namespace plat
