// experiments/cli/graph.cpp: `plat graph`, the autograd graph that one forward pass and its loss
// record, written as Graphviz DOT by autograd/dot.h's graph_to_dot and, when Graphviz's `dot` is
// installed, rendered to SVG and PNG beside it (notes/02-autograd.md, "Drawing the graph").
// --model lm | vit: one batch of 2 through a model built from the usual model options (choose a
// tiny one: --dim 8 --layers 1 --heads 2 --context 4); --model mlp: the two-layer network of
// `plat mlp-demo`.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/core.h>

#include "autograd/dot.h"
#include "autograd/ops.h"
#include "core/error.h"
#include "core/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"

extern char** environ;

namespace plat {

namespace {

struct GraphOptions {
    ModelOptions model;
    bool mlp = false;  // --model mlp
    std::string out = "graph.dot";
};

// `dot -T<format> in -o out`, without a shell (any byte may be in a path). Returns false when
// dot is not installed; throws when it ran and failed.
bool run_dot(const std::string& format, const std::string& in, const std::string& out) {
    std::string type = "-T" + format;
    std::vector<char*> argv = {const_cast<char*>("dot"), type.data(), const_cast<char*>(in.c_str()),
                               const_cast<char*>("-o"), const_cast<char*>(out.c_str()), nullptr};
    pid_t pid;
    int err = posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ);
    if (err == ENOENT) return false;
    if (err != 0) fail("graph: could not start Graphviz's dot: {}", std::strerror(err));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) return false;  // the child found no dot
    if (WEXITSTATUS(status) != 0) fail("graph: dot could not render '{}' as {} (its message is above)", in, format);
    return true;
}

// The network and loss of experiments/cli/mlp_demo.cpp, step 0: y = W2 tanh(W1 x + b1) + b2,
// mean squared error against y, 256 points, 32 hidden units.
GraphDot mlp_graph() {
    const int N = 256, hidden = 32;
    Var X(Tensor::zeros(Shape{N, 1})), Y(Tensor::zeros(Shape{N, 1}));
    Var W1(Tensor::zeros(Shape{1, hidden}), true), b1(Tensor::zeros(Shape{hidden}), true);
    Var W2(Tensor::zeros(Shape{hidden, 1}), true), b2(Tensor::zeros(Shape{1}), true);
    Var h = tanh(matmul(X, W1) + b1);
    Var pred = matmul(h, W2) + b2;
    Var diff = pred - Y;
    Var loss = mean(mean(diff * diff, -1), 0);
    return graph_to_dot(loss, {{"W1", W1}, {"b1", b1}, {"W2", W2}, {"b2", b2}},
                        "plat mlp-demo: y = W2 tanh(W1 x + b1) + b2, mean squared error");
}

// One forward pass and the loss of a model built from the options, on a batch of 2.
GraphDot model_graph(ModelOptions& options) {
    const ModelConfig config = model_config_from_options(options);
    std::unique_ptr<Model> model = make_model(config);
    const int64_t B = 2;
    Batch batch;
    if (fmt::format("{}", config.model) == "lm") {
        const std::string text = "In the beginning God created the heaven and the earth. ";
        std::vector<int64_t> x(B * config.context), y(x.size());
        for (size_t n = 0; n < x.size(); n++) {
            x[n] = uint8_t(text[n % text.size()]);
            y[n] = uint8_t(text[(n + 1) % text.size()]);
        }
        batch = Batch::lm(B, config.context, x, y);
    } else {
        batch = Batch::vit(Tensor::zeros(Shape{B, 1, 28, 28}), std::vector<int64_t>(B, 0));
    }
    Var loss = model->loss(model->forward(batch), batch);
    std::string title = fmt::format("{}: {}, C {}, L {}, H {}, batch {}{}", config.model,
                                    fmt::format("{}", config.attn) == "plap" ? "p-Laplacian attention" : "softmax attention",
                                    config.dim, config.layers, config.heads, B,
                                    fmt::format("{}", config.model) == "lm" ? fmt::format(" x {} tokens", config.context) : "");
    return graph_to_dot(loss, model->named_parameters(), title);
}

void run_graph(GraphOptions& o) {
    const bool mlp = o.mlp;
    if (mlp)
        for (const CLI::Option* opt : o.model.added)
            if (opt->count() > 0 && opt->get_name() != "--model")
                throw CLI::ValidationError(opt->get_name(), "--model mlp is plat mlp-demo's network and takes no model options; drop it");
    GraphDot g = mlp ? mlp_graph() : model_graph(o.model);
    write_file_atomic(o.out, g.text, "graph");
    fmt::print("wrote {}: {} nodes, {} edges\n", o.out, g.nodes, g.edges);

    std::string stem = o.out.size() > 4 && o.out.substr(o.out.size() - 4) == ".dot" ? o.out.substr(0, o.out.size() - 4) : o.out;
    bool drawn = run_dot("svg", o.out, stem + ".svg") && run_dot("png", o.out, stem + ".png");
    if (drawn)
        fmt::print("wrote {0}.svg and {0}.png (Graphviz)\n", stem);
    else
        fmt::print("Graphviz's dot is not installed, so no picture was drawn: sudo apt-get install graphviz, then "
                   "dot -Tsvg {} -o {}.svg\n", o.out, stem);
}

}  // namespace

void register_graph(CLI::App& app) {
    auto o = std::make_shared<GraphOptions>();
    CLI::App* cmd = app.add_subcommand(
        "graph",
        "Write the autograd graph of one forward pass and its loss as Graphviz DOT (and SVG/PNG when dot is installed).\n"
        "One node per operation (its name and output shape), parameters (blue, with their names) and inputs (grey) as\n"
        "boxes, operations whose backward is written by hand (linear, layer_norm, gelu, embedding, cross_entropy, the\n"
        "fused attentions) in orange. Keep the model tiny: plat graph --model lm --dim 8 --layers 1 --heads 2 --context 4");
    add_model_options(cmd, o->model);
    // --model also takes mlp: read before add_model_options' own check and parsing, which then see lm.
    cmd->get_option("--model")
        ->description("lm, vit, or mlp (the two-layer network of plat mlp-demo; it takes no other model option)")
        ->transform(
            [o](std::string v) {
                if (v != "lm" && v != "vit" && v != "mlp") throw CLI::ValidationError("'" + v + "' is not lm, vit or mlp");
                o->mlp = v == "mlp";
                return o->mlp ? std::string("lm") : v;
            },
            "lm|vit|mlp");
    cmd->add_option("--out", o->out, "the DOT file to write; the SVG and PNG go beside it (FILE.svg, FILE.png)")
        ->capture_default_str();
    cmd->callback([o] { run_graph(*o); });
}

}  // namespace plat
