// tests/main.cpp: doctest's main, shared by both test programs (float and double builds).
// Threads follow PLAT_THREADS like the command line, so tests run as users run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "core/threads.h"

int main(int argc, char** argv) {
    plat::init_threads_from_env();
    doctest::Context context(argc, argv);
    return context.run();
}
