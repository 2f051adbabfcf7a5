// tests/helpers.h: the few helpers many test files share: the message of the error a call
// throws, a substring test, a temporary directory removed with its contents, and whole-file
// reads and writes. Header-only; compiles in both the float and the double test programs.
#pragma once

#include <doctest/doctest.h>

#include <stdlib.h>  // mkdtemp (POSIX)
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "nn/config.h"

namespace plat::test {

// The message of the plat::Error that f throws; no exception or any other exception fails the
// test (non-fatally, so every row of a table is reported) and gives "". Expect no error with
// CHECK_NOTHROW.
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL_CHECK("expected plat::Error, got another exception: " << std::string(e.what()));
        return "";
    } catch (...) {
        FAIL_CHECK("expected plat::Error, got a non-standard exception");
        return "";
    }
    FAIL_CHECK("expected plat::Error, nothing was thrown");
    return "";
}

// Whether `part` occurs in `s`.
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A tiny byte-level lm with p-LaT (p = 1.5, learnable, so its state holds transformer.h.0.attn.p),
// 2 layers of 2 heads: the model of the tests that need a whole model but not its size.
inline ModelConfig tiny_plap_lm(int dim = 16, int context = 8, uint64_t seed = 3) {
    ModelConfig c;
    c.model = ModelKind::lm;
    c.dim = dim;
    c.layers = 2;
    c.heads = 2;
    c.context = context;
    c.attn = AttnKind::plap;
    c.p = {1.5};
    c.learn_p = true;
    c.seed = seed;
    return c;
}

// A fresh directory plat-test-<prefix>-XXXXXX from mkdtemp under the system's temporary directory,
// removed with everything in it when the object goes (made writable first, in case a test made
// it read-only). The prefix names the test that made it, for whoever finds one left behind.
struct TempDir {
    std::string path;
    explicit TempDir(const std::string& prefix) {
        std::string pattern = (std::filesystem::temp_directory_path() / ("plat-test-" + prefix + "-XXXXXX")).string();
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        REQUIRE(mkdtemp(buf.data()) != nullptr);
        path = buf.data();
    }
    ~TempDir() {
        chmod(path.c_str(), 0700);
        std::filesystem::remove_all(path);
    }
    TempDir(const TempDir&) = delete;  // one owner: a copy would remove the directory twice
    TempDir& operator=(const TempDir&) = delete;

    // The path of `name` inside the directory.
    std::string file(const std::string& name) const { return path + "/" + name; }
    // The names directly inside the directory, sorted.
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& e : std::filesystem::directory_iterator(path)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }
};

// The whole file as bytes; a file that cannot be opened fails the test (non-fatally) and reads as "".
inline std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        FAIL_CHECK("read_bytes: cannot open " << path);
    }
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes `bytes` as the whole file `path` (replacing it); a failed write stops the test.
inline void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    REQUIRE(out.good());
}

// n as 8 little-endian bytes: the length prefix of a safetensors file, for building damaged ones.
inline std::string le64(uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; i++) s[i] = char((n >> (8 * i)) & 0xff);
    return s;
}

}  // namespace plat::test
