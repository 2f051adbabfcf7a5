// experiments/main.cpp: the `plat` command line. Each command lives in its own file under
// experiments/ and registers itself with CLI11 (experiments/commands.h). This file turns every
// plat::Error into a one-line message and exit code 1; usage errors exit with code 2.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "core/error.h"
#include "core/threads.h"
#include "experiments/commands.h"

int main(int argc, char** argv) {
    CLI::App app{"plat: a deep-learning framework written to be read, and the p-Laplacian Transformer.\n"
                 "Threads: PLAT_THREADS sets OpenMP's and OpenBLAS's thread count (default: all cores)."};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Print the help of every command");
    plat::register_mlp_demo(app);
    plat::register_inspect(app);
    plat::register_attention(app);
    plat::register_bench(app);
    plat::register_train(app);
    plat::register_eval(app);
    plat::register_sample(app);
    try {
        plat::init_threads_from_env();
        app.parse(argc, argv);  // runs the chosen command's callback
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);  // prints help (code 0) or the usage error
        return code == 0 ? 0 : 2;
    } catch (const plat::Error& e) {
        fmt::print(stderr, "plat: error: {}\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        fmt::print(stderr, "plat: error: out of memory; use a smaller --batch, --dim or --context\n");
        return 1;
    }
    return 0;
}
