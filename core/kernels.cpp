// core/kernels.cpp: the kernels declared in core/kernels.h, each fast version followed by its
// naive reference (notes/01-tensors.md).
#include "core/kernels.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/fast_math.h"
#include "core/threads.h"

namespace plat {


// A default-constructed Tensor has no storage; every kernel that reads or writes elements
// rejects it here, at the boundary, instead of dereferencing a null pointer.
static void check_defined(const Tensor& t, const char* op, const char* what) {
    if (t.empty()) fail("{}: {} is an empty (default-constructed) Tensor with no storage", op, what);
}

// ---- matrix multiplication -------------------------------------------------------------------

// cblas_sgemm for the float build, cblas_dgemm for the double (gradient-check) build.
[[maybe_unused]] static void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float* A,
                      int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
[[maybe_unused]] static void blas_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, double alpha, const double* A,
                      int lda, const double* B, int ldb, double beta, double* C, int ldc) {
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_strided(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha, const real* A,
                  int64_t lda, const real* B, int64_t ldb, real beta, real* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
        fail("gemm: sizes M={} N={} K={} (leading dimensions {}, {}, {}) exceed the BLAS integer range ({})", M, N, K,
             lda, ldb, ldc, INT_MAX);
    CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
    blas_gemm(ta, tb, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha, const real* A,
          const real* B, real beta, real* C) {
    // Dense row-major storage: the leading dimension of a matrix is its row length as stored
    // (notes/01-tensors.md, "The BLAS call"). BLAS requires it >= 1 even when K == 0, where
    // nothing is read and C = beta * C.
    gemm_strided(trans_a, trans_b, M, N, K, alpha, A, std::max<int64_t>(1, trans_a ? M : K), B,
                 std::max<int64_t>(1, trans_b ? K : N), beta, C, N);
}

void gemm_strided_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha, const real* A,
                        int64_t lda, const real* B, int64_t ldb, real beta, real* C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) {
                real a = trans_a ? A[k * lda + i] : A[i * lda + k];
                real b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
                acc += double(a) * double(b);
            }
            // beta == 0 overwrites, so uninitialized (even NaN) C never leaks in, as in BLAS.
            C[i * ldc + j] = real(alpha * acc) + (beta == 0 ? real(0) : beta * C[i * ldc + j]);
        }
}

void gemm_naive(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, real alpha,
                const real* A, const real* B, real beta, real* C) {
    gemm_strided_naive(trans_a, trans_b, M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

// cblas_ssyrk / cblas_dsyrk, as blas_gemm above; row-major lower triangle.
[[maybe_unused]] static void blas_syrk(int N, int K, float alpha, const float* A, int lda, float beta, float* C, int ldc) {
    cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, N, K, alpha, A, lda, beta, C, ldc);
}
[[maybe_unused]] static void blas_syrk(int N, int K, double alpha, const double* A, int lda, double beta, double* C,
                                       int ldc) {
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, N, K, alpha, A, lda, beta, C, ldc);
}

void syrk_lower(int64_t N, int64_t K, real alpha, const real* A, int64_t lda, real beta, real* C, int64_t ldc) {
    if (N == 0) return;
    if (N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldc > INT_MAX)
        fail("syrk: sizes N={} K={} (leading dimensions {}, {}) exceed the BLAS integer range ({})", N, K, lda, ldc,
             INT_MAX);
    blas_syrk(int(N), int(K), alpha, A, int(std::max<int64_t>(1, lda)), beta, C, int(ldc));
}

void syrk_lower_naive(int64_t N, int64_t K, real alpha, const real* A, int64_t lda, real beta, real* C, int64_t ldc) {
    for (int64_t i = 0; i < N; i++)
        for (int64_t j = 0; j <= i; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += double(A[i * lda + k]) * double(A[j * lda + k]);
            C[i * ldc + j] = real(alpha * acc) + (beta == 0 ? real(0) : beta * C[i * ldc + j]);
        }
}

[[maybe_unused]] static void blas_symm(int M, int N, float alpha, const float* S, int lds, const float* B, int ldb,
                                       float beta, float* C, int ldc) {
    cblas_ssymm(CblasRowMajor, CblasLeft, CblasLower, M, N, alpha, S, lds, B, ldb, beta, C, ldc);
}
[[maybe_unused]] static void blas_symm(int M, int N, double alpha, const double* S, int lds, const double* B, int ldb,
                                       double beta, double* C, int ldc) {
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasLower, M, N, alpha, S, lds, B, ldb, beta, C, ldc);
}

void symm_lower(int64_t M, int64_t N, real alpha, const real* S, int64_t lds, const real* B, int64_t ldb, real beta,
                real* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (M > INT_MAX || N > INT_MAX || lds > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
        fail("symm: sizes M={} N={} (leading dimensions {}, {}, {}) exceed the BLAS integer range ({})", M, N, lds, ldb,
             ldc, INT_MAX);
    blas_symm(int(M), int(N), alpha, S, int(lds), B, int(ldb), beta, C, int(ldc));
}

void symm_lower_naive(int64_t M, int64_t N, real alpha, const real* S, int64_t lds, const real* B, int64_t ldb,
                      real beta, real* C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0;
            for (int64_t k = 0; k < M; k++) acc += double(k <= i ? S[i * lds + k] : S[k * lds + i]) * double(B[k * ldb + j]);
            C[i * ldc + j] = real(alpha * acc) + (beta == 0 ? real(0) : beta * C[i * ldc + j]);
        }
}

namespace {

struct MatmulDims {
    int64_t batch, M, N, K;
    bool shared_b;  // b is 2-D and used by every batch entry
    Shape out;
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    check_defined(a, "matmul", "a");
    check_defined(b, "matmul", "b");
    if (a.ndim() < 2 || b.ndim() < 2)
        fail("matmul: both operands need at least 2 dimensions, got {} and {}", a.shape().str(), b.shape().str());
    MatmulDims d;
    d.M = trans_a ? a.size(-1) : a.size(-2);
    d.K = trans_a ? a.size(-2) : a.size(-1);
    int64_t kb = trans_b ? b.size(-1) : b.size(-2);
    d.N = trans_b ? b.size(-2) : b.size(-1);
    if (kb != d.K)
        fail("matmul: inner sizes differ: a is {}{}, b is {}{} ({} vs {})", a.shape().str(), trans_a ? "^T" : "",
             b.shape().str(), trans_b ? "^T" : "", d.K, kb);
    d.shared_b = b.ndim() == 2;
    if (!d.shared_b) {
        bool same = a.ndim() == b.ndim();
        for (int i = 0; same && i < a.ndim() - 2; i++) same = a.size(i) == b.size(i);
        if (!same)
            fail("matmul: leading (batch) dimensions differ: a is {}, b is {}; b must be 2-D or share a's batch dims",
                 a.shape().str(), b.shape().str());
    }
    d.batch = a.shape().outer(-2);  // product of the leading (batch) dimensions
    d.out = a.shape().with(-2, d.M).with(-1, d.N);
    return d;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    MatmulDims d = matmul_dims(a, b, trans_a, trans_b);
    Tensor out(d.out);
    if (d.shared_b && !trans_a) {
        // [batch*M, K] @ [K, N]: a contiguous [..., M, K] is also one [batch*M, K] matrix with
        // the same row length K, so the leading dims fold into M and one large gemm does it
        // all (notes/01-tensors.md, "The BLAS call"). OpenBLAS threads it itself, splitting C
        // by thread count: repeatable at a fixed PLAT_THREADS, last bits may differ across counts.
        gemm(false, trans_b, d.batch * d.M, d.N, d.K, 1, a.data(), b.data(), 0, out.data());
        return out;
    }
    // With trans_a the batch entries' A^T do not stack into one matrix, and a batched b has one
    // matrix per entry: one gemm per entry, b's step 0 when it is shared.
    int64_t a_step = d.M * d.K, b_step = d.shared_b ? 0 : d.K * d.N, c_step = d.M * d.N;
    // Many small products (attention's per-head T x D matrices): one thread per product. Inside
    // an active OpenMP region OpenBLAS's OpenMP build runs on the calling thread only, so the
    // threads do not multiply, and each product is computed the same way whatever the thread
    // count. Each thread writes its own C. A single product (batch 1) is threaded by OpenBLAS
    // itself, as in the folded case above.
#pragma omp parallel for schedule(static) if (d.batch > 1 && d.batch * d.M * d.N * d.K >= kParallelMin)
    for (int64_t i = 0; i < d.batch; i++)
        gemm(trans_a, trans_b, d.M, d.N, d.K, 1, a.data() + i * a_step, b.data() + i * b_step, 0,
             out.data() + i * c_step);
    return out;
}

Tensor matmul_naive(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
    MatmulDims d = matmul_dims(a, b, trans_a, trans_b);
    Tensor out(d.out);
    int64_t a_step = d.M * d.K, b_step = d.shared_b ? 0 : d.K * d.N, c_step = d.M * d.N;
    for (int64_t i = 0; i < d.batch; i++)
        gemm_naive(trans_a, trans_b, d.M, d.N, d.K, 1, a.data() + i * a_step, b.data() + i * b_step, 0,
                   out.data() + i * c_step);
    return out;
}

// ---- elementwise ---------------------------------------------------------------------------

namespace {

inline real apply(BinaryOp op, real x, real y) {
    switch (op) {
        case BinaryOp::add: return x + y;
        case BinaryOp::sub: return x - y;
        case BinaryOp::mul: return x * y;
        case BinaryOp::div: return x / y;
    }
    return 0;
}

inline real apply(UnaryOp op, real x) {
    switch (op) {
        case UnaryOp::neg: return -x;
        case UnaryOp::exp: return std::exp(x);
        case UnaryOp::log: return std::log(x);
        case UnaryOp::sqrt: return std::sqrt(x);
        case UnaryOp::tanh: return std::tanh(x);
        case UnaryOp::relu: return x > 0 ? x : real(0);
    }
    return 0;
}

const char* op_name(BinaryOp op) {
    switch (op) {
        case BinaryOp::add: return "add";
        case BinaryOp::sub: return "sub";
        case BinaryOp::mul: return "mul";
        case BinaryOp::div: return "div";
    }
    return "?";
}

// Strides of `s` aligned to the 4-D padded output shape, 0 where `s` is broadcast: stepping
// along a stretched dimension then re-reads the same element (notes/01-tensors.md, "Broadcasting").
void broadcast_strides(const Shape& s, const Shape& out, int64_t strides[4]) {
    int pad = 4 - out.ndim();
    int64_t stride = 1;
    for (int i = 3; i >= 0; i--) {
        int si = i - pad - (out.ndim() - s.ndim());  // index into s, aligned from the right
        int64_t size = si >= 0 ? s[si] : 1;
        strides[i] = size == 1 ? 0 : stride;
        stride *= size;
    }
}

}  // namespace

Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op) {
    check_defined(a, op_name(op), "a");
    check_defined(b, op_name(op), "b");
    Shape shape = broadcast_shapes(a.shape(), b.shape(), op_name(op));
    Tensor out = Tensor::uninitialized(shape);  // every entry written by one of the paths below
    int64_t n = out.numel();
    const real *x = a.data(), *y = b.data();
    real* o = out.data();
    if (a.shape() == b.shape()) {  // fast path 1: no broadcasting
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) o[i] = apply(op, x[i], y[i]);
        return out;
    }
    if (b.shape() == shape && a.numel() == 1) {  // fast path 2: scalar op tensor
        real s = x[0];
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) o[i] = apply(op, s, y[i]);
        return out;
    }
    if (a.shape() == shape && b.numel() == 1) {  // fast path 3: tensor op scalar
        real s = y[0];
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) o[i] = apply(op, x[i], s);
        return out;
    }
    // General case: walk the padded 4-D output; each operand steps by its stride (0 when it is
    // broadcast along that dimension). One iteration of the three outer loops writes one output
    // row of dims[3] values that no other iteration touches, so collapsing them is race-free,
    // and collapsing all three lets a 2-D [N, C] + [C] (padded to [1, 1, N, C]) use every thread.
    int64_t sa[4], sb[4], dims[4];
    broadcast_strides(a.shape(), shape, sa);
    broadcast_strides(b.shape(), shape, sb);
    for (int i = 0; i < 4; i++) dims[i] = i < 4 - shape.ndim() ? 1 : shape[i - (4 - shape.ndim())];
#pragma omp parallel for collapse(3) schedule(static) if (n >= kParallelMin)
    for (int64_t i0 = 0; i0 < dims[0]; i0++)
        for (int64_t i1 = 0; i1 < dims[1]; i1++)
            for (int64_t i2 = 0; i2 < dims[2]; i2++) {
                int64_t ia = i0 * sa[0] + i1 * sa[1] + i2 * sa[2], ib = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                real* row = o + ((i0 * dims[1] + i1) * dims[2] + i2) * dims[3];
                for (int64_t i3 = 0; i3 < dims[3]; i3++) row[i3] = apply(op, x[ia + i3 * sa[3]], y[ib + i3 * sb[3]]);
            }
    return out;
}

Tensor binary_naive(const Tensor& a, const Tensor& b, BinaryOp op) {
    check_defined(a, op_name(op), "a");
    check_defined(b, op_name(op), "b");
    Shape shape = broadcast_shapes(a.shape(), b.shape(), op_name(op));
    Tensor out(shape);
    for (int64_t i = 0; i < out.numel(); i++) {
        // Unravel the output index, then ravel it into each operand, clamping broadcast dims to 0.
        int64_t rest = i, ia = 0, ib = 0, step_a = 1, step_b = 1;
        for (int d = shape.ndim() - 1; d >= 0; d--) {
            int64_t idx = rest % shape[d];
            rest /= shape[d];
            int da = d - (shape.ndim() - a.ndim()), db = d - (shape.ndim() - b.ndim());
            if (da >= 0) {
                ia += (a.size(da) == 1 ? 0 : idx) * step_a;
                step_a *= a.size(da);
            }
            if (db >= 0) {
                ib += (b.size(db) == 1 ? 0 : idx) * step_b;
                step_b *= b.size(db);
            }
        }
        out[i] = apply(op, a[ia], b[ib]);
    }
    return out;
}

Tensor unary(const Tensor& a, UnaryOp op) {
    check_defined(a, "unary", "the input");
    Tensor out(a.shape());
    int64_t n = a.numel();
    const real* x = a.data();
    real* o = out.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) o[i] = apply(op, x[i]);
    return out;
}

Tensor unary_naive(const Tensor& a, UnaryOp op) {
    check_defined(a, "unary", "the input");
    Tensor out(a.shape());
    for (int64_t i = 0; i < a.numel(); i++) out[i] = apply(op, a[i]);
    return out;
}

// Elementwise with a constant; each thread writes its own range of `out`.
Tensor pow_scalar(const Tensor& a, real exponent) {
    check_defined(a, "pow_scalar", "the input");
    Tensor out(a.shape());
    int64_t n = a.numel();
    const real* x = a.data();
    real* o = out.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) o[i] = std::pow(x[i], exponent);
    return out;
}

Tensor mul_scalar(const Tensor& a, real s) {
    check_defined(a, "mul_scalar", "the input");
    Tensor out(a.shape());
    int64_t n = a.numel();
    const real* x = a.data();
    real* o = out.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) o[i] = x[i] * s;
    return out;
}

Tensor add_scalar(const Tensor& a, real s) {
    check_defined(a, "add_scalar", "the input");
    Tensor out(a.shape());
    int64_t n = a.numel();
    const real* x = a.data();
    real* o = out.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) o[i] = x[i] + s;
    return out;
}

void add_into(Tensor& dst, const Tensor& src, real alpha) {
    check_defined(dst, "add_into", "dst");
    check_defined(src, "add_into", "src");
    check_shape(src, dst.shape(), "add_into");
    int64_t n = dst.numel();
    real* d = dst.data();
    const real* s = src.data();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) d[i] += alpha * s[i];
}

// ---- reductions ------------------------------------------------------------------------------
// Any axis of a contiguous tensor is the middle index of an [outer, n, inner] view
// (notes/01-tensors.md, "Shapes and row offsets").

namespace {
Shape reduced_shape(const Shape& s, int axis, bool keepdim) { return keepdim ? s.with(axis, 1) : s.without(axis); }
}  // namespace

Tensor sum(const Tensor& a, int axis, bool keepdim) {
    check_defined(a, "sum", "the input");
    int64_t outer = a.shape().outer(axis), n = a.shape()[axis], inner = a.shape().inner(axis);
    Tensor out(reduced_shape(a.shape(), axis, keepdim));
    const real* x = a.data();
    real* o = out.data();
    // Work unit: one outer index i and one block of kBlock inner positions; it owns
    // o[i*inner + k0 .. k1) and nothing else writes there, so threads never share an output.
    // Within a unit the n rows are added in order j = 0, 1, ..., so every output is the same
    // float sum whatever the thread count. Blocking the inner axis gives the threads work
    // even when outer == 1 (a bias gradient: [N, C] summed over axis 0), and reads x's rows
    // contiguously.
    constexpr int64_t kBlock = 256;
    int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for collapse(2) schedule(static) if (a.numel() >= kParallelMin)
    for (int64_t i = 0; i < outer; i++)
        for (int64_t kb = 0; kb < blocks; kb++) {
            int64_t k0 = kb * kBlock, k1 = std::min(inner, k0 + kBlock);
            real acc[kBlock];  // the block's partial sums, kept out of `o` while adding
            std::fill(acc, acc + (k1 - k0), real(0));
            for (int64_t j = 0; j < n; j++) {
                const real* row = x + (i * n + j) * inner;
                for (int64_t k = k0; k < k1; k++) acc[k - k0] += row[k];
            }
            for (int64_t k = k0; k < k1; k++) o[i * inner + k] = acc[k - k0];
        }
    return out;
}

Tensor sum_naive(const Tensor& a, int axis, bool keepdim) {
    check_defined(a, "sum", "the input");
    int64_t outer = a.shape().outer(axis), n = a.shape()[axis], inner = a.shape().inner(axis);
    Tensor out(reduced_shape(a.shape(), axis, keepdim));
    for (int64_t i = 0; i < outer; i++)
        for (int64_t k = 0; k < inner; k++) {
            double acc = 0;
            for (int64_t j = 0; j < n; j++) acc += a[(i * n + j) * inner + k];
            out[i * inner + k] = real(acc);
        }
    return out;
}

Tensor mean(const Tensor& a, int axis, bool keepdim) {
    int64_t n = a.shape()[axis];
    if (n == 0) fail("mean: axis {} of shape {} is empty", axis, a.shape().str());
    return mul_scalar(sum(a, axis, keepdim), real(1) / real(n));
}

MaxResult max(const Tensor& a, int axis, bool keepdim) {
    check_defined(a, "max", "the input");
    int64_t outer = a.shape().outer(axis), n = a.shape()[axis], inner = a.shape().inner(axis);
    if (n == 0) fail("max: axis {} of shape {} is empty", axis, a.shape().str());
    MaxResult r{Tensor(reduced_shape(a.shape(), axis, keepdim)), std::vector<int64_t>(outer * inner, 0)};
#pragma omp parallel for schedule(static) if (a.numel() >= kParallelMin)
    for (int64_t i = 0; i < outer; i++)
        for (int64_t k = 0; k < inner; k++) {
            const real* x = a.data() + i * n * inner + k;
            int64_t best = 0;
            for (int64_t j = 1; j < n; j++)
                if (x[j * inner] > x[best * inner]) best = j;
            r.values[i * inner + k] = x[best * inner];
            r.indices[i * inner + k] = best;
        }
    return r;
}

MaxResult max_naive(const Tensor& a, int axis, bool keepdim) {
    check_defined(a, "max", "the input");
    int64_t outer = a.shape().outer(axis), n = a.shape()[axis], inner = a.shape().inner(axis);
    if (n == 0) fail("max: axis {} of shape {} is empty", axis, a.shape().str());
    MaxResult r{Tensor(reduced_shape(a.shape(), axis, keepdim)), std::vector<int64_t>(outer * inner, 0)};
    for (int64_t o = 0; o < outer * inner; o++) {
        int64_t i = o / inner, k = o % inner;
        real best = -std::numeric_limits<real>::infinity();
        int64_t arg = 0;
        for (int64_t j = 0; j < n; j++) {
            real v = a[(i * n + j) * inner + k];
            if (v > best || j == 0) best = v, arg = j;
        }
        r.values[o] = best;
        r.indices[o] = arg;
    }
    return r;
}

Tensor sum_to_shape(const Tensor& a, const Shape& shape) {
    // When nothing was broadcast the result is `a` itself (shared storage, no copy).
    if (a.shape() == shape) return a;
    if (a.ndim() < shape.ndim())
        fail("sum_to_shape: {} has fewer dimensions than the target {}; broadcasting only adds dimensions",
             a.shape().str(), shape.str());
    // Leading dimensions that broadcasting added are summed away, then every dimension where
    // `shape` has size 1 but `a` does not is summed with keepdim.
    Tensor t = a;
    while (t.ndim() > shape.ndim()) t = sum(t, 0, false);
    for (int d = 0; d < shape.ndim(); d++)
        if (shape[d] == 1 && t.size(d) != 1) t = sum(t, d, true);
    if (t.shape() != shape) fail("sum_to_shape: cannot reduce {} to {}", a.shape().str(), shape.str());
    return t;
}

real sum_all(const Tensor& a) {
    check_defined(a, "sum_all", "the input");
    double acc = 0;
    for (int64_t i = 0; i < a.numel(); i++) acc += a[i];
    return real(acc);
}

// ---- softmax -----------------------------------------------------------------------------------
// Along the last axis, rows of length C (notes/01-tensors.md, "Reductions and softmax").
// Subtracting the row max makes exp() overflow-free;
// a row that is entirely -inf (fully masked) would give 0/0, so it is an error upstream
// (attention never produces one: every query sees at least itself).

Tensor softmax(const Tensor& a) {
    check_defined(a, "softmax", "the input");
    int64_t C = a.size(-1), N = a.numel() / (C ? C : 1);
    Tensor out(a.shape());
#pragma omp parallel for schedule(static) if (a.numel() >= kParallelMin)
    for (int64_t i = 0; i < N; i++) {
        const real* x = a.data() + i * C;
        real* y = out.data() + i * C;
        real m = -std::numeric_limits<real>::infinity();
        for (int64_t j = 0; j < C; j++) m = x[j] > m ? x[j] : m;  // pass 1: row max
        real s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < C; j++) s += (y[j] = fast_exp(x[j] - m));  // pass 2: exp and sum
        real inv = 1 / s;
        for (int64_t j = 0; j < C; j++) y[j] *= inv;  // pass 3: normalize
    }
    return out;
}

Tensor softmax_naive(const Tensor& a) {
    check_defined(a, "softmax", "the input");
    // Straight from the definition, in double, with the max shift for range.
    int64_t C = a.size(-1), N = a.numel() / (C ? C : 1);
    Tensor out(a.shape());
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++) m = std::fmax(m, a[i * C + j]);
        for (int64_t j = 0; j < C; j++) s += std::exp(double(a[i * C + j]) - m);
        for (int64_t j = 0; j < C; j++) out[i * C + j] = real(std::exp(double(a[i * C + j]) - m) / s);
    }
    return out;
}

Tensor log_softmax(const Tensor& a) {
    check_defined(a, "log_softmax", "the input");
    int64_t C = a.size(-1), N = a.numel() / (C ? C : 1);
    Tensor out(a.shape());
#pragma omp parallel for schedule(static) if (a.numel() >= kParallelMin)
    for (int64_t i = 0; i < N; i++) {
        const real* x = a.data() + i * C;
        real* y = out.data() + i * C;
        real m = -std::numeric_limits<real>::infinity();
        for (int64_t j = 0; j < C; j++) m = x[j] > m ? x[j] : m;
        real s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < C; j++) s += fast_exp(x[j] - m);
        real log_z = m + std::log(s);  // log of the normalizer, computed without overflow
        for (int64_t j = 0; j < C; j++) y[j] = x[j] - log_z;
    }
    return out;
}

Tensor log_softmax_naive(const Tensor& a) {
    check_defined(a, "log_softmax", "the input");
    int64_t C = a.size(-1), N = a.numel() / (C ? C : 1);
    Tensor out(a.shape());
    for (int64_t i = 0; i < N; i++) {
        double m = -INFINITY, s = 0;
        for (int64_t j = 0; j < C; j++) m = std::fmax(m, a[i * C + j]);
        for (int64_t j = 0; j < C; j++) s += std::exp(double(a[i * C + j]) - m);
        for (int64_t j = 0; j < C; j++) out[i * C + j] = real(double(a[i * C + j]) - m - std::log(s));
    }
    return out;
}

// ---- data movement -------------------------------------------------------------------------------

Tensor transpose_last2(const Tensor& a) {
    check_defined(a, "transpose", "the input");
    if (a.ndim() < 2) fail("transpose: needs at least 2 dimensions, got {}", a.shape().str());
    int64_t M = a.size(-2), N = a.size(-1), batch = a.shape().outer(-2);
    Tensor out(a.shape().with(-2, N).with(-1, M));
    const real* x = a.data();
    real* o = out.data();
    // Iteration (b, i) reads row i of matrix b and writes column i of its transpose: no two
    // iterations write the same element.
#pragma omp parallel for collapse(2) schedule(static) if (a.numel() >= kParallelMin)
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) o[b * M * N + j * M + i] = x[b * M * N + i * N + j];
    return out;
}

Tensor slice(const Tensor& a, int axis, int64_t start, int64_t end) {
    check_defined(a, "slice", "the input");
    int64_t n = a.shape()[axis];
    if (start < 0 || end > n || start > end)
        fail("slice: range [{}, {}) is not inside axis {} of shape {} (size {})", start, end, axis, a.shape().str(), n);
    int64_t outer = a.shape().outer(axis), inner = a.shape().inner(axis), len = end - start;
    Tensor out(a.shape().with(axis, len));
    for (int64_t i = 0; i < outer; i++)
        std::copy(a.data() + (i * n + start) * inner, a.data() + (i * n + end) * inner, out.data() + i * len * inner);
    return out;
}

Tensor concat(const std::vector<Tensor>& parts, int axis) {
    if (parts.empty()) fail("concat: needs at least one tensor");
    const Shape& first = parts[0].shape();
    int ax = first.normalize_axis(axis);
    int64_t total = 0;
    for (const Tensor& p : parts) {
        check_defined(p, "concat", "a part");
        if (p.ndim() != first.ndim() || p.shape().with(ax, 1) != first.with(ax, 1))
            fail("concat: shapes {} and {} differ outside axis {}", first.str(), p.shape().str(), axis);
        total += p.size(ax);
    }
    Tensor out(first.with(ax, total));
    int64_t outer = first.outer(ax), inner = first.inner(ax), offset = 0;
    for (const Tensor& p : parts) {
        int64_t len = p.size(ax);
        for (int64_t i = 0; i < outer; i++)
            std::copy(p.data() + i * len * inner, p.data() + (i + 1) * len * inner,
                      out.data() + (i * total + offset) * inner);
        offset += len;
    }
    return out;
}

}  // namespace plat
