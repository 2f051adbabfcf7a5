// nn/attention.h: the two attention operations, each one recorded autograd node with a
// hand-written backward beside its forward (notes/03-attention-as-laplacian.md,
// notes/04-p-laplacian-backward.md). The math is notes/03-attention-as-laplacian.md.
//
// Layout, as in llm.c: the input is the output of the c_attn Linear, qkv [B, T, 3C], holding
// q, k, v in that order along the last axis; head h uses the D = C/H channels [h*D, (h+1)*D)
// of each. The output is [B, T, C] with the heads side by side, ready for c_proj.
#pragma once
#include <string>

#include "autograd/var.h"
#include "core/tensor.h"

namespace plat {

// notes/03-attention-as-laplacian.md, "The self term j = i": what happens to the diagonal j = i of the p-Laplacian weights.
enum class SelfTerm {
    unit,     // b_ii = 0: the self term keeps its plain softmax weight; p = 2 is softmax attention
    exclude,  // j = i dropped (b_ii = -inf) unless it is the row's only admissible key
};

// out_i = sum_j softmax_j(q_i.k_j / sqrt(D)) v_j over admissible j (j <= i when causal).
// When `weights` is not null it receives the attention matrix A [B, H, T, T] (masked entries 0).
Var softmax_attention(const Var& qkv, int heads, bool causal, Tensor* weights = nullptr);

// notes/03-attention-as-laplacian.md, "The discrete formula": A_ij = softmax_j(s_ij + b_ij), b_ij = (p-2)/2 log(||v_i - v_j||^2 + eps),
// out_i = sum_j A_ij v_j. p is a Var of shape [H], one exponent per head (a constant, or a
// learnable parameter whose gradient the same backward computes). Requires p >= 1, eps > 0.
Var plap_attention(const Var& qkv, const Var& p, int heads, bool causal, SelfTerm self, real eps,
                   Tensor* weights = nullptr);

// The same two operations composed from autograd primitives (autograd/ops.h): slower, but
// differentiated automatically. The fused versions are tested against these.
Var softmax_attention_composed(const Var& qkv, int heads, bool causal);
Var plap_attention_composed(const Var& qkv, const Var& p, int heads, bool causal, SelfTerm self, real eps);

// Plain-loop references straight from the definitions (notes/03, "The discrete formula"), every intermediate
// in double: no BLAS, no transposed copies, no symmetry tricks. The fused kernels are tested
// against them (tests/test_attention.cpp), and in the float build they are the "double-precision
// computation" of the near-duplicate test. Same arguments and checks as the fused versions;
// `weights`, when not null, receives A [B, H, T, T].
Tensor softmax_attention_naive(const Tensor& qkv, int heads, bool causal, Tensor* weights = nullptr);
Tensor plap_attention_naive(const Tensor& qkv, const Tensor& p, int heads, bool causal, SelfTerm self, real eps,
                            Tensor* weights = nullptr);

// ---- the distance pass of p-LaT (notes/04 section 9b, "Distances at GEMM speed") -------------------
// r [T, T] (row stride T) receives r_ij = ||v_i - v_j||^2 for the T value rows of one head (D channels,
// row stride ldv): every j < i, and r_ii = 0 exactly; the upper triangle is not touched. Each pair is ||u_i||^2 + ||u_j||^2 - 2 u_i.u_j on centred values
// u = v - centre (one syrk for all the dot products; the centre is the values' mean, or v_0 under a
// causal mask, so that no row depends on later tokens), except the pairs where that
// result is at most recompute_below (||u_i||^2 + ||u_j||^2): near-duplicates, where the expansion
// cancels, recomputed by direct differences of v. recompute_below = 0 recomputes only results <= 0
// (the test that shows the expansion failing uses it). `work` holds T*D + T + D reals of scratch; on
// return its first T*D are u and the next T the squared norms ||u_i||^2, which the backward reuses.
// Returns how many pairs j < i were recomputed.
constexpr real kRecomputeBelow = real(1) / 16;
int64_t pairwise_sq_distances(real* r, const real* v, int64_t ldv, int64_t T, int64_t D, bool causal, real* work,
                              real recompute_below = kRecomputeBelow);
// The naive twin: the definition, direct differences for every pair, accumulated in double. Same layout.
void pairwise_sq_distances_naive(real* r, const real* v, int64_t ldv, int64_t T, int64_t D);

// The range of the exponent p: below 1 the p-Laplacian energy is not convex, above 4 the weights
// (r + eps)^((p-2)/2) span more orders of magnitude than float holds (notes/03, "p itself").
// Checked by the configuration, the command line and the operations; a learned p is clamped to it.
constexpr double kMinP = 1.0, kMaxP = 4.0;

const char* self_term_name(SelfTerm s);     // "unit" / "exclude"
SelfTerm parse_self_term(const std::string& name);  // throws plat::Error naming the choices

}  // namespace plat
