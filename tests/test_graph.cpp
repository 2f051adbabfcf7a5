// tests/test_graph.cpp: the DOT writer (autograd/dot.h, notes/02-autograd.md "Drawing the graph").
// The graphs are built by hand here, so their nodes and edges are counted from the code below,
// not from the writer's output.
#include <doctest/doctest.h>

#include <string>

#include "autograd/dot.h"
#include "autograd/ops.h"
#include "experiments/cli/cli.h"
#include "core/error.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

namespace {

// Occurrences of `part` in `s`.
int count(const std::string& s, const std::string& part) {
    int n = 0;
    for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) n++;
    return n;
}

}  // namespace

TEST_CASE("graph: the two-layer network of plat mlp-demo, counted by hand") {
    // loss = mean(mean((W2 tanh(X W1 + b1) + b2 - Y)^2)), as experiments/cli/mlp_demo.cpp.
    Var X(Tensor::ones(Shape{4, 1})), Y(Tensor::ones(Shape{4, 1}));  // inputs, no gradient
    Var W1(Tensor::ones(Shape{1, 3}), true), b1(Tensor::zeros(Shape{3}), true);
    Var W2(Tensor::ones(Shape{3, 1}), true), b2(Tensor::zeros(Shape{1}), true);
    Var h = tanh(matmul(X, W1) + b1);
    Var diff = matmul(h, W2) + b2 - Y;
    Var loss = mean(mean(diff * diff, -1), 0);
    GraphDot g = graph_to_dot(loss, {{"W1", W1}, {"b1", b1}, {"W2", W2}, {"b2", b2}}, "mlp");
    // Nodes: 6 leaves (X, Y, W1, b1, W2, b2) + 9 operations (matmul, add, tanh, matmul, add,
    // sub, mul, mean, mean) = 15. Edges, one per input of each operation: 2 + 2 + 1 + 2 + 2 + 2
    // + 2 (mul uses diff twice) + 1 + 1 = 15.
    CHECK(g.nodes == 15);
    CHECK(g.edges == 15);
    CHECK(count(g.text, " -> ") == 15);
    CHECK(count(g.text, "[label=") == 15);
    // Inputs first, depth first from the loss: X is met first (n0), then W1 (n1), their matmul (n2).
    CHECK(contains(g.text, "digraph plat {\n"));
    CHECK(contains(g.text, "n0 [label=\"input\\n[4, 1]\", shape=box"));
    CHECK(contains(g.text, "n1 [label=\"W1\\n[1, 3]\", shape=box, style=filled, fillcolor=\"#cfe2f3\"]"));
    CHECK(contains(g.text, "n2 [label=\"matmul\\n[4, 3]\", shape=ellipse]"));
    CHECK(contains(g.text, "  n0 -> n2;\n  n1 -> n2;\n"));
    CHECK(contains(g.text, "[label=\"tanh\\n[4, 3]\", shape=ellipse]"));
    CHECK(contains(g.text, "[label=\"mean\\n[]\", shape=ellipse]"));  // the scalar loss
    CHECK(count(g.text, "fillcolor=\"#cfe2f3\"") == 4);             // four parameters
    CHECK(count(g.text, "label=\"input\\n") == 2);                   // X and Y
    CHECK(count(g.text, "#f9cb9c") == 0);                            // all primitives
    CHECK(g.text.substr(g.text.size() - 2) == "}\n");
}

TEST_CASE("graph: hand-written backward marked, a value used twice drawn twice") {
    // cross_entropy(linear(x, W, b)): 3 leaves + 2 operations, edges 3 + 1.
    Var x(Tensor::ones(Shape{2, 3}), true), W(Tensor::ones(Shape{4, 3}), true), b(Tensor::zeros(Shape{4}), true);
    Var loss = cross_entropy(linear(x, W, b), {0, 3});
    GraphDot g = graph_to_dot(loss, {{"fc.weight", W}, {"fc.bias", b}});
    CHECK(g.nodes == 5);
    CHECK(g.edges == 4);
    CHECK(count(g.text, "fillcolor=\"#f9cb9c\"") == 2);  // linear and cross_entropy
    CHECK(contains(g.text, "[label=\"linear\\n[2, 4]\", shape=ellipse, style=\"filled,bold\""));
    CHECK(contains(g.text, "[label=\"input (requires grad)\\n[2, 3]\""));  // x: a leaf with no name
    CHECK(contains(g.text, "[label=\"fc.weight\\n[4, 3]\""));
    CHECK(has_handwritten_backward("plap_attention"));
    CHECK(has_handwritten_backward("layer_norm"));
    CHECK_FALSE(has_handwritten_backward("softmax"));  // a primitive
    CHECK_FALSE(has_handwritten_backward("matmul"));

    // y = a * a: one node for a, two edges into mul (its gradient collects 2a from both).
    Var a(Tensor::scalar(3), true);
    GraphDot sq = graph_to_dot(mul(a, a));
    CHECK(sq.nodes == 2);
    CHECK(sq.edges == 2);
    CHECK(count(sq.text, "n0 -> n1;") == 2);
}

TEST_CASE("graph: a title with quotes is escaped; an undefined root is an error") {
    Var a(Tensor::scalar(1), true);
    GraphDot g = graph_to_dot(exp(a), {}, "say \"hi\"");
    CHECK(contains(g.text, "label=\"say \\\"hi\\\"\\nblue box"));
    CHECK(contains(error_of([] { graph_to_dot(Var()); }), "undefined"));
}

TEST_CASE("graph: plat graph writes the DOT file; bad input is a usage error") {
    TempDir dir("graph");
    const std::string dot = dir.path + "/mlp.dot";
    REQUIRE(run_cli({"plat", "graph", "--model", "mlp", "--out", dot}) == 0);
    const std::string text = read_bytes(dot);
    // The same network as the first test, at plat mlp-demo's sizes: 256 points, 32 hidden units.
    CHECK(count(text, " -> ") == 15);
    CHECK(count(text, "[label=") == 15);
    CHECK(contains(text, "[label=\"W1\\n[1, 32]\""));
    CHECK(contains(text, "[label=\"mean\\n[]\""));

    const std::string lm = dir.path + "/lm.dot";
    REQUIRE(run_cli({"plat", "graph", "--model", "lm", "--dim", "8", "--layers", "1", "--heads", "2", "--context", "4",
                     "--attn", "plap", "--out", lm}) == 0);
    const std::string lm_text = read_bytes(lm);
    CHECK(contains(lm_text, "[label=\"transformer.wte.weight\\n[256, 8]\""));
    CHECK(contains(lm_text, "[label=\"plap_attention\\n[2, 4, 8]\", shape=ellipse, style=\"filled,bold\""));
    CHECK(contains(lm_text, "[label=\"cross_entropy\\n[1]\""));

    CHECK(run_cli({"plat", "graph", "--model", "mlp", "--dim", "8", "--out", dot}) == 2);  // mlp has fixed sizes
    CHECK(run_cli({"plat", "graph", "--model", "rnn", "--out", dot}) == 2);
}
