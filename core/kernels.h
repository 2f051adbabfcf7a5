// core/kernels.h: the numerical kernels on Tensors: BLAS matmul, elementwise ops with
// broadcasting, reductions along an axis, softmax, and data movement (notes/01-tensors.md).
// Every fast kernel has a `_naive` twin beside it that the tests compare it with
// (tests/test_core.cpp). Nothing here knows about autograd.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace plat {

// ---- matrix multiplication -------------------------------------------------------------
// Row-major C[M,N] = alpha * op(A) op(B) + beta * C, op(X) = X or X^T. A is [M,K] (or [K,M]
// when trans_a), B is [K,N] (or [N,K] when trans_b). One cblas_?gemm call.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha, const real* A,
          const real* B, real beta, real* C);
void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha,
                const real* A, const real* B, real beta, real* C);
// The same with explicit leading dimensions (row strides) lda, ldb, ldc, so a block inside a
// larger row-major matrix is used in place: attention addresses one head's q, k or v inside
// qkv [B, T, 3C] with row stride 3C (nn/attention.cpp). gemm is the dense case.
void gemm_strided(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha, const real* A,
                  int64_t lda, const real* B, int64_t ldb, real beta, real* C, int64_t ldc);
void gemm_strided_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha, const real* A,
                        int64_t lda, const real* B, int64_t ldb, real beta, real* C, int64_t ldc);

// The lower triangle (j <= i) of C[N,N] = alpha * A A^T + beta * C, A [N,K] with row stride lda; the
// upper triangle is not touched. One cblas_?syrk call: half a gemm's work for a symmetric product
// (the Gram matrix of the p-Laplacian distances, nn/attention.cpp).
void syrk_lower(int64_t N, int64_t K, real alpha, const real* A, int64_t lda, real beta, real* C, int64_t ldc);
void syrk_lower_naive(int64_t N, int64_t K, real alpha, const real* A, int64_t lda, real beta, real* C, int64_t ldc);

// C[M,N] = alpha * S B + beta * C with S [M,M] symmetric, read from its lower triangle only (the upper
// one may hold anything); B [M,N]. One cblas_?symm call (the p-LaT backward's M u, nn/attention.cpp).
void symm_lower(int64_t M, int64_t N, real alpha, const real* S, int64_t lds, const real* B, int64_t ldb, real beta,
                real* C, int64_t ldc);
void symm_lower_naive(int64_t M, int64_t N, real alpha, const real* S, int64_t lds, const real* B, int64_t ldb,
                      real beta, real* C, int64_t ldc);

// Batched matmul. a is [..., M, K] (or [..., K, M] when trans_a); b is either 2-D, [K, N]
// (or [N, K] when trans_b), shared by every batch entry, or has a's leading dimensions.
// Returns [..., M, N].
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
Tensor matmul_naive(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- elementwise -------------------------------------------------------------------------
enum class BinaryOp { add, sub, mul, div };
enum class UnaryOp { neg, exp, log, sqrt, tanh, relu };

// NumPy broadcasting (core/shape.h). The result has the broadcast shape.
Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op);
Tensor binary_naive(const Tensor& a, const Tensor& b, BinaryOp op);
inline Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::add); }
inline Tensor sub(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::sub); }
inline Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::mul); }
inline Tensor div(const Tensor& a, const Tensor& b) { return binary(a, b, BinaryOp::div); }

Tensor unary(const Tensor& a, UnaryOp op);
Tensor unary_naive(const Tensor& a, UnaryOp op);
Tensor pow_scalar(const Tensor& a, real exponent);
Tensor mul_scalar(const Tensor& a, real s);
Tensor add_scalar(const Tensor& a, real s);

// dst += alpha * src, same shape. The accumulation used by every backward pass.
void add_into(Tensor& dst, const Tensor& src, real alpha = 1);

// ---- reductions along one axis -----------------------------------------------------------
// The axis may be negative. keepdim keeps it with size 1 (what broadcasting back needs).
Tensor sum(const Tensor& a, int axis, bool keepdim = false);
Tensor sum_naive(const Tensor& a, int axis, bool keepdim = false);
Tensor mean(const Tensor& a, int axis, bool keepdim = false);
struct MaxResult {
    Tensor values;                 // the reduced shape
    std::vector<int64_t> indices;  // argmax along the axis, one per output value (first on ties)
};
MaxResult max(const Tensor& a, int axis, bool keepdim = false);
MaxResult max_naive(const Tensor& a, int axis, bool keepdim = false);
// Sum a broadcast result back to `shape` (the inverse of broadcasting, for gradients).
// Returns `a` itself (shared storage) when its shape is already `shape`.
Tensor sum_to_shape(const Tensor& a, const Shape& shape);
real sum_all(const Tensor& a);  // accumulated in double

// ---- softmax along the last axis -----------------------------------------------------------
// -inf entries (masked) get probability exactly 0; a row that is entirely -inf has no
// distribution and gives NaN (0/0), so callers mask at most all but one entry per row.
Tensor softmax(const Tensor& a);
Tensor softmax_naive(const Tensor& a);
Tensor log_softmax(const Tensor& a);
Tensor log_softmax_naive(const Tensor& a);

// ---- data movement -----------------------------------------------------------------------------
Tensor transpose_last2(const Tensor& a);  // [..., M, N] -> [..., N, M]
Tensor slice(const Tensor& a, int axis, int64_t start, int64_t end);  // [start, end) along axis
Tensor concat(const std::vector<Tensor>& parts, int axis);           // all other dims equal

}  // namespace plat
