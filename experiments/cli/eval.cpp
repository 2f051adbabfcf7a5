// experiments/cli/eval.cpp: `plat eval`: open a run (experiments/training/run.h), evaluate it on a
// split (experiments/training/evaluate.h), print one line.
#include <fmt/core.h>

#include "experiments/cli/commands.h"
#include "experiments/training/evaluate.h"
#include "experiments/training/run.h"

namespace plat {

namespace {

struct EvalCommand {
    std::string checkpoint;
    std::string split = "val";
    int64_t batches = 0;
    int64_t batch = 0;
    std::string data;
};

void run_eval(const EvalCommand& e) {
    OpenedRun run = open_run(e.checkpoint, e.data);
    const TrainOptions& options = run.options;
    const int64_t batch = e.batch > 0 ? e.batch : options.batch;
    const ModelConfig& config = run.checkpoint.config;
    TrainData data = load_train_data(options, config);
    EvalResult r = evaluate(*run.model, data, e.split, batch, e.batches);

    fmt::print("checkpoint {}: {} {} model, {} parameters, {} task{}\n", run.path, config.model, config.attn,
               run.model->num_parameters(), options.task, run.step >= 0 ? fmt::format(", step {}", run.step) : "");
    std::string line = fmt::format("{}: loss {:.4f} nats", e.split, r.loss);
    if (options.task != TaskKind::vit) line += fmt::format(", {:.4f} bits per {}", r.bits(), options.task == TaskKind::lm ? "byte" : "token");
    line += fmt::format(", accuracy {:.2f}%", 100 * r.accuracy);
    if (options.task == TaskKind::synthetic)
        line += fmt::format(" (Bayes-optimal {:.2f}% expected, {:.2f}% on these batches)",
                            100 * cluster_task_bayes_accuracy(data.cluster, config.context), 100 * r.bayes_accuracy);
    line += fmt::format(", over {} {} in {} batches of up to {}", r.targets, options.task == TaskKind::vit ? "images" : "tokens",
                        r.batches, batch);
    fmt::print("{}\n", line);
}

}  // namespace

void register_eval(CLI::App& app) {
    auto e = std::make_shared<EvalCommand>();
    CLI::App* cmd = app.add_subcommand("eval", "Evaluate a checkpoint: loss in nats, bits per byte (lm) and accuracy");
    cmd->add_option("--checkpoint", e->checkpoint, "a .safetensors checkpoint, or a run directory (its best.safetensors)")
        ->required();
    cmd->add_option("--split", e->split, "val or test (lm: the text's bytes 90-95% or 95-100%)")
        ->capture_default_str()
        ->check(CLI::IsMember({"val", "test"}));
    cmd->add_option("--batches", e->batches, "batches to average over; 0 = the whole split (synthetic: 50)")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(0), int64_t(1) << 30));
    cmd->add_option("--batch", e->batch, "rows per batch; 0 = the run's --batch")
        ->capture_default_str()
        ->check(CLI::Range(int64_t(0), int64_t(1) << 20));
    cmd->add_option("--data", e->data, "data directory (default: the run's, else $PLAT_DATA_DIR, else ./data)");
    cmd->callback([e] { run_eval(*e); });
}

}  // namespace plat
