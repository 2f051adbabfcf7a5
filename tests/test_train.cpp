// tests/test_train.cpp: the Trainer behind `plat train` (experiments/training/trainer.h). The central
// promise: a run interrupted and resumed from its checkpoint makes exactly (bitwise) the losses
// of a run that was never interrupted. Also: the run directory's files, atomic checkpoints, the
// stop signal, and the stop on a non-finite loss. Tiny models and in-memory data, so no data
// files are needed and the suite takes well under a second.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/random.h"
#include "experiments/training/trainer.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;
namespace fs = std::filesystem;

namespace {

// Text for the lm: 4000 bytes of words drawn from a small vocabulary, so there is something to
// learn and the 10% validation part holds many windows.
std::vector<uint8_t> tiny_text() {
    const char* words[] = {"and", "the", "lord", "said", "unto", "moses", "in", "beginning", "god", "created",
                           "heaven", "earth", "light", "was", "good"};
    Generator gen(7);
    std::string text;
    while (text.size() < 4000) {
        text += words[gen.randint(15)];
        text += gen.randint(8) == 0 ? ".\n" : " ";
    }
    return std::vector<uint8_t>(text.begin(), text.end());
}

// 24 training, 8 validation and 8 test "images" of Gaussian noise with random labels: enough
// to exercise the ImageBatchIterator's epochs (24 / B = 4 gives 6 batches per epoch).
FashionMNIST tiny_images() {
    Generator gen(3);
    FashionMNIST d;
    auto labels = [&](int n) {
        std::vector<int64_t> y(n);
        for (int64_t& v : y) v = gen.randint(10);
        return y;
    };
    d.train_images = Tensor::randn(Shape{24, 1, 28, 28}, gen);
    d.train_labels = labels(24);
    d.val_images = Tensor::randn(Shape{8, 1, 28, 28}, gen);
    d.val_labels = labels(8);
    d.test_images = Tensor::randn(Shape{8, 1, 28, 28}, gen);
    d.test_labels = labels(8);
    return d;
}

ModelConfig tiny_lm(const std::string& attn, bool learn_p) {
    ModelConfig c;
    c.model = ModelKind::lm;
    c.dim = 16;
    c.layers = 2;
    c.heads = 2;
    c.context = 16;
    c.attn = parse_attn_kind(attn);
    c.p = {1.5};
    c.learn_p = learn_p;
    c.seed = 5;
    return c;
}

ModelConfig tiny_vit() {
    ModelConfig c;
    c.model = ModelKind::vit;
    c.dim = 16;
    c.layers = 1;
    c.heads = 2;
    c.patch = 7;  // 16 patches
    c.seed = 9;
    return c;
}

TrainOptions tiny_options(const std::string& task) {
    TrainOptions o;
    o.task = parse_task_kind(task);
    o.steps = 12;
    o.batch = 4;
    o.lr = 3e-3;
    o.min_lr = 3e-4;
    o.warmup = 3;
    o.eval_every = 4;  // validations at 4, 8, 12: in both halves of a 6 + 6 split
    o.eval_batches = 2;
    return o;
}

TrainData tiny_data(const std::string& task, const ModelConfig& config) {
    if (parse_task_kind(task) == TaskKind::lm) return TrainData::from_text(tiny_text(), config.context, "tiny text");
    if (parse_task_kind(task) == TaskKind::vit) return TrainData::from_images(tiny_images(), "tiny images");
    return TrainData::synthetic(ClusterTaskConfig());
}

uint32_t bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}

// Equal as bit patterns, element by element, with the first difference reported.
void check_bitwise_equal(const std::vector<real>& a, const std::vector<real>& b, const char* what) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); i++) {
        INFO(what << " " << i << ": " << a[i] << " vs " << b[i]);
        REQUIRE(bits(a[i]) == bits(b[i]));
    }
}

void check_same_parameters(Model& a, Model& b) {
    NamedParameters pa = a.named_parameters(), pb = b.named_parameters();
    REQUIRE(pa.size() == pb.size());
    for (size_t i = 0; i < pa.size(); i++) {
        const Tensor &x = pa[i].second.value(), &y = pb[i].second.value();
        INFO(pa[i].first);
        REQUIRE(x.numel() == y.numel());
        CHECK(std::memcmp(x.data(), y.data(), size_t(x.numel()) * sizeof(real)) == 0);
    }
}

// The metrics.csv rows as fields (header checked and dropped).
std::vector<std::vector<std::string>> read_metrics(const std::string& path) {
    std::istringstream in(read_bytes(path));
    std::string line;
    std::getline(in, line);
    CHECK(line == MetricsLog::header());
    std::vector<std::vector<std::string>> rows;
    while (std::getline(in, line)) {
        std::vector<std::string> fields;
        std::string field;
        std::istringstream cells(line);
        while (std::getline(cells, field, ',')) fields.push_back(field);
        if (!line.empty() && line.back() == ',') fields.push_back("");
        rows.push_back(fields);
    }
    return rows;
}

}  // namespace

TEST_CASE("train: an interrupted and resumed run makes bitwise the losses of an uninterrupted one") {
    // For each model: run A makes 12 steps straight. Run B makes 6, saves a checkpoint and is
    // thrown away; run C is built from that file alone (model, AdamW moments, step, data
    // position, dropout generator) and makes the last 6. B's losses then C's must be A's, bit for
    // bit, and so must the final parameters. Validations at steps 4, 8, 12 run in both, so they
    // must not disturb anything either. No tolerance: every operation is deterministic for a
    // fixed thread count (notes/04-p-laplacian-backward.md, "Parallelism and determinism"), so any difference is a lost piece of state.
    struct Case {
        const char* name;
        std::string task;
        ModelConfig config;
        double dropout;
    };
    const Case cases[] = {
        {"lm softmax, dropout 0.1", "lm", tiny_lm("softmax", false), 0.1},
        {"lm plap p = 1.5, learn_p", "lm", tiny_lm("plap", true), 0.0},
        {"vit softmax, across an epoch boundary", "vit", tiny_vit(), 0.1},
        {"synthetic (lm on the cluster task)", "synthetic", tiny_lm("softmax", false), 0.0},
    };
    for (const Case& c : cases) {
        SUBCASE(c.name) {
            TempDir dir("train-resume");
            TrainOptions options = tiny_options(c.task);
            options.dropout = c.dropout;

            Trainer a(c.config, options, tiny_data(c.task, c.config));
            a.set_output(nullptr);
            CHECK(a.train() == StopReason::finished);
            REQUIRE(a.losses().size() == 12);

            Trainer b(c.config, options, tiny_data(c.task, c.config));
            b.set_output(nullptr);
            CHECK(b.train(6) == StopReason::paused);
            CHECK(b.step() == 6);
            b.save(dir.file("half.safetensors"));

            ResumePoint point = read_resume_point(dir.file("half.safetensors"));
            CHECK(point.progress.step == 6);
            CHECK(point.progress.options.to_json() == options.to_json());
            Trainer resumed(point.checkpoint.config, point.progress.options, tiny_data(c.task, c.config), &point);
            resumed.set_output(nullptr);
            CHECK(resumed.step() == 6);
            CHECK(resumed.train() == StopReason::finished);

            std::vector<real> joined = b.losses();
            joined.insert(joined.end(), resumed.losses().begin(), resumed.losses().end());
            check_bitwise_equal(a.losses(), joined, "step");
            check_same_parameters(a.model(), resumed.model());
            if (c.config.learn_p) {  // p moved away from 1.5 (it is trained) and stayed in [1, 4]
                Tensor p = a.model().state().at("transformer.h.0.attn.p");
                CHECK(p[0] != doctest::Approx(1.5).epsilon(1e-7));
                CHECK(p[0] >= 1);
                CHECK(p[0] <= 4);
            }
        }
    }
}

TEST_CASE("train: Ctrl-C stops after the step, saves last.safetensors, and the resumed run is exact") {
    TempDir dir("train-ctrl-c");
    const ModelConfig config = tiny_lm("softmax", false);
    TrainOptions options = tiny_options("lm");
    options.dropout = 0.1;

    Trainer straight(config, options, tiny_data("lm", config));
    straight.set_output(nullptr);
    straight.train();

    options.run = dir.file("run");
    std::vector<real> before;
    {
        Trainer t(config, options, tiny_data("lm", config));
        t.set_output(nullptr);
        StopSignalGuard guard;
        // A real SIGINT, delivered while step 5 finishes: the loop must make no step 6.
        t.on_step = [](int64_t step) {
            if (step == 5) raise(SIGINT);
        };
        CHECK(t.train() == StopReason::interrupted);
        CHECK(stop_signal() == SIGINT);
        CHECK(t.step() == 5);
        before = t.losses();
    }
    CHECK(stop_signal() == 0);  // the guard cleared the flag and restored the handlers
    ResumePoint point = read_resume_point(options.run);  // a run directory: its last.safetensors
    CHECK(point.path == options.run + "/last.safetensors");
    CHECK(point.progress.step == 5);
    Trainer resumed(point.checkpoint.config, point.progress.options, tiny_data("lm", config), &point);
    resumed.set_output(nullptr);
    CHECK(resumed.train() == StopReason::finished);
    before.insert(before.end(), resumed.losses().begin(), resumed.losses().end());
    check_bitwise_equal(straight.losses(), before, "step");

    // metrics.csv has each step once, in order, with the losses as trained (printed with 9
    // significant digits, which read back to the same float).
    auto rows = read_metrics(options.run + "/metrics.csv");
    REQUIRE(rows.size() == 12);
    for (size_t i = 0; i < rows.size(); i++) {
        REQUIRE(rows[i].size() == 9);
        CHECK(std::stoll(rows[i][0]) == int64_t(i + 1));
        CHECK(bits(std::strtof(rows[i][1].c_str(), nullptr)) == bits(straight.losses()[i]));
    }
}

TEST_CASE("train: the run directory: config.json, metrics.csv, checkpoints, no temporaries") {
    TempDir dir("train-run-dir");
    const ModelConfig config = tiny_lm("plap", false);
    TrainOptions options = tiny_options("lm");
    options.steps = 8;
    options.run = dir.file("run");
    Trainer t(config, options, tiny_data("lm", config));
    t.set_output(nullptr);
    t.train();

    // Only the run's files (loss.png when gnuplot is installed), and no *.tmp.* left behind.
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(options.run)) files.push_back(e.path().filename().string());
    for (const std::string& f : files) {
        INFO(f);
        CHECK(!contains(f, ".tmp."));
        CHECK((f == "config.json" || f == "metrics.csv" || f == "last.safetensors" || f == "best.safetensors" ||
               f == "loss.png"));
    }
    CHECK(files.size() >= 4);

    // config.json: valid JSON whose two halves read back as the configuration and the options.
    nlohmann::json j = nlohmann::json::parse(read_bytes(options.run + "/config.json"));
    CHECK(ModelConfig::from_json(j.at("model").dump()).to_json() == config.to_json());
    CHECK(TrainOptions::from_json(j.at("train").dump()).to_json() == options.to_json());
    CHECK(j.at("parameters").get<int64_t>() == t.model().num_parameters());

    // metrics.csv: 8 rows; validation columns filled exactly at steps 4 and 8; bits = loss / ln 2.
    auto rows = read_metrics(options.run + "/metrics.csv");
    REQUIRE(rows.size() == 8);
    for (size_t i = 0; i < rows.size(); i++) {
        const bool validated = (i + 1) % 4 == 0;
        INFO("row " << i);
        REQUIRE(rows[i].size() == 9);
        CHECK(rows[i][5].empty() == !validated);
        CHECK(rows[i][6].empty() == !validated);
        CHECK(rows[i][7].empty() == !validated);
        for (int col : {1, 2, 3, 4, 8}) CHECK(!rows[i][col].empty());
        if (validated) CHECK(std::stod(rows[i][6]) == doctest::Approx(std::stod(rows[i][5]) / std::log(2.0)).epsilon(1e-5));
    }
    // The last validation equals a fresh evaluation of the final model.
    EvalResult r = t.evaluate();
    CHECK(std::stod(rows[7][5]) == doctest::Approx(r.loss).epsilon(1e-7));

    // Both checkpoints load; last is at step 8, best at the step with the lowest validation loss.
    ResumePoint last = read_resume_point(options.run + "/last.safetensors");
    ResumePoint best = read_resume_point(options.run + "/best.safetensors");
    CHECK(last.progress.step == 8);
    const double v4 = std::stod(rows[3][5]), v8 = std::stod(rows[7][5]);
    CHECK(best.progress.step == (v8 < v4 ? 8 : 4));
    CHECK(last.progress.best_step == best.progress.step);
}

TEST_CASE("train: a checkpoint save that fails leaves the previous one loadable and no temporary") {
    TempDir dir("train-failed-save");
    const ModelConfig config = tiny_lm("softmax", false);
    TrainOptions options = tiny_options("lm");
    options.run = dir.file("run");
    Trainer t(config, options, tiny_data("lm", config));
    t.set_output(nullptr);
    t.train(4);  // validation at step 4 wrote last.safetensors
    const std::string last = options.run + "/last.safetensors";
    const std::string old_bytes = read_bytes(last);
    REQUIRE(!old_bytes.empty());
    t.train(6);

    // A file-size limit makes write() fail part-way through the new checkpoint (about 150 KB),
    // as a full disk would. SIGXFSZ would kill the process: ignored, so write() reports EFBIG.
    struct rlimit saved;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct rlimit small = saved;
    small.rlim_cur = 16384;
    void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string message;
    try {
        t.save(last);
    } catch (const Error& e) {
        message = e.what();
    }
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, saved_handler);
    CHECK(contains(message, "File too large"));
    CHECK(read_bytes(last) == old_bytes);
    CHECK(read_resume_point(last).progress.step == 4);

    // A save killed outright leaves its temporary; the next Trainer on the directory removes it.
    { std::ofstream(last + ".tmp.99999.0") << "half a checkpoint"; }
    ResumePoint point = read_resume_point(options.run);
    Trainer again(point.checkpoint.config, point.progress.options, tiny_data("lm", config), &point);
    CHECK(again.removed_temporaries() == std::vector<std::string>{"last.safetensors.tmp.99999.0"});
    for (const auto& e : fs::directory_iterator(options.run)) CHECK(!contains(e.path().filename().string(), ".tmp."));
    // The resumed run dropped the metrics rows 5 and 6 written after the checkpoint.
    CHECK(read_metrics(options.run + "/metrics.csv").size() == 4);
}

TEST_CASE("train: a non-finite loss stops the run, names the step and parameter, and keeps the checkpoint") {
    TempDir dir("train-non-finite");
    const ModelConfig config = tiny_lm("softmax", false);
    TrainOptions options = tiny_options("lm");
    options.run = dir.file("run");
    Trainer t(config, options, tiny_data("lm", config));
    t.set_output(nullptr);
    t.train(4);
    const std::string last = options.run + "/last.safetensors";
    const std::string good = read_bytes(last);

    // A NaN in the tied embedding reaches every logit, so the loss and every gradient are NaN;
    // the first parameter (in named_parameters order) with a non-finite gradient is wte.
    t.model().named_parameters()[0].second.value()[0] = std::nanf("");
    std::string message;
    try {
        t.train();
    } catch (const Error& e) {
        message = e.what();
    }
    INFO(message);
    CHECK(contains(message, "step 5"));
    CHECK(contains(message, "the loss is nan"));
    CHECK(contains(message, "'transformer.wte.weight'"));
    CHECK(contains(message, last));
    CHECK(t.step() == 4);                 // no update was made
    CHECK(read_bytes(last) == good);      // the checkpoint is untouched
    CHECK(read_resume_point(last).progress.step == 4);
    CHECK(read_metrics(options.run + "/metrics.csv").size() == 4);  // no row for the bad step
}

TEST_CASE("train: evaluation is the mean over every validation or test window, in order") {
    // Independent of the batching and of TextSplit: the lm's loss over a whole split equals the
    // mean of the per-window losses computed one window at a time on the split's bytes, cut here
    // from the text itself (n bytes: validation [n - n/10, n - n/20), test [n - n/20, n)).
    // Tolerance 1e-5 relative: the two sum the same float losses in different groupings (in
    // double), each loss itself is float.
    const ModelConfig config = tiny_lm("plap", false);
    TrainData data = tiny_data("lm", config);
    std::unique_ptr<Model> model = make_model(config);
    const std::vector<uint8_t> text = tiny_text();
    const int64_t n = int64_t(text.size()), T = config.context;
    double losses[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        const bool test = s == 1;
        const std::vector<uint8_t> part(text.begin() + (test ? n - n / 20 : n - n / 10), text.begin() + (test ? n : n - n / 20));
        EvalResult r = evaluate(*model, data, test ? "test" : "val", 5, 0);
        const int64_t windows = (int64_t(part.size()) - 1) / T;
        double sum = 0;
        {
            NoGradGuard no_grad;
            model->eval();
            for (int64_t w = 0; w < windows; w++) {
                std::vector<int64_t> x(T), y(T);
                for (int64_t t = 0; t < T; t++) {
                    x[t] = part[w * T + t];
                    y[t] = part[w * T + t + 1];
                }
                Batch b = Batch::lm(1, T, x, y);
                sum += model->loss(model->forward(b), b).item();
            }
        }
        CHECK(r.targets == windows * T);
        CHECK(r.batches == (windows + 4) / 5);
        CHECK(r.loss == doctest::Approx(sum / double(windows)).epsilon(1e-5));
        CHECK(r.bits() == doctest::Approx(r.loss / std::log(2.0)).epsilon(1e-12));
        losses[s] = r.loss;
    }
    CHECK(losses[0] != losses[1]);               // different bytes, so not the same windows twice
    CHECK(model->is_training() == false);  // evaluate restores the mode it found (eval, set above)
}

TEST_CASE("train: data that cannot make one window, and bad options, are refused with what to change") {
    std::vector<uint8_t> short_text(100, 'a');  // validation and test parts 5 bytes < context 16 + 1
    CHECK_THROWS_WITH_AS(TrainData::from_text(short_text, 16, "short.txt"), doctest::Contains("smaller --context"), Error);
    TrainOptions o = tiny_options("lm");
    o.min_lr = 1;  // above --lr
    CHECK_THROWS_WITH_AS(o.validate(), doctest::Contains("--min-lr"), Error);
    // A vit configuration for the lm task is refused before anything is built.
    CHECK_THROWS_WITH_AS(Trainer(tiny_vit(), tiny_options("lm"), tiny_data("lm", tiny_lm("softmax", false))),
                         doctest::Contains("trains an lm model"), Error);
    // The default run directory is a function of the options alone.
    ModelConfig c = tiny_lm("plap", true);  // the default self term, unit
    CHECK(default_run_dir(TaskKind::lm, c, tiny_options("lm")) == "runs/lm-plap-p1.5-unit-learnp-d16-l2-h2-c16-b4-s5");
}
