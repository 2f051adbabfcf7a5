// experiments/cli/bench.cpp: `plat bench`: its options, then run_bench (experiments/bench/bench.h).
#include <limits>

#include "experiments/bench/bench.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"

namespace plat {

void register_bench(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand(
        "bench", "Time training steps of fixed model sizes and a sweep over the context (softmax and p-Laplacian "
                 "attention), with FLOP rates, memory and a per-operation breakdown (notes/07-performance.md)");
    cmd->add_option("--config", o->config,
                    "lm-s | lm-m | vit-s | all (those three) | lm-T128 ... lm-T2048 (C 128, L 4, H 4, B = 4096 / T) | "
                    "sweep (those five)")
        ->capture_default_str()
        ->check(CLI::IsMember(bench_config_choices()));
    cmd->add_option("--attn", o->attn, "softmax | plap | both")
        ->capture_default_str()
        ->check(CLI::IsMember({"softmax", "plap", "both"}));
    cmd->add_option("--steps", o->steps, "timed steps (the median is reported)")->capture_default_str()->check(CLI::Range(1, 100000));
    cmd->add_option("--warmup", o->warmup, "untimed steps first")->capture_default_str()->check(CLI::Range(0, 100000));
    cmd->add_option("--profile-steps", o->profile_steps, "extra steps timed operation by operation (0: no breakdown)")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    cmd->add_option("--sgemm-size", o->sgemm_size, "n of the n x n x n sgemm that sets the ceiling")
        ->capture_default_str()
        ->check(CLI::Range(64, 8192));
    cmd->add_option("--sgemm-gflops", o->sgemm_gflops, "use this sgemm rate instead of measuring it")
        ->check(finite_number(0, std::numeric_limits<double>::infinity(), false, "--sgemm-gflops"))
        ->group("");
    cmd->add_flag("--json", o->json, "one JSON object per line per case instead of text");
    cmd->add_flag("--ops", o->ops,
                  "time single operations in isolation at the configuration's sizes, each beside a direct "
                  "reference (what a rewrite could gain)");
    cmd->callback([o] { run_bench(*o); });
}

}  // namespace plat
