// core/error.h: the one error type of plat.
// Every check at an API boundary throws plat::Error with a message that names the operation,
// the values seen, what was expected and, where it helps, what to do. The command line turns
// it into a one-line message and exit code 1 (experiments/cli/main.cpp).
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace plat {

struct Error : std::runtime_error {
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Text from a file or the user, made safe to print on one line: control and non-ASCII bytes
// become \xNN escapes, and strings longer than max_chars are cut. Every name taken from a file
// goes through this before it enters a message (a message is always one line).
std::string printable(const std::string& s, size_t max_chars = 60);

// fail("matmul: inner sizes differ: a is {}, b is {}", a, b) formats and throws.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace plat
