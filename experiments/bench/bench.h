// experiments/bench/bench.h: the benchmark behind `plat bench` and `make bench` (notes/07-performance.md):
// full training steps of fixed model sizes, FLOP rates against this machine's sgemm, memory, and a
// per-operation breakdown recorded by the autograd engine (autograd/profile.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nn/config.h"

namespace plat {

// One configuration: the model and its batch B. lm-s, lm-m, vit-s (the group "all"), and the context
// sweep lm-T128 ... lm-T2048 (the group "sweep"): C 128, L 4, H 4, B = kSweepTokens / T, so every
// step sees the same tokens and only attention's T^2 terms grow (notes/07, "Scaling with the context").
struct BenchCase {
    std::string name;
    ModelConfig config;
    int64_t batch;  // B
};
constexpr int64_t kSweepTokens = 4096;  // B T of every sweep step
// p = 1.5 with the "unit" self term for plap; the seed is fixed so every run builds the same model.
BenchCase make_case(const std::string& name, const std::string& attn);
// Every value --config accepts (names, then the groups "all" and "sweep"), and the cases one names.
std::vector<std::string> bench_config_choices();
std::vector<std::string> bench_config_names(const std::string& config);

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
