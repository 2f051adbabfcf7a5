// autograd/profile.cpp: the engine's per-operation timing (autograd/profile.h).
#include "autograd/profile.h"

#include <time.h>

#include <chrono>

#include "autograd/var.h"
#include "core/error.h"

namespace plat {

namespace {
thread_local OpProfile* g_active = nullptr;

// Matrix-product FLOPs of one forward call, from the shapes alone: a product [M, K] x [K, N] costs
// 2 M N K, and the output holds M N entries per batch, so 2 * numel(out) * K. The backward of a
// product costs the same again for each of its two operands that needs a gradient; attention's
// backward is four products against the forward's two (notes/07-performance.md, "Counting FLOPs").
struct Flops {
    double forward = 0, backward = 0;
};

Flops product_flops(const std::string& op, const Shape& out, const std::vector<Var>& in) {
    Flops f;
    if ((op == "matmul" || op == "linear") && in.size() >= 2 && out.ndim() >= 2) {
        const Shape& a = in[0].shape();
        const double M = double(out[-2]);
        const double K = double(a[-1]) * double(a.ndim() >= 2 ? a[-2] : 1) / M;  // a is [M, K] or [K, M]
        f.forward = 2 * double(out.numel()) * K;
        f.backward = f.forward * ((in[0].requires_grad() ? 1 : 0) + (in[1].requires_grad() ? 1 : 0));
    } else if ((op == "softmax_attention" || op == "plap_attention") && out.ndim() == 3) {
        const double B = double(out[0]), T = double(out[1]), C = double(out[2]);  // out [B, T, C]
        f.forward = 4 * B * T * T * C;  // s = q k^T and out = A v over the whole T x T square
        f.backward = in[0].requires_grad() ? 2 * f.forward : 0;
    }
    return f;
}
}  // namespace

double wall_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

static double clock_seconds(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

double cpu_seconds() { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

double thread_cpu_seconds() { return clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

OpProfile::OpProfile() {
    if (g_active) fail("OpProfile: a profile is already recording on this thread; profiles do not nest");
    g_active = this;
    mark();
}

OpProfile::~OpProfile() { g_active = nullptr; }

OpProfile* OpProfile::active() { return g_active; }

void OpProfile::mark() {
    last_wall_ = wall_seconds();
    last_cpu_ = cpu_seconds();
}

OpTiming& OpProfile::slot(const std::string& label) {
    auto [it, inserted] = index_.try_emplace(label, ops_.size());
    if (inserted) ops_.push_back(OpTiming{label});
    return ops_[it->second];
}

void OpProfile::on_record(const char* op, const Shape& out, const std::vector<Var>& inputs, const Node* node) {
    const double wall = wall_seconds(), cpu = cpu_seconds();
    // Name and output shape, and the first input's shape where it differs: the four products of
    // a block are then four lines ("linear [B, T, C] from [B, T, 4C]" is the MLP's second one).
    std::string label = std::string(op) + " " + out.str();
    if (!inputs.empty() && inputs[0].defined() && !(inputs[0].shape() == out)) label += " from " + inputs[0].shape().str();
    OpTiming& s = slot(label);
    s.calls++;
    s.forward_s += wall - last_wall_;
    s.cpu_s += cpu - last_cpu_;
    const Flops f = product_flops(op, out, inputs);
    s.forward_flops += f.forward;
    if (node) {
        s.backward_flops += f.backward;  // counted only when a backward will run
        node_slot_[node] = size_t(&s - ops_.data());
    }
    last_wall_ = wall;
    last_cpu_ = cpu;
}

void OpProfile::on_backward(const Node* node, double wall_s, double cpu_s) {
    auto it = node_slot_.find(node);
    OpTiming& s = it != node_slot_.end() ? ops_[it->second] : slot(std::string("(not profiled) ") + node->op);
    s.backward_s += wall_s;
    s.cpu_s += cpu_s;
}

void OpProfile::on_backward_done(double wall_s) {
    backward_total_s_ += wall_s;
    // The graph's nodes die with it and their addresses may be reused by the next step's.
    node_slot_.clear();
    mark();
}

}  // namespace plat
