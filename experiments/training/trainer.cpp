// experiments/training/trainer.cpp: the Trainer of experiments/training/trainer.h: the training
// loop with its run directory, and the stop signal (notes/08-data-safety.md, "Training runs: atomic
// checkpoints, resume, Ctrl-C").
#include "experiments/training/trainer.h"

#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <csignal>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "autograd/profile.h"
#include "autograd/var.h"
#include "core/error.h"
#include "core/files.h"
#include "experiments/training/step.h"

namespace plat {

using json = nlohmann::ordered_json;

namespace {

// The training data order comes from its own generator, seeded by config.seed XOR this
// constant: the same --seed gives the same run, and the data order is not the initialization's
// stream of numbers.
constexpr uint64_t kDataSeedMix = 0x6a09e667f3bcc909ULL;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ---- the trainer ---------------------------------------------------------------------------------

Trainer::Trainer(const ModelConfig& config, const TrainOptions& options, TrainData data, const ResumePoint* resume)
    : config_(config), options_(options), data_(std::move(data)), best_val_loss_(kInf), bayes_expected_(kNaN) {
    options_.validate();
    if (data_.task != options_.task)
        fail("Trainer: the data is for the {} task, the options say {}", data_.task, options_.task);
    const ModelKind needed = model_for_task(options_.task);
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

    const uint64_t data_seed = config_.seed ^ kDataSeedMix;
    const int64_t B = options_.batch, T = config_.context;
    if (options_.task == TaskKind::lm)
        text_sampler_ = std::make_unique<TextBatchSampler>(data_.text.train, B, T, data_seed, "train");
    else if (options_.task == TaskKind::synthetic)
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
    if (options_.task == TaskKind::synthetic) bayes_expected_ = cluster_task_bayes_accuracy(data_.cluster, T);

    if (!options_.run.empty()) {
        make_directories(options_.run);
        removed_temporaries_ = remove_stale_temporaries(options_.run);
        json config_json;
        config_json["model"] = json::parse(config_.to_json());
        config_json["train"] = json::parse(options_.to_json());
        config_json["data"] = data_.source;
        config_json["parameters"] = model_->num_parameters();
        config_json["throughput_unit"] = options_.task == TaskKind::vit ? "images/s" : "tokens/s";
        write_file_atomic(path_in_run("config.json"), config_json.dump(2) + "\n", "config");
        metrics_ = std::make_unique<MetricsLog>(path_in_run("metrics.csv"), step_);
    }
    session_start_ = wall_seconds();
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
    p.elapsed = elapsed_before_ + (wall_seconds() - session_start_);
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
    if (image_loader_) return image_loader_->next();
    return text_sampler_ ? text_sampler_->next() : cluster_sampler_->next();
}

// One update (experiments/training/step.h), and its row of metrics.csv.
void Trainer::step_once() {
    Batch batch = next_batch();
    const double lr = schedule_.lr_at(step_ + 1);  // the update about to be made is number step_ + 1
    const StepResult r = train_step(*model_, *optimizer_, batch, lr, options_.grad_clip);
    const double loss_value = r.loss, grad_norm = r.grad_norm;
    if (!r.updated) stop_with_nonfinite(loss_value, grad_norm);
    step_++;
    losses_.push_back(real(loss_value));

    const double seconds = r.seconds();
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
    if (options_.task != TaskKind::vit) row_.val_bpb = r.bits();
    const bool improved = r.loss < best_val_loss_;
    if (improved) {
        best_val_loss_ = r.loss;
        best_step_ = step_;
    }
    if (out_) {
        end_progress_line();
        std::string line = fmt::format("step {:>6d} validation: loss {:.4f} nats", step_, r.loss);
        if (options_.task != TaskKind::vit) line += fmt::format(" = {:.4f} bits per {}", r.bits(), options_.task == TaskKind::lm ? "byte" : "token");
        line += fmt::format(", accuracy {:.2f}%", 100 * r.accuracy);
        if (options_.task == TaskKind::synthetic)
            line += fmt::format(" (Bayes-optimal {:.2f}% expected, {:.2f}% on these batches)", 100 * bayes_expected_,
                                100 * r.bayes_accuracy);
        if (improved) line += " *best*";
        fmt::print(out_, "{}\n", line);
        std::fflush(out_);
    }
    // The row goes to metrics.csv before the checkpoints, which then flush it.
    row_.elapsed = elapsed_before_ + (wall_seconds() - session_start_);
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
    const double session = wall_seconds() - session_start_;
    const int64_t done = step_ - session_first_step_;
    const double left = done > 0 ? double(options_.steps - step_) * session / double(done) : kNaN;
    const double rate = interval_seconds_ > 0 ? interval_items_ / interval_seconds_ : 0;
    const std::string unit = options_.task == TaskKind::vit ? "img/s" : "tok/s";
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
            plot_loss(path_in_run("loss.png"), {options_.run}, {attn_kind_name(config_.attn)}, nullptr);  // the curve so far
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
            row_.elapsed = elapsed_before_ + (wall_seconds() - session_start_);
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
    const double total = elapsed_before_ + (wall_seconds() - session_start_);
    if (out_)
        fmt::print(out_, "done: {} steps in {}; best validation loss {:.4f} at step {}\n", step_,
                   format_duration(total), best_val_loss_, best_step_);
    if (!options_.run.empty()) {
        if (out_)
            fmt::print(out_, "run directory {}: config.json, metrics.csv, last.safetensors, best.safetensors\n",
                       options_.run);
        if (plot_loss(path_in_run("loss.png"), {options_.run}, {attn_kind_name(config_.attn)}, out_) && out_)
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

}  // namespace plat
