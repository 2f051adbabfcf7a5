// experiments/training/run_dir.cpp: config.json and metrics.csv helpers and the gnuplot loss plot
// (experiments/training/run_dir.h; notes/08-data-safety.md, "Training runs: atomic checkpoints, resume, Ctrl-C").
#include "experiments/training/run_dir.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <fmt/core.h>

#include "core/files.h"
#include "core/error.h"

namespace plat {

namespace fs = std::filesystem;

std::vector<std::string> remove_stale_temporaries(const std::string& dir) {
    static const char* const targets[] = {"last.safetensors", "best.safetensors", "config.json", "metrics.csv",
                                          "loss.png"};
    std::vector<std::string> removed;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return removed;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        for (const char* target : targets) {
            std::string prefix = std::string(target) + ".tmp.";
            if (name.rfind(prefix, 0) == 0 && entry.is_regular_file(ec)) {
                fs::remove(entry.path(), ec);
                if (!ec) removed.push_back(name);
            }
        }
    }
    return removed;
}

// ---- metrics.csv -------------------------------------------------------------------------------

const char* MetricsLog::header() { return "step,train_loss,lr,grad_norm,throughput,val_loss,val_bpb,val_acc,elapsed"; }

MetricsLog::MetricsLog(const std::string& path, int64_t keep_through_step) : path_(path) {
    std::string kept = std::string(header()) + "\n";
    std::error_code ec;
    if (keep_through_step > 0 && fs::exists(path, ec)) {
        std::istringstream in(read_text_file(path));
        std::string line;
        std::getline(in, line);
        if (line != header())
            fail("metrics '{}' starts with '{}', not the header '{}'; it was not written by this version of plat "
                 "train: move it away and resume again",
                 path, line.substr(0, 100), header());
        // Keep the complete rows up to the checkpoint's step. A row cut short by a kill has
        // fewer than 9 fields and goes; the resumed run writes its step again.
        int64_t previous = 0;
        while (std::getline(in, line)) {
            int64_t commas = std::count(line.begin(), line.end(), ',');
            char* end = nullptr;
            long long step = std::strtoll(line.c_str(), &end, 10);
            if (commas != 8 || end == line.c_str() || *end != ',' || step <= previous) continue;
            if (step > keep_through_step) break;
            kept += line + "\n";
            previous = step;
        }
    }
    write_file_atomic(path, kept, "metrics");
    out_.open(path, std::ios::app);
    if (!out_) fail("cannot open '{}' for appending; check that the run directory is writable", path);
}

void MetricsLog::write(const MetricsRow& r) {
    auto field = [](double v, const char* format) -> std::string {
        return std::isfinite(v) ? fmt::format(fmt::runtime(format), v) : std::string();
    };
    // 9 significant digits hold a float exactly; lr and throughput need fewer.
    out_ << r.step << ',' << field(r.train_loss, "{:.9g}") << ',' << field(r.lr, "{:.6g}") << ','
         << field(r.grad_norm, "{:.6g}") << ',' << field(r.throughput, "{:.1f}") << ',' << field(r.val_loss, "{:.9g}")
         << ',' << field(r.val_bpb, "{:.6g}") << ',' << field(r.val_acc, "{:.6g}") << ','
         << field(r.elapsed, "{:.3f}") << '\n';
}

void MetricsLog::flush() {
    out_.flush();
    if (!out_) fail("writing '{}' failed; check the disk has space", path_);
}

// ---- the loss plot -----------------------------------------------------------------------------

namespace {

bool program_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':'))
        if (!dir.empty() && access((dir + "/" + name).c_str(), X_OK) == 0) return true;
    return false;
}

// A string for a gnuplot script: double quotes, with backslashes and quotes escaped.
std::string gp_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// A word for /bin/sh: in single quotes, each ' written as '\''.
std::string sh_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

}  // namespace

bool plot_loss(const std::string& png, const std::vector<std::string>& run_dirs,
               const std::vector<std::string>& labels, std::FILE* out) {
    auto say = [&](const std::string& line) {
        if (out) fmt::print(out, "{}\n", line);
    };
    if (!program_on_path("gnuplot")) {
        say(fmt::format("loss plot skipped: gnuplot is not installed (sudo apt-get install gnuplot-nox); the "
                        "numbers are in {}/metrics.csv",
                        run_dirs.empty() ? "." : run_dirs[0]));
        return false;
    }
    // The script: one smoothed training curve (an exponential moving average, so the batch-to-
    // batch noise does not hide the trend) and one validation curve per run, same colour.
    std::string tmp = fmt::format("{}.tmp.{}.plot", png, long(getpid()));
    std::string script;
    script += "set datafile separator comma\n";
    script += "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) { set terminal pngcairo size 900,560 noenhanced } "
              "else { set terminal png size 900,560 noenhanced }\n";
    script += "set output " + gp_quote(tmp) + "\n";
    script += "set xlabel \"step\"\nset ylabel \"loss (nats)\"\nset grid\nset key top right\n";
    script += "ema(x) = (s = (n == 0 ? x : 0.9 * s + 0.1 * x), n = n + 1, s)\n";
    script += "plot ";
    for (size_t i = 0; i < run_dirs.size(); i++) {
        std::string csv = gp_quote(run_dirs[i] + "/metrics.csv");
        std::string label = i < labels.size() ? labels[i] : fs::path(run_dirs[i]).filename().string();
        if (i > 0) script += ", ";
        script += fmt::format("n = 0, {} skip 1 using 1:(ema($2)) with lines lw 1 lc {} title {}, ", csv, i + 1,
                              gp_quote(label + " train (smoothed)"));
        script += fmt::format("{} skip 1 using 1:6 with linespoints pt 7 ps 0.8 lw 2 lc {} title {}", csv, i + 1,
                              gp_quote(label + " validation"));
    }
    script += "\nset output\n";

    // gnuplot's messages go to a log beside the plot, shown only when it fails (its warnings,
    // such as "empty x range" after a single step, are not worth a line).
    std::string log = fmt::format("{}.tmp.{}.log", png, long(getpid()));
    std::FILE* gp = popen(("gnuplot 2>" + sh_quote(log)).c_str(), "w");
    if (!gp) {
        say("loss plot skipped: could not start gnuplot");
        return false;
    }
    std::fwrite(script.data(), 1, script.size(), gp);
    int status = pclose(gp);
    std::error_code ec;
    std::string messages;
    {
        std::ifstream in(log);
        std::getline(in, messages);
    }
    fs::remove(log, ec);
    if (status != 0 || !fs::exists(tmp, ec)) {
        fs::remove(tmp, ec);
        say(fmt::format("loss plot skipped: gnuplot failed (exit status {}: {}); the numbers are in metrics.csv",
                        WIFEXITED(status) ? WEXITSTATUS(status) : status, messages));
        return false;
    }
    fs::rename(tmp, png, ec);
    if (ec) {
        fs::remove(tmp, ec);
        say(fmt::format("loss plot skipped: could not rename the plot to '{}'", png));
        return false;
    }
    return true;
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "-";
    int64_t s = int64_t(std::llround(seconds));
    if (s >= 3600) return fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
    return fmt::format("{}:{:02d}", s / 60, s % 60);
}

}  // namespace plat
