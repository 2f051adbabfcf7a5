// experiments/training/trainer.h: the training loop behind `plat train`, as a class the tests drive
// too: AdamW over the two parameter groups, the warm-up + cosine schedule, gradient clipping, periodic
// validation, a run directory (config.json, metrics.csv, last/best checkpoints, loss.png), exact
// resume from a checkpoint, and a clean stop on Ctrl-C (notes/08-data-safety.md, "Training runs:
// atomic checkpoints, resume, Ctrl-C"). Each update is train_step (experiments/training/step.h).
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "experiments/training/evaluate.h"
#include "experiments/training/options.h"
#include "experiments/training/run.h"
#include "experiments/training/run_dir.h"
#include "nn/checkpoint.h"
#include "nn/models.h"
#include "nn/optim.h"

namespace plat {

enum class StopReason {
    finished,     // options.steps updates are made
    paused,       // train(until) reached `until` (tests)
    interrupted,  // a stop was requested (Ctrl-C, SIGTERM): last.safetensors is saved
};

// The training loop. Construct it for a new run, or with a ResumePoint to continue one: then
// the model, the AdamW moments, the step, the data order and the dropout masks continue exactly,
// so the losses are bitwise those of a run that was never interrupted.
class Trainer {
public:
    Trainer(const ModelConfig& config, const TrainOptions& options, TrainData data,
            const ResumePoint* resume = nullptr);
    ~Trainer();

    // Makes steps until options.steps (or `until`, when >= 0) or a stop request. Validates every
    // eval_every steps and at the last step, saving last.safetensors (and best.safetensors when
    // the validation loss is the lowest so far) into the run directory. On a non-finite loss or
    // gradient norm it throws plat::Error naming the step and the first parameter whose gradient
    // is not finite, without saving anything from that step.
    StopReason train(int64_t until = -1);

    // Checkpoint of the current state (model, optimizer, progress), written atomically.
    void save(const std::string& path);
    EvalResult evaluate(const std::string& split = "val");  // options.eval_batches batches

    Model& model() { return *model_; }
    const AdamW& optimizer() const { return *optimizer_; }
    const TrainOptions& options() const { return options_; }
    TrainProgress progress() const;  // as save() would write it
    int64_t step() const { return step_; }
    // Each step's training loss, in order, as computed (float), for the steps this object made.
    const std::vector<real>& losses() const { return losses_; }
    std::string last_checkpoint() const { return last_saved_; }  // "" until one is saved
    // Temporaries of killed saves that the constructor found in the run directory and removed.
    const std::vector<std::string>& removed_temporaries() const { return removed_temporaries_; }

    // Where progress and messages go; nullptr = nowhere (tests). Default stdout.
    void set_output(std::FILE* out) { out_ = out; }
    // Called after every step with the step number (tests use it to raise a signal mid-run).
    std::function<void(int64_t step)> on_step;

private:
    Batch next_batch();
    void step_once();  // one update; fills row_
    void validate_and_save();
    void finish();
    void stop_with_nonfinite(double loss, double grad_norm);
    void print_progress();
    void end_progress_line();
    std::string path_in_run(const std::string& name) const { return options_.run + "/" + name; }

    ModelConfig config_;
    TrainOptions options_;
    TrainData data_;
    std::unique_ptr<Model> model_;
    std::unique_ptr<AdamW> optimizer_;
    CosineSchedule schedule_;
    std::unique_ptr<TextBatchSampler> text_sampler_;      // lm
    std::unique_ptr<ClusterTaskSampler> cluster_sampler_;  // synthetic
    std::unique_ptr<ImageBatchIterator> image_loader_;    // vit
    std::unique_ptr<MetricsLog> metrics_;

    int64_t step_ = 0;
    double best_val_loss_;
    int64_t best_step_ = 0;
    double elapsed_before_ = 0;   // seconds of earlier sessions
    double session_start_ = 0;    // monotonic clock at construction
    int64_t session_first_step_ = 0;
    std::vector<real> losses_;
    MetricsRow row_;             // the current step's metrics.csv row
    bool row_written_ = false;
    std::string last_saved_;
    std::vector<std::string> removed_temporaries_;
    int64_t last_saved_step_ = -1;
    double bayes_expected_;       // synthetic: the Bayes-optimal accuracy, NaN otherwise

    // The progress line: sums over the current log interval.
    double interval_loss_ = 0, interval_items_ = 0, interval_seconds_ = 0;
    int64_t interval_steps_ = 0;
    double last_lr_ = 0, last_grad_norm_ = 0;
    std::FILE* out_ = stdout;
    bool line_open_ = false;  // a \r progress line is on the terminal, not yet ended
};

// ---- stopping on a signal ------------------------------------------------------------------

// While a StopSignalGuard lives, SIGINT (Ctrl-C) and SIGTERM set a flag that Trainer::train
// checks before every step: it stops there, saves last.safetensors and returns `interrupted`.
// The handler is installed once per signal (SA_RESETHAND): a second Ctrl-C gets the default
// action and ends the process at once, which cannot damage any file (every save is atomic).
// The destructor restores the previous handlers and clears the flag.
class StopSignalGuard {
public:
    StopSignalGuard();
    ~StopSignalGuard();
    StopSignalGuard(const StopSignalGuard&) = delete;
    StopSignalGuard& operator=(const StopSignalGuard&) = delete;

private:
    struct Saved;
    std::unique_ptr<Saved> saved_;
};

int stop_signal();               // the signal that asked to stop, or 0
void request_stop(int signal);   // what the handler does (tests may call it directly)
void clear_stop();

}  // namespace plat
