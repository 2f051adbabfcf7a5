// tests/fuzz/fuzz_common.h: what every fuzz target treats as a finding (notes/08-data-safety.md,
// "Fuzzing"). A parser may accept its input or throw plat::Error; anything else is a bug:
// a crash or sanitizer report (libFuzzer and ASan/UBSan catch those), another exception type
// (it escapes the target, std::terminate aborts), a broken invariant (fuzz_check aborts), or an
// error message that is not one printable line (the command line prints messages as they are).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace plat_fuzz {

// Aborts with `what` when `ok` is false: libFuzzer saves the input as a crash.
inline void fuzz_check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
        std::abort();
    }
}

// A plat::Error is a normal outcome, but its message must be one line of printable text:
// a byte from the input copied raw into a message could break it over lines or reach the
// terminal as an escape code. Every byte below 0x20 (newline, ESC, ...) is a finding. (DEL, 0x7f,
// is let through: it moves nothing on a terminal, and nlohmann's messages quote it raw.)
inline void check_message(const plat::Error& e) {
    const std::string m = e.what();
    for (unsigned char c : m)
        if (c < 0x20) {
            std::fprintf(stderr, "fuzz: error message holds control byte 0x%02x: %s\n", c, m.c_str());
            std::abort();
        }
    fuzz_check(!m.empty(), "an error with an empty message");
}

}  // namespace plat_fuzz
