// autograd/dot.cpp: graph_to_dot (autograd/dot.h, notes/02-autograd.md "Drawing the graph").
#include "autograd/dot.h"

#include <unordered_map>

#include <fmt/core.h>

#include "core/error.h"

namespace plat {

bool has_handwritten_backward(const std::string& op) {
    // autograd/ops.h's coarse operations and nn/attention.cpp's two fused attentions.
    static const char* const kHandWritten[] = {"layer_norm",    "linear",            "gelu",          "embedding",
                                               "cross_entropy", "softmax_attention", "plap_attention"};
    for (const char* name : kHandWritten)
        if (op == name) return true;
    return false;
}

namespace {

// A label inside DOT's double quotes: quotes and backslashes escaped; "\n" stays a line break.
std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

// Every node reachable from root, each after all of its inputs (depth-first post-order with an
// explicit stack, as reverse_topological_order in autograd/var.cpp, but following every input).
std::vector<Node*> inputs_first(Node* root) {
    std::vector<Node*> order;
    std::unordered_map<Node*, bool> seen;
    std::vector<std::pair<Node*, size_t>> stack{{root, 0}};
    seen[root] = true;
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
            Node* child = node->inputs[next++].get();
            if (!seen[child]) {
                seen[child] = true;
                stack.push_back({child, 0});
            }
        } else {
            order.push_back(node);
            stack.pop_back();
        }
    }
    return order;
}

}  // namespace

GraphDot graph_to_dot(const Var& root, const std::vector<std::pair<std::string, Var>>& params,
                      const std::string& title) {
    if (!root.defined()) fail("graph_to_dot: the root Var is undefined; pass the result of a forward pass");
    std::unordered_map<const Node*, std::string> param_name;
    for (const auto& [name, var] : params)
        if (var.defined()) param_name[var.node().get()] = name;

    std::vector<Node*> order = inputs_first(root.node().get());
    std::unordered_map<const Node*, int64_t> id;
    for (Node* n : order) id[n] = int64_t(id.size());

    GraphDot g;
    std::string& s = g.text;
    s += "digraph plat {\n";
    s += "  rankdir=TB;\n  fontname=\"Helvetica\";\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [color=\"#555555\"];\n";
    std::string legend = "blue box: parameter, grey box: input, ellipse: operation, orange: backward written by hand";
    s += fmt::format("  labelloc=t;\n  label={};\n", quoted(title.empty() ? legend : title + "\n" + legend));
    for (Node* n : order) {
        const std::string shape = n->value.shape().str();
        std::string label, style;
        auto named = param_name.find(n);
        if (named != param_name.end()) {
            label = named->second + "\n" + shape;
            style = "shape=box, style=filled, fillcolor=\"#cfe2f3\"";
        } else if (n->inputs.empty()) {
            std::string op = n->op;
            label = (op == "leaf" ? std::string(n->requires_grad ? "input (requires grad)" : "input")
                                  : "constant from " + op) +
                    "\n" + shape;
            style = "shape=box, style=filled, fillcolor=\"#eeeeee\"";
        } else if (has_handwritten_backward(n->op)) {
            label = std::string(n->op) + "\n" + shape;
            style = "shape=ellipse, style=\"filled,bold\", fillcolor=\"#f9cb9c\"";
        } else {
            label = std::string(n->op) + "\n" + shape;
            style = "shape=ellipse";
        }
        s += fmt::format("  n{} [label={}, {}];\n", id[n], quoted(label), style);
        g.nodes++;
    }
    for (Node* n : order)
        for (const auto& in : n->inputs) {
            s += fmt::format("  n{} -> n{};\n", id[in.get()], id[n]);
            g.edges++;
        }
    s += "}\n";
    return g;
}

}  // namespace plat
