// autograd/profile.h: where the time of a training step goes, operation by operation, recorded by
// the autograd engine itself (notes/07-performance.md, "Where the time goes"). Opt-in: while no
// OpProfile exists, the engine's only extra work is one pointer test per operation.
//
// Forward: record() (autograd/var.cpp) runs right after an operation has computed its value, so an
// operation's forward time is the time since the previous record() (or since mark()): it includes
// the glue code between two operations (reshapes of index lists, a Batch's preparation), which is
// part of the step too. Backward: Var::backward times each node's backward function. Operations are
// grouped by name, output shape and, where it differs, the first input's shape ("linear
// [32, 128, 128] from [32, 128, 512]"), so the four Linear layers of a block show as four lines
// without any labelling in the model's code.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/shape.h"

namespace plat {

class Var;
struct Node;

struct OpTiming {
    std::string op;             // name and shapes, "linear [32, 128, 384] from [32, 128, 128]"
    int64_t calls = 0;          // forward calls
    double forward_s = 0;       // wall seconds since the previous operation (see above)
    double backward_s = 0;      // wall seconds in its backward functions
    double cpu_s = 0;           // process CPU seconds (all threads), forward and backward
    double forward_flops = 0;   // matrix-product FLOPs (matmul, linear, the attentions); 0 for the rest
    double backward_flops = 0;
};

class OpProfile {
public:
    OpProfile();   // starts recording this thread's operations; profiles do not nest
    ~OpProfile();  // stops
    OpProfile(const OpProfile&) = delete;
    OpProfile& operator=(const OpProfile&) = delete;

    void mark();  // the next operation's forward time starts now
    // In the order each (name, shape) was first seen.
    const std::vector<OpTiming>& ops() const { return ops_; }
    double backward_total_s() const { return backward_total_s_; }  // whole Var::backward calls

    // Called by the engine (autograd/var.cpp); not for other callers.
    void on_record(const char* op, const Shape& out, const std::vector<Var>& inputs, const Node* node);
    void on_backward(const Node* node, double wall_s, double cpu_s);
    void on_backward_done(double wall_s);
    static OpProfile* active();

private:
    OpTiming& slot(const std::string& label);

    std::vector<OpTiming> ops_;
    std::unordered_map<std::string, size_t> index_;       // label -> position in ops_
    std::unordered_map<const Node*, size_t> node_slot_;   // recorded nodes not yet backpropagated
    double last_wall_ = 0, last_cpu_ = 0;
    double backward_total_s_ = 0;
};

// Wall, process-CPU and calling-thread-CPU clocks in seconds (steady_clock; CLOCK_PROCESS_CPUTIME_ID;
// CLOCK_THREAD_CPUTIME_ID, which `plat bench --ops` uses for its one-thread lines).
double wall_seconds();
double cpu_seconds();
double thread_cpu_seconds();

}  // namespace plat
