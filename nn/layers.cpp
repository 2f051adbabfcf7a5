// nn/layers.cpp: the layers of nn/layers.h (notes/05-transformer.md). Forward passes only: each
// is a few autograd operations, and the recorded graph gives the backward.
#include "nn/layers.h"

#include <cmath>

#include "autograd/ops.h"
#include "core/error.h"

namespace plat {

double residual_init_std(int layers) { return kInitStd / std::sqrt(2.0 * layers); }

// ---- Linear ------------------------------------------------------------------------------------

Linear::Linear(int64_t in, int64_t out, double init_std) : in_features(in), out_features(out), init_std(init_std) {
    if (in <= 0 || out <= 0) fail("Linear: sizes must be > 0, got in {} out {}", in, out);
    weight = register_parameter("weight", Tensor(Shape{out, in}), ParamRole::weight);
    bias = register_parameter("bias", Tensor(Shape{out}), ParamRole::bias);
}

void Linear::reset_parameters(Generator& gen) {
    weight.value().copy_from(Tensor::randn(weight.shape(), gen, 0, real(init_std)));
    bias.value().fill(0);
}

Var Linear::forward(const Var& x) const {
    if (x.value().ndim() < 1 || x.shape()[-1] != in_features)
        fail("Linear({}, {}): input has shape {}; expected [..., {}]", in_features, out_features, x.shape().str(),
             in_features);
    // x [N, in] @ weight^T [in, out] + bias: one operation (autograd/ops.cpp, linear), which is
    // add(matmul(x, weight, false, true), bias) with the gradients accumulated in place.
    return linear(x, weight, bias);
}

// ---- Embedding ---------------------------------------------------------------------------------

Embedding::Embedding(int64_t num, int64_t dim) : num_embeddings(num), embedding_dim(dim) {
    if (num <= 0 || dim <= 0) fail("Embedding: sizes must be > 0, got {} x {}", num, dim);
    weight = register_parameter("weight", Tensor(Shape{num, dim}), ParamRole::embedding);
}

void Embedding::reset_parameters(Generator& gen) {
    weight.value().copy_from(Tensor::randn(weight.shape(), gen, 0, real(kInitStd)));
}

Var Embedding::forward(const std::vector<int64_t>& ids, const Shape& ids_shape) const {
    return embedding(weight, ids, ids_shape);
}

// ---- LayerNorm ---------------------------------------------------------------------------------

LayerNorm::LayerNorm(int64_t channels, double eps) : channels(channels), eps(eps) {
    weight = register_parameter("weight", Tensor::ones(Shape{channels}), ParamRole::norm);
    bias = register_parameter("bias", Tensor::zeros(Shape{channels}), ParamRole::bias);
}

void LayerNorm::reset_parameters(Generator& gen) {
    weight.value().fill(1);
    bias.value().fill(0);
}

Var LayerNorm::forward(const Var& x) const { return layer_norm(x, weight, bias, real(eps)); }

// ---- GELU, Dropout -------------------------------------------------------------------------------

Var GELU::forward(const Var& x) const { return gelu(x); }

Dropout::Dropout(Generator* gen, double p) : gen(gen), p(p) {}

Var Dropout::forward(const Var& x) const {
    if (p == 0 || !is_training()) return x;
    if (!(p > 0 && p < 1)) fail("Dropout: p = {} is outside [0, 1)", p);
    if (!gen) fail("Dropout: p = {} needs a random generator, and none was given", p);
    // mask_i = 0 with probability p, else 1/(1-p); out = x * mask, so dx = dout * mask.
    Tensor mask(x.shape());
    real scale = real(1 / (1 - p));
    for (int64_t i = 0; i < mask.numel(); i++) mask[i] = gen->uniform() < p ? 0 : scale;
    return mul(x, Var(mask));
}

// ---- the two naming schemes ------------------------------------------------------------------

const LayerNames kGptNames = {"ln_1", "attn", "ln_2", "mlp", "c_attn", "c_proj", "c_fc", "c_proj"};
const LayerNames kTimmNames = {"norm1", "attn", "norm2", "mlp", "qkv", "proj", "fc1", "fc2"};

// ---- MLP ---------------------------------------------------------------------------------------

MLP::MLP(int64_t C, double residual_std, const LayerNames& names, Generator* dropout_gen)
    : fc(C, 4 * C), fc_out(4 * C, C, residual_std), drop(dropout_gen) {
    register_module(names.fc, fc);
    register_module(names.fc_out, fc_out);
    register_module("act", act);
    register_module("drop", drop);
}

Var MLP::forward(const Var& x) const { return drop.forward(fc_out.forward(act.forward(fc.forward(x)))); }

// ---- SelfAttention -----------------------------------------------------------------------------

SelfAttention::SelfAttention(const ModelConfig& config, int layer, bool causal, double residual_std,
                             const LayerNames& names, Generator* dropout_gen)
    : heads(config.heads),
      causal(causal),
      plap(config.attn == AttnKind::plap),
      self(config.self),
      eps(config.eps),
      p_init(config.p_for_layer(layer)),
      qkv(config.dim, 3 * config.dim),
      proj(config.dim, config.dim, residual_std),
      drop(dropout_gen) {
    // Registered before the submodules, as nn.Parameter attributes come first in PyTorch's
    // named_parameters(): "<attn>.p", then "<attn>.<qkv>.weight", ...
    Tensor p_value = Tensor::full(Shape{config.heads}, real(p_init));
    if (config.learn_p)
        p = register_parameter("p", p_value, ParamRole::p);
    else
        p = Var(p_value, false);
    register_module(names.qkv, qkv);
    register_module(names.proj, proj);
    register_module("drop", drop);
}

void SelfAttention::reset_parameters(Generator& gen) { p.value().fill(real(p_init)); }

Var SelfAttention::forward(const Var& x, Tensor* weights, Tensor* values) const {
    if (x.value().ndim() != 3) fail("SelfAttention: input has shape {}; expected [B, T, C]", x.shape().str());
    Var qkv_out = qkv.forward(x);  // [B, T, 3C]: q, k, v side by side
    if (values) {
        // v is the last C channels of each row of qkv [B, T, 3C]; copied out, so the trace
        // holds [B, T, C] with the heads side by side, as the attention output.
        const Tensor& all = qkv_out.value();
        int64_t B = all.size(0), T = all.size(1), C = all.size(2) / 3;
        *values = Tensor(Shape{B, T, C});
        for (int64_t bt = 0; bt < B * T; bt++)
            for (int64_t c = 0; c < C; c++) (*values)[bt * C + c] = all[bt * 3 * C + 2 * C + c];
    }
    Var y = plap ? plap_attention(qkv_out, p, heads, causal, self, real(eps), weights)
                 : softmax_attention(qkv_out, heads, causal, weights);  // [B, T, C], heads side by side
    return drop.forward(proj.forward(y));
}

// ---- Block -------------------------------------------------------------------------------------

Block::Block(const ModelConfig& config, int layer, bool causal, const LayerNames& names, Generator* dropout_gen)
    : norm1(config.dim),
      attn(config, layer, causal, residual_init_std(config.layers), names, dropout_gen),
      norm2(config.dim),
      mlp(config.dim, residual_init_std(config.layers), names, dropout_gen) {
    register_module(names.norm1, norm1);
    register_module(names.attn, attn);
    register_module(names.norm2, norm2);
    register_module(names.mlp, mlp);
}

Var Block::forward(const Var& x, Tensor* weights, Tensor* values) const {
    Var h = add(x, attn.forward(norm1.forward(x), weights, values));  // the residual stream carries x
    return add(h, mlp.forward(norm2.forward(h)));
}

}  // namespace plat
