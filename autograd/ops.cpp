// autograd/ops.cpp: the differentiable operations of autograd/ops.h, each backward right
// beside its forward (notes/02-autograd.md). The math is done by core kernels (core/kernels.h);
// this file only adds the chain rule. Every backward reads its node's grad (self.grad, the
// shape of the output) and adds (+=) into the grads of the inputs that require one.
#include "autograd/ops.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fast_math.h"
#include "core/kernels.h"
#include "core/threads.h"

namespace plat {

namespace {

// The number of rows N when the last axis (of size C) is the row: [..., C] seen as [N, C].
int64_t rows_of(const Shape& s) { return s.ndim() == 0 ? 0 : s.numel() / (s[-1] ? s[-1] : 1); }

}  // namespace

// ---- binary ops with broadcasting (notes/02-autograd.md, "Broadcasting gradients") ---------
// out = a op b with NumPy broadcasting. A broadcast input was used once per position it was
// stretched over, so its gradient is the sum of the output gradient over those positions:
// sum_to_shape(d_out * d(out)/d(input), input shape).

Var add(const Var& a, const Var& b) {
    return record("add", plat::add(a.value(), b.value()), {a, b}, [](Node& self) {
        Node &a = *self.inputs[0], &b = *self.inputs[1];
        if (a.requires_grad) add_into(a.grad_buffer(), sum_to_shape(self.grad, a.value.shape()));
        if (b.requires_grad) add_into(b.grad_buffer(), sum_to_shape(self.grad, b.value.shape()));
    });
}

Var sub(const Var& a, const Var& b) {
    return record("sub", plat::sub(a.value(), b.value()), {a, b}, [](Node& self) {
        Node &a = *self.inputs[0], &b = *self.inputs[1];
        if (a.requires_grad) add_into(a.grad_buffer(), sum_to_shape(self.grad, a.value.shape()));
        if (b.requires_grad) add_into(b.grad_buffer(), sum_to_shape(self.grad, b.value.shape()), -1);
    });
}

Var mul(const Var& a, const Var& b) {
    // d(ab)/da = b, d(ab)/db = a.
    return record("mul", plat::mul(a.value(), b.value()), {a, b}, [](Node& self) {
        Node &a = *self.inputs[0], &b = *self.inputs[1];
        if (a.requires_grad) add_into(a.grad_buffer(), sum_to_shape(plat::mul(self.grad, b.value), a.value.shape()));
        if (b.requires_grad) add_into(b.grad_buffer(), sum_to_shape(plat::mul(self.grad, a.value), b.value.shape()));
    });
}

Var div(const Var& a, const Var& b) {
    // d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -out/b.
    return record("div", plat::div(a.value(), b.value()), {a, b}, [](Node& self) {
        Node &a = *self.inputs[0], &b = *self.inputs[1];
        if (a.requires_grad) add_into(a.grad_buffer(), sum_to_shape(plat::div(self.grad, b.value), a.value.shape()));
        if (b.requires_grad) {
            Tensor dout_over_b = plat::div(plat::mul(self.grad, self.value), b.value);
            add_into(b.grad_buffer(), sum_to_shape(dout_over_b, b.value.shape()), -1);
        }
    });
}

Var add_scalar(const Var& a, real s) {
    return record("add_scalar", plat::add_scalar(a.value(), s), {a}, [](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), self.grad);
    });
}

Var mul_scalar(const Var& a, real s) {
    return record("mul_scalar", plat::mul_scalar(a.value(), s), {a}, [s](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), self.grad, s);
    });
}

Var neg(const Var& a) {
    return record("neg", unary(a.value(), UnaryOp::neg), {a}, [](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), self.grad, -1);
    });
}

// ---- matmul (notes/02-autograd.md, "Matmul") ---------------------------------------------------
// C = op(A) op(B), op(X) = X or X^T. With dC the gradient of C:
//   d op(A) = dC op(B)^T          [..., M, K]
//   d op(B) = op(A)^T dC          [..., K, N]
// and dA = d op(A) or its transpose when trans_a (likewise B). A 2-D B shared by every batch
// entry was used once per entry, so its gradient sums over the batch: folding the batch into
// the rows of op(A) and dC, [batch*M, K]^T [batch*M, N], makes that sum one gemm.

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
    Tensor out = plat::matmul(a.value(), b.value(), trans_a, trans_b);  // checks the shapes
    return record("matmul", out, {a, b}, [trans_a, trans_b](Node& self) {
        Node &a = *self.inputs[0], &b = *self.inputs[1];
        const Tensor& dC = self.grad;  // [..., M, N]
        if (a.requires_grad) {
            Tensor dopA = plat::matmul(dC, b.value, false, !trans_b);  // [..., M, K]
            add_into(a.grad_buffer(), trans_a ? transpose_last2(dopA) : dopA);
        }
        if (b.requires_grad) {
            Tensor dopB;  // [K, N] or [..., K, N]
            if (b.value.ndim() == 2) {
                Tensor opA = trans_a ? transpose_last2(a.value) : a.value;  // [..., M, K]
                int64_t K = opA.size(-1), N = dC.size(-1), rows = opA.numel() / (K ? K : 1);
                dopB = plat::matmul(opA.reshape({rows, K}), dC.reshape({rows, N}), true, false);
            } else {
                dopB = plat::matmul(a.value, dC, !trans_a, false);
            }
            add_into(b.grad_buffer(), trans_b ? transpose_last2(dopB) : dopB);
        }
    });
}

// ---- elementwise functions ------------------------------------------------------------------
// y = f(x), dx += dy * f'(x), with f' written through y where that is cheaper.

Var exp(const Var& a) {
    return record("exp", unary(a.value(), UnaryOp::exp), {a}, [](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), plat::mul(self.grad, self.value));  // exp' = exp
    });
}

Var log(const Var& a) {
    return record("log", unary(a.value(), UnaryOp::log), {a}, [](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), plat::div(self.grad, self.inputs[0]->value));  // 1/x
    });
}

Var pow(const Var& a, real exponent) {
    return record("pow", pow_scalar(a.value(), exponent), {a}, [exponent](Node& self) {
        // d x^p / dx = p x^(p-1)
        Tensor slope = pow_scalar(self.inputs[0]->value, exponent - 1);
        add_into(self.inputs[0]->grad_buffer(), plat::mul(self.grad, slope), exponent);
    });
}

Var sqrt(const Var& a) {
    return record("sqrt", unary(a.value(), UnaryOp::sqrt), {a}, [](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), plat::div(self.grad, self.value), real(0.5));  // 1/(2 sqrt x)
    });
}

Var tanh(const Var& a) {
    return record("tanh", unary(a.value(), UnaryOp::tanh), {a}, [](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        const Tensor &y = self.value, &dy = self.grad;
        int64_t n = y.numel();
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);  // tanh' = 1 - tanh^2
    });
}

Var relu(const Var& a) {
    return record("relu", unary(a.value(), UnaryOp::relu), {a}, [](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        const Tensor &x = self.inputs[0]->value, &dy = self.grad;
        int64_t n = x.numel();
        // The derivative at exactly 0 is taken as 0, as in PyTorch.
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : real(0);
    });
}

// ---- reductions along an axis -----------------------------------------------------------------
// The input seen as [outer, n, inner] (core/shape.h); the output as [outer, inner] whether or
// not the axis is kept. Sum and mean send the same gradient to all n positions of the axis;
// max sends it to the position that won.

namespace {

// dx[i, j, k] += scale * dy[i, k] for every j: the backward of sum along an axis.
void spread_add_into(Tensor& dx, const Tensor& dy, int axis, real scale) {
    int64_t outer = dx.shape().outer(axis), n = dx.shape()[axis], inner = dx.shape().inner(axis);
#pragma omp parallel for schedule(static) if (dx.numel() >= kParallelMin)
    for (int64_t i = 0; i < outer; i++)
        for (int64_t j = 0; j < n; j++)
            for (int64_t k = 0; k < inner; k++) dx[(i * n + j) * inner + k] += scale * dy[i * inner + k];
}

}  // namespace

Var sum(const Var& a, int axis, bool keepdim) {
    return record("sum", plat::sum(a.value(), axis, keepdim), {a}, [axis](Node& self) {
        spread_add_into(self.inputs[0]->grad_buffer(), self.grad, axis, 1);
    });
}

Var mean(const Var& a, int axis, bool keepdim) {
    return record("mean", plat::mean(a.value(), axis, keepdim), {a}, [axis](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        spread_add_into(dx, self.grad, axis, real(1) / real(dx.shape()[axis]));
    });
}

Var max(const Var& a, int axis, bool keepdim) {
    MaxResult r = plat::max(a.value(), axis, keepdim);
    // The argmax indices are saved (moved into the closure); ties go to the first maximum.
    return record("max", r.values, {a}, [axis, indices = std::move(r.indices)](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        int64_t outer = dx.shape().outer(axis), n = dx.shape()[axis], inner = dx.shape().inner(axis);
        for (int64_t i = 0; i < outer; i++)
            for (int64_t k = 0; k < inner; k++) dx[(i * n + indices[i * inner + k]) * inner + k] += self.grad[i * inner + k];
    });
}

Var sum_all(const Var& a) {
    return record("sum_all", Tensor::scalar(plat::sum_all(a.value())), {a}, [](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        real g = self.grad[0];
        for (int64_t i = 0; i < dx.numel(); i++) dx[i] += g;
    });
}

// ---- data movement --------------------------------------------------------------------------

Var reshape(const Var& a, const Shape& shape) {
    // The value shares a's storage, as a PyTorch view does; the gradient is reshaped back.
    return record("reshape", a.value().reshape(shape), {a}, [](Node& self) {
        Node& a = *self.inputs[0];
        add_into(a.grad_buffer(), self.grad.reshape(a.value.shape()));
    });
}

Var transpose(const Var& a) {
    return record("transpose", transpose_last2(a.value()), {a}, [](Node& self) {
        add_into(self.inputs[0]->grad_buffer(), transpose_last2(self.grad));
    });
}

Var slice(const Var& a, int axis, int64_t start, int64_t end) {
    Tensor out = plat::slice(a.value(), axis, start, end);  // checks the range
    return record("slice", out, {a}, [axis, start](Node& self) {
        // The slice's gradient goes back into its window of the input; the rest gets nothing.
        Tensor& dx = self.inputs[0]->grad_buffer();
        const Tensor& dy = self.grad;
        int64_t outer = dx.shape().outer(axis), n = dx.shape()[axis], inner = dx.shape().inner(axis);
        int64_t len = dy.shape()[axis];
        for (int64_t i = 0; i < outer; i++)
            for (int64_t j = 0; j < len * inner; j++) dx[(i * n + start) * inner + j] += dy[i * len * inner + j];
    });
}

Var concat(const std::vector<Var>& parts, int axis) {
    std::vector<Tensor> values;
    for (const Var& p : parts) values.push_back(p.value());
    Tensor out = plat::concat(values, axis);  // checks the shapes
    return record("concat", out, parts, [axis](Node& self) {
        // Each part's gradient is its window of the output's gradient.
        int64_t offset = 0;
        for (auto& input : self.inputs) {
            int64_t len = input->value.shape()[axis];
            if (input->requires_grad) add_into(input->grad_buffer(), plat::slice(self.grad, axis, offset, offset + len));
            offset += len;
        }
    });
}

// ---- softmax along the last axis (notes/02-autograd.md, "Softmax") ----------------------------
// y = softmax(x): dy_j/dx_k = y_j (delta_jk - y_k), so dx_k = y_k (dy_k - sum_j dy_j y_j).
// y = log_softmax(x): dy_j/dx_k = delta_jk - softmax_k, so dx_k = dy_k - softmax_k sum_j dy_j.

Var softmax(const Var& a) {
    return record("softmax", plat::softmax(a.value()), {a}, [](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        const Tensor &y = self.value, &dy = self.grad;
        int64_t C = y.size(-1), N = rows_of(y.shape());
#pragma omp parallel for schedule(static) if (y.numel() >= kParallelMin)
        for (int64_t i = 0; i < N; i++) {
            const real *yi = y.data() + i * C, *dyi = dy.data() + i * C;
            real* dxi = dx.data() + i * C;
            real dot = 0;
            for (int64_t j = 0; j < C; j++) dot += dyi[j] * yi[j];
            for (int64_t j = 0; j < C; j++) dxi[j] += yi[j] * (dyi[j] - dot);
        }
    });
}

Var log_softmax(const Var& a) {
    return record("log_softmax", plat::log_softmax(a.value()), {a}, [](Node& self) {
        Tensor& dx = self.inputs[0]->grad_buffer();
        const Tensor &y = self.value, &dy = self.grad;
        int64_t C = y.size(-1), N = rows_of(y.shape());
#pragma omp parallel for schedule(static) if (y.numel() >= kParallelMin)
        for (int64_t i = 0; i < N; i++) {
            const real *yi = y.data() + i * C, *dyi = dy.data() + i * C;
            real* dxi = dx.data() + i * C;
            real total = 0;
            for (int64_t j = 0; j < C; j++) total += dyi[j];
#pragma omp simd
            for (int64_t j = 0; j < C; j++) dxi[j] += dyi[j] - fast_exp(yi[j]) * total;  // softmax = exp(log_softmax)
        }
    });
}

// ---- layer norm (notes/02-autograd.md, "Layer norm") ------------------------------------------
// Per row of C channels: mean = sum x / C, var = sum (x - mean)^2 / C (biased, as PyTorch),
// rstd = 1 / sqrt(var + eps), norm = (x - mean) rstd, out = norm * weight + bias.
// Backward (llm.c's layernorm_backward, derived in the notes): with dnorm = dout * weight,
//   dx = rstd (dnorm - mean_c(dnorm) - norm mean_c(dnorm norm))
//   dweight = sum over rows of dout * norm,  dbias = sum over rows of dout.

// Rows per block of layer_norm's backward: its dweight and dbias are summed block by block.
constexpr int64_t kLayerNormRows = 64;

Var layer_norm(const Var& x, const Var& weight, const Var& bias, real eps) {
    if (x.value().ndim() < 1) fail("layer_norm: x has shape {}; expected [..., C]", x.shape().str());
    int64_t C = x.shape()[-1], N = rows_of(x.shape());
    if (weight.shape() != Shape{C} || bias.shape() != Shape{C})
        fail("layer_norm: x is {}, weight is {}, bias is {}; weight and bias must be [{}] (the last axis of x)",
             x.shape().str(), weight.shape().str(), bias.shape().str(), C);
    if (!(eps > 0)) fail("layer_norm: eps must be > 0, got {}", double(eps));
    Tensor out = Tensor::uninitialized(x.shape());  // [N, C], every row written below
    Tensor mean({N}), rstd({N});  // saved for the backward
    const real *xd = x.value().data(), *w = weight.value().data(), *b = bias.value().data();
#pragma omp parallel for schedule(static) if (x.value().numel() >= kParallelMin)
    for (int64_t i = 0; i < N; i++) {
        const real* xi = xd + i * C;
        double m = 0, v = 0;  // pass 1: mean; pass 2: variance about it (two passes: no cancellation)
#pragma omp simd reduction(+ : m)
        for (int64_t c = 0; c < C; c++) m += xi[c];
        m /= double(C);
#pragma omp simd reduction(+ : v)
        for (int64_t c = 0; c < C; c++) v += (xi[c] - m) * (xi[c] - m);
        v /= double(C);
        real s = real(1 / std::sqrt(v + double(eps)));
        real* oi = out.data() + i * C;
        for (int64_t c = 0; c < C; c++) oi[c] = (xi[c] - real(m)) * s * w[c] + b[c];  // pass 3: normalize
        mean[i] = real(m);
        rstd[i] = s;
    }
    return record("layer_norm", out, {x, weight, bias}, [mean, rstd](Node& self) {
        Node &x = *self.inputs[0], &weight = *self.inputs[1], &bias = *self.inputs[2];
        int64_t C = x.value.size(-1), N = rows_of(x.value.shape());
        const real *xd = x.value.data(), *w = weight.value.data(), *dy = self.grad.data();
        real* dx = x.requires_grad ? x.grad_buffer().data() : nullptr;
        real* dw = weight.requires_grad ? weight.grad_buffer().data() : nullptr;
        real* db = bias.requires_grad ? bias.grad_buffer().data() : nullptr;
        // One pass over the rows, in fixed blocks of kLayerNormRows: each block writes its rows of dx
        // and its own partial sums of dweight and dbias, row by row across the channels (memory order,
        // vectorized); the partials are then added block after block. The blocks do not depend on the
        // thread count, so neither does the result. (Summing each channel down its column instead
        // strides through memory, and took twice the forward's time: notes/07 section 9c.)
        const int64_t nblocks = (N + kLayerNormRows - 1) / kLayerNormRows;
        std::vector<real> part(size_t(nblocks * 2 * C));  // [nblocks, 2, C]: dweight, dbias per block
#pragma omp parallel for schedule(static) if (self.grad.numel() >= kParallelMin)
        for (int64_t blk = 0; blk < nblocks; blk++) {
            real *pw = part.data() + blk * 2 * C, *pb = pw + C;
            for (int64_t i = blk * kLayerNormRows; i < std::min(N, (blk + 1) * kLayerNormRows); i++) {
                const real *xi = xd + i * C, *dyi = dy + i * C;
                const real m = mean[i], s = rstd[i];
#pragma omp simd
                for (int64_t c = 0; c < C; c++) {
                    pw[c] += dyi[c] * (xi[c] - m) * s;
                    pb[c] += dyi[c];
                }
                if (!dx) continue;
                real dnorm_mean = 0, dnorm_norm_mean = 0;  // the two row means
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
                for (int64_t c = 0; c < C; c++) {
                    const real norm = (xi[c] - m) * s, dnorm = dyi[c] * w[c];
                    dnorm_mean += dnorm;
                    dnorm_norm_mean += dnorm * norm;
                }
                dnorm_mean /= real(C);
                dnorm_norm_mean /= real(C);
                real* dxi = dx + i * C;
#pragma omp simd
                for (int64_t c = 0; c < C; c++) {
                    const real norm = (xi[c] - m) * s, dnorm = dyi[c] * w[c];
                    dxi[c] += s * (dnorm - dnorm_mean - norm * dnorm_norm_mean);
                }
            }
        }
        for (int64_t blk = 0; blk < nblocks; blk++) {
            const real *pw = part.data() + blk * 2 * C, *pb = pw + C;
            if (dw)
                for (int64_t c = 0; c < C; c++) dw[c] += pw[c];
            if (db)
                for (int64_t c = 0; c < C; c++) db[c] += pb[c];
        }
    });
}

// ---- linear: x W^T + b in one operation (notes/02-autograd.md, "Linear in one operation") ------
// Rows n of x [N, in] (leading axes flattened), weight W [out, in], bias b [out]:
//   forward   y = x W^T + b:  y's rows are set to b, then one gemm with beta = 1 adds x W^T;
//   backward  dx += dy W      (gemm, beta = 1, straight into x's gradient)
//             dW += dy^T x    (gemm, beta = 1, straight into W's gradient, already [out, in])
//             db += sum_n dy[n, :]
// Composed as add(matmul(x, W, false, true), b), the same step allocates and adds a product for
// each gradient, transposes dW, and sums the bias through the general broadcasting reduction,
// which cost a large share of a small model's step (notes/07-performance.md, "Measured history").

Var linear(const Var& x, const Var& weight, const Var& bias) {
    const Tensor &xv = x.value(), &w = weight.value(), &b = bias.value();
    if (w.ndim() != 2 || b.ndim() != 1 || b.size(0) != w.size(0))
        fail("linear: weight {} and bias {}; expected [out, in] and [out]", w.shape().str(), b.shape().str());
    const int64_t out_f = w.size(0), in_f = w.size(1);
    if (xv.ndim() < 1 || xv.size(-1) != in_f)
        fail("linear: input has shape {}; expected [..., {}] to match weight {}", xv.shape().str(), in_f,
             w.shape().str());
    const int64_t N = xv.numel() / in_f;
    Tensor y = Tensor::uninitialized(xv.shape().with(-1, out_f));  // [..., out]: the bias is copied in first
    for (int64_t n = 0; n < N; n++) std::copy(b.data(), b.data() + out_f, y.data() + n * out_f);
    gemm(false, true, N, out_f, in_f, real(1), xv.data(), w.data(), real(1), y.data());
    return record("linear", y, {x, weight, bias}, [N, in_f, out_f](Node& self) {
        Node &x = *self.inputs[0], &w = *self.inputs[1], &b = *self.inputs[2];
        const real* dy = self.grad.data();  // [N, out]
        if (x.requires_grad)
            gemm(false, false, N, in_f, out_f, real(1), dy, w.value.data(), real(1), x.grad_buffer().data());
        if (w.requires_grad)
            gemm(true, false, out_f, in_f, N, real(1), dy, x.value.data(), real(1), w.grad_buffer().data());
        if (b.requires_grad) {
            real* db = b.grad_buffer().data();
            // Each thread owns a block of columns and adds the rows in order n = 0, 1, ...: the
            // same sums whatever the thread count.
#pragma omp parallel for schedule(static) if (N * out_f >= kParallelMin)
            for (int64_t c0 = 0; c0 < out_f; c0 += 64) {
                const int64_t c1 = std::min(c0 + 64, out_f);
                for (int64_t n = 0; n < N; n++) {
                    const real* dyn = dy + n * out_f;
#pragma omp simd
                    for (int64_t c = c0; c < c1; c++) db[c] += dyn[c];
                }
            }
        }
    });
}

// ---- GELU, tanh approximation (notes/02-autograd.md, "GELU") ---------------------------------
// y = 0.5 x (1 + tanh u), u = s (x + 0.044715 x^3), s = sqrt(2/pi). Since 0.5 (1 + tanh u) is the
// logistic sigma(2u) = 1 / (1 + exp(-2u)), the same function is y = x sigma(2u), and with
// 1 - tanh^2 u = 4 sigma (1 - sigma) its exact derivative is
// dy/dx = sigma + 2 x sigma (1 - sigma) du/dx,   du/dx = s (1 + 3 * 0.044715 x^2).
// Written with exp rather than tanh so the loops vectorize (core/fast_math.h; what it gained is in
// notes/07-performance.md, "Measured history").
// sigma is never formed as 1 - something: for x -> -inf, exp(-2u) -> inf and sigma -> 0 cleanly.

namespace {
constexpr double kGeluS = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluA = 0.044715;
inline real gelu_sigma(real v) {  // sigma(2u)
    real u = real(kGeluS) * (v + real(kGeluA) * v * v * v);
    return 1 / (1 + fast_exp(-2 * u));
}
}  // namespace

Var gelu(const Var& x) {
    Tensor out = Tensor::uninitialized(x.shape());  // every entry written below
    const real* xv = x.value().data();
    real* y = out.data();
    int64_t n = out.numel();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; i++) y[i] = xv[i] * gelu_sigma(xv[i]);
    return record("gelu", out, {x}, [](Node& self) {
        const real* xv = self.inputs[0]->value.data();
        const real* dy = self.grad.data();
        real* dx = self.inputs[0]->grad_buffer().data();
        int64_t n = self.grad.numel();
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
        for (int64_t i = 0; i < n; i++) {
            real v = xv[i], sigma = gelu_sigma(v);
            real du_dx = real(kGeluS) * (1 + 3 * real(kGeluA) * v * v);
            dx[i] += dy[i] * (sigma + 2 * v * sigma * (1 - sigma) * du_dx);
        }
    });
}

// ---- embedding (notes/02-autograd.md, "Embedding") ---------------------------------------------
// out[n, :] = weight[ids[n], :]. Backward scatters: dweight[ids[n], :] += dout[n, :], so a row
// picked twice collects both gradients.

Var embedding(const Var& weight, const std::vector<int64_t>& ids, const Shape& ids_shape) {
    if (weight.value().ndim() != 2) fail("embedding: weight has shape {}; expected [V, C]", weight.shape().str());
    int64_t V = weight.shape()[0], C = weight.shape()[1], N = int64_t(ids.size());
    if (ids_shape.numel() != N)
        fail("embedding: {} ids given for ids_shape {} ({} values); the counts must agree", N, ids_shape.str(),
             ids_shape.numel());
    if (ids_shape.ndim() >= Shape::kMaxDims)
        fail("embedding: ids_shape {} leaves no room for the channel axis (at most {} dimensions)", ids_shape.str(),
             Shape::kMaxDims);
    for (int64_t n = 0; n < N; n++)
        if (ids[n] < 0 || ids[n] >= V)
            fail("embedding: id {} at position {} is outside [0, {}) for weight {}; check the tokenizer's vocabulary "
                 "size against the model's",
                 ids[n], n, V, weight.shape().str());
    Shape out_shape = ids_shape;
    out_shape.push_back(C);
    Tensor out(out_shape);  // [N, C]
    const real* w = weight.value().data();
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
    for (int64_t n = 0; n < N; n++) std::copy(w + ids[n] * C, w + (ids[n] + 1) * C, out.data() + n * C);
    return record("embedding", out, {weight}, [ids](Node& self) {
        Tensor& dweight = self.inputs[0]->grad_buffer();  // [V, C]
        int64_t C = dweight.size(1), N = int64_t(ids.size());
        // Rows may repeat, so splitting the rows among threads would race on dweight. Split the
        // channels instead: each thread owns its columns and adds the rows in order.
#pragma omp parallel for schedule(static) if (N * C >= kParallelMin)
        for (int64_t c = 0; c < C; c++)
            for (int64_t n = 0; n < N; n++) dweight[ids[n] * C + c] += self.grad[n * C + c];
    });
}

// ---- cross-entropy (notes/02-autograd.md, "Cross-entropy") -------------------------------------
// loss = -(1/N) sum_n log softmax(logits[n])[target[n]]. With p = softmax(logits[n]):
// dloss/dlogits[n, j] = (p_j - [j == target[n]]) / N.

Var cross_entropy(const Var& logits, const std::vector<int64_t>& targets) {
    if (logits.value().ndim() < 1) fail("cross_entropy: logits have shape {}; expected [..., V]", logits.shape().str());
    int64_t V = logits.shape()[-1], N = rows_of(logits.shape());
    if (int64_t(targets.size()) != N)
        fail("cross_entropy: logits {} have {} rows but {} targets were given; expected one target per row",
             logits.shape().str(), N, targets.size());
    if (N == 0) fail("cross_entropy: logits {} have no rows; the mean over rows is undefined", logits.shape().str());
    for (int64_t n = 0; n < N; n++)
        if (targets[n] < 0 || targets[n] >= V)
            fail("cross_entropy: target {} at row {} is outside [0, {}) for logits {}", targets[n], n, V,
                 logits.shape().str());
    Tensor probs = plat::softmax(logits.value()).reshape({N, V});  // [N, V], saved for the backward
    std::vector<double> row_loss(N);
    const real* x = logits.value().data();
#pragma omp parallel for schedule(static) if (N * V >= kParallelMin)
    for (int64_t n = 0; n < N; n++) {
        // -log p[t] = log sum_j exp(x_j - m) - (x_t - m), the max m subtracted for range.
        const real* xn = x + n * V;
        double m = xn[0], s = 0;
        for (int64_t j = 1; j < V; j++) m = xn[j] > m ? xn[j] : m;
        for (int64_t j = 0; j < V; j++) s += std::exp(double(xn[j]) - m);
        row_loss[n] = std::log(s) - (double(xn[targets[n]]) - m);
    }
    double loss = 0;  // summed in row order: the same value for any thread count
    for (int64_t n = 0; n < N; n++) loss += row_loss[n];
    return record("cross_entropy", Tensor::scalar(real(loss / double(N))), {logits}, [probs, targets](Node& self) {
        Tensor& dlogits = self.inputs[0]->grad_buffer();  // [N, V]
        int64_t N = probs.size(0), V = probs.size(1);
        real scale = self.grad[0] / real(N);
#pragma omp parallel for schedule(static) if (N * V >= kParallelMin)
        for (int64_t n = 0; n < N; n++) {
            for (int64_t j = 0; j < V; j++) dlogits[n * V + j] += scale * probs[n * V + j];
            dlogits[n * V + targets[n]] -= scale;
        }
    });
}

}  // namespace plat
