// experiments/cli/train.cpp: `plat train lm|vit|synthetic`. The training loop itself is
// experiments/training/trainer.cpp (Trainer); this file turns the command line into a configuration
// and options, handles --resume, and maps an interrupted run to exit code 128 + signal (130 for
// Ctrl-C).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>

#include <fmt/core.h>

#include "autograd/var.h"
#include "core/error.h"
#include "core/random.h"
#include "datasets/files.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"
#include "experiments/training/trainer.h"
#include "nn/checkpoint.h"

namespace plat {

namespace {

// A training option on the command line, with what --resume needs: whether it was given, how
// to copy it from the command line's options into the saved ones, and how to show it.
struct GivenOption {
    CLI::Option* option;
    std::function<void(TrainOptions& to, const TrainOptions& from)> copy;
    std::function<std::string(const TrainOptions&)> show;
    bool changes_numbers;  // true when a new value makes the losses differ from an uninterrupted run
};

struct TrainCommand {
    TaskKind task = TaskKind::lm;
    ModelOptions model;
    TrainOptions train;
    std::string resume;
    std::vector<GivenOption> options;      // training options that may change on --resume
    std::vector<CLI::Option*> task_options;  // synthetic task options: fixed for a run
    CLI::Option* run = nullptr;
    CLI::Option* data = nullptr;
    CLI::App* cmd = nullptr;
};

template <typename T>
CLI::Option* add_train_option(TrainCommand& c, const std::string& flag, T TrainOptions::*field,
                              const std::string& help, const CLI::Validator& check, bool changes_numbers) {
    CLI::Option* opt =
        c.cmd->add_option(flag, c.train.*field, help)->capture_default_str()->check(check)->group("Training options");
    c.options.push_back({opt, [field](TrainOptions& to, const TrainOptions& from) { to.*field = from.*field; },
                         [field](const TrainOptions& o) { return fmt::format("{}", o.*field); }, changes_numbers});
    return opt;
}

std::string checkpoint_dir(const std::string& checkpoint) {
    std::string dir = std::filesystem::path(checkpoint).parent_path().string();
    return dir.empty() ? "." : dir;
}

// The options and configuration of a run to start or continue, then the run itself. Returns
// the process's exit code: 0 when finished, 128 + signal when stopped by SIGINT or SIGTERM.
int run_train(TrainCommand& c) {
    const ModelKind expected_model = model_for_task(c.task);
    ModelConfig config;
    TrainOptions options;
    std::unique_ptr<ResumePoint> resume;
    if (!c.resume.empty()) {
        if (any_model_option_given(c.model))
            throw CLI::ValidationError("--resume", "the model comes from the checkpoint; drop the model options "
                                                   "(--model, --dim, --attn, ...)");
        for (CLI::Option* opt : c.task_options)
            if (opt->count() > 0)
                throw CLI::ValidationError(opt->get_name(), "the synthetic task is fixed for a run; drop it with --resume");
        resume = std::make_unique<ResumePoint>(read_resume_point(c.resume));
        config = resume->checkpoint.config;
        options = resume->progress.options;
        if (options.task != c.task)
            throw CLI::ValidationError("task", fmt::format("checkpoint '{}' is from a `plat train {}` run; use `plat train {} "
                                                           "--resume {}`",
                                                           resume->path, options.task, options.task, c.resume));
        // Options given now replace the saved ones; the others continue as they were.
        std::vector<std::string> changed;
        bool same_numbers = true;
        for (const GivenOption& g : c.options) {
            if (g.option->count() == 0) continue;
            std::string before = g.show(options);
            g.copy(options, c.train);
            if (g.show(options) != before) {
                changed.push_back(fmt::format("{} {} -> {}", g.option->get_name(), before, g.show(options)));
                same_numbers = same_numbers && !g.changes_numbers;
            }
        }
        // The run directory is where the checkpoint is (it may have been moved), unless --run says.
        options.run = c.run->count() > 0 ? c.train.run : checkpoint_dir(resume->path);
        options.data = c.data->count() > 0 ? c.train.data : options.data;
        std::string changes;
        for (const std::string& change : changed) changes += (changes.empty() ? "" : ", ") + change;
        if (!changed.empty())
            fmt::print("note: resuming with {}{}\n", changes,
                       same_numbers ? "" : " (so the losses will differ from those of an uninterrupted run)");
        if (c.run->count() > 0 && checkpoint_dir(resume->path) != options.run &&
            file_exists(options.run + "/last.safetensors"))
            fail("--run '{}' already holds another run's last.safetensors; choose an empty directory", options.run);
    } else {
        CLI::Option* model_flag = c.cmd->get_option("--model");
        if (model_flag->count() > 0 && c.model.config.model != expected_model)
            throw CLI::ValidationError("--model", fmt::format("`plat train {}` trains the {} model; drop --model {}", c.task,
                                                              expected_model, c.model.config.model));
        c.model.config.model = expected_model;
        config = model_config_from_options(c.model);
        options = c.train;
        options.task = c.task;
        options.run = new_run_dir(c.task, config, options);
    }
    try {
        options.validate();
    } catch (const Error& e) {
        throw CLI::ValidationError("training options", e.what());
    }

    TrainData data = load_train_data(options, config);
    Trainer trainer(config, options, std::move(data), resume.get());
    // From here on Ctrl-C stops cleanly (before, it ends the process: nothing to save yet).
    StopSignalGuard guard;
    StopReason why = trainer.train();
    return why == StopReason::interrupted ? 128 + stop_signal() : 0;
}

}  // namespace

void register_train(CLI::App& app) {
    auto c = std::make_shared<TrainCommand>();
    CLI::App* cmd = app.add_subcommand(
        "train", "Train a model: lm (bytes of the KJV), vit (Fashion-MNIST) or synthetic (the cluster task, lm model). "
                 "Ctrl-C stops after the current step and saves last.safetensors (exit code 130).");
    c->cmd = cmd;
    cmd->add_option_function<std::string>("task", [c](const std::string& v) { c->task = parse_task_kind(v); },
                                          "lm | vit | synthetic")
        ->required()
        ->check(CLI::IsMember({"lm", "vit", "synthetic"}));
    add_model_options(cmd, c->model);
    using CLI::Range;
    // Real-valued options go through finite_number (experiments/cli/options.h): CLI11's
    // PositiveNumber, NonNegativeNumber and Range let "nan" through.
    const double inf = std::numeric_limits<double>::infinity();
    const int64_t many = int64_t(1) << 40;
    add_train_option(*c, "--steps", &TrainOptions::steps, "optimizer steps in the whole run", Range(int64_t(1), int64_t(1) << 40), true);
    add_train_option(*c, "--batch", &TrainOptions::batch, "batch size B (sequences or images per step)", Range(int64_t(1), int64_t(1) << 20), true);
    add_train_option(*c, "--lr", &TrainOptions::lr, "peak learning rate (AdamW, betas 0.9, 0.95)", finite_number(0, inf, true), true);
    add_train_option(*c, "--min-lr", &TrainOptions::min_lr, "learning rate at the end of the cosine", finite_number(0, inf), true);
    add_train_option(*c, "--warmup", &TrainOptions::warmup, "linear warm-up steps", Range(int64_t(0), many), true);
    add_train_option(*c, "--weight-decay", &TrainOptions::weight_decay, "AdamW decoupled weight decay (Linear weights only)", finite_number(0, inf), true);
    add_train_option(*c, "--grad-clip", &TrainOptions::grad_clip, "clip the gradients' total 2-norm to this; 0 = off", finite_number(0, inf), true);
    add_train_option(*c, "--dropout", &TrainOptions::dropout, "dropout rate while training", finite_number(0, 0.99), true);
    add_train_option(*c, "--eval-every", &TrainOptions::eval_every, "validate and save last.safetensors every N steps (and at the end); 0 = at the end only", Range(int64_t(0), many), false);
    add_train_option(*c, "--eval-batches", &TrainOptions::eval_batches, "validation batches (of --batch rows) per validation", Range(int64_t(1), int64_t(1) << 30), false);
    add_train_option(*c, "--log-every", &TrainOptions::log_every, "a progress line every N steps", Range(int64_t(1), int64_t(1) << 40), false);
    c->options.push_back({cmd->add_flag("--quiet", c->train.quiet, "no progress lines (validation results still print); default off")
                              ->capture_default_str()->group("Training options"),
                          [](TrainOptions& to, const TrainOptions& from) { to.quiet = from.quiet; },
                          [](const TrainOptions& o) { return std::string(o.quiet ? "true" : "false"); }, false});
    c->run = cmd->add_option("--run", c->train.run,
                             "run directory for config.json, metrics.csv, checkpoints and loss.png (default: "
                             "runs/<task>-<attn>-<model options>-b<batch>-s<seed>; with --resume: the checkpoint's directory)")
                 ->group("Training options");
    cmd->add_option("--resume", c->resume, "continue from a checkpoint, or a run directory's last.safetensors (default: none)")
        ->group("Training options");
    c->data = cmd->add_option("--data", c->train.data, "data directory (default: $PLAT_DATA_DIR, else ./data)")
                  ->group("Training options");
    auto task_option = [&](CLI::Option* opt) { c->task_options.push_back(opt->capture_default_str()->group("Synthetic task")); };
    task_option(cmd->add_option("--clusters", c->train.synthetic.clusters, "synthetic: clusters K")->check(Range(1, 64)));
    task_option(cmd->add_option("--members", c->train.synthetic.members, "synthetic: tokens per cluster M")->check(Range(2, 64)));
    task_option(cmd->add_option("--keep", c->train.synthetic.keep, "synthetic: probability q that a position shows its cluster's true member")
                    ->check(finite_number(0, 1)));
    task_option(cmd->add_flag("--control", c->train.synthetic.control,
                              "synthetic: the control task, whose answer at cluster c is cluster c + 1's true member "
                              "(notes/06c-what-p-lat-changes.md)"));
    cmd->callback([c] {
        int code = run_train(*c);
        // An interrupted run has saved its checkpoint and printed how to resume; its exit code
        // says it did not finish (130 = 128 + SIGINT), for scripts that call it.
        if (code != 0) throw CommandExit{code};
    });
}

}  // namespace plat
