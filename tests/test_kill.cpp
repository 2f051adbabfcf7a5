// tests/test_kill.cpp: a process killed at any moment, in the middle of writing a checkpoint
// included, leaves the previous checkpoint loadable (notes/08-data-safety.md, "Killed during a
// save"). A child process saves checkpoints over one path again and again; the parent kills it,
// then loads the file and checks that it is one complete version, bit for bit.
// Two ways to kill: SIGKILL after a delay (any moment: between saves, while writing, during
// fsync or rename), and a file-size limit, whose SIGXFSZ ends the child exactly when the
// temporary file reaches a chosen byte (a kill inside the write, by construction, not by luck).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "experiments/training/run_dir.h"
#include "nn/checkpoint.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;
namespace fs = std::filesystem;

namespace {

ModelConfig kill_test_model() {
    ModelConfig c;
    c.model = ModelKind::lm;
    c.dim = 32;
    c.layers = 2;
    c.heads = 2;
    c.context = 16;
    c.seed = 1;
    return c;  // about 34k parameters: a 140 KB checkpoint, written in one write() per tensor
}

// Version v of the parameters: every element a function of (v, tensor, index), exact in float.
// The parent recomputes it to check a loaded file bit for bit.
real version_value(int64_t v, size_t tensor, int64_t i) {
    return real(double((v * 7919 + int64_t(tensor) * 131 + i) % 10007) / 1024.0);
}

void set_version(Model& model, int64_t v) {
    NamedParameters params = model.named_parameters();
    for (size_t q = 0; q < params.size(); q++) {
        Tensor t = params[q].second.value();  // shares the parameter's storage
        for (int64_t i = 0; i < t.numel(); i++) t[i] = version_value(v, q, i);
    }
}

// The version a checkpoint file holds; fails the test unless every tensor is exactly that version.
int64_t check_complete_version(const std::string& path, Model& model) {
    Checkpoint ck = load_checkpoint(path);  // throws on any damage
    REQUIRE(ck.extra.count("version") == 1);
    const int64_t v = std::stoll(ck.extra.at("version"));
    NamedParameters params = model.named_parameters();
    REQUIRE(ck.model.size() == params.size());
    for (size_t q = 0; q < params.size(); q++) {
        const Tensor& t = ck.model.at(params[q].first);
        int64_t bad = 0;
        for (int64_t i = 0; i < t.numel(); i++) bad += t[i] != version_value(v, q, i);
        INFO(params[q].first << " in version " << v);
        CHECK(bad == 0);
    }
    return v;
}

// In the child: only single-threaded work (no OpenMP region: the forked child has none of the
// parent's worker threads), no doctest, and _exit so that no destructor or atexit handler runs.
[[noreturn]] void child_saves(Model& model, const std::string& path, int64_t first_version, int64_t count,
                              rlim_t file_size_limit) {
    prctl(PR_SET_DUMPABLE, 0);  // a SIGXFSZ death would otherwise dump core
    if (file_size_limit != RLIM_INFINITY) {
        struct rlimit limit = {file_size_limit, file_size_limit};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(3);
    }
    for (int64_t v = first_version; count < 0 || v < first_version + count; v++) {
        set_version(model, v);
        try {
            save_checkpoint(path, model, nullptr, {{"version", std::to_string(v)}});
        } catch (...) {
            _exit(2);
        }
    }
    _exit(0);
}

pid_t fork_child() {
    std::fflush(nullptr);  // nothing buffered may be written twice, by parent and child
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0)
        for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) signal(sig, SIG_DFL);  // doctest's handlers
    return pid;
}

}  // namespace

TEST_CASE("kill: a save cut at any byte of the temporary file leaves the previous checkpoint, bit for bit") {
    TempDir dir("kill-cut");
    const std::string path = dir.path + "/last.safetensors";  // a run directory's name: see remove_stale_temporaries
    std::unique_ptr<Model> model = make_model(kill_test_model());
    set_version(*model, 0);
    save_checkpoint(path, *model, nullptr, {{"version", "0"}});
    const std::string before = read_bytes(path);
    const int64_t size = int64_t(before.size());  // every version has this size

    // 24 cut points spread over the file, the first and last bytes included.
    int killed = 0, temporaries = 0;
    for (int k = 0; k < 24; k++) {
        const int64_t cut = k == 23 ? size - 1 : size * k / 23;
        pid_t pid = fork_child();
        if (pid == 0) child_saves(*model, path, 1, 1, rlim_t(cut));
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        INFO("cut at byte " << cut << " of " << size);
        CHECK(WIFSIGNALED(status));
        if (WIFSIGNALED(status)) {
            CHECK(WTERMSIG(status) == SIGXFSZ);
            killed++;
        }
        CHECK(read_bytes(path) == before);
        CHECK(check_complete_version(path, *model) == 0);
        temporaries += int(remove_stale_temporaries(dir.path).size());
    }
    CHECK(killed == 24);
    CHECK(temporaries == 24);  // each killed save left its partial temporary, and the run's cleanup removed it
    CHECK(fs::exists(path));
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}

TEST_CASE("kill: SIGKILL at any moment of a stream of saves leaves one complete version") {
    TempDir dir("kill-sigkill");
    const std::string path = dir.path + "/last.safetensors";
    std::unique_ptr<Model> model = make_model(kill_test_model());
    set_version(*model, 0);

    // How long one save takes here (fsync included), to spread the kills over a few saves.
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; i++) save_checkpoint(path, *model, nullptr, {{"version", "0"}});
    const double save_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 3;

    // Trial k kills after k/30 of three saves. Versions only grow: trial k's child starts at
    // 1000 k + 1, so a file older than the last trial's (a lost rename) would be caught too.
    int64_t last_version = 0;
    int temporaries = 0;
    for (int k = 0; k < 30; k++) {
        pid_t pid = fork_child();
        if (pid == 0) child_saves(*model, path, 1000 * int64_t(k) + 1, -1, RLIM_INFINITY);
        std::this_thread::sleep_for(std::chrono::microseconds(int64_t(3 * save_us * k / 30)));
        REQUIRE(kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status));  // the child was still saving when it was killed
        INFO("trial " << k << ", killed after " << 3 * save_us * k / 30 << " us");
        const int64_t v = check_complete_version(path, *model);
        CHECK(v >= last_version);
        CHECK((v == last_version || v / 1000 == k));  // unchanged, or one of this child's versions
        last_version = v;
        temporaries += int(remove_stale_temporaries(dir.path).size());
    }
    MESSAGE("one save takes " << save_us << " us; the 30 kills left " << temporaries
                              << " temporaries, each removed; the file ended at version " << last_version);
    CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);
}
