// experiments/bench/bench.cpp: `plat bench`, the performance measurement (notes/07-performance.md). It
// times full training steps (forward, loss, zero_grad, backward, clip, AdamW) of fixed model sizes
// (three, and the context sweep) with softmax and p-Laplacian attention on synthetic inputs, counts
// the model's matmul FLOPs analytically, measures this machine's sgemm rate as the ceiling, and
// breaks a step down by operation; `--ops` times single operations in isolation beside direct references.
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/core.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/kernels.h"
#include "core/random.h"
#include "core/threads.h"
#include "autograd/profile.h"
#include "experiments/bench/bench.h"
#include "experiments/training/step.h"
#include "nn/attention.h"
#include "nn/models.h"
#include "nn/optim.h"

namespace plat {

// ---- the fixed configurations (notes/07, "What is timed" and "Scaling with the context") ----------

const std::vector<std::string> kCaseNames = {"lm-s", "lm-m", "vit-s"};
const std::vector<std::string> kSweepNames = {"lm-T128", "lm-T256", "lm-T512", "lm-T1024", "lm-T2048"};

BenchCase make_case(const std::string& name, const std::string& attn) {
    BenchCase c;
    c.name = name;
    ModelConfig& m = c.config;
    m.attn = parse_attn_kind(attn);
    m.p = {m.attn == AttnKind::plap ? 1.5 : 2.0};
    m.self = SelfTerm::unit;
    m.seed = 1;
    if (name == "lm-s") {
        m.model = ModelKind::lm, m.dim = 128, m.layers = 4, m.heads = 4, m.context = 128;
        c.batch = 32;
    } else if (name == "lm-m") {
        m.model = ModelKind::lm, m.dim = 256, m.layers = 6, m.heads = 8, m.context = 256;
        c.batch = 16;
    } else if (name == "vit-s") {
        m.model = ModelKind::vit, m.dim = 128, m.layers = 4, m.heads = 4, m.patch = 4;
        c.batch = 128;
    } else if (std::find(kSweepNames.begin(), kSweepNames.end(), name) != kSweepNames.end()) {
        m.model = ModelKind::lm, m.dim = 128, m.layers = 4, m.heads = 4, m.context = std::stoll(name.substr(4));
        if (kSweepTokens % m.context != 0)
            fail("bench: {}: T = {} does not divide the {} tokens of a sweep step", name, m.context, kSweepTokens);
        c.batch = kSweepTokens / m.context;
    } else {
        fail("bench: unknown configuration '{}'; expected one of {}", name, fmt::join(bench_config_choices(), ", "));
    }
    m.validate();
    return c;
}

std::vector<std::string> bench_config_choices() {
    std::vector<std::string> all = kCaseNames;
    all.insert(all.end(), kSweepNames.begin(), kSweepNames.end());
    all.insert(all.end(), {"all", "sweep"});
    return all;
}

std::vector<std::string> bench_config_names(const std::string& config) {
    if (config == "all") return kCaseNames;
    if (config == "sweep") return kSweepNames;
    make_case(config, "softmax");  // fails, listing the valid names, when it names no case
    return {config};
}

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Tokens per sequence as the blocks see them: lm T = context; vit T = N + 1 (the class token).
int64_t tokens_per_item(const ModelConfig& m) {
    if (m.model == ModelKind::lm) return m.context;
    int64_t G = 28 / m.patch;
    return G * G + 1;
}

// ---- FLOPs, counted analytically (notes/07, "Counting FLOPs") -------------------------------------
// Only matrix products are counted: a product [M, K] x [K, N] costs 2 M N K forward, and its
// backward costs 2 M N K for each operand that needs a gradient (dA = dC B^T, dB = A^T dC).
// Per block, with R = B T rows: qkv 2 R C 3C, proj 2 R C C, fc 2 R C 4C, fc_out 2 R 4C C, in all
// 24 R C^2; attention's s = q k^T and out = A v over the full T x T square (both implementations
// compute the whole square even when causal), 2 * 2 B H T T D = 4 B T^2 C, and its backward needs
// four such products (dA, dv, dq, dk), twice the forward. lm head (tied to wte): 2 R C V.
// vit: patch embedding 2 B N P^2 C with no gradient for the pixels (backward 1x), head 2 B C 10.
// Layer norm, softmax, GELU, the p-Laplacian distances and the optimizer are not counted.
struct Flops {
    double forward = 0, backward = 0;
    double step() const { return forward + backward; }
};

Flops model_flops(const ModelConfig& m, int64_t B) {
    const double C = m.dim, L = m.layers, T = double(tokens_per_item(m)), R = double(B) * T;
    Flops f;
    const double block = 24 * R * C * C + 4 * double(B) * T * T * C;
    f.forward = L * block;
    f.backward = 2 * L * block;
    if (m.model == ModelKind::lm) {
        const double head = 2 * R * C * m.vocab();
        f.forward += head;
        f.backward += 2 * head;
    } else {
        const double P2 = double(m.patch) * m.patch, N = T - 1;
        const double patch = 2 * double(B) * N * P2 * C, head = 2 * double(B) * C * m.classes();
        f.forward += patch + head;
        f.backward += patch + 2 * head;
    }
    return f;
}

// ---- the sgemm ceiling -------------------------------------------------------------------------------
// The rate of one large square sgemm, C = A B with n = 2048 by default, through the same gemm()
// and the same threads as the model: the best a matmul-bound step could approach on this machine.
// The median of `reps` calls after one warm-up call.
double measure_sgemm_gflops(int64_t n, int reps) {
    Generator gen(7);
    Tensor a = Tensor::randn({n, n}, gen), b = Tensor::randn({n, n}, gen), c({n, n});
    gemm(false, false, n, n, n, 1, a.data(), b.data(), 0, c.data());  // warm-up: OpenBLAS buffers, caches
    std::vector<double> t;
    for (int r = 0; r < reps; r++) {
        auto t0 = Clock::now();
        gemm(false, false, n, n, n, 1, a.data(), b.data(), 0, c.data());
        t.push_back(seconds_since(t0));
    }
    std::sort(t.begin(), t.end());
    return 2.0 * double(n) * n * n / t[t.size() / 2] / 1e9;
}

// ---- memory ----------------------------------------------------------------------------------------
// Peak resident set of this process so far (getrusage's ru_maxrss, in KiB on Linux), and the
// current resident set (/proc/self/statm, in pages).
double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

double current_rss_mb() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

long minor_faults() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

// The 1-minute load average: how busy the machine was with other work while we measured.
double load_average() {
    double l = -1;
    if (FILE* f = std::fopen("/proc/loadavg", "r")) {
        if (std::fscanf(f, "%lf", &l) != 1) l = -1;
        std::fclose(f);
    }
    return l;
}

// ---- synthetic inputs ------------------------------------------------------------------------------
// lm: B x T random bytes and random targets; vit: standard-normal pixels and random labels. The values
// do not change the work done (no data-dependent branches in the step), so one fixed batch is reused.
Batch synthetic_batch(const BenchCase& c) {
    Generator gen(11);
    const ModelConfig& m = c.config;
    if (m.model == ModelKind::lm) {
        const int64_t n = c.batch * m.context;
        std::vector<int64_t> x(n), y(n);
        for (int64_t i = 0; i < n; i++) x[i] = gen.randint(m.vocab()), y[i] = gen.randint(m.vocab());
        return Batch::lm(c.batch, m.context, std::move(x), std::move(y));
    }
    std::vector<int64_t> labels(c.batch);
    for (auto& l : labels) l = gen.randint(m.classes());
    return Batch::vit(Tensor::randn({c.batch, 1, 28, 28}, gen), std::move(labels));
}

// ---- one case ----------------------------------------------------------------------------------------


// A model and its optimizer, as the training loop builds them (experiments/training/trainer.cpp).
struct Setup {
    std::unique_ptr<Model> model;
    std::unique_ptr<AdamW> opt;
    explicit Setup(const ModelConfig& m) : model(make_model(m)) {
        opt = std::make_unique<AdamW>(make_param_groups(*model, 0.1), 1e-3);
    }
    // One training step, exactly as the Trainer makes it (experiments/training/step.h).
    StepResult step(const Batch& batch) { return train_step(*model, *opt, batch, 1e-3, 1.0); }
};

json run_case(const BenchCase& c, const BenchOptions& o) {
    const double base_rss = current_rss_mb();
    Setup tr(c.config);
    if (tr.model->num_parameters() <= 0) fail("bench: the model has no parameters");
    const Batch batch = synthetic_batch(c);

    for (int i = 0; i < o.warmup; i++) tr.step(batch);
    std::vector<double> times;
    const long faults0 = minor_faults();
    const double cpu0 = cpu_seconds(), load0 = load_average();
    for (int i = 0; i < o.steps; i++) times.push_back(tr.step(batch).seconds());
    const double faults_per_step = double(minor_faults() - faults0) / o.steps;
    double wall = 0;
    for (double t : times) wall += t;
    const double cpu_steps = cpu_seconds() - cpu0;
    const double cpu_util = cpu_steps / (wall * get_num_threads());
    const double load = std::max(load0, load_average());
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;

    // The per-operation breakdown: the same steps with the engine's own timing switched on
    // (autograd/profile.h), and train_step's clock for the phases around the operations.
    double profiled_total = 0, update_s = 0, backward_s = 0, backward_total_s = 0;
    std::vector<OpTiming> ops;
    if (o.profile_steps > 0) {
        OpProfile prof;
        for (int i = 0; i < o.profile_steps; i++) {
            prof.mark();
            const StepResult r = tr.step(batch);
            profiled_total += r.seconds();
            update_s += r.update_s;
            backward_s += r.backward_s;
        }
        ops = prof.ops();
        backward_total_s = prof.backward_total_s();
    }
    const double peak = peak_rss_mb();  // before the sgemm below allocates its matrices

    const Flops flops = model_flops(c.config, c.batch);
    // The FLOPs the engine counted operation by operation must agree with the formula: every matrix
    // product of the step was seen, and the formula counts nothing that is not there.
    if (o.profile_steps > 0) {
        double counted = 0;
        for (const OpTiming& t : ops) counted += t.forward_flops + t.backward_flops;
        counted /= o.profile_steps;
        if (std::abs(counted - flops.step()) > 1e-9 * flops.step())
            fail("bench: the FLOPs counted per operation ({}) differ from model_flops ({}); fix one of them", counted,
                 flops.step());
    }
    const double sgemm = o.sgemm_gflops > 0 ? o.sgemm_gflops : measure_sgemm_gflops(o.sgemm_size, 5);
    const double gflops = flops.step() / median / 1e9;
    const int64_t items = c.config.model == ModelKind::lm ? c.batch * c.config.context : c.batch;

    json j;
    j["framework"] = "plat";
    j["config"] = c.name;
    j["attn"] = attn_kind_name(c.config.attn);
    j["threads"] = get_num_threads();
    j["batch"] = c.batch;
    j["T"] = tokens_per_item(c.config);
    j["steps"] = o.steps;
    j["step_s"] = median;
    j["step_min_s"] = sorted.front();
    j["step_max_s"] = sorted.back();
    j["throughput"] = double(items) / median;
    j["throughput_unit"] = c.config.model == ModelKind::lm ? "tokens/s" : "images/s";
    j["peak_rss_mb"] = peak;
    j["base_rss_mb"] = base_rss;
    j["gflop_per_step"] = flops.step() / 1e9;
    j["gflops"] = gflops;
    j["sgemm_gflops"] = sgemm;
    j["fraction"] = gflops / sgemm;
    j["minor_faults_per_step"] = faults_per_step;
    j["cpu_util"] = cpu_util;
    j["cpu_s_per_step"] = cpu_steps / o.steps;
    j["load_avg"] = load;
    j["params"] = tr.model->num_parameters();
    if (o.profile_steps > 0) {
        const double n = o.profile_steps;
        json bd = json::array();
        for (const OpTiming& t : ops) {
            json e;
            e["op"] = t.op;
            e["calls"] = int64_t(std::llround(double(t.calls) / n));
            e["fwd_ms"] = 1e3 * t.forward_s / n;
            e["bwd_ms"] = 1e3 * t.backward_s / n;
            e["cpu_ms"] = 1e3 * t.cpu_s / n;
            if (t.forward_flops > 0 && t.forward_s > 0) e["fwd_gflops"] = t.forward_flops / t.forward_s / 1e9;
            if (t.backward_flops > 0 && t.backward_s > 0) e["bwd_gflops"] = t.backward_flops / t.backward_s / 1e9;
            bd.push_back(e);
        }
        auto phase = [&](const char* label, double fwd_s) {
            json e;
            e["op"] = label;
            e["calls"] = 1;
            e["fwd_ms"] = 1e3 * fwd_s / n;
            e["bwd_ms"] = 0.0;
            e["cpu_ms"] = 0.0;
            bd.push_back(e);
        };
        phase("(backward total)", backward_total_s);
        phase("zero_grad and graph release", backward_s - backward_total_s);
        phase("clip_grad_norm and AdamW step", update_s);
        j["profile_steps"] = o.profile_steps;
        j["profiled_step_s"] = profiled_total / n;
        j["breakdown"] = bd;
    }
    return j;
}

// ---- output ----------------------------------------------------------------------------------------------

void print_breakdown(const json& j) {
    if (!j.contains("breakdown")) return;
    const double step_ms = 1e3 * j["profiled_step_s"].get<double>();
    fmt::print("  where the time goes (mean of {} profiled steps; one took {:.1f} ms wall; cpu = process CPU time, "
               "all threads):\n",
               j["profile_steps"].get<int>(), step_ms);
    fmt::print("    {:<56} {:>5} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9}\n", "operation", "calls", "fwd ms", "bwd ms",
               "total ms", "%step", "cpu ms", "fwd GF/s", "bwd GF/s");
    double nodes_ms = 0, total_ms = 0;
    for (const json& e : j["breakdown"]) {
        const std::string op = e["op"];
        const double f = e["fwd_ms"], b = e["bwd_ms"], c = e["cpu_ms"];
        if (op == "(backward total)") {  // printed below as what the nodes' own times leave over
            total_ms = f;
            continue;
        }
        nodes_ms += b;
        auto rate = [&](const char* key) {
            return e.contains(key) ? fmt::format("{:9.1f}", e[key].get<double>()) : std::string(9, ' ');
        };
        fmt::print("    {:<56} {:>5} {:9.2f} {:9.2f} {:9.2f} {:5.1f}% {:9.2f} {} {}\n", op, e["calls"].get<int>(), f, b,
                   f + b, 100 * (f + b) / step_ms, c, rate("fwd_gflops"), rate("bwd_gflops"));
    }
    // The engine's own work: the topological sort, clearing old gradients, the seed.
    const double engine = total_ms - nodes_ms;
    fmt::print("    {:<56} {:>5} {:9.2f} {:9.2f} {:9.2f} {:5.1f}%\n", "backward engine (sort, seed, bookkeeping)", "",
               0.0, engine, engine, 100 * engine / step_ms);
}

void print_text(const json& j) {
    const std::string name = j["config"];
    const bool sweep = std::find(kSweepNames.begin(), kSweepNames.end(), name) != kSweepNames.end();
    fmt::print("{} {} ({} threads, {}B = {}, {} params): step {:.1f} ms (median of {}; min {:.1f}, max {:.1f}), "
               "{:.0f} {}\n",
               name, j["attn"].get<std::string>(), j["threads"].get<int>(),
               sweep ? fmt::format("T = {}, ", j["T"].get<int64_t>()) : "", j["batch"].get<int64_t>(),
               j["params"].get<int64_t>(), 1e3 * j["step_s"].get<double>(),
               j["steps"].get<int>(), 1e3 * j["step_min_s"].get<double>(), 1e3 * j["step_max_s"].get<double>(),
               j["throughput"].get<double>(), j["throughput_unit"].get<std::string>());
    fmt::print("  {:.2f} GFLOP/step (matmuls), {:.1f} GFLOP/s = {:.0f}% of sgemm {:.1f} GFLOP/s; peak RSS {:.0f} MB "
               "(process start {:.0f} MB); {:.0f} minor page faults per step\n"
               "  CPU use {:.0f}% of {} threads x wall time; load average {:.2f} (other programs share the cores when "
               "it exceeds the thread count)\n",
               j["gflop_per_step"].get<double>(), j["gflops"].get<double>(), 100 * j["fraction"].get<double>(),
               j["sgemm_gflops"].get<double>(), j["peak_rss_mb"].get<double>(), j["base_rss_mb"].get<double>(),
               j["minor_faults_per_step"].get<double>(), 100 * j["cpu_util"].get<double>(), j["threads"].get<int>(),
               j["load_avg"].get<double>());
    print_breakdown(j);
}

// The sweep's summary (--config sweep --attn both, text): per T, each attention's step and peak memory.
void print_sweep_summary(const std::vector<json>& rows) {
    fmt::print("\nsweep, B T = {} tokens per step: median step ms, peak RSS MB\n{:>5} {:>3} | {:>10} {:>8} {:>6} | "
               "{:>10} {:>8}\n", kSweepTokens, "T", "B", "softmax ms", "plap ms", "ratio", "softmax MB", "plap MB");
    for (size_t i = 0; i + 1 < rows.size(); i += 2) {
        const json &s = rows[i], &p = rows[i + 1];
        fmt::print("{:>5} {:>3} | {:10.1f} {:8.1f} {:6.2f} | {:10.0f} {:8.0f}\n", s["T"].get<int64_t>(),
                   s["batch"].get<int64_t>(), 1e3 * s["step_s"].get<double>(), 1e3 * p["step_s"].get<double>(),
                   p["step_s"].get<double>() / s["step_s"].get<double>(), s["peak_rss_mb"].get<double>(),
                   p["peak_rss_mb"].get<double>());
    }
}

// Runs this same program on one case in a fresh process, so that its peak RSS is that case's alone,
// and returns the JSON line it prints.
json run_case_in_child(const std::string& name, const std::string& attn, const BenchOptions& o) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) fail("bench: cannot find this program's path (/proc/self/exe) to run a case in a fresh process");
    self[n] = '\0';
    const std::string cmd = fmt::format("'{}' bench --json --config {} --attn {} --steps {} --warmup {} "
                                        "--profile-steps {} --sgemm-gflops {}",
                                        self, name, attn, o.steps, o.warmup, o.profile_steps, o.sgemm_gflops);
    FILE* pipe = popen(cmd.c_str(), "r");
    if (!pipe) fail("bench: could not start '{}'", cmd);
    std::string out;
    char buf[4096];
    while (size_t k = std::fread(buf, 1, sizeof(buf), pipe)) out.append(buf, k);
    const int status = pclose(pipe);
    if (status != 0) fail("bench: the case {} {} failed in its own process (status {}); run it alone: {}", name, attn, status, cmd);
    return json::parse(out);
}

// ---- single operations in isolation (--ops; notes/07, "The profile") ---------------------------------
// The breakdown above says where a step's time goes; this says what one operation costs at the case's
// sizes with nothing else around it, next to what the same work costs done more directly (a plain
// loop, one gemm with beta = 1): the gap is what a rewrite could gain. Each line is the median
// process CPU time of 7 calls after one warm-up call, on the PLAT_THREADS threads. The "direct"
// references are measuring sticks, not tested kernels.

// tanh by a rational function, Eigen's ptanh_float (clamped to |x| <= 7.905, where it reaches +-1 in
// float): max error 2.4e-7 against the double tanh on this machine. Only a measuring stick for the
// GELU line of --ops (what a vectorizable tanh would cost), not used by the library.
inline float tanh_rational(float x) {
    x = std::min(7.90531110763549805f, std::max(-7.90531110763549805f, x));
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return x * p / q;
}

double median_cpu_ms(const std::function<void()>& f, double (*clock)() = cpu_seconds) {
    f();
    std::vector<double> t;
    for (int r = 0; r < 7; r++) {
        const double c0 = clock();
        f();
        t.push_back(clock() - c0);
    }
    std::sort(t.begin(), t.end());
    return 1e3 * t[3];
}

// The same on one thread, BLAS included: how a single (b, h) pair's products run inside the attention,
// whose threads each take whole pairs (called from outside a parallel region, OpenBLAS would split a
// product between the threads, and on small ones spend more CPU waiting than computing). Timed by
// the calling thread's own CPU clock, so that idle OpenMP workers spinning under
// OMP_WAIT_POLICY=ACTIVE are not counted; the thread count is restored even if f throws.
double one_thread_cpu_ms(const std::function<void()>& f) {
    struct RestoreThreads {
        int n = get_num_threads();
        ~RestoreThreads() { set_num_threads(n); }
    } restore;
    set_num_threads(1);
    return median_cpu_ms(f, thread_cpu_seconds);
}

void run_ops(const BenchCase& c) {
    const ModelConfig& m = c.config;
    const int64_t B = c.batch, T = tokens_per_item(m), C = m.dim, H = m.heads, R = B * T, C3 = 3 * C;
    const Tensor p_vec = Tensor::full({H}, real(1.5));
    Generator gen(5);
    Tensor x = Tensor::randn({B, T, C}, gen), W = Tensor::randn({C3, C}, gen, 0, real(0.02)),
           bias = Tensor::randn({C3}, gen), y = matmul(x, W, false, true);  // y [B, T, 3C]
    Tensor h4 = Tensor::randn({B, T, 4 * C}, gen), qkv = Tensor::randn({B, T, C3}, gen), dout = Tensor::randn({B, T, C}, gen);
    Tensor out_bt3c({B, T, C3}), out_bt4c({B, T, 4 * C}), gx({B, T, C}), gw({C3, C});  // outputs of the direct references
    std::vector<real> colsum(C3);
    fmt::print("{} ({} threads): B = {}, T = {}, C = {}, H = {}; median CPU ms of 7 calls\n", c.name, get_num_threads(), B,
               T, C, H);
    auto line = [](const std::string& what, double ms) { fmt::print("  {:<80} {:9.3f}\n", what, ms); };
    line("Tensor({B,T,3C}): allocate and zero-fill", median_cpu_ms([&] { Tensor t({B, T, C3}); }));
    line("Tensor({B,H,T,T}): allocate and zero-fill", median_cpu_ms([&] { Tensor t({B, H, T, T}); }));
    line("bias add, add([B,T,3C], [3C]) (core binary, general broadcast path)", median_cpu_ms([&] { Tensor o = add(y, bias); }));
    line("  direct: out[r, c] = y[r, c] + b[c] into a preallocated output", median_cpu_ms([&] {
             const real *yy = y.data(), *bb = bias.data();
             real* o = out_bt3c.data();
             for (int64_t r = 0; r < R; r++)
                 for (int64_t k = 0; k < C3; k++) o[r * C3 + k] = yy[r * C3 + k] + bb[k];
         }));
    line("bias gradient, sum_to_shape([B,T,3C] -> [3C]) (two sums)", median_cpu_ms([&] { Tensor o = sum_to_shape(y, {C3}); }));
    line("  direct: one column-sum pass", median_cpu_ms([&] {
             std::fill(colsum.begin(), colsum.end(), real(0));
             for (int64_t r = 0; r < R; r++)
                 for (int64_t k = 0; k < C3; k++) colsum[k] += y[r * C3 + k];
         }));
    line("grad_buffer() then add_into: a fresh zeroed [B,T,3C] plus one add", median_cpu_ms([&] {
             Tensor z({B, T, C3});
             add_into(z, y);
         }));
    const double lin_flop = 2.0 * R * C * C3;
    const double fwd = median_cpu_ms([&] { Tensor o = matmul(x, W, false, true); });
    line(fmt::format("Linear qkv forward, matmul([R,C], W^T [C,3C])  ({:.0f} GFLOP/s)", lin_flop / fwd / 1e6), fwd);
    line("Linear qkv backward dx as autograd: matmul(dC, W), add_into a zeroed buffer", median_cpu_ms([&] {
             Tensor d = matmul(y, W);
             Tensor g({B, T, C});
             add_into(g, d);
         }));
    line("  direct: one gemm with beta = 1 into the gradient", median_cpu_ms([&] {
             gemm(false, false, R, C, C3, 1, y.data(), W.data(), 1, gx.data());
         }));
    line("Linear qkv backward dW as autograd: x^T dC [C,3C], transpose, add_into zeroed", median_cpu_ms([&] {
             Tensor d = matmul(x.reshape({R, C}), y.reshape({R, C3}), true, false);
             Tensor g({C3, C});
             add_into(g, transpose_last2(d));
         }));
    line("  direct: dW = dC^T x, one gemm with beta = 1 into the gradient", median_cpu_ms([&] {
             gemm(true, false, C3, C, R, 1, y.data(), x.data(), 1, gw.data());
         }));
    {
        Var hv(h4, true);
        line("gelu forward [B,T,4C]", median_cpu_ms([&] { Var o = gelu(hv); }));
        line("  direct: the same forward with a rational tanh, float, one plain loop", median_cpu_ms([&] {
                 const real* in = h4.data();
                 real* o = out_bt4c.data();
                 const int64_t n = h4.numel();
                 for (int64_t i = 0; i < n; i++) {
                     const float v = float(in[i]), u = 0.7978845608f * (v + 0.044715f * v * v * v);
                     o[i] = real(0.5f * v * (1 + tanh_rational(u)));
                 }
             }));
        line("gelu forward and backward", median_cpu_ms([&] {
                 hv.zero_grad();
                 gelu(hv).backward(h4);
             }));
        Var xv(x, true), w(Tensor::ones({C}), true), b(Tensor::zeros({C}), true);
        line("layer_norm forward [B,T,C]", median_cpu_ms([&] { Var o = layer_norm(xv, w, b); }));
        line("layer_norm forward and backward", median_cpu_ms([&] {
                 xv.zero_grad(), w.zero_grad(), b.zero_grad();
                 layer_norm(xv, w, b).backward(x);
             }));
    }
    {
        const bool causal = m.model == ModelKind::lm;
        Var q(qkv, true), p(p_vec);
        line("softmax_attention forward", median_cpu_ms([&] { Var o = softmax_attention(q, int(H), causal); }));
        line("softmax_attention forward and backward", median_cpu_ms([&] {
                 q.zero_grad();
                 softmax_attention(q, int(H), causal).backward(dout);
             }));
        line("plap_attention forward (p = 1.5, unit)", median_cpu_ms([&] {
                 Var o = plap_attention(q, p, int(H), causal, SelfTerm::unit, real(1e-6));
             }));
        line("plap_attention forward and backward", median_cpu_ms([&] {
                 q.zero_grad();
                 plap_attention(q, p, int(H), causal, SelfTerm::unit, real(1e-6)).backward(dout);
             }));
        // The forward's two products alone, per (b, h), with the same strides (nn/attention.cpp pass 1, 4).
        std::vector<real> a(T * T);
        Tensor o({B, T, C});
        const int64_t D = C / H;
        line("  the attention forward's two gemms alone (s = q k^T, out = A v), one thread", one_thread_cpu_ms([&] {
                 for (int64_t bh = 0; bh < B * H; bh++) {
                     const real* qb = qkv.data() + (bh / H) * T * C3 + (bh % H) * D;
                     gemm_strided(false, true, T, T, D, 1, qb, C3, qb + C, C3, 0, a.data(), T);
                     gemm_strided(false, false, T, D, T, 1, a.data(), T, qb + 2 * C, C3, 0,
                                  o.data() + (bh / H) * T * C + (bh % H) * D, C);
                 }
             }));
        // p-LaT's own pieces (nn/attention.cpp), each over every (b, h) of the batch, one thread:
        // where its premium over softmax goes (notes/07 section 9c).
        std::vector<real> r(T * T), work(T * D + 3 * T + D);
        auto each_head = [&](const std::function<void(const real*, real*)>& f) {
            return one_thread_cpu_ms([&] {
                for (int64_t bh = 0; bh < B * H; bh++) {
                    const real* qb = qkv.data() + (bh / H) * T * C3 + (bh % H) * D;
                    f(qb, o.data() + (bh / H) * T * C + (bh % H) * D);
                }
            });
        };
        line("  p-LaT: pairwise_sq_distances (centring, syrk, norms, near pairs)", each_head([&](const real* qb, real*) {
                 pairwise_sq_distances(r.data(), qb + 2 * C, C3, T, D, causal, work.data());
             }));
        line("    of which syrk_lower alone (r = -2 u u^T, lower triangle)", each_head([&](const real* qb, real*) {
                 syrk_lower(T, D, -2, qb + 2 * C, C3, 0, r.data(), T);
             }));
        line("  p-LaT: the log term over the lower triangle, a_ij += (p-2)/2 log(r_ij + eps)", each_head([&](const real*, real*) {
                 for (int64_t i = 0; i < T; i++) {
                     real* ai = a.data() + i * T;
                     const real* ri = r.data() + i * T;
#pragma omp simd
                     for (int64_t j = 0; j < i; j++) ai[j] += real(-0.25) * fast_log(ri[j] + real(1e-6));
                 }
             }));
        line("  p-LaT backward: symm_lower (dv -= M u, M symmetric [T, T])", each_head([&](const real* qb, real* ob) {
                 symm_lower(T, D, -1, r.data(), T, qb + 2 * C, C3, 1, ob, C);
             }));
        line("    against one gemm of the same shape (a full [T, T] times [T, D])", each_head([&](const real* qb, real* ob) {
                 gemm_strided(false, false, T, D, T, -1, r.data(), T, qb + 2 * C, C3, 1, ob, C);
             }));
    }
    {
        Setup tr(m);
        std::vector<Var> params = tr.model->parameters();
        Generator g(9);
        for (Var& w : params) w.grad() = Tensor::randn(w.shape(), g, 0, real(1e-3));
        line(fmt::format("AdamW step, {} parameters", tr.model->num_parameters()), median_cpu_ms([&] { tr.opt->step(); }));
        line("clip_grad_norm (not clipping)", median_cpu_ms([&] { clip_grad_norm(params, 1e30); }));
    }
}

}  // namespace

void run_bench(BenchOptions o) {
    const std::vector<std::string> names = bench_config_names(o.config);
    std::vector<std::string> attns =
        o.attn == "both" ? std::vector<std::string>{"softmax", "plap"} : std::vector<std::string>{o.attn};
    auto emit = [&](const json& j) {
        if (o.json)
            fmt::print("{}\n", j.dump());
        else
            print_text(j);
        std::fflush(stdout);
    };
    if (o.ops) {
        for (const std::string& name : names) run_ops(make_case(name, "softmax"));
        return;
    }
    if (names.size() * attns.size() == 1) {  // one case: this process is its fresh process
        emit(run_case(make_case(names[0], attns[0]), o));
        return;
    }
    if (o.sgemm_gflops <= 0) o.sgemm_gflops = measure_sgemm_gflops(o.sgemm_size, 5);
    if (!o.json)
        fmt::print("sgemm {}^3: {:.1f} GFLOP/s on {} threads; each case runs in a fresh process\n", o.sgemm_size,
                   o.sgemm_gflops, get_num_threads());
    std::vector<json> rows;
    for (const std::string& name : names)
        for (const std::string& attn : attns) emit(rows.emplace_back(run_case_in_child(name, attn, o)));
    if (o.config == "sweep" && attns.size() == 2 && !o.json) print_sweep_summary(rows);
}

}  // namespace plat
