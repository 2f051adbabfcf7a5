// autograd/var.h: a value with a gradient, recorded on a graph (notes/02-autograd.md).
// Every differentiable operation returns a Var whose Node remembers its inputs and a backward
// function. Var::backward() sorts the graph topologically and runs the backward functions in
// reverse order; each adds (+=) into its inputs' gradients, so a value used twice collects both.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace plat {

struct Node {
    Tensor value;
    Tensor grad;                               // empty until a gradient first flows in
    bool requires_grad = false;
    bool retain_grad = false;                  // keep grad after backward (intermediate nodes; see Var::retain_grad)
    const char* op = "leaf";                   // the operation that made it, for messages
    std::vector<std::shared_ptr<Node>> inputs;  // empty for leaves and for untracked results
    // Reads this node's grad and adds into its inputs' grads. Receives the node itself rather
    // than capturing it, so the closure holds no reference cycle.
    std::function<void(Node& self)> backward;

    Tensor& grad_buffer();  // grad, allocated as zeros of value's shape on first use
};

class Var {
public:
    Var() = default;
    explicit Var(Tensor value, bool requires_grad = false);

    // Every operation reads its inputs through value(), so an undefined Var (default-constructed)
    // is caught here with a message instead of a null-pointer crash.
    const Tensor& value() const { return checked_node().value; }
    Tensor& value() { return checked_node().value; }
    // The gradient; empty when none has flowed in (or after zero_grad()). For a leaf (a
    // parameter, an input made with requires_grad) it stays after backward(); for an intermediate
    // result it is released as soon as its backward has run, unless retain_grad() was called.
    const Tensor& grad() const { return node_->grad; }
    Tensor& grad() { return node_->grad; }
    bool requires_grad() const { return node_ && node_->requires_grad; }
    const Shape& shape() const { return checked_node().value.shape(); }
    real item() const { return checked_node().value.item(); }
    bool defined() const { return node_ != nullptr; }
    const std::shared_ptr<Node>& node() const { return node_; }

    // Reverse-mode differentiation from this value. With no argument the value must have one
    // element and its gradient is seeded with 1; otherwise `seed` is d(objective)/d(this).
    void backward();
    void backward(const Tensor& seed);
    void zero_grad();  // forget the gradient (PyTorch's set_to_none)
    // Keep this intermediate result's gradient after backward() (PyTorch's retain_grad), for
    // tests and for looking inside; the default frees it (notes/02-autograd.md, "Memory").
    void retain_grad() { checked_node().retain_grad = true; }

private:
    Node& checked_node() const;  // throws plat::Error for an undefined Var

    std::shared_ptr<Node> node_;
};

// Record the result of an operation. When gradient mode is off or no input requires a
// gradient, the result is a plain constant and nothing is recorded.
Var record(const char* op, Tensor value, const std::vector<Var>& inputs, std::function<void(Node& self)> backward);

// The inputs of a node in reverse topological order: every node comes before all nodes
// it was computed from. Exposed so the notes' counterexample can print it.
std::vector<Node*> reverse_topological_order(Node* root);

// While a NoGradGuard lives, operations record nothing (evaluation, optimizer updates).
class NoGradGuard {
public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};
bool grad_enabled();

}  // namespace plat
