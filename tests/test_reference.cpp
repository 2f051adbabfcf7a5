// tests/test_reference.cpp: plat's two models against PyTorch, tensor by tensor and BY NAME, in
// the manner of llm.c's test_gpt2.c. Each file in tests/reference/ (written in float64 by
// experiments/pytorch/make_reference.py, described in tests/reference/README.md) holds a model's
// configuration, its parameters, one batch, and PyTorch's logits, loss, every gradient, every
// attention matrix and the losses of 10 AdamW steps. Comparing by name, never by position, is the
// point: llm.c's test_gpt2.c later found two bugs that came from comparing by position.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/var.h"
#include "core/safetensors.h"
#include "nn/config.h"
#include "nn/models.h"
#include "nn/optim.h"

using namespace plat;

namespace {

// Tolerances, on the worst |plat - torch| divided by the largest |torch| of the tensor (its
// scale; an elementwise relative error means nothing for gradient entries that happen to be
// near 0). The truth is float64; plat computes in float32, whose unit roundoff is 6e-8.
// PyTorch itself, run in float32 on the same files, lands at (make_reference.py prints these):
// logits 5.5e-7, loss 1.0e-7, attention 2.4e-7, gradients 6.2e-6 (a learnable p; the rest below
// 2e-6), AdamW losses 2.5e-7; plat, when this test was written: logits 4.2e-7, loss 1.0e-7,
// attention 2.6e-7, gradients 2.3e-6 (blocks.0.attn.p), AdamW losses 1.0e-7. plat sums in other
// orders (OpenBLAS, its own loops, thread counts), so the tolerances allow about 40 times those,
// which is still far below any real mistake: scaling ONE entry of one gradient by 1.01 gives
// 1.4e-3, and telling the vit_plap_unit file it is "exclude" gives 0.2 to 1.
constexpr double kTolForward = 2e-5;   // logits, loss, attention weights
constexpr double kTolGrad = 1e-4;      // grad.<name>: a backward pass is a longer chain of sums
constexpr double kTolAdamW = 2e-5;     // adamw_losses: 10 forwards after 10 updates

const char* kFiles[] = {
    "lm_softmax", "lm_plap_unit", "lm_plap_exclude_perlayer", "lm_plap_unit_learnp",
    "vit_softmax", "vit_plap_unit", "vit_plap_exclude_learnp",
};

// The files are read relative to the repository root, where `make test` runs the programs.
std::string reference_path(const std::string& name) {
    for (const char* dir : {"tests/reference/", "../tests/reference/", "../../tests/reference/"}) {
        std::string path = dir + name + ".safetensors";
        if (std::ifstream(path).good()) return path;
    }
    FAIL("tests/reference/" << name << ".safetensors not found: run the tests from the repository root, "
         "or regenerate the files with /usr/bin/python3 experiments/pytorch/make_reference.py");
    return "";
}

// Names in a file that are not parameters (tests/reference/README.md, "What each file holds").
bool is_parameter_name(const std::string& name) {
    if (name == "x" || name == "y" || name == "logits" || name == "loss" || name == "adamw_losses") return false;
    return name.rfind("grad.", 0) != 0 && name.rfind("attn.", 0) != 0;
}

std::set<std::string> file_parameter_names(const TensorFile& file) {
    std::set<std::string> names;
    for (const std::string& n : file.names())
        if (is_parameter_name(n)) names.insert(n);
    return names;
}

std::set<std::string> model_parameter_names(const Model& model) {
    std::set<std::string> names;
    for (const auto& [n, var] : model.named_parameters()) names.insert(n);
    return names;
}

// The names in a but not in b, comma-separated, for messages.
std::string only_in(const std::set<std::string>& a, const std::set<std::string>& b) {
    std::string out;
    for (const std::string& n : a)
        if (!b.count(n)) out += (out.empty() ? "" : ", ") + n;
    return out;
}

struct Diff {
    double max_abs = 0;  // worst |got - want|
    double scale = 0;    // max |want|
    double rel() const { return scale > 0 ? max_abs / scale : max_abs; }
};

Diff diff(const Tensor& got, const Tensor& want) {
    Diff d;
    for (int64_t i = 0; i < want.numel(); i++) {
        d.max_abs = std::max(d.max_abs, std::fabs(double(got[i]) - double(want[i])));
        d.scale = std::max(d.scale, std::fabs(double(want[i])));
    }
    return d;
}

// Compares one tensor by name, appends a line to the file's report, and CHECKs the tolerance.
void compare(const std::string& file, const std::string& name, const Tensor& got, const Tensor& want, double tol,
             std::string& report) {
    INFO(file << ": " << name);
    REQUIRE(got.shape() == want.shape());
    Diff d = diff(got, want);
    report += fmt::format("  {:<44} max|diff| {:.1e}  /max|ref| {:.1e}  (tol {:.0e}){}\n", name, d.max_abs, d.rel(),
                          tol, d.rel() <= tol ? "" : "  FAIL");
    CHECK(d.rel() <= tol);
}

nlohmann::json adamw_settings(const TensorFile& file) {
    return nlohmann::json::parse(file.metadata("adamw"));
}

void check_reference_file(const std::string& name) {
    const std::string path = reference_path(name);
    const TensorFile file = load_safetensors(path);
    const ModelConfig config = ModelConfig::from_json(file.metadata("config"));
    std::unique_ptr<Model> model = make_model(config);
    std::string report = fmt::format("{} ({})\n", name, file.metadata("config"));

    // The file's parameter names are exactly plat's named_parameters(): nothing missing, nothing extra.
    const std::set<std::string> in_file = file_parameter_names(file), in_model = model_parameter_names(*model);
    {
        INFO(name << ": only in the file: [" << only_in(in_file, in_model) << "]; only in plat: ["
                  << only_in(in_model, in_file) << "]");
        REQUIRE(in_file == in_model);
    }

    // Load every parameter by name.
    StateDict state;
    for (const std::string& n : in_model) state[n] = file.get(n);
    model->load_state(state);

    // The batch.
    const std::vector<int64_t> y = file.get_int64("y");
    Batch batch;
    if (config.model == ModelKind::lm) {
        const std::vector<int64_t>& shape = file.entry("x").shape;
        REQUIRE(shape.size() == 2);
        batch = Batch::lm(shape[0], shape[1], file.get_int64("x"), y);
    } else {
        batch = Batch::vit(file.get("x"), y);
    }

    // Forward with the attention weights, then backward.
    Trace trace;
    Var logits = model->forward(batch, &trace);
    Var loss = model->loss(logits, batch);
    model->zero_grad();
    loss.backward();

    compare(name, "logits", logits.value(), file.get("logits"), kTolForward, report);
    compare(name, "loss", loss.value(), file.get("loss"), kTolForward, report);
    REQUIRE(int(trace.attention.size()) == config.layers);
    for (int l = 0; l < config.layers; l++) {
        const std::string key = fmt::format("attn.{}", l);
        const Tensor want = file.get(key);
        compare(name, key, trace.attention[l], want, kTolForward, report);
        // Masked entries (the causal upper triangle; the excluded diagonal) are exactly 0 in
        // PyTorch, so they must be exactly 0 in plat too, not merely small (nn/attention.h).
        int64_t masked = 0, leaked = 0;
        for (int64_t i = 0; i < want.numel(); i++)
            if (want[i] == 0) {
                masked++;
                if (trace.attention[l][i] != 0) leaked++;
            }
        INFO(name << ": " << key << ": " << leaked << " of " << masked << " masked entries are not exactly 0");
        CHECK(leaked == 0);
    }
    for (const auto& [n, var] : model->named_parameters()) {
        REQUIRE_MESSAGE(!var.grad().empty(), name << ": grad." << n << " was never computed");
        compare(name, "grad." + n, var.grad(), file.get("grad." + n), kTolGrad, report);
    }

    // 10 AdamW steps on the same batch, with the file's hyperparameters: the loss before each.
    const nlohmann::json hp = adamw_settings(file);
    REQUIRE(hp.at("schedule").get<std::string>() == "constant");
    REQUIRE(hp.at("p_clamp").at(0).get<double>() == 1.0);  // what Model::after_step clamps to
    REQUIRE(hp.at("p_clamp").at(1).get<double>() == 4.0);
    AdamW opt(make_param_groups(*model, hp.at("weight_decay").get<double>()), hp.at("lr").get<double>(),
              hp.at("betas").at(0).get<double>(), hp.at("betas").at(1).get<double>(), hp.at("eps").get<double>());
    const int steps = hp.at("steps").get<int>();
    const Tensor want_losses = file.get("adamw_losses");
    REQUIRE(want_losses.numel() == steps);
    Tensor losses(Shape{steps});
    for (int s = 0; s < steps; s++) {
        Var step_loss = model->loss(model->forward(batch), batch);
        losses[s] = step_loss.item();
        opt.zero_grad();
        step_loss.backward();
        opt.step();
        model->after_step();
    }
    compare(name, "adamw_losses", losses, want_losses, kTolAdamW, report);
    MESSAGE(report);
}

}  // namespace

TEST_CASE("reference: every file's parameter names match plat's named_parameters()") {
    // Also covered inside each file's test; here on its own, so a naming mismatch is reported
    // as such before any number is compared.
    for (const char* name : kFiles) {
        const TensorFile file = load_safetensors(reference_path(name));
        std::unique_ptr<Model> model = make_model(ModelConfig::from_json(file.metadata("config")));
        const std::set<std::string> in_file = file_parameter_names(file), in_model = model_parameter_names(*model);
        INFO(std::string(name) << ": only in the file: [" << only_in(in_file, in_model) << "]; only in plat: ["
                               << only_in(in_model, in_file) << "]");
        CHECK(in_file == in_model);
        for (const auto& [n, var] : model->named_parameters()) {
            INFO(std::string(name) << ": " << n);
            CHECK(file.has("grad." + n));
        }
    }
}

// One test case per file, so a failure names the configuration.
TEST_CASE("reference: lm softmax matches PyTorch") { check_reference_file("lm_softmax"); }
TEST_CASE("reference: lm plap p=1.5 unit matches PyTorch") { check_reference_file("lm_plap_unit"); }
TEST_CASE("reference: lm plap p=[1.5,3] exclude matches PyTorch") { check_reference_file("lm_plap_exclude_perlayer"); }
TEST_CASE("reference: lm plap p=1.5 unit learn_p matches PyTorch") { check_reference_file("lm_plap_unit_learnp"); }
TEST_CASE("reference: vit softmax matches PyTorch") { check_reference_file("vit_softmax"); }
TEST_CASE("reference: vit plap p=1.5 unit matches PyTorch") { check_reference_file("vit_plap_unit"); }
TEST_CASE("reference: vit plap p=1.5 exclude learn_p matches PyTorch") { check_reference_file("vit_plap_exclude_learnp"); }
