// experiments/cli/cli.cpp: run_cli (experiments/cli/cli.h). Builds the CLI11 app from each command's
// registration (experiments/cli/commands.h), parses, runs the chosen command, and turns whatever
// goes wrong into one line on stderr and an exit code (notes/08-data-safety.md, "The command
// line"): plat::Error -> 1, a usage error (CLI::ParseError) -> 2, out of memory -> 1.
#include "experiments/cli/cli.h"

#include <algorithm>
#include <cstdio>
#include <new>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "core/error.h"
#include "core/threads.h"
#include "experiments/cli/commands.h"

namespace plat {

namespace {

// Thrown by PlatApp in parse-only mode once everything CLI11 checks has passed.
struct ParsedOnly {};

// The root app. CLI11 calls pre_callback() after the whole command line has been parsed and
// checked and before any command's callback (not at all after an error or --help): in
// parse-only mode it stops there, so no command does any work.
class PlatApp : public CLI::App {
public:
    PlatApp(const std::string& description, bool parse_only) : CLI::App(description, "plat"), parse_only_(parse_only) {}
    void pre_callback() override {
        if (parse_only_) throw ParsedOnly{};
    }

private:
    bool parse_only_;
};

// A message as one line: the command line's own words (a path, an option's value) are quoted
// in messages, and a newline or an escape code in them must not break the line or reach the
// terminal. Control bytes become \xNN (UTF-8 text is left alone); very long messages (a
// megabyte-long argument quoted back) are cut.
std::string one_line(const std::string& message) {
    const size_t max_chars = 2000;
    std::string out;
    for (unsigned char c : message) {
        if (out.size() >= max_chars) {
            out += "...";
            break;
        }
        if (c < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += char(c);
    }
    return out;
}

std::vector<std::string> command_names(CLI::App& app) {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
    return names;
}

int usage_error(const std::string& message, const std::string& help) {
    fmt::print(stderr, "plat: usage error: {}; see `{}`\n", one_line(message), help);
    return 2;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, CliMode mode) {
    PlatApp app{"plat: a deep-learning framework written to be read, and the p-Laplacian Transformer.\n"
                "Threads: PLAT_THREADS sets OpenMP's and OpenBLAS's thread count (default: all cores).",
                mode == CliMode::parse_only};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Print the help of every command");
    register_mlp_demo(app);
    register_inspect(app);
    register_attention(app);
    register_bench(app);
    register_train(app);
    register_eval(app);
    register_sample(app);
    register_probe(app);
    register_plot(app);
    register_graph(app);

    // CLI11 answers both of these with "A subcommand is required", which names neither.
    const std::vector<std::string> commands = command_names(app);
    std::string listed = "the commands are";
    for (size_t i = 0; i < commands.size(); i++) listed += (i == 0 ? " " : ", ") + commands[i];
    if (args.size() < 2) return usage_error("no command given; " + listed, "plat --help");
    if ((args[1].empty() || args[1][0] != '-') && std::find(commands.begin(), commands.end(), args[1]) == commands.end())
        return usage_error(fmt::format("unknown command '{}'; {}", args[1], listed), "plat --help");
    // And an option before the command, other than --help, with "A subcommand is required".
    if (args[1][0] == '-' && app.get_option_no_throw(args[1]) == nullptr)
        return usage_error(fmt::format("unknown option '{}'; options go after the command (plat COMMAND [OPTIONS]); {}",
                                       args[1], listed),
                           "plat --help");

    try {
        if (mode == CliMode::run) init_threads_from_env();
        // CLI11 parses a reversed list of the arguments after the program's name.
        std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);
        app.parse(std::move(reversed));  // runs the chosen command's callback
    } catch (const ParsedOnly&) {
        return 0;
    } catch (const CommandExit& e) {
        return e.code;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e) == 0 ? 0 : 2;  // --help, --help-all: printed on stdout
        std::string help = "plat --help";
        for (const CLI::App* sub : app.get_subcommands()) help = "plat " + sub->get_name() + " --help";
        std::string message = e.what();
        if (message.rfind(": ", 0) == 0) message.erase(0, 2);  // CLI11 names a hidden option "" (bench's --sgemm-gflops)
        return usage_error(message, help);
    } catch (const Error& e) {
        fmt::print(stderr, "plat: error: {}\n", one_line(e.what()));
        return 1;
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "plat: error: out of memory; use a smaller --batch, --dim or --context\n");
        return 1;
    } catch (const std::exception& e) {
        if (mode == CliMode::parse_only) throw;  // the fuzzer counts it as a finding
        fmt::print(stderr, "plat: error: unexpected error (a bug in plat; please report it): {}\n", one_line(e.what()));
        return 1;
    }
    return 0;
}

int run_cli(int argc, char** argv) { return run_cli(std::vector<std::string>(argv, argv + argc)); }

}  // namespace plat
