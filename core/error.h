// core/error.h: the one error type of plat.
// Every check at an API boundary throws plat::Error with a message that names the operation,
// the values seen, what was expected and, where it helps, what to do. The command line turns
// it into a one-line message and exit code 1 (experiments/main.cpp).
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace plat {

struct Error : std::runtime_error {
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// fail("matmul: inner sizes differ: a is {}, b is {}", a, b) formats and throws.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
    throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace plat
