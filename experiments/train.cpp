// experiments/train.cpp: the Trainer of experiments/train.h: options and progress as JSON, the
// three tasks' data, evaluation, the training loop with its run directory, and the stop signal
// (notes/08-data-safety.md, "Training runs: atomic checkpoints, resume, Ctrl-C").
#include "experiments/train.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "autograd/var.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "datasets/files.h"

namespace plat {

using json = nlohmann::ordered_json;

namespace {

// The training data order comes from its own generator, seeded by config.seed XOR this
// constant: the same --seed gives the same run, and the data order is not the initialization's
// stream of numbers.
constexpr uint64_t kDataSeedMix = 0x6a09e667f3bcc909ULL;
// The synthetic task's validation and test batches come from fixed seeds, so that every model
// (whatever its --seed) is measured on the same sequences.
constexpr uint64_t kSyntheticValSeed = 0xbb67ae8584caa73bULL;
constexpr uint64_t kSyntheticTestSeed = 0x3c6ef372fe94f82bULL;
// When a synthetic evaluation is asked for "all" batches (0), this many.
constexpr int64_t kSyntheticAllBatches = 50;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

double now_seconds() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

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

bool is_lm_task(const std::string& task) { return task == "lm" || task == "synthetic"; }

}  // namespace

// ---- options -------------------------------------------------------------------------------------

void TrainOptions::validate() const {
    if (task != "lm" && task != "vit" && task != "synthetic")
        fail("train: task '{}' is not lm, vit or synthetic", task);
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
    if (task == "synthetic") synthetic.validate();
}

std::string TrainOptions::to_json() const {
    json j;
    j["task"] = task;
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
                      {"first_token", synthetic.first_token}};
    return j.dump();
}

TrainOptions TrainOptions::from_json(const std::string& text) {
    const std::string what = "training options";
    json j = parse_json(text, what);
    TrainOptions o;
    o.task = get<std::string>(j, "task", what);
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

// ---- data ----------------------------------------------------------------------------------------

TrainData TrainData::from_text(const std::vector<uint8_t>& bytes, int64_t context, const std::string& source) {
    TrainData d;
    d.task = "lm";
    d.source = source;
    d.text = split_text(bytes);
    // Training draws windows of context + 1 bytes anywhere in its part (they may overlap), and
    // validation cuts its part into such windows: each part needs at least one.
    int64_t need = context + 1;
    if (int64_t(d.text.train.size()) < need || int64_t(d.text.val.size()) < need)
        fail("text '{}' has {} bytes: its training part ({} bytes, the first 90%) and its validation part ({} bytes, "
             "the last 10%) must each hold one window of --context + 1 = {} bytes; use a longer text (at least {} "
             "bytes) or a smaller --context",
             source, bytes.size(), d.text.train.size(), d.text.val.size(), need, 10 * need);
    return d;
}

TrainData TrainData::from_images(FashionMNIST images, const std::string& source) {
    TrainData d;
    d.task = "vit";
    d.source = source;
    d.images = std::move(images);
    return d;
}

TrainData TrainData::synthetic(const ClusterTaskConfig& cluster) {
    cluster.validate();
    TrainData d;
    d.task = "synthetic";
    d.cluster = cluster;
    d.source = fmt::format("synthetic cluster task: {} clusters of {} members, keep {}", cluster.clusters,
                           cluster.members, cluster.keep);
    return d;
}

TrainData load_train_data(const TrainOptions& o, const ModelConfig& config) {
    std::string dir = o.data.empty() ? data_dir() : o.data;
    if (o.task == "lm") {
        std::string path = dir + "/kjv.txt";
        return TrainData::from_text(load_text_bytes(path), config.context, path);
    }
    if (o.task == "vit") {
        std::string path = dir + "/fashion-mnist";
        return TrainData::from_images(load_fashion_mnist(path), path);
    }
    return TrainData::synthetic(o.synthetic);
}

// ---- evaluation ----------------------------------------------------------------------------------

EvalResult evaluate(Model& model, const TrainData& data, const std::string& split, int64_t batch,
                    int64_t max_batches) {
    if (split != "val" && split != "test") fail("evaluate: split '{}' is not val or test", split);
    if (batch < 1 || max_batches < 0) fail("evaluate: batch {} must be >= 1 and batches {} >= 0", batch, max_batches);
    const bool lm = is_lm_task(data.task);
    if (lm != (model.config().model == "lm"))
        fail("evaluate: the {} task needs an {} model, but the model is {}", data.task, lm ? "lm" : "vit",
             model.config().model);
    const bool was_training = model.is_training();
    model.eval();  // no dropout
    NoGradGuard no_grad;
    EvalResult r;
    double loss_sum = 0;
    int64_t correct = 0, bayes_correct = 0;
    auto more = [&] { return max_batches == 0 || r.batches < max_batches; };
    // One batch: the mean loss weighted by its number of targets (the last batch may be short),
    // and the argmax of each row of logits [rows, classes] against its target.
    auto add = [&](const Batch& b) {
        Var logits = model.forward(b);  // lm [B, T, V], vit [B, 10]
        Var loss = model.loss(logits, b);
        const int64_t rows = int64_t(b.targets.size());
        const int64_t classes = logits.shape()[logits.shape().ndim() - 1];
        const real* z = logits.value().data();
        for (int64_t i = 0; i < rows; i++) {
            int64_t best = 0;
            for (int64_t c = 1; c < classes; c++)
                if (z[i * classes + c] > z[i * classes + best]) best = c;
            correct += best == b.targets[i];
        }
        loss_sum += double(loss.item()) * double(rows);
        r.targets += rows;
        r.batches++;
    };
    const int64_t T = model.config().context;
    if (data.task == "lm") {
        if (split == "test")
            fail("evaluate: the text task has no test split (the text is split 90/10 into train and validation); "
                 "use --split val");
        TextSequentialBatches batches(data.text.val, batch, T, "validation");
        LMBatch lb;
        while (more() && batches.next(lb)) add(Batch::lm(lb.B, lb.T, lb.x, lb.y));
    } else if (data.task == "synthetic") {
        Generator gen(split == "val" ? kSyntheticValSeed : kSyntheticTestSeed);
        int64_t n = max_batches == 0 ? kSyntheticAllBatches : max_batches;
        for (int64_t i = 0; i < n; i++) {
            LMBatch lb = cluster_task_batch(data.cluster, batch, T, gen);
            std::vector<int64_t> bayes = cluster_task_bayes_predict(data.cluster, lb);
            for (size_t k = 0; k < bayes.size(); k++) bayes_correct += bayes[k] == lb.y[k];
            add(Batch::lm(lb.B, lb.T, lb.x, lb.y));
        }
    } else {
        const Tensor& images = split == "val" ? data.images.val_images : data.images.test_images;
        const std::vector<int64_t>& labels = split == "val" ? data.images.val_labels : data.images.test_labels;
        int64_t N = int64_t(labels.size());
        for (int64_t start = 0; start < N && more(); start += batch) {
            ImageBatch ib = image_batch(images, labels, start, std::min(batch, N - start));
            add(Batch::vit(ib.images, ib.labels));
        }
    }
    model.train(was_training);
    if (r.targets == 0) fail("evaluate: the {} split of {} is empty", split, data.source);
    r.loss = loss_sum / double(r.targets);
    r.accuracy = double(correct) / double(r.targets);
    if (data.task == "synthetic") r.bayes_accuracy = double(bayes_correct) / double(r.targets);
    return r;
}

// ---- the trainer ---------------------------------------------------------------------------------

Trainer::Trainer(const ModelConfig& config, const TrainOptions& options, TrainData data, const ResumePoint* resume)
    : config_(config), options_(options), data_(std::move(data)), best_val_loss_(kInf), bayes_expected_(kNaN) {
    options_.validate();
    if (data_.task != options_.task)
        fail("Trainer: the data is for the {} task, the options say {}", data_.task, options_.task);
    const std::string needed = options_.task == "vit" ? "vit" : "lm";
    if (config_.model != needed)
        fail("Trainer: the {} task trains an {} model, the configuration says {}", options_.task, needed, config_.model);

    model_ = make_model(config_);
    model_->set_dropout(options_.dropout);
    model_->train();
    optimizer_ = std::make_unique<AdamW>(make_param_groups(*model_, options_.weight_decay), options_.lr);
    schedule_.max_lr = options_.lr;
    schedule_.min_lr = options_.min_lr;
    schedule_.warmup_steps = std::min(options_.warmup, options_.steps);
    schedule_.total_steps = options_.steps;
    params_ = model_->parameters();

    const uint64_t data_seed = config_.seed ^ kDataSeedMix;
    const int64_t B = options_.batch, T = config_.context;
    if (options_.task == "lm")
        text_sampler_ = std::make_unique<TextBatchSampler>(data_.text.train, B, T, data_seed, "train");
    else if (options_.task == "synthetic")
        cluster_sampler_ = std::make_unique<ClusterTaskSampler>(data_.cluster, B, T, data_seed);
    else
        image_loader_ = std::make_unique<ImageBatchIterator>(data_.images.train_images, data_.images.train_labels, B,
                                                             data_seed);

    if (resume) {
        // Everything the next step depends on: parameters, AdamW moments and step count, the
        // data position, the dropout generator; and the run's bookkeeping.
        const Checkpoint& ck = resume->checkpoint;
        const TrainProgress& p = resume->progress;
        if (ck.config.to_json() != config_.to_json())
            fail("Trainer: checkpoint '{}' holds the model {}, not {}", resume->path, ck.config.to_json(),
                 config_.to_json());
        if (ck.optimizer.empty())
            fail("checkpoint '{}' holds no optimizer state, so training cannot continue exactly; start a new run "
                 "from scratch",
                 resume->path);
        model_->load_state(ck.model);
        optimizer_->load_state(ck.optimizer);
        if (optimizer_->steps() != p.step)
            fail("checkpoint '{}': the optimizer made {} steps but the progress says {}; the file is damaged",
                 resume->path, optimizer_->steps(), p.step);
        if (p.step > options_.steps)
            fail("checkpoint '{}' is at step {}, past --steps {}; give a larger --steps to continue", resume->path,
                 p.step, options_.steps);
        step_ = p.step;
        if (text_sampler_) text_sampler_->set_state(p.sampler);
        if (cluster_sampler_) cluster_sampler_->set_state(p.sampler);
        if (image_loader_) image_loader_->set_state(p.loader);
        model_->dropout_generator().set_state(p.dropout_generator);
        best_val_loss_ = p.best_val_loss;
        best_step_ = p.best_step;
        elapsed_before_ = p.elapsed;
        last_saved_ = resume->path;
        last_saved_step_ = step_;
    }
    if (options_.task == "synthetic") bayes_expected_ = cluster_task_bayes_accuracy(data_.cluster, T);

    if (!options_.run.empty()) {
        make_directories(options_.run);
        removed_temporaries_ = remove_stale_temporaries(options_.run);
        json config_json;
        config_json["model"] = json::parse(config_.to_json());
        config_json["train"] = json::parse(options_.to_json());
        config_json["data"] = data_.source;
        config_json["parameters"] = model_->num_parameters();
        config_json["throughput_unit"] = options_.task == "vit" ? "images/s" : "tokens/s";
        write_file_atomic(path_in_run("config.json"), config_json.dump(2) + "\n", "config");
        metrics_ = std::make_unique<MetricsLog>(path_in_run("metrics.csv"), step_);
    }
    session_start_ = now_seconds();
    session_first_step_ = step_;
}

Trainer::~Trainer() = default;

TrainProgress Trainer::progress() const {
    TrainProgress p;
    p.step = step_;
    if (text_sampler_) p.sampler = text_sampler_->state();
    if (cluster_sampler_) p.sampler = cluster_sampler_->state();
    if (image_loader_) p.loader = image_loader_->state();
    p.dropout_generator = model_->dropout_generator().state();
    p.best_val_loss = best_val_loss_;
    p.best_step = best_step_;
    p.elapsed = elapsed_before_ + (now_seconds() - session_start_);
    p.options = options_;
    return p;
}

void Trainer::save(const std::string& path) {
    if (metrics_) metrics_->flush();  // metrics.csv reaches at least the checkpoint's step
    save_checkpoint(path, *model_, optimizer_.get(), {{"train", progress().to_json()}});
}

EvalResult Trainer::evaluate(const std::string& split) {
    return plat::evaluate(*model_, data_, split, options_.batch, options_.eval_batches);
}

Batch Trainer::next_batch() {
    if (image_loader_) {
        ImageBatch ib = image_loader_->next();
        return Batch::vit(ib.images, ib.labels);
    }
    LMBatch lb = text_sampler_ ? text_sampler_->next() : cluster_sampler_->next();
    return Batch::lm(lb.B, lb.T, std::move(lb.x), std::move(lb.y));
}

// One training step: the recipe at the top of nn/models.h.
void Trainer::step_once() {
    double t0 = now_seconds();
    Batch batch = next_batch();
    Var logits = model_->forward(batch);        // lm [B, T, V], vit [B, 10]
    Var loss = model_->loss(logits, batch);      // [1]
    model_->zero_grad();
    loss.backward();
    const double loss_value = loss.item();
    // The norm is measured even without clipping (max_norm = inf leaves the gradients alone).
    const double grad_norm = clip_grad_norm(params_, options_.grad_clip > 0 ? options_.grad_clip : kInf);
    if (!std::isfinite(loss_value) || !std::isfinite(grad_norm)) stop_with_nonfinite(loss_value, grad_norm);
    const double lr = schedule_.lr_at(step_ + 1);  // the update about to be made is number step_ + 1
    optimizer_->lr = lr;
    optimizer_->step();
    model_->after_step();  // clamps a learnable p to [1, 4]
    step_++;
    losses_.push_back(loss.item());

    const double seconds = now_seconds() - t0;
    const double items = double(batch.B) * double(batch.T > 0 ? batch.T : 1);  // tokens or images
    interval_loss_ += loss_value;
    interval_items_ += items;
    interval_seconds_ += seconds;
    interval_steps_++;
    last_lr_ = lr;
    last_grad_norm_ = grad_norm;
    row_ = MetricsRow();
    row_.step = step_;
    row_.train_loss = loss_value;
    row_.lr = lr;
    row_.grad_norm = grad_norm;
    row_.throughput = seconds > 0 ? items / seconds : kNaN;
}

void Trainer::stop_with_nonfinite(double loss, double grad_norm) {
    end_progress_line();
    if (metrics_) metrics_->flush();
    std::string first = "none (every gradient is finite)";
    for (const auto& [name, var] : model_->named_parameters()) {
        const Tensor& g = var.grad();
        int64_t k = 0;
        while (k < g.numel() && std::isfinite(g[k])) k++;
        if (k < g.numel()) {
            first = fmt::format("'{}' (element {} is {})", name, k, g[k]);
            break;
        }
    }
    std::string what = !std::isfinite(loss) ? fmt::format("the loss is {}", loss)
                                             : fmt::format("the gradient norm is {}", grad_norm);
    std::string kept = last_saved_.empty()
                           ? std::string("no checkpoint had been saved yet")
                           : fmt::format("the last good checkpoint '{}' (step {}) is intact; resume from it with "
                                         "--resume and a lower --lr or --grad-clip",
                                         last_saved_, last_saved_step_);
    fail("training stopped at step {}: {}; the first parameter with a non-finite gradient is {}; nothing from this "
         "step was saved, {}",
         step_ + 1, what, first, kept);
}

void Trainer::validate_and_save() {
    EvalResult r = evaluate("val");
    row_.val_loss = r.loss;
    row_.val_acc = r.accuracy;
    if (options_.task != "vit") row_.val_bpb = r.bits();
    const bool improved = r.loss < best_val_loss_;
    if (improved) {
        best_val_loss_ = r.loss;
        best_step_ = step_;
    }
    if (out_) {
        end_progress_line();
        std::string line = fmt::format("step {:>6d} validation: loss {:.4f} nats", step_, r.loss);
        if (options_.task != "vit") line += fmt::format(" = {:.4f} bits per {}", r.bits(), options_.task == "lm" ? "byte" : "token");
        line += fmt::format(", accuracy {:.2f}%", 100 * r.accuracy);
        if (options_.task == "synthetic")
            line += fmt::format(" (Bayes-optimal {:.2f}% expected, {:.2f}% on these batches)", 100 * bayes_expected_,
                                100 * r.bayes_accuracy);
        if (improved) line += " *best*";
        fmt::print(out_, "{}\n", line);
        std::fflush(out_);
    }
    // The row goes to metrics.csv before the checkpoints, which then flush it.
    row_.elapsed = elapsed_before_ + (now_seconds() - session_start_);
    if (metrics_) metrics_->write(row_);
    row_written_ = true;
    if (!options_.run.empty()) {
        if (improved) save(path_in_run("best.safetensors"));
        save(path_in_run("last.safetensors"));
        last_saved_ = path_in_run("last.safetensors");
        last_saved_step_ = step_;
    }
}

void Trainer::end_progress_line() {
    if (line_open_ && out_) fmt::print(out_, "\n");
    line_open_ = false;
}

void Trainer::print_progress() {
    if (!out_ || options_.quiet || interval_steps_ == 0) return;
    const double session = now_seconds() - session_start_;
    const int64_t done = step_ - session_first_step_;
    const double left = done > 0 ? double(options_.steps - step_) * session / double(done) : kNaN;
    const double rate = interval_seconds_ > 0 ? interval_items_ / interval_seconds_ : 0;
    const std::string unit = options_.task == "vit" ? "img/s" : "tok/s";
    std::string rate_text = rate >= 1e4 ? fmt::format("{:.1f}k {}", rate / 1e3, unit) : fmt::format("{:.0f} {}", rate, unit);
    std::string line = fmt::format("step {:>6d}/{}  loss {:.4f}  lr {:.2e}  grad {:.3f}  {}  elapsed {}  left {}",
                                   step_, options_.steps, interval_loss_ / double(interval_steps_), last_lr_,
                                   last_grad_norm_, rate_text, format_duration(elapsed_before_ + session),
                                   format_duration(left));
    // On a terminal the line is rewritten in place; in a file or pipe each interval is a line.
    if (isatty(fileno(out_))) {
        fmt::print(out_, "\r{}\033[K", line);
        line_open_ = true;
    } else {
        fmt::print(out_, "{}\n", line);
    }
    std::fflush(out_);
    interval_loss_ = interval_items_ = interval_seconds_ = 0;
    interval_steps_ = 0;
}

StopReason Trainer::train(int64_t until) {
    const int64_t last = until >= 0 ? std::min(until, options_.steps) : options_.steps;
    if (out_ && step_ == session_first_step_ && step_ < last) {
        fmt::print(out_, "{} {} model, {} parameters, {}; {} {} from step {} to {}, batch {}{}\n", config_.model,
                   config_.attn, model_->num_parameters(), data_.source, step_ == 0 ? "training" : "resuming",
                   options_.task, step_, options_.steps, options_.batch,
                   options_.run.empty() ? "" : "; run directory " + options_.run);
        for (const std::string& name : removed_temporaries_)
            fmt::print(out_, "removed '{}/{}', the temporary file of a save that was killed\n", options_.run, name);
        if (options_.warmup > options_.steps)
            fmt::print(out_, "note: --warmup {} is more than --steps {}; the warm-up takes all {} steps\n",
                       options_.warmup, options_.steps, options_.steps);
        std::fflush(out_);
    }
    if (out_ && until < 0 && step_ >= options_.steps)
        fmt::print(out_, "the run is already at step {} of --steps {}; give a larger --steps to train further\n", step_,
                   options_.steps);
    while (step_ < last) {
        if (int sig = stop_signal()) {
            end_progress_line();
            const char* name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "Ctrl-C (SIGINT)" : "a signal";
            if (options_.run.empty()) {
                if (out_) fmt::print(out_, "stopped by {} at step {} (no run directory: nothing saved)\n", name, step_);
                return StopReason::interrupted;
            }
            if (last_saved_step_ != step_ || last_saved_ != path_in_run("last.safetensors")) {
                save(path_in_run("last.safetensors"));
                last_saved_ = path_in_run("last.safetensors");
                last_saved_step_ = step_;
            }
            plot_loss(path_in_run("loss.png"), {options_.run}, {config_.attn}, nullptr);  // the curve so far
            if (out_) {
                fmt::print(out_, "stopped by {} at step {} of {}: saved {}\n", name, step_, options_.steps, last_saved_);
                fmt::print(out_, "resume with: plat train {} --resume {}\n", options_.task, options_.run);
                std::fflush(out_);
            }
            return StopReason::interrupted;
        }
        step_once();
        row_written_ = false;
        const bool eval_now = (options_.eval_every > 0 && step_ % options_.eval_every == 0) || step_ == options_.steps;
        if (eval_now) validate_and_save();
        if (!row_written_) {
            row_.elapsed = elapsed_before_ + (now_seconds() - session_start_);
            if (metrics_) metrics_->write(row_);
        }
        if (step_ % options_.log_every == 0 || step_ == options_.steps) print_progress();
        if (on_step) on_step(step_);
    }
    if (step_ < options_.steps) return StopReason::paused;
    finish();
    return StopReason::finished;
}

void Trainer::finish() {
    end_progress_line();
    if (metrics_) metrics_->flush();
    const double total = elapsed_before_ + (now_seconds() - session_start_);
    if (out_)
        fmt::print(out_, "done: {} steps in {}; best validation loss {:.4f} at step {}\n", step_,
                   format_duration(total), best_val_loss_, best_step_);
    if (!options_.run.empty()) {
        if (out_)
            fmt::print(out_, "run directory {}: config.json, metrics.csv, last.safetensors, best.safetensors\n",
                       options_.run);
        if (plot_loss(path_in_run("loss.png"), {options_.run}, {config_.attn}, out_) && out_)
            fmt::print(out_, "loss plot: {}\n", path_in_run("loss.png"));
    }
    if (out_) std::fflush(out_);
}

// ---- stopping on a signal ------------------------------------------------------------------------

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
    g_stop_signal = sig;
    // Only async-signal-safe calls here: write(2), no stdio.
    static const char msg[] =
        "\nplat: stop requested: finishing this step, then saving last.safetensors "
        "(a second Ctrl-C quits at once; saved files stay intact)\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)ignored;
}
}  // namespace

struct StopSignalGuard::Saved {
    struct sigaction old_int, old_term;
};

StopSignalGuard::StopSignalGuard() : saved_(std::make_unique<Saved>()) {
    clear_stop();
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    // SA_RESTART: a write or fsync interrupted by the signal carries on. SA_RESETHAND: the
    // handler runs once; the next signal has the default action (the process ends).
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, &saved_->old_int);
    sigaction(SIGTERM, &sa, &saved_->old_term);
}

StopSignalGuard::~StopSignalGuard() {
    sigaction(SIGINT, &saved_->old_int, nullptr);
    sigaction(SIGTERM, &saved_->old_term, nullptr);
    clear_stop();
}

int stop_signal() { return int(g_stop_signal); }
void request_stop(int signal) { g_stop_signal = signal; }
void clear_stop() { g_stop_signal = 0; }

// ---- names ---------------------------------------------------------------------------------------

std::string default_run_dir(const std::string& task, const ModelConfig& c, const TrainOptions& o) {
    std::string name = task + "-" + c.attn;
    if (c.attn == "plap") {
        name += "-p";
        for (size_t i = 0; i < c.p.size(); i++) name += fmt::format("{}{}", i ? "_" : "", c.p[i]);
        name += std::string("-") + self_term_name(c.self);
        if (c.learn_p) name += "-learnp";
    }
    name += fmt::format("-d{}-l{}-h{}", c.dim, c.layers, c.heads);
    name += c.model == "vit" ? fmt::format("-patch{}", c.patch) : fmt::format("-c{}", c.context);
    name += fmt::format("-b{}-s{}", o.batch, c.seed);
    return "runs/" + name;
}

}  // namespace plat
