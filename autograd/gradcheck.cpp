// autograd/gradcheck.cpp: compare backward with central finite differences, in double
// (notes/02-autograd.md, "Gradient checking"). The objective is the scalar
// L(inputs) = sum(f(inputs) * w), w a fixed random tensor, so one backward seeded with w gives
// dL/d(every input) and every output element's gradient takes part.
#include "autograd/gradcheck.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace plat {

namespace {

// "[1, 2]" for flat index i of a tensor of shape s: where a failure is, in the reader's terms.
std::string index_str(const Shape& s, int64_t i) {
    std::vector<int64_t> idx(s.ndim());
    for (int d = s.ndim() - 1; d >= 0; d--) {
        idx[d] = i % (s[d] ? s[d] : 1);
        i /= (s[d] ? s[d] : 1);
    }
    std::string out = "[";
    for (size_t d = 0; d < idx.size(); d++) out += (d ? ", " : "") + std::to_string(idx[d]);
    return out + "]";
}

}  // namespace

GradCheckResult gradcheck(const std::function<Var(const std::vector<Var>&)>& f, const std::vector<Tensor>& inputs,
                          const GradCheckOptions& options) {
    size_t n_inputs = inputs.size();
    if (!options.check_input.empty() && options.check_input.size() != n_inputs)
        fail("gradcheck: check_input has {} flags for {} inputs; give one per input or none", options.check_input.size(),
             n_inputs);
    auto checked = [&](size_t k) { return options.check_input.empty() || options.check_input[k]; };
    Generator gen(options.seed);

    // Private copies: the perturbations below write into them, never into the caller's tensors.
    std::vector<Tensor> x;
    for (const Tensor& t : inputs) x.push_back(t.clone());

    // f at the current x, evaluated without recording a graph.
    Tensor w;
    auto eval = [&]() {
        NoGradGuard no_grad;
        std::vector<Var> vars;
        for (const Tensor& t : x) vars.push_back(Var(t, false));
        // A copy: the result may share storage with an input (reshape does), and the input
        // is about to be perturbed again.
        Tensor out = f(vars).value().clone();
        if (out.shape() != w.shape())
            fail("gradcheck: f returned shape {} on one call and {} on another; f must be deterministic",
                 w.shape().str(), out.shape().str());
        return out;
    };
    // (L(x+) - L(x-)) / step with L = sum(f * w). The two outputs are subtracted element by
    // element before the weighted sum: summing first would bring in the rounding of the whole
    // sum, eps * sum |f w|, which for a large output is far bigger than that of the difference.
    auto quotient = [&](const Tensor& out_plus, const Tensor& out_minus, double step) {
        double total = 0;
        for (int64_t i = 0; i < w.numel(); i++) total += (double(out_plus[i]) - double(out_minus[i])) * double(w[i]);
        return total / step;
    };

    // The analytic gradient: one backward pass seeded with w = dL/d(out).
    std::vector<Var> vars;
    for (size_t k = 0; k < n_inputs; k++) vars.push_back(Var(x[k].clone(), checked(k)));
    Var out = f(vars);
    if (!out.defined()) fail("gradcheck: f returned an undefined Var");
    w = out.value().numel() == 1 ? Tensor::ones(out.shape()) : Tensor::randn(out.shape(), gen);
    if (out.requires_grad()) out.backward(w);
    // An input the output does not depend on has no gradient: analytically 0.
    std::vector<Tensor> analytic;
    for (size_t k = 0; k < n_inputs; k++)
        analytic.push_back(vars[k].grad().empty() ? Tensor::zeros(x[k].shape()) : vars[k].grad());

    GradCheckResult result;
    auto compare = [&](double a, double num, size_t k, const std::string& where) {
        double err = std::fabs(a - num);
        double scale = std::max(std::fabs(a), std::fabs(num));
        result.worst_abs = std::max(result.worst_abs, err);
        if (scale > 0) result.worst_rel = std::max(result.worst_rel, err / scale);
        double allowed = options.atol + options.rtol * std::fabs(num);
        if (!(err <= allowed) && result.passed) {  // !(<=) also catches NaN
            result.passed = false;
            result.message = fmt::format(
                "gradcheck: input {} (shape {}), {}: analytic {:.10g} vs numeric {:.10g}, error {:.3g} > allowed {:.3g} "
                "(atol {:g} + rtol {:g} * |numeric|)",
                k, x[k].shape().str(), where, a, num, err, allowed, options.atol, options.rtol);
        }
    };

    double h = options.step;
    for (size_t k = 0; k < n_inputs; k++) {
        if (!checked(k)) continue;
        Tensor& xk = x[k];
        const Tensor& gk = analytic[k];
        if (xk.numel() <= options.max_elements) {
            // Element by element: dL/dx_i ~ (L(x + h e_i) - L(x - h e_i)) / (2h).
            for (int64_t i = 0; i < xk.numel(); i++) {
                real saved = xk[i];
                real plus = real(saved + h), minus = real(saved - h);
                xk[i] = plus;
                Tensor op = eval();
                xk[i] = minus;
                Tensor om = eval();
                xk[i] = saved;
                // Divide by the step actually taken: saved +- h is itself rounded.
                double num = quotient(op, om, double(plus) - double(minus));
                compare(double(gk[i]), num, k, fmt::format("element {} {}", i, index_str(xk.shape(), i)));
            }
        } else {
            // Along random directions u: d/dt L(x + t u) at 0 is <dL/dx, u>.
            Tensor saved = xk.clone();
            for (int d = 0; d < options.directions; d++) {
                Tensor u = Tensor::randn(xk.shape(), gen);
                double a = 0;
                for (int64_t i = 0; i < xk.numel(); i++) a += double(gk[i]) * double(u[i]);
                for (int64_t i = 0; i < xk.numel(); i++) xk[i] = real(saved[i] + h * u[i]);
                Tensor op = eval();
                for (int64_t i = 0; i < xk.numel(); i++) xk[i] = real(saved[i] - h * u[i]);
                Tensor om = eval();
                xk.copy_from(saved);
                compare(a, quotient(op, om, 2 * h), k, fmt::format("random direction {}", d));
            }
        }
    }
    return result;
}

}  // namespace plat
