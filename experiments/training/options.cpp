// experiments/training/options.cpp: TrainOptions and TrainProgress to and from JSON
// (experiments/training/options.h).
#include "experiments/training/options.h"

#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace plat {

using json = nlohmann::ordered_json;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Reads key `key` of object `j` as T, or throws plat::Error naming `what` and the key.
template <typename T>
T get(const json& j, const char* key, const std::string& what) {
    if (!j.is_object() || !j.contains(key)) fail("{}: the key \"{}\" is missing", what, key);
    try {
        return j.at(key).get<T>();
    } catch (const json::exception&) {
        fail("{}: the key \"{}\" holds {}, which is not the expected type", what, key, j.at(key).dump());
    }
}

json parse_json(const std::string& text, const std::string& what) {
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        fail("{}: not valid JSON ({})", what, e.what());
    }
}

}  // namespace

const char* task_kind_name(TaskKind t) {
    return t == TaskKind::lm ? "lm" : t == TaskKind::vit ? "vit" : "synthetic";
}

TaskKind parse_task_kind(const std::string& name) {
    if (name == "lm") return TaskKind::lm;
    if (name == "vit") return TaskKind::vit;
    if (name == "synthetic") return TaskKind::synthetic;
    fail("train: task '{}' is not lm, vit or synthetic", printable(name));
}

ModelKind model_for_task(TaskKind t) { return t == TaskKind::vit ? ModelKind::vit : ModelKind::lm; }

// ---- options -------------------------------------------------------------------------------------

void TrainOptions::validate() const {
    if (steps < 1) fail("train: --steps {} must be >= 1", steps);
    if (batch < 1) fail("train: --batch {} must be >= 1", batch);
    if (!(lr > 0 && std::isfinite(lr))) fail("train: --lr {} must be > 0", lr);
    if (!(min_lr >= 0 && min_lr <= lr)) fail("train: --min-lr {} must be in [0, --lr = {}]", min_lr, lr);
    if (warmup < 0) fail("train: --warmup {} must be >= 0", warmup);
    if (!(weight_decay >= 0)) fail("train: --weight-decay {} must be >= 0", weight_decay);
    if (!(grad_clip >= 0)) fail("train: --grad-clip {} must be >= 0 (0 = no clipping)", grad_clip);
    if (eval_every < 0) fail("train: --eval-every {} must be >= 0 (0 = only at the end)", eval_every);
    if (eval_batches < 1) fail("train: --eval-batches {} must be >= 1", eval_batches);
    if (!(dropout >= 0 && dropout < 1)) fail("train: --dropout {} must be in [0, 1)", dropout);
    if (log_every < 1) fail("train: --log-every {} must be >= 1", log_every);
    if (task == TaskKind::synthetic) synthetic.validate();
}

std::string TrainOptions::to_json() const {
    json j;
    j["task"] = task_kind_name(task);
    j["steps"] = steps;
    j["batch"] = batch;
    j["lr"] = lr;  // nlohmann writes the shortest text that reads back to the same double
    j["min_lr"] = min_lr;
    j["warmup"] = warmup;
    j["weight_decay"] = weight_decay;
    j["grad_clip"] = grad_clip;
    j["eval_every"] = eval_every;
    j["eval_batches"] = eval_batches;
    j["dropout"] = dropout;
    j["log_every"] = log_every;
    j["quiet"] = quiet;
    j["run"] = run;
    j["data"] = data;
    j["synthetic"] = {{"clusters", synthetic.clusters},
                      {"members", synthetic.members},
                      {"keep", synthetic.keep},
                      {"first_token", synthetic.first_token},
                      {"control", synthetic.control}};
    return j.dump();
}

TrainOptions TrainOptions::from_json(const std::string& text) {
    const std::string what = "training options";
    json j = parse_json(text, what);
    TrainOptions o;
    o.task = parse_task_kind(get<std::string>(j, "task", what));
    o.steps = get<int64_t>(j, "steps", what);
    o.batch = get<int64_t>(j, "batch", what);
    o.lr = get<double>(j, "lr", what);
    o.min_lr = get<double>(j, "min_lr", what);
    o.warmup = get<int64_t>(j, "warmup", what);
    o.weight_decay = get<double>(j, "weight_decay", what);
    o.grad_clip = get<double>(j, "grad_clip", what);
    o.eval_every = get<int64_t>(j, "eval_every", what);
    o.eval_batches = get<int64_t>(j, "eval_batches", what);
    o.dropout = get<double>(j, "dropout", what);
    o.log_every = get<int64_t>(j, "log_every", what);
    o.quiet = get<bool>(j, "quiet", what);
    o.run = get<std::string>(j, "run", what);
    o.data = get<std::string>(j, "data", what);
    json s = get<json>(j, "synthetic", what);
    o.synthetic.clusters = get<int>(s, "clusters", what + ", synthetic");
    o.synthetic.members = get<int>(s, "members", what + ", synthetic");
    o.synthetic.keep = get<double>(s, "keep", what + ", synthetic");
    o.synthetic.first_token = get<int>(s, "first_token", what + ", synthetic");
    o.synthetic.control = s.value("control", false);  // absent from checkpoints made before the control task
    o.validate();
    return o;
}

// ---- progress ------------------------------------------------------------------------------------

std::string TrainProgress::to_json() const {
    json j;
    j["step"] = step;
    // Generator words are unsigned 64-bit integers: nlohmann writes and reads them exactly.
    j["sampler"] = {{"generator_state", sampler.generator_state}, {"step", sampler.step}};
    j["loader"] = {{"epoch", loader.epoch}, {"position", loader.position}, {"generator_state", loader.generator_state}};
    j["dropout_generator"] = dropout_generator;
    j["best_val_loss"] = std::isfinite(best_val_loss) ? json(best_val_loss) : json(nullptr);
    j["best_step"] = best_step;
    j["elapsed"] = elapsed;
    j["options"] = json::parse(options.to_json());
    return j.dump();
}

TrainProgress TrainProgress::from_json(const std::string& text) {
    const std::string what = "training progress";
    json j = parse_json(text, what);
    TrainProgress p;
    p.step = get<int64_t>(j, "step", what);
    json s = get<json>(j, "sampler", what);
    p.sampler.generator_state = get<uint64_t>(s, "generator_state", what + ", sampler");
    p.sampler.step = get<int64_t>(s, "step", what + ", sampler");
    json l = get<json>(j, "loader", what);
    p.loader.epoch = get<int64_t>(l, "epoch", what + ", loader");
    p.loader.position = get<int64_t>(l, "position", what + ", loader");
    p.loader.generator_state = get<uint64_t>(l, "generator_state", what + ", loader");
    p.dropout_generator = get<uint64_t>(j, "dropout_generator", what);
    json best = get<json>(j, "best_val_loss", what);
    p.best_val_loss = best.is_null() ? kInf : get<double>(j, "best_val_loss", what);
    p.best_step = get<int64_t>(j, "best_step", what);
    p.elapsed = get<double>(j, "elapsed", what);
    p.options = TrainOptions::from_json(get<json>(j, "options", what).dump());
    if (p.step < 0 || p.sampler.step < 0) fail("{}: negative step {}", what, p.step);
    return p;
}

}  // namespace plat
