// experiments/commands.h: one registration function per `plat` command. Each adds a CLI11
// subcommand with its options (every option shows its default in --help) and a callback.
#pragma once
#include <CLI/CLI.hpp>

namespace plat {

// A command that finishes without an error but must not exit with 0 throws this from its callback
// (an interrupted training run: 130 = 128 + SIGINT); run_cli returns the code.
struct CommandExit {
    int code;
};

void register_mlp_demo(CLI::App& app);  // experiments/mlp_demo.cpp
void register_inspect(CLI::App& app);   // experiments/inspect.cpp
void register_attention(CLI::App& app); // experiments/attention_cmd.cpp
void register_bench(CLI::App& app);     // experiments/bench.cpp
void register_train(CLI::App& app);     // experiments/train_cmd.cpp
void register_eval(CLI::App& app);      // experiments/train_cmd.cpp
void register_sample(CLI::App& app);    // experiments/train_cmd.cpp
void register_probe(CLI::App& app);     // experiments/probe.cpp

}  // namespace plat
