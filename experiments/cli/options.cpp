// experiments/cli/options.cpp: the shared model options (experiments/cli/options.h).
#include "experiments/cli/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/error.h"
#include "nn/checkpoint.h"

namespace plat {

void add_model_options(CLI::App* cmd, ModelOptions& o) {
    ModelConfig& c = o.config;
    auto add = [&](CLI::Option* opt) { o.added.push_back(opt->group("Model options")); };
    // A name option: checked against its choices by CLI11, then parsed into its enum in `c`.
    auto choice = [&](const std::string& flag, const std::string& help, std::vector<std::string> choices,
                      std::string shown, std::function<void(const std::string&)> set) {
        add(cmd->add_option_function<std::string>(flag, std::move(set), help)
                ->check(CLI::IsMember(std::move(choices)))
                ->default_str(std::move(shown)));
    };
    choice("--model", "lm (byte-level language model) or vit (28x28 images)", {"lm", "vit"},
           model_kind_name(c.model), [&c](const std::string& v) { c.model = parse_model_kind(v); });
    add(cmd->add_option("--dim", c.dim, "channels C")->capture_default_str()->check(CLI::Range(1, kMaxDim)));
    add(cmd->add_option("--layers", c.layers, "transformer blocks L")->capture_default_str()->check(CLI::Range(1, kMaxLayers)));
    add(cmd->add_option("--heads", c.heads, "attention heads H (must divide --dim)")->capture_default_str()->check(CLI::Range(1, kMaxHeads)));
    add(cmd->add_option("--context", c.context, "lm: longest sequence T")->capture_default_str()->check(CLI::Range(1, kMaxContext)));
    add(cmd->add_option("--patch", c.patch, "vit: patch side P (must divide 28)")->capture_default_str()->check(CLI::Range(1, 28)));
    choice("--attn", "softmax or plap (p-Laplacian)", {"softmax", "plap"}, attn_kind_name(c.attn),
           [&c](const std::string& v) { c.attn = parse_attn_kind(v); });
    add(cmd->add_option_function<std::string>(
               "--p", [&c](const std::string& v) { c.p = parse_p_list(v); },
               fmt::format("plap: p in [{}, {}], one value or a comma-separated list with one per layer", kMinP, kMaxP))
            ->check(p_list())
            ->default_str(fmt::format("{}", c.p[0])));
    choice("--self", "plap self term: unit (b_ii = 0) or exclude (j = i dropped)", {"unit", "exclude"},
           self_term_name(c.self), [&c](const std::string& v) { c.self = parse_self_term(v); });
    add(cmd->add_option("--eps", c.eps, "plap: eps > 0 inside log(||v_i - v_j||^2 + eps)")
            ->capture_default_str()
            ->check(finite_number(0, std::numeric_limits<double>::infinity(), true)));
    add(cmd->add_flag("--learn-p", c.learn_p, "plap: learn p, one per head (parameter ...attn.p)")->capture_default_str());
    add(cmd->add_option("--seed", c.seed, "random seed for the initialization (and data order when training)")
            ->capture_default_str()
            ->check(unsigned_integer()));
}

CLI::Validator finite_number(double min, double max, bool above_min, const std::string& hidden) {
    const std::string range = std::isinf(max) ? fmt::format("{} {}", above_min ? ">" : ">=", min)
                                              : fmt::format("in {}{}, {}]", above_min ? "(" : "[", min, max);
    return CLI::Validator(
        [=](std::string& text) -> std::string {
            char* end = nullptr;
            errno = 0;
            const double v = std::strtod(text.c_str(), &end);
            const bool number = !text.empty() && *end == '\0' && errno != ERANGE;
            if (number && std::isfinite(v) && (above_min ? v > min : v >= min) && v <= max) return "";
            return fmt::format("{}'{}' is not a finite number {}", hidden.empty() ? "" : hidden + ": ", printable(text), range);
        },
        "FLOAT " + range);
}

CLI::Validator unsigned_integer() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            const std::string digits = "0123456789";
            const bool ok = !text.empty() && text.find_first_not_of(digits) == std::string::npos &&
                            (text.size() < 20 || (text.size() == 20 && text <= "18446744073709551615"));
            if (ok) return "";
            return fmt::format("'{}' is not an integer in [0, 18446744073709551615]", printable(text));
        },
        "UINT");
}

// --p's own check, while the command line is parsed: every value a number in [kMinP, kMaxP]. (Whether
// there is one value or one per layer depends on --layers: model_config_from_options checks that.)
CLI::Validator p_list() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            try {
                for (double p : parse_p_list(text))
                    if (!(p >= kMinP && p <= kMaxP))
                        return fmt::format("p = {} is outside [{}, {}]; give p in [{}, {}], e.g. --p 1.5", p, kMinP, kMaxP,
                                           kMinP, kMaxP);
            } catch (const CLI::ValidationError& e) {
                std::string message = e.what();  // "--p: ...": CLI11 adds the option's name again
                return message.rfind("--p: ", 0) == 0 ? message.substr(5) : message;
            }
            return "";
        },
        fmt::format("P[,P...] in [{}, {}]", kMinP, kMaxP));
}

std::vector<double> parse_p_list(const std::string& text) {
    std::vector<double> values;
    size_t start = 0;
    while (true) {
        size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        char* end = nullptr;
        double v = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !std::isfinite(v))
            throw CLI::ValidationError("--p", fmt::format("'{}' is not a number; give p in [{}, {}], e.g. --p 1.5 or --p "
                                                          "1.5,2,2,2",
                                                          item, kMinP, kMaxP));
        values.push_back(v);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return values;
}

ModelConfig model_config_from_options(const ModelOptions& o) {
    const ModelConfig& c = o.config;
    try {
        c.validate();
    } catch (const Error& e) {
        throw CLI::ValidationError("model options", e.what());
    }
    return c;
}

bool any_model_option_given(const ModelOptions& o) {
    for (const CLI::Option* opt : o.added)
        if (opt->count() > 0) return true;
    return false;
}

std::unique_ptr<Model> model_from_options_or_checkpoint(ModelOptions& o, const std::string& checkpoint) {
    if (checkpoint.empty()) return make_model(model_config_from_options(o));
    if (any_model_option_given(o))
        throw CLI::ValidationError("--checkpoint",
                                   "the model options come from the checkpoint; drop --model/--dim/... or drop --checkpoint");
    return load_model(checkpoint);
}

}  // namespace plat
