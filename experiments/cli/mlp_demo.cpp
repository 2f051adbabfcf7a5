// experiments/cli/mlp_demo.cpp: `plat mlp-demo`, the smallest end-to-end use of the autograd
// engine: a two-layer network y = W2 tanh(W1 x + b1) + b2 fit to a noisy sine by plain
// gradient descent. Every line of a training step is here, with nothing hidden in a library.
#include <cmath>

#include <fmt/core.h>

#include "autograd/ops.h"
#include "core/kernels.h"
#include "core/random.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"

namespace plat {

namespace {

struct MlpDemoOptions {
    int hidden = 32;
    int steps = 2000;
    double lr = 0.05;
    uint64_t seed = 0;
};

void run_mlp_demo(const MlpDemoOptions& o) {
    Generator gen(o.seed);
    // Data: N points x in [-pi, pi], y = sin(x) + noise. Shapes: x [N, 1], y [N, 1].
    const int N = 256;
    Tensor x(Shape{N, 1}), y(Shape{N, 1});
    for (int i = 0; i < N; i++) {
        x[i] = real(-M_PI + 2 * M_PI * i / (N - 1));
        y[i] = real(std::sin(x[i]) + 0.05 * gen.normal());
    }
    // Parameters, scaled so tanh starts in its linear range. W1 [1, hidden], W2 [hidden, 1].
    Var W1(Tensor::randn(Shape{1, o.hidden}, gen, 0, 1), true), b1(Tensor::zeros(Shape{o.hidden}), true);
    Var W2(Tensor::randn(Shape{o.hidden, 1}, gen, 0, real(1 / std::sqrt(o.hidden))), true),
        b2(Tensor::zeros(Shape{1}), true);
    std::vector<Var> params = {W1, b1, W2, b2};
    Var X(x), Y(y);

    fmt::print("Fitting y = sin(x) + noise with a {}-unit two-layer network, {} steps of gradient descent.\n",
               o.hidden, o.steps);
    for (int step = 0; step <= o.steps; step++) {
        Var h = tanh(matmul(X, W1) + b1);     // [N, hidden]; b1 broadcasts over rows
        Var pred = matmul(h, W2) + b2;        // [N, 1]
        Var diff = pred - Y;
        Var loss = mean(mean(diff * diff, -1), 0);  // mean squared error: [N, 1] -> [N] -> []
        for (Var& p : params) p.zero_grad();
        loss.backward();
        if (step % (o.steps / 10) == 0) fmt::print("step {:5d}  loss {:.6f}\n", step, loss.item());
        NoGradGuard no_grad;
        for (Var& p : params) add_into(p.value(), p.grad(), real(-o.lr));  // w -= lr * dL/dw
    }
    fmt::print("The loss falls from about 0.5 (predicting the sine's mean) toward the noise floor 0.0025.\n");
}

}  // namespace

void register_mlp_demo(CLI::App& app) {
    auto opts = std::make_shared<MlpDemoOptions>();
    CLI::App* cmd = app.add_subcommand("mlp-demo", "Fit a two-layer network to a noisy sine with the autograd engine");
    cmd->add_option("--hidden", opts->hidden, "hidden units")->capture_default_str()->check(CLI::Range(1, 4096));
    cmd->add_option("--steps", opts->steps, "gradient-descent steps")->capture_default_str()->check(CLI::Range(10, 1000000));
    cmd->add_option("--lr", opts->lr, "learning rate")->capture_default_str()->check(finite_number(0, 10, true));
    cmd->add_option("--seed", opts->seed, "random seed")->capture_default_str()->check(unsigned_integer());
    cmd->callback([opts] { run_mlp_demo(*opts); });
}

}  // namespace plat
