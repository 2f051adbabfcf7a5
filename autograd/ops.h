// autograd/ops.h: the differentiable operations (notes/02-autograd.md).
// Primitives (add ... log_softmax) are small and general, so any formula can be composed and
// differentiated automatically; coarse operations (layer_norm, gelu, embedding, cross_entropy)
// are one recorded node each with a hand-written backward beside the forward, as in llm.c.
// Each backward adds (+=) into its inputs' gradients; broadcasting is undone by summing the
// gradient back to each input's shape (core/kernels.h, sum_to_shape).
#pragma once
#include <cstdint>
#include <vector>

#include "autograd/var.h"

namespace plat {

// ---- primitives ----------------------------------------------------------------------------
Var add(const Var& a, const Var& b);  // NumPy broadcasting for the four binary ops
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var add_scalar(const Var& a, real s);
Var mul_scalar(const Var& a, real s);
Var neg(const Var& a);
// a [..., M, K] @ b [K, N] (shared) or [..., K, N] (batched); trans_a / trans_b use the
// transposes without copying (core/kernels.h, matmul).
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);
Var exp(const Var& a);
Var log(const Var& a);
Var pow(const Var& a, real exponent);
Var sqrt(const Var& a);
Var tanh(const Var& a);
Var relu(const Var& a);
Var sum(const Var& a, int axis, bool keepdim = false);
Var mean(const Var& a, int axis, bool keepdim = false);
Var max(const Var& a, int axis, bool keepdim = false);  // gradient to the first maximum
Var sum_all(const Var& a);                              // to shape [1]
Var reshape(const Var& a, const Shape& shape);
Var transpose(const Var& a);  // swaps the last two dimensions
Var slice(const Var& a, int axis, int64_t start, int64_t end);
Var concat(const std::vector<Var>& parts, int axis);
Var softmax(const Var& a);      // along the last axis
Var log_softmax(const Var& a);  // along the last axis

inline Var operator+(const Var& a, const Var& b) { return add(a, b); }
inline Var operator-(const Var& a, const Var& b) { return sub(a, b); }
inline Var operator*(const Var& a, const Var& b) { return mul(a, b); }
inline Var operator/(const Var& a, const Var& b) { return div(a, b); }

// ---- coarse operations with hand-written backward ---------------------------------------------
// Layer norm over the last axis C: (x - mean) / sqrt(var + eps) * weight + bias, biased variance
// as in PyTorch. x [..., C], weight [C], bias [C].
Var layer_norm(const Var& x, const Var& weight, const Var& bias, real eps = 1e-5);
// Linear layer in one operation: x W^T + b, x [..., in], weight [out, in], bias [out] ->
// [..., out]. The same as add(matmul(x, weight, false, true), bias) (tests check both ways), with
// the bias written before the product and the three gradients accumulated in place.
Var linear(const Var& x, const Var& weight, const Var& bias);
// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
Var gelu(const Var& x);
// Rows of weight [V, C] picked by ids (each in [0, V)); ids_shape gives the leading shape of
// the result, which is ids_shape + [C].
Var embedding(const Var& weight, const std::vector<int64_t>& ids, const Shape& ids_shape);
// Mean over rows of -log softmax(logits)[target]; logits [..., V], one target per row, in [0, V).
Var cross_entropy(const Var& logits, const std::vector<int64_t>& targets);

}  // namespace plat
