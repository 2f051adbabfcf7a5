// experiments/cli/main.cpp: the `plat` program. Everything (parsing, checks, error messages, exit
// codes) is run_cli in experiments/cli/cli.cpp, which the tests and the fuzzer call too.
#include "experiments/cli/cli.h"

int main(int argc, char** argv) { return plat::run_cli(argc, argv); }
