// tests/test_cli.cpp: the `plat` command line (experiments/cli/cli.h, run_cli) answering bad input.
// One table holds every kind of wrong command line for every command: each row gives the
// arguments, the exit code (2 for a usage error, 1 for any other error) and words the message
// must contain. Every row runs in-process in a fresh empty directory with stdout and stderr
// (the file descriptors) captured, and must leave exactly one line on stderr and no file behind
// (notes/08-data-safety.md, "The command line").
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <cmath>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/threads.h"
#include "experiments/cli/cli.h"
#include "nn/checkpoint.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;
namespace fs = std::filesystem;

namespace {

std::string read_all(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
    return s;
}

// Every file and directory under `dir` with its size, sorted: what a command may not change.
std::vector<std::string> listing(const std::string& dir) {
    std::vector<std::string> entries;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        std::string name = fs::relative(e.path(), dir).string();
        entries.push_back(e.is_regular_file() ? name + " " + std::to_string(e.file_size()) : name + "/");
    }
    std::sort(entries.begin(), entries.end());
    return entries;
}

struct CliOutcome {
    int code = -1;
    std::string out, err;
};

// run_cli with file descriptors 1 and 2 redirected into temporary files, so that whatever any
// layer prints (fmt, stdio, iostreams, CLI11) is caught, in the directory `cwd`.
CliOutcome run_captured(const std::vector<std::string>& args, const std::string& cwd) {
    const std::string here = fs::current_path().string();
    std::fflush(stdout);
    std::fflush(stderr);
    std::cout.flush();
    std::FILE* out = std::tmpfile();
    std::FILE* err = std::tmpfile();
    REQUIRE(out != nullptr);
    REQUIRE(err != nullptr);
    const int saved_out = dup(1), saved_err = dup(2);
    REQUIRE(dup2(fileno(out), 1) >= 0);
    REQUIRE(dup2(fileno(err), 2) >= 0);
    REQUIRE(chdir(cwd.c_str()) == 0);
    CliOutcome r;
    try {
        r.code = run_cli(args);
    } catch (...) {
        r.code = -2;  // run_cli let an exception escape: reported by the caller
    }
    std::cout.flush();
    std::fflush(stdout);
    std::fflush(stderr);
    REQUIRE(chdir(here.c_str()) == 0);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    r.out = read_all(out);
    r.err = read_all(err);
    std::fclose(out);
    std::fclose(err);
    return r;
}

// Sets an environment variable for the lifetime of the object.
struct ScopedEnv {
    std::string name;
    bool had = false;
    std::string old;
    ScopedEnv(const char* n, const std::string& value) : name(n) {
        if (const char* v = std::getenv(n)) had = true, old = v;
        setenv(n, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (had)
            setenv(name.c_str(), old.c_str(), 1);
        else
            unsetenv(name.c_str());
    }
};

// {F} in a row stands for the fixture directory, {E} for the row's own empty directory.
std::string expand(std::string s, const std::string& fixtures, const std::string& empty) {
    for (auto [key, value] : {std::pair<std::string, std::string>{"{F}", fixtures}, {"{E}", empty}})
        for (size_t at; (at = s.find(key)) != std::string::npos;) s.replace(at, key.size(), value);
    return s;
}

struct Row {
    std::vector<std::string> args;  // after "plat"
    int code;                       // 2 usage error, 1 other error (0: accepted, with a note)
    std::string message;            // words the one line on stderr must contain
};

// "{TINY}" in a row stands for the options of a tiny model, for the rows that build one.
const std::vector<std::string> kTinyModel = {"--dim", "8", "--heads", "2", "--layers", "1", "--context", "8"};

const Row kBadInputs[] = {
    // ---- any command ------------------------------------------------------------------------------
    {{}, 2, "no command given; the commands are mlp-demo, inspect"},
    {{"frob"}, 2, "unknown command 'frob'"},
    {{""}, 2, "unknown command ''"},
    {{"--bogus", "train", "lm"}, 2, "unknown option '--bogus'"},
    // ---- train: unknown options, missing values, non-numeric numbers --------------------------------
    {{"train"}, 2, "task is required"},
    {{"train", "lm2"}, 2, "task: lm2 not in {lm,vit,synthetic}"},
    {{"train", "lm", "lm"}, 2, "not expected: lm"},
    {{"train", "lm", "--bogus"}, 2, "not expected: --bogus"},
    {{"train", "lm", "--dim"}, 2, "--dim: 1 required"},
    {{"train", "lm", "--dim", "8", "--dim", "16"}, 2, "--dim: At Most 1"},
    {{"train", "lm", "--dim", "abc"}, 2, "--dim: Value abc"},
    {{"train", "lm", "--dim", "1\n2"}, 2, "--dim: Value 1\\x0a2"},  // the newline escaped: one line
    {{"train", "lm", "--steps", "1.5"}, 2, "--steps: Value 1.5"},
    {{"train", "lm", "--lr", "abc"}, 2, "--lr: 'abc' is not a finite number > 0"},
    {{"train", "lm", "--p", "1,x"}, 2, "--p: 'x' is not a number"},
    {{"train", "lm", "--p", ""}, 2, "--p: '' is not a number"},
    {{"train", "lm", "--model", "gpt"}, 2, "--model: gpt not in {lm,vit}"},
    {{"train", "lm", "--attn", "linear"}, 2, "--attn: linear not in {softmax,plap}"},
    {{"train", "lm", "--self", "both"}, 2, "--self: both not in {unit,exclude}"},
    // ---- train: out-of-range values ---------------------------------------------------------------
    {{"train", "lm", "--attn", "plap", "--p", "0.5"}, 2, "--p: p = 0.5 is outside [1, 4]"},
    {{"train", "lm", "--attn", "plap", "--p", "4.5"}, 2, "--p: p = 4.5 is outside [1, 4]"},
    {{"train", "lm", "--attn", "plap", "--p", "1.5,2"}, 2, "p has 2 values; give 1 value"},
    {{"train", "lm", "--eps", "0"}, 2, "--eps: '0' is not a finite number > 0"},
    {{"train", "lm", "--eps", "-1"}, 2, "--eps: '-1' is not a finite number > 0"},
    {{"train", "lm", "--eps", "nan"}, 2, "--eps: 'nan' is not a finite number > 0"},
    {{"train", "lm", "--dim", "10", "--heads", "4"}, 2, "dim = 10 is not divisible by heads = 4"},
    {{"train", "lm", "--dim", "0"}, 2, "--dim: Value 0 not in range"},
    {{"train", "lm", "--dim", "-8"}, 2, "--dim: Value -8 not in range"},
    {{"train", "lm", "--layers", "0"}, 2, "--layers: Value 0 not in range"},
    {{"train", "lm", "--heads", "-1"}, 2, "--heads: Value -1 not in range"},
    {{"train", "lm", "--context", "0"}, 2, "--context: Value 0 not in range"},
    {{"train", "lm", "--context", "8193"}, 2, "--context: Value 8193 not in range"},
    {{"train", "lm", "--batch", "0"}, 2, "--batch: Value 0 not in range"},
    {{"train", "lm", "--steps", "0"}, 2, "--steps: Value 0 not in range"},
    {{"train", "lm", "--steps", "-5"}, 2, "--steps: Value -5 not in range"},
    {{"train", "lm", "--learn-p"}, 2, "learn_p = true needs attn = \"plap\""},
    {{"train", "lm", "--model", "vit"}, 2, "trains the lm model; drop --model vit"},
    {{"train", "lm", "--seed", "-1"}, 2, "--seed: '-1' is not an integer"},
    {{"train", "lm", "--lr", "0"}, 2, "--lr: '0' is not a finite number > 0"},
    {{"train", "lm", "--lr", "nan"}, 2, "--lr: 'nan' is not a finite number"},
    {{"train", "lm", "--lr", "inf"}, 2, "--lr: 'inf' is not a finite number"},
    {{"train", "lm", "--lr", "0.5", "--min-lr", "1"}, 2, "--min-lr 1 must be in [0, --lr = 0.5]"},
    {{"train", "lm", "--weight-decay", "nan"}, 2, "--weight-decay: 'nan'"},
    {{"train", "lm", "--grad-clip", "-1"}, 2, "--grad-clip: '-1'"},
    {{"train", "lm", "--dropout", "1"}, 2, "--dropout: '1' is not a finite number in [0, 0.99]"},
    {{"train", "lm", "--warmup", "-1"}, 2, "--warmup: Value -1 not in range"},
    {{"train", "lm", "--eval-every", "-1"}, 2, "--eval-every: Value -1 not in range"},
    {{"train", "lm", "--eval-batches", "0"}, 2, "--eval-batches: Value 0 not in range"},
    {{"train", "lm", "--log-every", "0"}, 2, "--log-every: Value 0 not in range"},
    {{"train", "vit", "--patch", "5"}, 2, "patch = 5 does not divide the image side 28"},
    {{"train", "vit", "--patch", "0"}, 2, "--patch: Value 0 not in range"},
    {{"train", "synthetic", "--clusters", "0"}, 2, "--clusters: Value 0 not in range"},
    {{"train", "synthetic", "--members", "1"}, 2, "--members: Value 1 not in range"},
    {{"train", "synthetic", "--keep", "nan"}, 2, "--keep: 'nan' is not a finite number in [0, 1]"},
    {{"train", "synthetic", "--keep", "0.2"}, 2, "keep must be in (1/members, 1]"},
    {{"train", "synthetic", "--clusters", "64", "--members", "64"}, 2, "must be bytes (0 .. 255)"},
    // ---- train: data and checkpoints ----------------------------------------------------------------
    {{"train", "lm", "{TINY}"}, 1, "kjv.txt': No such file or directory; run `make data`"},
    {{"train", "vit", "--dim", "8", "--heads", "2", "--layers", "1"}, 1, "train-images-idx3-ubyte': No such file"},
    {{"train", "lm", "{TINY}", "--data", "{F}/short"}, 1, "must each hold one window of --context + 1 = 9 bytes"},
    {{"train", "synthetic", "{TINY}", "--run", "{F}/syn"}, 1, "already holds a checkpoint; continue it with"},
    {{"train", "synthetic", "--resume", "{F}/missing.safetensors"}, 1, "cannot open it: No such file"},
    {{"train", "synthetic", "--resume", "{F}/truncated.safetensors"}, 1, "truncated.safetensors"},
    {{"train", "synthetic", "--resume", "{F}/vit.safetensors"}, 1, "holds no training progress"},
    {{"train", "lm", "--resume", "{F}/syn"}, 2, "is from a `plat train synthetic` run"},
    {{"train", "synthetic", "--resume", "{F}/syn", "--dim", "16"}, 2, "--resume: the model comes from the checkpoint"},
    {{"train", "synthetic", "--resume", "{F}/syn", "--context", "64"}, 2, "--resume: the model comes from the checkpoint"},
    {{"train", "synthetic", "--resume", "{F}/syn", "--clusters", "3"}, 2, "--clusters: the synthetic task is fixed"},
    {{"train", "synthetic", "--resume", "{F}/syn", "--steps", "1"}, 1, "is at step 2, past --steps 1"},
    // ---- eval -------------------------------------------------------------------------------------
    {{"eval"}, 2, "--checkpoint is required"},
    {{"eval", "--checkpoint"}, 2, "--checkpoint: 1 required"},
    {{"eval", "--checkpoint", "{F}/missing.safetensors"}, 1, "cannot open it: No such file or directory"},
    {{"eval", "--checkpoint", "{F}/empty"}, 1, "empty/last.safetensors': cannot open it"},
    {{"eval", "--checkpoint", "{F}/notes.txt"}, 1, "is not a safetensors file"},
    {{"eval", "--checkpoint", "{F}/truncated.safetensors"}, 1, "truncated.safetensors"},
    {{"eval", "--checkpoint", "{F}/vit.safetensors"}, 1, "train-images-idx3-ubyte': No such file"},
    {{"eval", "--checkpoint", "{F}/syn", "--split", "train"}, 2, "--split: train not in {val,test}"},
    {{"eval", "--checkpoint", "{F}/syn", "--batch", "-1"}, 2, "--batch: Value -1 not in range"},
    {{"eval", "--checkpoint", "{F}/syn", "--batch", "100000000000"}, 2, "--batch: Value 100000000000 not in range"},
    {{"eval", "--checkpoint", "{F}/syn", "--batches", "x"}, 2, "--batches: Value x"},
    // ---- sample -----------------------------------------------------------------------------------
    {{"sample"}, 2, "--checkpoint is required"},
    {{"sample", "--checkpoint", "{F}/missing.safetensors"}, 1, "cannot open it: No such file or directory"},
    {{"sample", "--checkpoint", "{F}/vit.safetensors"}, 1, "holds a vit model; sampling needs an lm"},
    {{"sample", "--checkpoint", "{F}/syn", "--temperature", "0"}, 2, "--temperature: '0' is not a finite number in [0.001, 100]"},
    {{"sample", "--checkpoint", "{F}/syn", "--temperature", "-1"}, 2, "--temperature: '-1'"},
    {{"sample", "--checkpoint", "{F}/syn", "--temperature", "nan"}, 2, "--temperature: 'nan'"},
    {{"sample", "--checkpoint", "{F}/syn", "--top-k", "-1"}, 2, "--top-k: Value -1 not in range"},
    {{"sample", "--checkpoint", "{F}/syn", "--top-k", "257"}, 2, "--top-k: Value 257 not in range"},
    {{"sample", "--checkpoint", "{F}/syn", "--length", "-1"}, 2, "--length: Value -1 not in range"},
    {{"sample", "--checkpoint", "{F}/syn", "--seed", "-5"}, 2, "--seed: '-5' is not an integer"},
    {{"sample", "--checkpoint", "{F}/syn", "--prompt", ""}, 1, "--prompt is empty"},
    // A prompt longer than the model's context is not an error: its last `context` bytes are kept.
    {{"sample", "--checkpoint", "{F}/syn", "--length", "20", "--prompt", "0123456789abcdef"}, 0,
     "the prompt has 16 bytes, more than the model's context 8; it is cropped to its last 8 bytes"},
    // ---- inspect ----------------------------------------------------------------------------------
    {{"inspect", "--bogus"}, 2, "not expected: --bogus"},
    {{"inspect", "--batch", "0"}, 2, "--batch: Value 0 not in range"},
    {{"inspect", "--attn", "plap", "--p", "5"}, 2, "--p: p = 5 is outside [1, 4]"},
    {{"inspect", "--heads", "3"}, 2, "dim = 128 is not divisible by heads = 3"},
    {{"inspect", "--model", "vit", "--patch", "6"}, 2, "patch = 6 does not divide the image side 28"},
    {{"inspect", "--checkpoint", "{F}/syn/last.safetensors", "--context", "64"}, 2,
     "--checkpoint: the model options come from the checkpoint"},
    {{"inspect", "--checkpoint", "{F}/missing.safetensors"}, 1, "cannot open it: No such file or directory"},
    {{"inspect", "--checkpoint", "{F}/truncated.safetensors"}, 1, "truncated.safetensors"},
    {{"inspect", "{TINY}", "--text", "{F}/missing.txt"}, 1, "missing.txt': No such file or directory"},
    {{"inspect", "{TINY}", "--batch", "8", "--text", "{F}/short/kjv.txt"}, 1, "has 39 bytes, but --batch 8 windows of context 8 + 1 need 65"},
    {{"inspect", "--model", "vit", "--dim", "8", "--heads", "2", "--layers", "1"}, 1, "No such file or directory"},
    {{"inspect", "{TINY}", "--text", "{F}/text.txt", "--out", "{E}/no/such/dir/x.safetensors"}, 1,
     "creating a temporary file beside it failed"},
    // ---- attention --------------------------------------------------------------------------------
    {{"attention", "--heads", "0"}, 2, "--heads: Value 0 not in range"},
    {{"attention", "--attn", "plap", "--eps", "0"}, 2, "--eps: '0' is not a finite number > 0"},
    {{"attention", "--size", "8"}, 2, "--size: Value 8 not in range"},
    {{"attention", "--index", "-1"}, 2, "--index: Value -1 not in range"},
    {{"attention", "{TINY}", "--text", ""}, 2, "--text: the input text is empty"},
    {{"attention", "--checkpoint", "{F}/syn/last.safetensors", "--dim", "16"}, 2,
     "--checkpoint: the model options come from the checkpoint"},
    {{"attention", "--checkpoint", "{F}/missing.safetensors"}, 1, "cannot open it: No such file or directory"},
    {{"attention", "--checkpoint", "{F}/syn/last.safetensors", "--out", "{E}/no/such/dir"}, 1,
     "cannot create the output directory"},
    // ---- probe ------------------------------------------------------------------------------------
    {{"probe"}, 2, "--checkpoint is required"},
    {{"probe", "--checkpoint", "{F}/missing.safetensors"}, 1, "cannot open it: No such file or directory"},
    {{"probe", "--checkpoint", "{F}/syn", "--k", "0"}, 2, "--k: Value 0 not in range"},
    {{"probe", "--checkpoint", "{F}/syn", "--seed", "-1"}, 2, "--seed"},
    {{"probe", "--checkpoint", "{F}/syn", "--batch", "0"}, 2, "--batch: Value 0 not in range"},
    // ---- bench ------------------------------------------------------------------------------------
    {{"bench", "--config", "xl"}, 2, "--config: xl not in {lm-s,lm-m,vit-s,lm-T128,lm-T256,lm-T512,lm-T1024,lm-T2048,all,sweep}"},
    {{"bench", "--config", "lm-T100"}, 2, "--config: lm-T100 not in {lm-s,"},
    {{"bench", "--attn", "linear"}, 2, "--attn: linear not in {softmax,plap,both}"},
    {{"bench", "--steps", "0"}, 2, "--steps: Value 0 not in range"},
    {{"bench", "--warmup", "-1"}, 2, "--warmup: Value -1 not in range"},
    {{"bench", "--sgemm-size", "10"}, 2, "--sgemm-size: Value 10 not in range"},
    {{"bench", "--sgemm-gflops", "nan"}, 2, "--sgemm-gflops: 'nan' is not a finite number"},
    {{"bench", "--attn", "x"}, 2, "--attn: x not in {softmax,plap,both}"},
    // ---- plot -------------------------------------------------------------------------------------
    {{"plot"}, 2, "runs is required"},
    {{"plot", "{F}/missing"}, 1, "has no metrics.csv; give run directories written by `plat train`"},
    {{"plot", "{F}/missing=label", "--out", "{E}/x.png"}, 1, "'{F}/missing' has no metrics.csv"},
    // ---- mlp-demo ---------------------------------------------------------------------------------
    {{"mlp-demo", "--bogus"}, 2, "not expected: --bogus"},
    {{"mlp-demo", "--hidden", "0"}, 2, "--hidden: Value 0 not in range"},
    {{"mlp-demo", "--steps", "5"}, 2, "--steps: Value 5 not in range"},  // fewer than 10: progress every steps/10
    {{"mlp-demo", "--lr", "abc"}, 2, "--lr: 'abc' is not a finite number in (0, 10]"},
    {{"mlp-demo", "--lr", "nan"}, 2, "--lr: 'nan' is not a finite number in (0, 10]"},
    {{"mlp-demo", "--seed", "x"}, 2, "--seed"},
    {{"mlp-demo", "--seed", "-1"}, 2, "--seed"},
};

// The fixture directory the rows read (never write): a tiny synthetic run made by run_cli itself,
// a vit checkpoint without training progress, damaged files, a data directory with nothing in it,
// a text too short for one window and one long enough; all in the empty directory F.
void make_fixtures(const std::string& F) {
    CliOutcome made = run_captured({"plat", "train", "synthetic", "--dim", "8", "--heads", "2", "--layers", "1",
                                    "--context", "8", "--steps", "2", "--batch", "2", "--eval-every", "0",
                                    "--eval-batches", "1", "--quiet", "--run", F + "/syn"},
                                   F);
    INFO(made.err);
    REQUIRE(made.code == 0);
    ModelConfig vit;
    vit.model = ModelKind::vit;
    vit.dim = 8;
    vit.heads = 2;
    vit.layers = 1;
    vit.patch = 14;
    save_checkpoint(F + "/vit.safetensors", *make_model(vit));
    const std::string last = read_bytes(F + "/syn/last.safetensors");
    write_bytes(F + "/truncated.safetensors", last.substr(0, last.size() / 2));
    write_bytes(F + "/notes.txt", "a text file, not a checkpoint\n");
    fs::create_directory(F + "/empty");
    fs::create_directory(F + "/short");
    write_bytes(F + "/short/kjv.txt", "In the beginning God created the heaven");  // 39 bytes
    std::string text;
    while (text.size() < 2000) text += "and the earth was without form, and void. ";
    write_bytes(F + "/text.txt", text);
}

}  // namespace

TEST_CASE("cli: every bad command line gets one line naming the problem, exit code 2 or 1, and leaves no file") {
    TempDir fixtures("cli-fixtures");
    const std::string& F = fixtures.path;
    make_fixtures(F);
    ScopedEnv data("PLAT_DATA_DIR", F + "/empty");  // no data files: the rows must not need them
    const std::vector<std::string> fixtures_before = listing(F);
    const std::string checkpoint_before = read_bytes(F + "/syn/last.safetensors");

    int rows = 0;
    for (const Row& row : kBadInputs) {
        TempDir row_dir("cli-row");
        const std::string& E = row_dir.path;
        std::vector<std::string> args = {"plat"};
        for (const std::string& a : row.args) {
            if (a == "{TINY}")
                args.insert(args.end(), kTinyModel.begin(), kTinyModel.end());
            else
                args.push_back(expand(a, F, E));
        }
        const std::string message = expand(row.message, F, E);
        std::string shown;
        for (const std::string& a : args) shown += (shown.empty() ? "" : " ") + a;

        CliOutcome r = run_captured(args, E);
        INFO(shown);
        INFO("stderr: " << r.err);
        CHECK(r.code == row.code);
        // One line: the message, a newline, nothing else.
        CHECK(!r.err.empty());
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK((!r.err.empty() && r.err.back() == '\n'));
        const std::string prefix = row.code == 2 ? "plat: usage error: " : row.code == 1 ? "plat: error: " : "note: ";
        CHECK(r.err.rfind(prefix, 0) == 0);
        CHECK(r.err.find(message) != std::string::npos);
        // Nothing written: no run directory, no checkpoint, no partial output, no temporary.
        CHECK(listing(E) == std::vector<std::string>{});
        rows++;
    }
    CHECK(listing(F) == fixtures_before);
    CHECK(read_bytes(F + "/syn/last.safetensors") == checkpoint_before);
    MESSAGE(rows << " bad command lines checked");
}

TEST_CASE("cli: plat attention --weights writes A itself: T rows of T numbers, rows summing to 1, causal zeros") {
    TempDir fixtures("cli-fixtures");
    const std::string& F = fixtures.path;
    make_fixtures(F);
    CliOutcome r = run_captured({"plat", "attention", "--checkpoint", F + "/syn/last.safetensors", "--text", "AZKOR",
                                 "--out", F + "/maps", "--weights", "--size", "16"},
                                F);
    INFO(r.err);
    REQUIRE(r.code == 0);
    for (const char* name : {"layer0_head0.txt", "layer0_head1.txt"}) {
        CAPTURE(name);
        std::istringstream in(read_bytes(F + "/maps/" + name));
        std::string line;
        int rows = 0;
        while (std::getline(in, line)) {
            std::istringstream cells(line);
            std::vector<double> row;
            for (double a; cells >> a;) row.push_back(a);
            REQUIRE(row.size() == 5);  // T = 5 keys, one number each
            double sum = 0;
            for (size_t j = 0; j < row.size(); j++) {
                sum += row[j];
                if (int(j) > rows) CHECK(row[j] == 0);  // causal: keys after the query get exactly 0
            }
            CHECK(std::abs(sum - 1) <= 1e-4);  // six significant digits per weight
            rows++;
        }
        CHECK(rows == 5);
    }
}

TEST_CASE("cli: plat bench --ops times every piece it names, and leaves the thread count as it found it") {
    TempDir dir("cli-bench-ops");
    const int threads = get_num_threads();  // the p-LaT piece lines switch to one thread and back
    CliOutcome r = run_captured({"plat", "bench", "--config", "lm-s", "--ops"}, dir.path);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(get_num_threads() == threads);
    for (const char* piece : {"softmax_attention forward and backward", "plap_attention forward and backward",
                              "pairwise_sq_distances", "syrk_lower alone", "the log term", "symm_lower",
                              "against one gemm of the same shape", "AdamW step"}) {
        CAPTURE(piece);
        // the line exists and ends in a time: a positive, finite number of milliseconds
        const size_t at = r.out.find(piece);
        REQUIRE(at != std::string::npos);
        const size_t eol = r.out.find('\n', at);
        const std::string line = r.out.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
        const double ms = std::strtod(line.substr(line.find_last_of(' ') + 1).c_str(), nullptr);
        CHECK(std::isfinite(ms));
        CHECK(ms > 0);
    }
}

TEST_CASE("cli: run_cli keeps no state between calls, and parse-only mode runs nothing") {
    TempDir fixtures("cli-fixtures");
    const std::string& F = fixtures.path;
    make_fixtures(F);
    TempDir state_dir("cli-state");
    const std::string& E = state_dir.path;
    // A call that gives --dim and fails; then a resume, which refuses any model option. Had the
    // first call's --dim stayed "given", the second would fail on it instead of on --steps.
    CliOutcome first = run_captured({"plat", "train", "synthetic", "--dim", "16", "--run", F + "/syn"}, E);
    CHECK(first.code == 1);
    CHECK(first.err.find("already holds a checkpoint") != std::string::npos);
    CliOutcome second = run_captured({"plat", "train", "synthetic", "--resume", F + "/syn", "--steps", "1"}, E);
    CHECK(second.code == 1);
    CHECK(second.err.find("past --steps 1") != std::string::npos);
    // --help prints the command's options on stdout and exits 0, every time.
    for (int i = 0; i < 2; i++) {
        CliOutcome help = run_captured({"plat", "sample", "--help"}, E);
        CHECK(help.code == 0);
        CHECK(help.err.empty());
        CHECK(help.out.find("--temperature") != std::string::npos);
    }
    // Parse-only: a command line that would train is accepted and does nothing; a bad one is
    // still a usage error.
    {
        const std::string here = fs::current_path().string();
        REQUIRE(chdir(E.c_str()) == 0);
        std::fflush(stderr);
        const int saved_err = dup(2);
        std::FILE* err = std::tmpfile();
        dup2(fileno(err), 2);
        int ok = run_cli({"plat", "train", "synthetic", "--steps", "5", "--run", "r"}, CliMode::parse_only);
        int bad = run_cli({"plat", "train", "synthetic", "--steps", "0"}, CliMode::parse_only);
        std::fflush(stderr);
        dup2(saved_err, 2);
        close(saved_err);
        const std::string text = read_all(err);
        std::fclose(err);
        REQUIRE(chdir(here.c_str()) == 0);
        CHECK(ok == 0);
        CHECK(bad == 2);
        CHECK(text.find("--steps: Value 0 not in range") != std::string::npos);
    }
    CHECK(listing(E) == std::vector<std::string>{});
}
