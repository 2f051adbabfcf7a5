// autograd/var.cpp: the graph and its traversal (notes/02-autograd.md, "Why topological order").
#include "autograd/var.h"

#include <unordered_set>

#include "autograd/profile.h"
#include "core/error.h"
#include "core/kernels.h"

namespace plat {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Tensor& Node::grad_buffer() {
    if (grad.empty()) grad = Tensor::zeros(value.shape());
    return grad;
}

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
    node_->value = std::move(value);
    node_->requires_grad = requires_grad;
}

Node& Var::checked_node() const {
    if (!node_) fail("Var: this Var is undefined (default-constructed); give it a value with Var(tensor) first");
    return *node_;
}

Var record(const char* op, Tensor value, const std::vector<Var>& inputs, std::function<void(Node& self)> backward) {
    Var out(std::move(value), false);
    Node& node = *out.node();
    node.op = op;
    bool any = false;
    if (g_grad_enabled)
        for (const Var& v : inputs) any = any || v.requires_grad();
    if (any) {
        node.requires_grad = true;
        for (const Var& v : inputs) node.inputs.push_back(v.node());
        node.backward = std::move(backward);
    }
    // Opt-in timing of each operation (autograd/profile.h); off, this is one pointer test.
    if (OpProfile* profile = OpProfile::active()) profile->on_record(op, node.value.shape(), inputs, any ? &node : nullptr);
    return out;
}

std::vector<Node*> reverse_topological_order(Node* root) {
    // Depth-first post-order gives a topological order (inputs before the nodes that use
    // them); reversed, every node is finished (its grad complete) before it passes its grad
    // on. An explicit stack instead of recursion: a long graph (many training steps of an
    // RNN, deep unrolled loops) would otherwise overflow the call stack.
    std::vector<Node*> order;
    std::unordered_set<Node*> visited;
    std::vector<std::pair<Node*, size_t>> stack;  // node, index of the next input to visit
    stack.push_back({root, 0});
    visited.insert(root);
    while (!stack.empty()) {
        auto& [node, next] = stack.back();
        if (next < node->inputs.size()) {
            Node* child = node->inputs[next++].get();
            if (child->requires_grad && visited.insert(child).second) stack.push_back({child, 0});
        } else {
            order.push_back(node);
            stack.pop_back();
        }
    }
    return std::vector<Node*>(order.rbegin(), order.rend());
}

void Var::backward() {
    if (!node_) fail("backward: called on an undefined Var");
    if (node_->value.numel() != 1)
        fail("backward: the value has shape {}; call backward() on a one-element loss, or pass a seed gradient",
             node_->value.shape().str());
    backward(Tensor::ones(node_->value.shape()));
}

void Var::backward(const Tensor& seed) {
    if (!node_) fail("backward: called on an undefined Var");
    if (!node_->requires_grad)
        fail("backward: this value does not require a gradient (no input had requires_grad, or it was computed under NoGradGuard)");
    check_shape(seed, node_->value.shape(), "backward seed");
    std::vector<Node*> order = reverse_topological_order(node_.get());
    // Intermediate (non-leaf) gradients belong to this pass only: clear what an earlier
    // backward through the same graph left, or it would be counted twice. Leaf gradients
    // (parameters) keep accumulating until zero_grad(), as in PyTorch.
    for (Node* n : order)
        if (n->backward) n->grad = Tensor();
    add_into(node_->grad_buffer(), seed);
    // Once a node's backward has run, every contribution to its gradient has arrived (its
    // consumers come earlier in the order) and been passed on to its inputs: the gradient is
    // dead, and freeing it at once keeps at most a few intermediate gradients alive instead of
    // all of them (notes/07-performance.md, "Memory"). PyTorch frees them too; retain_grad()
    // keeps one.
    OpProfile* profile = OpProfile::active();  // opt-in timing (autograd/profile.h)
    const double start = profile ? wall_seconds() : 0;
    for (Node* n : order) {
        if (!n->backward || n->grad.empty()) continue;
        if (profile) {
            const double wall = wall_seconds(), cpu = cpu_seconds();
            n->backward(*n);
            profile->on_backward(n, wall_seconds() - wall, cpu_seconds() - cpu);
        } else {
            n->backward(*n);
        }
        if (!n->retain_grad) n->grad = Tensor();
    }
    if (profile) profile->on_backward_done(wall_seconds() - start);
}

void Var::zero_grad() {
    if (node_) node_->grad = Tensor();
}

}  // namespace plat
