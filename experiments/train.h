// experiments/train.h: the training loop behind `plat train`, as a class the tests drive too:
// AdamW over the two parameter groups, the warm-up + cosine schedule, gradient clipping, periodic
// validation, a run directory (config.json, metrics.csv, last/best checkpoints, loss.png), exact
// resume from a checkpoint, and a clean stop on Ctrl-C (notes/08-data-safety.md, "Training runs:
// atomic checkpoints, resume, Ctrl-C"; one step is the comment at the top of nn/models.h).
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "datasets/batch.h"
#include "datasets/fashion_mnist.h"
#include "datasets/synthetic.h"
#include "datasets/text.h"
#include "experiments/run_dir.h"
#include "nn/checkpoint.h"
#include "nn/models.h"
#include "nn/optim.h"

namespace plat {

// The options of `plat train` (same names and defaults as the command line), saved in
// config.json and in every checkpoint's "train" metadata.
struct TrainOptions {
    std::string task = "lm";    // lm (KJV bytes) | vit (Fashion-MNIST) | synthetic (cluster task, lm model)
    int64_t steps = 2000;       // optimizer updates in the whole run
    int64_t batch = 16;         // B: sequences or images per step
    double lr = 1e-3;           // peak learning rate, after warm-up
    double min_lr = 1e-4;       // the cosine ends here
    int64_t warmup = 100;       // linear warm-up steps (the schedule uses min(warmup, steps))
    double weight_decay = 0.1;  // AdamW, "decay" group only
    double grad_clip = 1.0;     // max gradient 2-norm; 0 = no clipping (the norm is still measured)
    int64_t eval_every = 200;   // validate (and save last.safetensors) every N steps and at the end; 0 = at the end only
    int64_t eval_batches = 20;  // validation batches of `batch` rows each
    double dropout = 0;         // rate of every Dropout layer while training
    int64_t log_every = 10;     // a progress line every N steps
    bool quiet = false;         // no progress lines; validation results and messages still print
    std::string run;            // the run directory; "" = write nothing (tests)
    std::string data;           // the data directory; "" = data_dir() ($PLAT_DATA_DIR or data)
    ClusterTaskConfig synthetic;  // the cluster task (task synthetic only)

    // Throws plat::Error naming the first option out of range.
    void validate() const;
    std::string to_json() const;
    // The inverse of to_json; throws plat::Error naming a missing or mistyped key.
    static TrainOptions from_json(const std::string& json);
};

// The data of one task, in memory. load_train_data reads the files; the tests build it directly.
struct TrainData {
    std::string task;          // lm | vit | synthetic
    std::string source;        // where it came from, for messages and config.json
    TextSplit text;            // lm: the 90/10 split of the bytes
    FashionMNIST images;       // vit: train / validation / test, normalized
    ClusterTaskConfig cluster;  // synthetic: the task (batches are drawn, nothing is stored)

    // Text bytes split 90/10 (datasets/text.h); each split must hold one window of context + 1
    // bytes, else a plat::Error says how long the text is and what to change.
    static TrainData from_text(const std::vector<uint8_t>& bytes, int64_t context, const std::string& source);
    static TrainData from_images(FashionMNIST images, const std::string& source);
    static TrainData synthetic(const ClusterTaskConfig& cluster);
};

// The task's files under options.data (or data_dir()): lm reads kjv.txt, vit fashion-mnist/.
// A missing file is a plat::Error naming it and `make data` (datasets/files.h).
TrainData load_train_data(const TrainOptions& options, const ModelConfig& config);

// Validation (or test) results. Fields a task does not measure stay NaN.
struct EvalResult {
    double loss = std::numeric_limits<double>::quiet_NaN();      // mean cross-entropy per target, nats
    double accuracy = std::numeric_limits<double>::quiet_NaN();  // argmax == target, over all targets
    double bayes_accuracy = std::numeric_limits<double>::quiet_NaN();  // synthetic: the Bayes predictor on the same batches
    int64_t targets = 0;  // predictions averaged over (tokens or images)
    int64_t batches = 0;
    double bits() const { return loss / 0.6931471805599453; }  // loss / ln 2: bits per byte (lm)
};

// Mean loss and accuracy of `model` over the first `max_batches` batches of `batch` rows of a
// split, in order (0 = the whole split). lm: "val" is the last 10% of the text, windows of
// `context` bytes in order (TextSequentialBatches); there is no "test". vit: "val" is the
// validation images, "test" the official test set. synthetic: fixed batches drawn from fixed
// seeds, one for "val" and one for "test", so every model sees the same ones (and
// max_batches = 0 means 50). Runs in eval mode without recording a graph; restores the mode.
EvalResult evaluate(Model& model, const TrainData& data, const std::string& split, int64_t batch,
                    int64_t max_batches);

// Where a run stands, saved as JSON in each checkpoint's metadata "train": with the model and
// optimizer tensors it is everything the next step depends on.
struct TrainProgress {
    int64_t step = 0;                 // updates made
    SamplerState sampler;             // lm, synthetic: the training sampler
    ImageLoaderState loader;          // vit: the training batch iterator
    uint64_t dropout_generator = 0;   // Model::dropout_generator()'s word
    double best_val_loss = std::numeric_limits<double>::infinity();  // JSON null until measured
    int64_t best_step = 0;            // the step of best.safetensors (0: none yet)
    double elapsed = 0;               // seconds of training, over every session
    TrainOptions options;

    std::string to_json() const;
    static TrainProgress from_json(const std::string& json);  // throws plat::Error naming the key
};

// A checkpoint to resume from: the file's contents and its progress. `path` may be a run
// directory (its last.safetensors is taken). Throws plat::Error when the file has no "train"
// metadata (a checkpoint that can be evaluated but not resumed) or it is damaged.
struct ResumePoint {
    std::string path;  // the checkpoint file
    Checkpoint checkpoint;
    TrainProgress progress;
};
ResumePoint read_resume_point(const std::string& path);

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
    std::vector<Var> params_;
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

// The default run directory: runs/<task>-<attn>[-p<p>-<self>][-learnp]-d<dim>-l<layers>-h<heads>
// -c<context>|-p<patch>-b<batch>-s<seed>, a name made only from the options (no timestamp), so
// the same command names the same directory.
std::string default_run_dir(const std::string& task, const ModelConfig& config, const TrainOptions& options);

}  // namespace plat
