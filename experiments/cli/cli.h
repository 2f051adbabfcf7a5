// experiments/cli/cli.h: the whole `plat` command line as one function, so that the program
// (experiments/cli/main.cpp), the tests (tests/test_cli.cpp) and the fuzzer (tests/fuzz/fuzz_cli.cpp)
// run the same parsing, the same checks and the same error messages (notes/08-data-safety.md,
// "The command line").
#pragma once
#include <string>
#include <vector>

namespace plat {

enum class CliMode {
    run,         // parse, check, run the chosen command
    parse_only,  // parse and check what CLI11 checks (unknown options, missing values, types,
                 // ranges, choices, required options), then stop: no command runs (the fuzzer)
};

// Runs `plat` on `args` (args[0] is the program's name) and returns the process's exit code:
//   0  done (or --help printed)
//   1  an error (plat::Error: a missing or damaged file, a wrong model, ...; out of memory)
//   2  a usage error (an unknown command or option, a missing or bad value)
// Every error is one line on stderr: "plat: error: ..." or "plat: usage error: ...".
// Each call builds a fresh CLI11 app, so it may be called any number of times in one process.
int run_cli(const std::vector<std::string>& args, CliMode mode = CliMode::run);
int run_cli(int argc, char** argv);

}  // namespace plat
