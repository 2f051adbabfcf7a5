// experiments/training/run.h: a training run on disk: where a new run goes, how a checkpoint or run
// directory is opened again (for plat eval, sample and probe, and to resume), and its name
// (notes/08-data-safety.md, "Training runs: atomic checkpoints, resume, Ctrl-C").
#pragma once
#include <memory>
#include <string>

#include "experiments/training/options.h"
#include "nn/checkpoint.h"
#include "nn/models.h"

namespace plat {

// A checkpoint to resume from: the file's contents and its progress. `path` may be a run
// directory (its last.safetensors is taken). Throws plat::Error when the file has no "train"
// metadata (a checkpoint that can be evaluated but not resumed) or it is damaged.
struct ResumePoint {
    std::string path;  // the checkpoint file
    Checkpoint checkpoint;
    TrainProgress progress;
};
ResumePoint read_resume_point(const std::string& path);

// A trained run, opened for use: the checkpoint file that `path` names (a run directory means its
// best.safetensors, or its last.safetensors before the first validation), the model in it, and the
// options it was trained with. A checkpoint without training metadata is taken as an lm trained on
// the text or a vit on Fashion-MNIST, with default options. `data`, when not empty, replaces the
// run's data directory. Throws plat::Error naming the file when it is missing or damaged.
struct OpenedRun {
    std::string path;  // the checkpoint file
    Checkpoint checkpoint;
    TrainOptions options;
    int64_t step = -1;  // updates made; -1 without training metadata
    std::unique_ptr<Model> model;
};
OpenedRun open_run(const std::string& path, const std::string& data = "");

// The checkpoint file a path names for evaluation: a file is itself; a run directory means its
// best.safetensors, or its last.safetensors before the first validation.
std::string checkpoint_for_eval(const std::string& path);

// The default run directory: runs/<task>-<attn>[-p<p>-<self>][-learnp]-d<dim>-l<layers>-h<heads>
// -c<context>|-p<patch>-b<batch>-s<seed>, a name made only from the options (no timestamp), so
// the same command names the same directory.
std::string default_run_dir(TaskKind task, const ModelConfig& config, const TrainOptions& options);

// The run directory of a new run: options.run, else default_run_dir. Throws plat::Error when it
// already holds a checkpoint (naming the --resume command that continues it).
std::string new_run_dir(TaskKind task, const ModelConfig& config, const TrainOptions& options);

}  // namespace plat
