// experiments/cli/options.h: the model options every `plat` command that builds a model
// shares, named after the configuration's keys (nn/config.h): --model --dim --layers --heads
// --context --patch --attn --p --self --eps --learn-p --seed.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

#include <memory>

#include "nn/models.h"

namespace plat {

// The options bind straight into `config`: a name (--model lm, --attn plap, --self exclude) is
// parsed into its enum and --p into its list as the command line is read, once.
struct ModelOptions {
    ModelConfig config;
    std::vector<CLI::Option*> added;  // to tell whether any was given on the command line
};

void add_model_options(CLI::App* cmd, ModelOptions& options);
// The configuration, validated once (ModelConfig::validate): a problem the options' own checks
// cannot see alone (dim not divisible by heads, one p per layer) is a usage error:
// CLI::ValidationError, exit code 2.
ModelConfig model_config_from_options(const ModelOptions& options);
// True when the user gave any model option explicitly (a conflict with --checkpoint).
bool any_model_option_given(const ModelOptions& options);

// The model a command works on: loaded from `checkpoint` when it is given (model options are
// then a usage error: the configuration comes from the file), else built from the options.
std::unique_ptr<Model> model_from_options_or_checkpoint(ModelOptions& options, const std::string& checkpoint);

// Checks for option values that CLI11's own validators let through. CLI::Range, PositiveNumber
// and NonNegativeNumber compare numbers, and every comparison with NaN is false, so "--lr nan"
// or "--temperature nan" passed them (their messages also print DBL_MAX in full); and an unsigned
// option reads "-1" as 2^64 - 1 without a word.
// A finite number in [min, max], or in (min, max] when above_min; max may be infinity. `hidden`
// names the option in the message, for an option CLI11 hides (it names the others itself).
CLI::Validator finite_number(double min, double max, bool above_min = false, const std::string& hidden = "");
// Decimal digits only, at most 2^64 - 1 (seeds).
CLI::Validator unsigned_integer();
// --p: one number or a comma-separated list, each in [kMinP, kMaxP] (parse_p_list).
CLI::Validator p_list();

// "1.5" -> {1.5}; "1.5,2,3" -> {1.5, 2, 3}. Throws CLI::ValidationError naming the bad item.
std::vector<double> parse_p_list(const std::string& text);

}  // namespace plat
