// tests/test_fuzz_regressions.cpp: the inputs that broke a parser under the fuzz targets
// (tests/fuzz/), fed to the same parser so that each bug stays fixed (notes/08-data-safety.md,
// "Fuzzing"). Each input runs in a child process: a crash (a stack overflow, an ASan report)
// then fails one check instead of killing the whole test program.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "core/error.h"
#include "nn/config.h"

using namespace plat;

namespace {

// What happened when `parse` ran in a child process: "ok" when it returned or threw a plat::Error
// whose message is one line of printable text (the rule of fuzz_common.h), otherwise what went
// wrong.
std::string outcome_of(const std::function<void()>& parse) {
    fflush(nullptr);  // nothing buffered may be written twice, by parent and child
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // doctest's crash handlers would report from the child too: a crash here kills only the child.
        for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) signal(sig, SIG_DFL);
        int code = 0;
        try {
            parse();
        } catch (const Error& e) {
            for (const char* c = e.what(); *c; c++)
                if ((unsigned char)*c < 0x20) code = 3;
        } catch (...) {
            code = 2;
        }
        _exit(code);  // no atexit handlers, no doctest reporting from the child
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) return "crashed with signal " + std::to_string(WTERMSIG(status));
    switch (WEXITSTATUS(status)) {
        case 0: return "ok";
        case 2: return "threw something other than plat::Error";
        case 3: return "threw a plat::Error whose message holds a control character";
        default: return "exited with status " + std::to_string(WEXITSTATUS(status)) + " (a sanitizer report?)";
    }
}

// `depth` opening brackets, `inner`, `depth` closing ones.
std::string nested(const std::string& open, const std::string& close, int depth, const std::string& inner = "") {
    std::string s;
    for (int i = 0; i < depth; i++) s += open;
    s += inner;
    for (int i = 0; i < depth; i++) s += close;
    return s;
}

}  // namespace

// nn/config.cpp, ModelConfig::from_json: found by fuzz_config (1e999, the unknown key with \b)
// and by reading the code the fuzzer pointed at (the rest). Each must give a configuration or
// a one-line plat::Error.
TEST_CASE("fuzz regressions: ModelConfig::from_json (nn/config.cpp)") {
    struct Input {
        const char* what;
        std::string text;
    };
    const Input inputs[] = {
        // fuzz_config, crash-a2a2fb7b9feddf8163f01e845ded7b686add545e: nlohmann throws
        // out_of_range.406 for a number beyond double, from_json catches only parse_error.
        {"a number past double's range", "1e999"},
        {"1e999 as a value", R"({"model":"lm","dim":1e999})"},
        // fuzz_config: an unknown key is copied raw into the message (here a backspace, \b).
        {"unknown key with a control character", "{\"model\":\"lm\",\"se\\blf\":2}"},
        {"unknown key with a newline", "{\"model\":\"lm\",\"a\\nb\":2}"},
        {"model with a newline", "{\"model\":\"l\\nm\"}"},
        {"attn with an escape code", R"({"model":"lm","dim":8,"layers":1,"heads":2,"context":4,"attn":"\u001b[31m","p":2,"self":"unit","eps":1e-6,"learn_p":false,"seed":0})"},
        {"self with a newline", R"({"model":"lm","dim":8,"layers":1,"heads":2,"context":4,"attn":"plap","p":2,"self":"a\nb","eps":1e-6,"learn_p":false,"seed":0})"},
        // The messages print a wrong value with dump(), which recurses once per level of nesting:
        // 200000 levels (400 KB, a checkpoint's metadata may hold 100 MB) overflow the stack.
        {"array nested 200000 deep", nested("[", "]", 200000)},
        {"dim nested 200000 deep", "{\"model\":\"lm\",\"dim\":" + nested("[", "]", 200000) + "}"},
        {"p nested 200000 deep", "{\"model\":\"lm\",\"dim\":8,\"layers\":1,\"heads\":2,\"context\":4,\"attn\":\"plap\",\"p\":" + nested("[", "]", 200000) + "}"},
        {"objects nested 200000 deep", nested("{\"a\":", "}", 200000, "1")},
    };
    for (const Input& in : inputs) {
        const std::string what = in.what;
        CAPTURE(what);
        CHECK(outcome_of([&] { ModelConfig::from_json(in.text); }) == "ok");
    }
}

TEST_CASE("fuzz regressions: config values out of range and oversized texts are plat::Errors") {
    // An unsigned value above INT64_MAX once wrapped and was reported as dim = -1.
    std::string huge_dim =
        R"({"model":"lm","dim":18446744073709551615,"layers":2,"heads":2,"context":4,"attn":"softmax","p":2,"self":"unit","eps":1e-06,"learn_p":false,"seed":0})";
    CHECK_THROWS_WITH_AS(ModelConfig::from_json(huge_dim), doctest::Contains("18446744073709551615"), Error);
    // A configuration text far larger than any configuration is refused before it is parsed.
    std::string long_text = R"({"p":[)" + std::string(70000, '1') + "]}";
    CHECK_THROWS_WITH_AS(ModelConfig::from_json(long_text), doctest::Contains("64 KiB"), Error);
}
