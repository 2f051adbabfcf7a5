// experiments/cli/sample.cpp: `plat sample`: continue a prompt with a trained lm, printing each byte
// as it is drawn (experiments/training/generate.h).
#include <cstdio>

#include <fmt/core.h>

#include "core/error.h"
#include "experiments/cli/commands.h"
#include "experiments/cli/options.h"
#include "experiments/training/generate.h"
#include "experiments/training/run.h"
#include "nn/checkpoint.h"

namespace plat {

namespace {

struct SampleCommand {
    std::string checkpoint;
    std::string prompt = "And God said";
    int64_t length = 200;
    double temperature = 1.0;
    int top_k = 0;
    uint64_t seed = 0;
};

void run_sample(const SampleCommand& s) {
    const std::string path = checkpoint_for_eval(s.checkpoint);
    std::unique_ptr<Model> model = load_model(path);
    const ModelConfig& config = model->config();
    if (config.model != ModelKind::lm)
        fail("sample: checkpoint '{}' holds a {} model; sampling needs an lm (a `plat train lm` or `plat train "
             "synthetic` checkpoint)",
             path, config.model);
    if (s.prompt.empty()) fail("sample: --prompt is empty; give at least one byte to start from");
    std::vector<int64_t> tokens(s.prompt.begin(), s.prompt.end());
    for (int64_t& t : tokens) t = int64_t(uint8_t(t));
    if (int64_t(tokens.size()) > config.context) {
        fmt::print(stderr, "note: the prompt has {} bytes, more than the model's context {}; it is cropped to its last {} "
                           "bytes\n",
                   tokens.size(), config.context, config.context);
        tokens.erase(tokens.begin(), tokens.end() - config.context);
    }
    fmt::print("{}", printable_bytes(tokens));
    std::fflush(stdout);
    generate(*model, tokens, s.length, s.temperature, s.top_k, s.seed, [](int64_t byte) {
        fmt::print("{}", printable_bytes({byte}));
        std::fflush(stdout);
    });
    fmt::print("\n");
}

}  // namespace

void register_sample(CLI::App& app) {
    auto s = std::make_shared<SampleCommand>();
    CLI::App* cmd = app.add_subcommand("sample", "Continue a prompt with a trained lm, byte by byte");
    cmd->add_option("--checkpoint", s->checkpoint, "an lm checkpoint, or a run directory (its best.safetensors)")->required();
    cmd->add_option("--prompt", s->prompt, "the text to continue (cropped to its last `context` bytes)")->capture_default_str();
    cmd->add_option("--length", s->length, "bytes to generate")->capture_default_str()->check(CLI::Range(int64_t(0), int64_t(1) << 20));
    cmd->add_option("--temperature", s->temperature, "divides the logits; < 1 is more conservative, > 1 more random")
        ->capture_default_str()
        ->check(finite_number(1e-3, 100));
    cmd->add_option("--top-k", s->top_k, "sample among the k most likely bytes (1..256); 0 = all")
        ->capture_default_str()
        ->check(CLI::Range(0, 256));
    cmd->add_option("--seed", s->seed, "random seed of the sampling")->capture_default_str()->check(unsigned_integer());
    cmd->callback([s] { run_sample(*s); });
}

}  // namespace plat
