// tests/test_inspect.cpp: `plat inspect`'s file (experiments/cli/inspect.cpp): the batch is the one
// the issue specifies, every promised tensor is there under its name, and the stored values are
// consistent with each other (the loss recomputed from the stored logits, attention rows).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include "core/error.h"
#include "experiments/training/inspect.h"
#include "tests/helpers.h"

using namespace plat;
using plat::test::tiny_plap_lm;

namespace {


std::string write_text(const std::string& text) {
    char name[] = "/tmp/plat_inspect_XXXXXX";
    int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    FILE* f = fdopen(fd, "wb");
    fwrite(text.data(), 1, text.size(), f);
    fclose(f);
    return name;
}

}  // namespace

TEST_CASE("inspect: the lm batch is the first B windows, window b starting at byte b*T") {
    std::string text = "In the beginning God created the heaven and the earth.";
    std::string path = write_text(text);
    Batch batch = lm_inspect_batch(path, 3, 8);
    CHECK(batch.B == 3);
    CHECK(batch.T == 8);
    for (int64_t b = 0; b < 3; b++)
        for (int64_t t = 0; t < 8; t++) {
            CHECK(batch.tokens[b * 8 + t] == (unsigned char)text[b * 8 + t]);
            CHECK(batch.targets[b * 8 + t] == (unsigned char)text[b * 8 + t + 1]);
        }
    // B*T + 1 bytes are needed; one fewer is a clear error.
    std::string short_path = write_text(text.substr(0, 3 * 8));
    CHECK_THROWS_WITH_AS(lm_inspect_batch(short_path, 3, 8), doctest::Contains("need 25"), Error);
    std::remove(path.c_str());
    std::remove(short_path.c_str());
}

TEST_CASE("inspect: the file holds every parameter, x, y, logits, loss, grad.<name>, attn.<l>") {
    std::string text;
    for (int i = 0; i < 10; i++) text += "And God said, Let there be light. ";
    std::string path = write_text(text);
    ModelConfig config = tiny_plap_lm();
    std::unique_ptr<Model> model = make_model(config);
    Batch batch = lm_inspect_batch(path, 2, config.context);
    TensorFile file = inspect_batch(*model, batch);

    std::set<std::string> expected = {"x", "y", "logits", "loss", "attn.0", "attn.1"};
    for (const auto& [name, param] : model->named_parameters()) {
        expected.insert(name);
        expected.insert("grad." + name);
    }
    std::vector<std::string> names = file.names();
    CHECK(std::set<std::string>(names.begin(), names.end()) == expected);
    CHECK(ModelConfig::from_json(file.metadata("config")).to_json() == config.to_json());

    // x is the input exactly as fed, as int64 [B, T].
    CHECK(file.entry("x").dtype == DType::I64);
    CHECK(file.get_int64("x") == batch.tokens);
    CHECK(file.get_int64("y") == batch.targets);

    // The stored loss is the mean cross-entropy of the stored logits, recomputed here in double.
    Tensor logits = file.get("logits");
    CHECK(logits.shape() == Shape{2, config.context, 256});
    double total = 0;
    for (int64_t r = 0; r < 2 * config.context; r++) {
        const real* row = logits.data() + r * 256;
        double m = row[0], s = 0;
        for (int v = 1; v < 256; v++) m = std::fmax(m, row[v]);
        for (int v = 0; v < 256; v++) s += std::exp(double(row[v]) - m);
        total += m + std::log(s) - row[batch.targets[r]];
    }
    // Float logits and a float log-softmax: agreement to a few float ulps of ~5.5 (log 256).
    CHECK(file.get("loss").item() == doctest::Approx(total / (2 * config.context)).epsilon(1e-5));

    // Gradients are the model's own after the pass; attention rows sum to 1 and are causal.
    for (const auto& [name, param] : model->named_parameters()) {
        Tensor g = file.get("grad." + name);
        REQUIRE(g.shape() == param.grad().shape());
        for (int64_t i = 0; i < g.numel(); i++) REQUIRE(g[i] == param.grad()[i]);
    }
    Tensor A = file.get("attn.1");
    CHECK(A.shape() == Shape{2, 2, config.context, config.context});
    for (int64_t row = 0; row < A.numel() / config.context; row++) {
        int64_t i = row % config.context;
        double s = 0;
        for (int64_t j = 0; j < config.context; j++) {
            s += A[row * config.context + j];
            if (j > i) REQUIRE(A[row * config.context + j] == 0);
        }
        REQUIRE(s == doctest::Approx(1).epsilon(1e-5));
    }
    std::remove(path.c_str());
}
