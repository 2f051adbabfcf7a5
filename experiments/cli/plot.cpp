// experiments/cli/plot.cpp: `plat plot`: the loss curves of one or more training runs in one PNG,
// from each run directory's metrics.csv (experiments/training/run_dir.h, plot_loss): the training
// loss smoothed (thin) and the validation loss (points), one colour per run.
#include <filesystem>

#include <fmt/core.h>

#include "core/error.h"
#include "core/files.h"
#include "experiments/cli/commands.h"
#include "experiments/training/run_dir.h"

namespace plat {

namespace {

struct PlotCommand {
    std::string out = "loss.png";
    std::vector<std::string> runs;  // RUN_DIR or RUN_DIR=LABEL
};

void run_plot(const PlotCommand& p) {
    std::vector<std::string> dirs, labels;
    for (const std::string& arg : p.runs) {
        const size_t eq = arg.find('=');
        const std::string dir = arg.substr(0, eq);
        if (!file_exists(dir + "/metrics.csv"))
            fail("plot: '{}' has no metrics.csv; give run directories written by `plat train`", dir);
        dirs.push_back(dir);
        labels.push_back(eq == std::string::npos ? std::filesystem::path(dir).filename().string() : arg.substr(eq + 1));
    }
    if (!plot_loss(p.out, dirs, labels, stdout)) throw CommandExit{1};
    fmt::print("plot: {}\n", p.out);
}

}  // namespace

void register_plot(CLI::App& app) {
    auto p = std::make_shared<PlotCommand>();
    CLI::App* cmd = app.add_subcommand(
        "plot", "Draw the loss curves of training runs in one PNG (needs gnuplot: sudo apt-get install gnuplot-nox)");
    cmd->add_option("runs", p->runs, "run directories, each optionally RUN_DIR=LABEL (default label: its name)")
        ->required();
    cmd->add_option("--out", p->out, "the PNG to write (atomically)")->capture_default_str();
    cmd->callback([p] { run_plot(*p); });
}

}  // namespace plat
