// nn/layers.h: the layers the two transformers are built from: Linear, Embedding, LayerNorm,
// GELU, Dropout, MLP, SelfAttention (softmax or p-Laplacian) and the pre-norm Block
// (notes/05-transformer.md). Each holds its parameters as Vars and computes with autograd/ops.h
// and nn/attention.h, so the backward pass comes for free from the recorded graph.
#pragma once
#include <cstdint>
#include <string>

#include "autograd/var.h"
#include "core/random.h"
#include "nn/attention.h"
#include "nn/config.h"
#include "nn/module.h"

namespace plat {

// GPT-2's initial standard deviation for Linear weights and embeddings (notes/05, "Initialization").
constexpr double kInitStd = 0.02;

// y = x W^T + b, PyTorch's nn.Linear: weight [out, in], bias [out]; x [..., in] -> [..., out].
// Initialized weight ~ normal(0, init_std), bias = 0.
class Linear : public Module {
public:
    Linear(int64_t in_features, int64_t out_features, double init_std = kInitStd);
    Var forward(const Var& x) const;

    int64_t in_features, out_features;
    double init_std;
    Var weight, bias;

protected:
    void reset_parameters(Generator& gen) override;
};

// Rows of weight [num, dim] picked by integer ids: out = weight[ids], shape ids_shape + [dim].
// Initialized ~ normal(0, 0.02).
class Embedding : public Module {
public:
    Embedding(int64_t num_embeddings, int64_t embedding_dim);
    Var forward(const std::vector<int64_t>& ids, const Shape& ids_shape) const;

    int64_t num_embeddings, embedding_dim;
    Var weight;

protected:
    void reset_parameters(Generator& gen) override;
};

// Layer norm over the last axis, eps 1e-5, weight (init 1) and bias (init 0), both [C].
class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t channels, double eps = 1e-5);
    Var forward(const Var& x) const;

    int64_t channels;
    double eps;
    Var weight, bias;

protected:
    void reset_parameters(Generator& gen) override;
};

// GELU, tanh approximation (autograd/ops.h, gelu). No parameters.
class GELU : public Module {
public:
    Var forward(const Var& x) const;
};

// Inverted dropout: in training mode with p > 0, each element is zeroed with probability p and
// the survivors are scaled by 1/(1-p), so the expected value is unchanged; in evaluation mode,
// or with p = 0 (the default), the identity. The mask comes from a generator owned by the model,
// drawn in forward order, so a run is reproducible from its seed.
class Dropout : public Module {
public:
    explicit Dropout(Generator* gen, double p = 0);
    Var forward(const Var& x) const;

    Generator* gen;
    double p;
};

// The PyTorch names of a block's pieces: nanoGPT's for the lm, timm's for the vit, so that
// named_parameters() matches the state_dict of the model each mirrors.
struct LayerNames {
    const char* norm1;   // ln_1   | norm1
    const char* attn;    // attn   | attn
    const char* norm2;   // ln_2   | norm2
    const char* mlp;     // mlp    | mlp
    const char* qkv;     // c_attn | qkv      (inside attn)
    const char* proj;    // c_proj | proj     (inside attn)
    const char* fc;      // c_fc   | fc1      (inside mlp)
    const char* fc_out;  // c_proj | fc2      (inside mlp)
};
extern const LayerNames kGptNames;   // nanoGPT
extern const LayerNames kTimmNames;  // timm VisionTransformer

// fc (C -> 4C), GELU, fc_out (4C -> C), dropout. fc_out is a residual output projection: its
// weight starts with the smaller std 0.02 / sqrt(2L) (notes/05, "Initialization").
class MLP : public Module {
public:
    MLP(int64_t channels, double residual_std, const LayerNames& names, Generator* dropout_gen);
    Var forward(const Var& x) const;  // x [B, T, C] -> [B, T, C]

    Linear fc, fc_out;
    GELU act;
    Dropout drop;
};

// Multi-head self-attention, one layer: qkv = Linear(C, 3C)(x) [B, T, 3C]; the attention
// operation of nn/attention.h (softmax, or p-Laplacian with exponent p_l in every head);
// proj = Linear(C, C); dropout. With learn_p the exponents are the parameter `p` [H].
class SelfAttention : public Module {
public:
    SelfAttention(const ModelConfig& config, int layer, bool causal, double residual_std, const LayerNames& names,
                  Generator* dropout_gen);
    // x [B, T, C] -> [B, T, C]. When `weights` is given it receives A [B, H, T, T]; when
    // `values` is given it receives a copy of v [B, T, C], the third of qkv (head h = channels
    // [h*D, (h+1)*D)), which is what the p-Laplacian distances r_ij are measured on.
    Var forward(const Var& x, Tensor* weights = nullptr, Tensor* values = nullptr) const;

    int heads;
    bool causal;
    bool plap;       // config.attn == AttnKind::plap
    SelfTerm self;
    double eps;
    double p_init;   // p_l, this layer's exponent at initialization
    Var p;           // [H]: a registered parameter with learn_p, else a constant
    Linear qkv, proj;
    Dropout drop;

protected:
    void reset_parameters(Generator& gen) override;  // p = p_l in every head
};

// The pre-norm transformer block (GPT-2, ViT):
//   x = x + attn(norm1(x));  x = x + mlp(norm2(x))
class Block : public Module {
public:
    Block(const ModelConfig& config, int layer, bool causal, const LayerNames& names, Generator* dropout_gen);
    // [B, T, C] -> [B, T, C]; `weights` and `values` as in SelfAttention::forward.
    Var forward(const Var& x, Tensor* weights = nullptr, Tensor* values = nullptr) const;

    LayerNorm norm1;
    SelfAttention attn;
    LayerNorm norm2;
    MLP mlp;
};

// 0.02 / sqrt(2L): each block adds two residual branches, so the residual stream is a sum of
// 2L terms; scaling their last projections keeps its variance at initialization independent of L.
double residual_init_std(int layers);

}  // namespace plat
