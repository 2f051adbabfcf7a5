// autograd/dot.h: the graph recorded behind a Var, written as Graphviz DOT text, as micrograd's
// draw_dot draws its graph (notes/02-autograd.md, "Drawing the graph"). `plat graph` renders it;
// `dot -Tpng graph.dot -o graph.png` does the same by hand.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"

namespace plat {

// True for the operations that are one recorded node whose backward was derived by hand
// (autograd/ops.h's coarse operations, nn/attention.cpp's fused attention), rather than
// composed from primitives: the one list, drawn in a colour of its own.
bool has_handwritten_backward(const std::string& op);

struct GraphDot {
    std::string text;   // the DOT source
    int64_t nodes = 0;  // one per Node reachable from the root, leaves included
    int64_t edges = 0;  // one per (input, operation) use: a value used twice by one op gives two
};

// Walks every Node reachable from `root` through Node::inputs (all of them: inputs that need no
// gradient are drawn too) and writes one DOT node per Node, one edge per use, inputs first:
//   an operation:  "op\n[shape]", an ellipse; hand-written backward: filled orange, bold;
//   a parameter:   a leaf found in `params`, "name\n[shape]", a light-blue box;
//   an input:      any other leaf, "input\n[shape]" (a grey box; "input (requires grad)" if it
//                  needs a gradient), and an operation recorded without its inputs (under
//                  NoGradGuard) as "constant from op".
// `title` becomes the graph's label, with a legend line.
GraphDot graph_to_dot(const Var& root, const std::vector<std::pair<std::string, Var>>& params = {},
                      const std::string& title = "");

}  // namespace plat
