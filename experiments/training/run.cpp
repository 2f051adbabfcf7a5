// experiments/training/run.cpp: opening a run again, and where a new one goes
// (experiments/training/run.h).
#include "experiments/training/run.h"

#include <fmt/core.h>

#include "core/error.h"
#include "core/files.h"

namespace plat {

ResumePoint read_resume_point(const std::string& path_or_dir) {
    ResumePoint r;
    r.path = is_directory(path_or_dir) ? path_or_dir + "/last.safetensors" : path_or_dir;
    r.checkpoint = load_checkpoint(r.path);
    auto it = r.checkpoint.extra.find("train");
    if (it == r.checkpoint.extra.end())
        fail("checkpoint '{}' holds no training progress (__metadata__[\"train\"]), so it cannot be resumed; "
             "plat eval and plat sample can still use it",
             r.path);
    try {
        r.progress = TrainProgress::from_json(it->second);
    } catch (const Error& e) {
        fail("checkpoint '{}': {}; the file was not written by plat train, or is damaged", r.path, e.what());
    }
    return r;
}

std::string checkpoint_for_eval(const std::string& path) {
    if (!is_directory(path)) return path;
    const std::string best = path + "/best.safetensors";
    return file_exists(best) ? best : path + "/last.safetensors";
}

OpenedRun open_run(const std::string& path, const std::string& data) {
    OpenedRun r;
    r.path = checkpoint_for_eval(path);
    r.checkpoint = load_checkpoint(r.path);
    r.options.task = r.checkpoint.config.model == ModelKind::vit ? TaskKind::vit : TaskKind::lm;  // without training metadata: lm on the text, vit on the images
    if (r.checkpoint.extra.count("train")) {
        TrainProgress p = TrainProgress::from_json(r.checkpoint.extra.at("train"));
        r.options = p.options;
        r.step = p.step;
    }
    if (!data.empty()) r.options.data = data;
    r.model = make_model(r.checkpoint.config);
    r.model->load_state(r.checkpoint.model);
    return r;
}

std::string default_run_dir(TaskKind task, const ModelConfig& c, const TrainOptions& o) {
    std::string name = fmt::format("{}-{}", task, c.attn);
    if (c.attn == AttnKind::plap) {
        name += "-p";
        for (size_t i = 0; i < c.p.size(); i++) name += fmt::format("{}{}", i ? "_" : "", c.p[i]);
        name += std::string("-") + self_term_name(c.self);
        if (c.learn_p) name += "-learnp";
    }
    name += fmt::format("-d{}-l{}-h{}", c.dim, c.layers, c.heads);
    name += c.model == ModelKind::vit ? fmt::format("-patch{}", c.patch) : fmt::format("-c{}", c.context);
    name += fmt::format("-b{}-s{}", o.batch, c.seed);
    return "runs/" + name;
}

std::string new_run_dir(TaskKind task, const ModelConfig& config, const TrainOptions& options) {
    const std::string run = options.run.empty() ? default_run_dir(task, config, options) : options.run;
    if (file_exists(run + "/last.safetensors"))
        fail("the run directory '{}' already holds a checkpoint; continue it with `plat train {} --resume {}`, or "
             "start another with --run DIR, or delete the directory",
             run, task, run);
    return run;
}

}  // namespace plat
