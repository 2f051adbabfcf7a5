// experiments/training/options.h: the options of a training run and where a run stands, both saved
// as JSON: config.json and every checkpoint's "train" metadata carry them, and they are what lets a
// run resume exactly (notes/08-data-safety.md, "Training runs: atomic checkpoints, resume, Ctrl-C").
#pragma once
#include <cstdint>
#include <limits>
#include <string>

#include "datasets/batch.h"
#include "datasets/fashion_mnist.h"
#include "datasets/synthetic.h"
#include "nn/config.h"

namespace plat {

// What a run trains on. lm and synthetic train the lm model, vit the vit model. Parsed once from
// its name ("lm", "vit", "synthetic") on the command line or in a checkpoint's JSON.
enum class TaskKind { lm, vit, synthetic };
const char* task_kind_name(TaskKind t);
TaskKind parse_task_kind(const std::string& name);  // throws plat::Error naming the choices
// The model a task trains: vit for vit, lm for lm and synthetic.
ModelKind model_for_task(TaskKind t);

// The options of `plat train` (same names and defaults as the command line), saved in
// config.json and in every checkpoint's "train" metadata.
struct TrainOptions {
    TaskKind task = TaskKind::lm;  // lm (KJV bytes) | vit (Fashion-MNIST) | synthetic (cluster task, lm model)
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

}  // namespace plat

template <>
struct fmt::formatter<plat::TaskKind> : fmt::formatter<fmt::string_view> {
    template <typename Context>
    auto format(plat::TaskKind t, Context& ctx) const {
        return fmt::formatter<fmt::string_view>::format(plat::task_kind_name(t), ctx);
    }
};
