// experiments/training/run_dir.h: the files of a training run's directory besides the checkpoints:
// config.json, metrics.csv (one row per step, kept consistent across a resume) and the loss plot
// drawn by gnuplot (notes/08-data-safety.md, "Training runs: atomic checkpoints, resume, Ctrl-C").
#pragma once
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "core/files.h"

namespace plat {

// A save killed outright (SIGKILL, a second Ctrl-C, power loss) can leave its temporary
// "<target>.tmp.<pid>.<n>" beside the target (core/files.h). Removes those of the files
// plat writes in a run directory (checkpoints, config.json, metrics.csv, loss.png) and returns
// their names. The targets themselves are always intact.
std::vector<std::string> remove_stale_temporaries(const std::string& dir);

// One row of metrics.csv. Values that were not measured at this step (validation between
// evaluations) are NaN and written as empty fields.
struct MetricsRow {
    static constexpr double none = std::numeric_limits<double>::quiet_NaN();
    int64_t step = 0;           // updates made, 1-based: the loss is that of the step-th batch
    double train_loss = none;   // the batch's loss, before the update
    double lr = none;           // the learning rate of this update
    double grad_norm = none;    // the 2-norm of all gradients, before clipping
    double throughput = none;   // tokens (lm, synthetic) or images (vit) per second, this step
    double val_loss = none;     // mean validation loss in nats (after this step's update)
    double val_bpb = none;      // lm, synthetic: val_loss / ln 2 (bits per byte, or per token)
    double val_acc = none;      // fraction of validation targets predicted by the argmax
    double elapsed = none;      // seconds of training so far, over every session of the run
};

// metrics.csv: the header, then one row per step in step order. Columns are fixed:
//   step,train_loss,lr,grad_norm,throughput,val_loss,val_bpb,val_acc,elapsed
// Opening it for a run that resumes at step S keeps the header and the rows with step <= S
// and drops the later ones (they were written after the checkpoint was saved, and the resumed
// run writes them again); that rewrite is atomic. A new run (S = 0) starts a fresh file.
class MetricsLog {
public:
    MetricsLog(const std::string& path, int64_t keep_through_step);
    void write(const MetricsRow& row);
    void flush();  // before every checkpoint save, so the file always reaches the checkpoint
    static const char* header();

private:
    std::string path_;
    std::ofstream out_;
};

// Draws `png` with gnuplot from the metrics.csv of each run directory: the training loss
// (smoothed, thin) and the validation loss (points) against the step, one colour per run,
// labelled by `labels` (default: the directory names). Never throws: when gnuplot is missing or
// fails it prints one line to `out` saying so (and how to install it) and returns false.
bool plot_loss(const std::string& png, const std::vector<std::string>& run_dirs,
               const std::vector<std::string>& labels, std::FILE* out);

// "1:05", "1:02:03", "-" for a non-finite value: elapsed and remaining times on the progress line.
std::string format_duration(double seconds);

}  // namespace plat
