// experiments/cli/commands.h: one registration function per `plat` command, each in the file of
// its name (register_train in experiments/cli/train.cpp, ...). Each adds a CLI11 subcommand with its
// options (every option shows its default in --help) and a callback that makes one library call.
#pragma once
#include <CLI/CLI.hpp>

namespace plat {

// A command that finishes without an error but must not exit with 0 throws this from its callback
// (an interrupted training run: 130 = 128 + SIGINT); run_cli returns the code.
struct CommandExit {
    int code;
};

void register_mlp_demo(CLI::App& app);
void register_inspect(CLI::App& app);
void register_attention(CLI::App& app);
void register_bench(CLI::App& app);
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_sample(CLI::App& app);
void register_probe(CLI::App& app);
void register_plot(CLI::App& app);
void register_graph(CLI::App& app);

}  // namespace plat
