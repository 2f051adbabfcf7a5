// experiments/bench/bench.h: the benchmark behind `plat bench` and `make bench` (notes/07-performance.md):
// full training steps of fixed model sizes, FLOP rates against this machine's sgemm, memory, and a
// per-operation breakdown recorded by the autograd engine (autograd/profile.h).
#pragma once
#include <cstdint>
#include <string>

namespace plat {

struct BenchOptions {
    std::string config = "all";
    std::string attn = "both";
    int steps = 10;
    int warmup = 2;
    int profile_steps = 2;
    int64_t sgemm_size = 2048;
    double sgemm_gflops = 0;  // given by the parent process to its children; 0: measure here
    bool json = false;
    bool ops = false;                  // time single operations in isolation instead of steps
};

// Runs the cases the options name and prints a text report, or one JSON object per case with --json
// (each case in a fresh process of this program, so that its peak memory is its own).
void run_bench(BenchOptions options);

}  // namespace plat
