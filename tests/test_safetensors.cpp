// tests/test_safetensors.cpp: safetensors files (core/safetensors.h): round trips, the exact bytes
// of small files checked by hand against the format, every kind of bad file rejected with a
// message that says what is wrong, and saves that never damage the previous file
// (notes/08-data-safety.md).
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

namespace {

// A safetensors file by hand: header length n, the header text, the data bytes.
std::string file_bytes(uint64_t n, const std::string& header, const std::string& data = "") {
    return le64(n) + header + data;
}
std::string file_bytes(const std::string& header, const std::string& data = "") {
    return file_bytes(header.size(), header, data);
}

std::string f32_bytes(std::initializer_list<float> values) {
    std::string s;
    for (float v : values) s.append(reinterpret_cast<const char*>(&v), 4);
    return s;
}

void check_same_values(const Tensor& a, const Tensor& b) {
    REQUIRE(a.shape() == b.shape());
    for (int64_t i = 0; i < a.numel(); i++) CHECK(a[i] == b[i]);
}

}  // namespace

TEST_CASE("safetensors: F32, I64 and metadata survive a save and a load exactly") {
    TempDir dir("safetensors-round-trip");
    Generator gen(7);
    TensorFile out;
    Tensor w = Tensor::randn(Shape{3, 4}, gen);
    Tensor b = Tensor::randn(Shape{5}, gen);
    Tensor x = Tensor::randn(Shape{2, 1, 3, 2}, gen);
    Tensor s = Tensor::full(Shape(), real(-2.5));  // a scalar: shape []
    Tensor e = Tensor::zeros(Shape{0, 3});         // no elements, still a tensor with a shape
    out.put("transformer.h.0.attn.c_attn.weight", w);
    out.put("b", b);
    out.put("x", x);
    out.put("scalar", s);
    out.put("empty", e);
    const std::vector<int64_t> tokens = {0, -1, 255, std::numeric_limits<int64_t>::min(),
                                         std::numeric_limits<int64_t>::max(), 42};
    out.put_int64("tokens", {2, 3}, tokens);
    out.put_int64("step", {}, {1234567890123});
    out.set_metadata("config", R"({"dim": 128, "attn": "plap"})");
    out.set_metadata("format", "pt");
    out.set_metadata("note", "p \xcf\x80 \"quoted\" \\ and a\nnewline");  // UTF-8, escapes
    const std::string path = dir.file("model.safetensors");
    save_safetensors(path, out);

    TensorFile in = load_safetensors(path);
    CHECK(in.size() == out.size());
    for (const std::string& name : out.names()) {
        CAPTURE(name);
        REQUIRE(in.has(name));
        CHECK(in.entry(name).dtype == out.entry(name).dtype);
        CHECK(in.entry(name).shape == out.entry(name).shape);
        CHECK(in.entry(name).bytes == out.entry(name).bytes);
    }
    // The float build stores real = float as F32 unchanged, so values come back bit for bit.
    check_same_values(in.get("transformer.h.0.attn.c_attn.weight"), w);
    check_same_values(in.get("b"), b);
    check_same_values(in.get("x"), x);
    check_same_values(in.get("scalar"), s);
    CHECK(in.get("scalar").ndim() == 0);
    CHECK(in.get("empty").shape() == Shape{0, 3});
    CHECK(in.get_int64("tokens") == tokens);
    CHECK(in.get_int64("step") == std::vector<int64_t>{1234567890123});
    CHECK(in.entry("tokens").shape == std::vector<int64_t>{2, 3});
    CHECK(in.metadata() == out.metadata());
    CHECK(in.metadata("config") == R"({"dim": 128, "attn": "plap"})");
    CHECK(in.has_metadata("format"));
    CHECK_FALSE(in.has_metadata("missing"));
    // Loaded entries come in data order: I64 first, then F32, each group by name (the writer's order).
    CHECK(in.names() == std::vector<std::string>{"step", "tokens", "b", "empty", "scalar",
                                                 "transformer.h.0.attn.c_attn.weight", "x"});
    // The same bytes come out of memory and out of the file.
    const std::vector<uint8_t> bytes = serialize_safetensors(out);
    CHECK(read_bytes(path) == std::string(bytes.begin(), bytes.end()));
    CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});  // no temporary left
}

TEST_CASE("safetensors: the bytes of small files follow the format, checked by hand") {
    // One F32 tensor [1, 2, 3] = 0..5 named "attn.0". The header below was written out by hand
    // from the format rules; it is 64 characters (counted), already a multiple of 8, so no
    // padding. Data: 0.0f is 00 00 00 00, 1.0f is 0x3f800000, stored little-endian.
    {
        TensorFile f;
        f.put("attn.0", Tensor::from_data(Shape{1, 2, 3}, {0, 1, 2, 3, 4, 5}));
        const std::vector<uint8_t> got = serialize_safetensors(f);
        const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
        REQUIRE(header.size() == 64);
        const std::string expected = file_bytes(64, header, f32_bytes({0, 1, 2, 3, 4, 5}));
        CHECK(std::string(got.begin(), got.end()) == expected);
        CHECK(got[0] == 64);
        CHECK(got[8 + 64 + 4 + 0] == 0x00);  // 1.0f = 3f 80 00 00, low byte first
        CHECK(got[8 + 64 + 4 + 2] == 0x80);
        CHECK(got[8 + 64 + 4 + 3] == 0x3f);
    }
    // No tensors: "{}" padded with 6 spaces to 8 bytes.
    {
        const std::vector<uint8_t> got = serialize_safetensors(TensorFile());
        CHECK(std::string(got.begin(), got.end()) == file_bytes(8, "{}      "));
    }
    // Metadata comes first; tensors are ordered I64, F64, F32 (larger elements first), then by
    // name, and each starts where the previous one ended. The header is 188 characters (counted),
    // so 4 spaces pad it to 192, a multiple of 8.
    {
        TensorFile f;
        f.put("a", Tensor::from_data(Shape{1}, {1.5f}));
        f.put_int64("z", {1}, {-2});
        TensorEntry m;
        m.name = "m";
        m.dtype = DType::F64;
        m.shape = {1};
        double v = 0.25;
        m.bytes.resize(8);
        std::memcpy(m.bytes.data(), &v, 8);
        f.put_entry(m);
        f.set_metadata("k", "v");
        const std::string header =
            R"({"__metadata__":{"k":"v"},)"
            R"("z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
            R"("m":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[16,20]}})";
        REQUIRE(header.size() == 188);
        const std::string padded = header + "    ";
        std::string data = le64(uint64_t(-2));
        data.append(reinterpret_cast<const char*>(&v), 8);
        data += f32_bytes({1.5f});
        const std::vector<uint8_t> got = serialize_safetensors(f);
        CHECK(std::string(got.begin(), got.end()) == file_bytes(padded.size(), padded, data));
        // An F64 tensor reads back as real; F64 -> float rounds, 0.25 is exact.
        TensorFile back = parse_safetensors(got.data(), got.size(), "memory");
        CHECK(back.get("m").item() == real(0.25));
    }
}

TEST_CASE("safetensors: a file written by hand (not by plat) loads, in any key order") {
    // Keys in another order than plat writes them, an extra unknown field, padding spaces, data
    // offsets not in name order: all allowed by the format.
    const std::string header =
        R"({"b":{"data_offsets":[0,8],"shape":[2],"dtype":"F32","extra":"ignored"},)"
        R"("a":{"shape":[1],"dtype":"I64","data_offsets":[8,16]},"__metadata__":{"x":"y"}}   )";
    std::string data = f32_bytes({3.0f, -4.0f}) + le64(77);
    std::string bytes = file_bytes(header, data);
    TensorFile f = parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "hand");
    CHECK(f.names() == std::vector<std::string>{"b", "a"});
    CHECK(f.get("b")[0] == 3.0f);
    CHECK(f.get("b")[1] == -4.0f);
    CHECK(f.get_int64("a") == std::vector<int64_t>{77});
    CHECK(f.metadata("x") == "y");
}

TEST_CASE("safetensors: every kind of bad file is refused with a one-line message that says why") {
    TempDir dir("safetensors-bad");
    const std::string ok_entry = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
    const std::string eight = std::string(8, '\0');
    const std::string long_shape = [] {
        std::string s = "[";
        for (int i = 0; i < 100; i++) s += i ? ",1" : "1";
        return s + "]";
    }();
    const std::string many_keys = [] {
        std::string s = R"({"__metadata__":{)";
        for (int i = 0; i <= 10000; i++) s += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"\"";
        return s + "}}";
    }();
    struct Case {
        const char* what;
        std::string bytes;
        const char* phrase;  // the message must contain this
    };
    const std::vector<Case> cases = {
        // the 8-byte header length
        {"empty file", "", "is empty"},
        {"5 bytes", "\x01\x02\x03\x04\x05", "shorter than the 8-byte header length"},
        {"header length past the end", file_bytes(1000, "{}"), "runs past the end of the file"},
        {"header length 200 MB", file_bytes(200'000'000, "{}"), "over the 100 MB limit"},
        {"header length 2^64-1", file_bytes(std::numeric_limits<uint64_t>::max(), "{}"), "over the 100 MB limit"},
        // the JSON itself
        {"header length 0", file_bytes(0, ""), "not valid JSON"},
        {"not JSON", file_bytes("{dtype"), "not valid JSON"},
        {"cut short", file_bytes(R"({"a":{"dtype":"F32")"), "not valid JSON"},
        {"bad UTF-8", file_bytes("{\"\xff\":1}"), "not valid JSON"},
        {"padded with NUL", file_bytes(std::string("{}") + '\0'), "not valid JSON"},
        {"huge number", file_bytes(R"({"a":{"dtype":"F32","shape":[1e999],"data_offsets":[0,0]}})"), "not valid JSON"},
        {"array header", file_bytes("[1,2]"), "not a JSON object"},
        {"string header", file_bytes("\"hello\""), "not a JSON object"},
        {"nested too deep", file_bytes(R"({"a":{"shape":[[[1]]]}})"), "more than 3 deep"},
        {"long array", file_bytes(R"({"a":{"dtype":"F32","shape":)" + long_shape + "}}"), "more than 64 values"},
        {"repeated tensor", file_bytes(R"({"a":)" + ok_entry + R"(,"a":)" + ok_entry + "}", eight), "appears twice"},
        {"repeated field", file_bytes(R"({"a":{"dtype":"F32","dtype":"I64","shape":[2],"data_offsets":[0,8]}})", eight),
         "appears twice"},
        // entries
        {"entry is a number", file_bytes(R"({"a":5})"), "tensor \"a\" is not an object"},
        {"entry is an array", file_bytes(R"({"a":[0,8]})"), "tensor \"a\" is not an object"},
        {"missing dtype", file_bytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", eight), "missing \"dtype\""},
        {"missing shape", file_bytes(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", eight), "missing \"shape\""},
        {"missing data_offsets", file_bytes(R"({"a":{"dtype":"F32","shape":[2]}})", eight), "missing \"data_offsets\""},
        {"dtype a number", file_bytes(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", eight),
         "\"dtype\" must be a string"},
        {"dtype BF16", file_bytes(R"({"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", eight),
         "unsupported dtype BF16"},
        {"dtype F16", file_bytes(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", eight),
         "unsupported dtype F16"},
        {"dtype unknown", file_bytes(R"({"a":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})", eight),
         "unknown dtype \"F33\""},
        {"shape a number", file_bytes(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", eight),
         "\"shape\" must be an array"},
        {"negative size", file_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
         "non-negative integers, got -2"},
        {"fractional size", file_bytes(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight),
         "non-negative integers, got 2.5"},
        {"size 2.0", file_bytes(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", eight),
         "non-negative integers, got 2.0"},
        {"size a string", file_bytes(R"({"a":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", eight),
         "non-negative integers, got \"2\""},
        {"size past int64", file_bytes(R"({"a":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}})"),
         "is too large"},
        {"element count overflows", file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight),
         "too many elements"},
        {"overflow hidden by a zero", file_bytes(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})"),
         "too many elements"},
        {"offsets a number", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":8}})", eight),
         "\"data_offsets\" must be two non-negative integers"},
        {"one offset", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", eight),
         "\"data_offsets\" must be two non-negative integers"},
        {"three offsets", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}})", eight),
         "\"data_offsets\" must be two non-negative integers"},
        {"negative offset", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight),
         "\"data_offsets\" must be two non-negative integers"},
        {"fractional offset", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})", eight),
         "\"data_offsets\" must be two non-negative integers"},
        {"offsets decrease", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight),
         "begin after they end"},
        {"offsets past the data", file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
         "run past the end of the data (8 bytes"},
        {"offset 2^64-1", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}})", eight),
         "run past the end of the data"},
        {"size mismatch", file_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
         "shape [3] of F32 needs 12 bytes, but data_offsets [0, 8] hold 8"},
        {"overlap", file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", std::string(12, '\0')),
         "overlap"},
        {"same bytes twice", file_bytes(R"({"a":)" + ok_entry + R"(,"b":)" + ok_entry + "}", eight), "overlap"},
        {"gap between tensors", file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", std::string(12, '\0')),
         "belong to no tensor"},
        {"gap at the start", file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight),
         "belong to no tensor"},
        {"bytes after the last tensor", file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight),
         "4 bytes after the last tensor"},
        {"data but no tensors", file_bytes("{}", eight), "8 bytes after the last tensor"},
        // metadata
        {"metadata a string", file_bytes(R"({"__metadata__":"x"})"), "\"__metadata__\" must be an object"},
        {"metadata value a number", file_bytes(R"({"__metadata__":{"k":1}})"), "metadata value \"k\" must be a string"},
        {"metadata value an array", file_bytes(R"({"__metadata__":{"k":["v"]}})"), "metadata value \"k\" must be a string"},
        {"10001 metadata keys", file_bytes(many_keys), "\"__metadata__\" has more than 10000 keys"},
        {"metadata value null", file_bytes(R"({"__metadata__":{"k":null}})"), "metadata value \"k\" must be a string"},
        // a hostile name must not break the message onto several lines or into the terminal
        {"name with control characters", file_bytes(R"({"a\n\u001b[31mb":5})"), "tensor \"a\\x0a\\x1b[31mb\""},
    };
    for (size_t i = 0; i < cases.size(); i++) {
        const Case& c = cases[i];
        const std::string what = c.what;
        CAPTURE(what);
        const std::string path = dir.file("case" + std::to_string(i) + ".safetensors");
        write_bytes(path, c.bytes);
        const std::string message = error_of([&] { load_safetensors(path); });
        CAPTURE(message);
        CHECK(contains(message, c.phrase));
        CHECK(contains(message, path));           // names the file
        CHECK_FALSE(contains(message, "\n"));     // one line
        CHECK(contains(message, "; "));           // ...followed by what to do
        // The buffer parser gives the same verdict.
        const std::string from_memory = error_of([&] {
            parse_safetensors(reinterpret_cast<const uint8_t*>(c.bytes.data()), c.bytes.size(), path);
        });
        CHECK(from_memory == message);
    }

    // Files that are not there or not files.
    CHECK(contains(error_of([&] { load_safetensors(dir.file("missing.safetensors")); }), "No such file"));
    CHECK(contains(error_of([&] { load_safetensors(dir.path); }), "is not a regular file"));
    // Advice differs by problem: a dtype plat does not read says how to convert it.
    for (size_t i = 0; i < cases.size(); i++)
        if (std::string(cases[i].what) == "dtype BF16")
            CHECK(contains(error_of([&] { load_safetensors(dir.file("case" + std::to_string(i) + ".safetensors")); }),
                           "tensor.float()"));
}

TEST_CASE("safetensors: damaged copies of a good file load or throw plat::Error, never crash") {
    // Every truncation and many single-byte changes of a small valid file. A change can leave the
    // file valid (a different number in the data), so the only claims are: no crash, no other
    // exception type, and whatever loads can be written again.
    TensorFile f;
    Generator gen(3);
    f.put("w", Tensor::randn(Shape{2, 3}, gen));
    f.put_int64("ids", {2}, {5, -6});
    f.set_metadata("config", "{\"dim\":4}");
    const std::vector<uint8_t> good = serialize_safetensors(f);
    int loaded = 0, refused = 0;
    auto attempt = [&](const std::vector<uint8_t>& bytes) {
        try {
            TensorFile g = parse_safetensors(bytes.data(), bytes.size(), "mutant");
            (void)serialize_safetensors(g);
            loaded++;
        } catch (const Error&) {
            refused++;
        } catch (const std::exception& e) {
            FAIL("a damaged file raised something other than plat::Error: " << e.what());
        }
    };
    for (size_t n = 0; n < good.size(); n++) attempt(std::vector<uint8_t>(good.begin(), good.begin() + long(n)));
    const uint8_t replacements[] = {0x00, 0xff, '"', '{', '}', '[', ']', ',', ':', '9', '-', '.', ' ', '\\'};
    for (size_t i = 0; i < good.size(); i++)
        for (uint8_t r : replacements) {
            std::vector<uint8_t> bytes = good;
            if (bytes[i] == r) continue;
            bytes[i] = r;
            attempt(bytes);
        }
    MESSAGE("damaged copies: " << loaded << " still loaded, " << refused << " refused");
    CHECK(refused > 0);
    CHECK(loaded > 0);  // changes inside the data section are not detectable, and that is fine
}

TEST_CASE("safetensors: TensorFile accessors refuse misuse with messages that name the tensor") {
    TensorFile f;
    f.put("w", Tensor::ones(Shape{2}));
    f.put_int64("ids", {3}, {1, 2, 3});
    CHECK(contains(error_of([&] { f.get("ids"); }), "tensor \"ids\" has dtype I64"));
    CHECK(contains(error_of([&] { f.get_int64("w"); }), "tensor \"w\" has dtype F32"));
    CHECK(contains(error_of([&] { f.get("nope"); }), "no tensor named \"nope\"; the file has 2 tensors: w, ids"));
    CHECK(contains(error_of([&] { f.put("w", Tensor::ones(Shape{2})); }), "already in the file"));
    CHECK(contains(error_of([&] { f.put("__metadata__", Tensor::ones(Shape{2})); }), "metadata key"));
    CHECK(contains(error_of([&] { f.put("t", Tensor()); }), "has no storage"));
    CHECK(contains(error_of([&] { f.put("bad\xff", Tensor::ones(Shape{1})); }), "not valid UTF-8"));
    CHECK(contains(error_of([&] { f.set_metadata("k", "bad\xc3"); }), "not valid UTF-8"));
    CHECK(contains(error_of([&] { f.put_int64("n", {2, 2}, {1, 2, 3}); }), "needs 4 values, got 3"));
    CHECK(contains(error_of([&] { f.put_int64("n", {-1}, {}); }), "sizes must be >= 0"));
    CHECK(contains(error_of([&] { f.metadata("k"); }), "no metadata key \"k\""));
    TensorEntry big;
    big.name = "five_dims";
    big.shape = {1, 1, 1, 1, 2};
    big.bytes.resize(8);
    f.put_entry(big);
    CHECK(contains(error_of([&] { f.get("five_dims"); }), "5 dimensions"));
    TensorEntry wrong = big;
    wrong.name = "short";
    wrong.bytes.resize(4);
    CHECK(contains(error_of([&] { f.put_entry(wrong); }), "needs 8 bytes, got 4"));
    CHECK(f.size() == 3);  // the failed puts added nothing
}

TEST_CASE("safetensors: a save that fails half-way leaves the previous file intact and no temporary") {
    TempDir dir("safetensors-failed-save");
    const std::string path = dir.file("model.safetensors");
    TensorFile old_file;
    old_file.put("w", Tensor::from_data(Shape{2}, {1, 2}));
    old_file.set_metadata("version", "old");
    save_safetensors(path, old_file);
    const std::string old_bytes = read_bytes(path);

    Generator gen(11);
    TensorFile new_file;
    new_file.put("w", Tensor::randn(Shape{64, 256}, gen));  // 64 KB: bigger than the limit below
    new_file.set_metadata("version", "new");

    SUBCASE("the disk fills up during the write") {
        // A file-size limit of 4 KB makes write() fail with EFBIG part-way through the new
        // file: the closest thing to a full disk or a crash mid-write that a test can cause,
        // and it works for root too (unlike a read-only directory). SIGXFSZ would kill the
        // process; ignore it so write() reports the error instead.
        struct rlimit saved;
        REQUIRE(getrlimit(RLIMIT_FSIZE, &saved) == 0);
        struct rlimit small = saved;
        small.rlim_cur = 4096;
        void (*saved_handler)(int) = signal(SIGXFSZ, SIG_IGN);
        REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
        const std::string message = error_of([&] { save_safetensors(path, new_file); });
        setrlimit(RLIMIT_FSIZE, &saved);
        signal(SIGXFSZ, saved_handler);
        CHECK(contains(message, "cannot save"));
        CHECK(contains(message, path));
        CHECK(contains(message, "File too large"));
    }
    SUBCASE("the target is a directory, so the final rename fails") {
        // Rename the old file away and put a non-empty directory in its place: rename() then
        // fails after the temporary was fully written and synced.
        const std::string moved = dir.file("old.safetensors");
        REQUIRE(rename(path.c_str(), moved.c_str()) == 0);
        REQUIRE(mkdir(path.c_str(), 0700) == 0);
        write_bytes(path + "/keep", "x");
        CHECK(contains(error_of([&] { save_safetensors(path, new_file); }), "renaming"));
        std::filesystem::remove_all(path);
        REQUIRE(rename(moved.c_str(), path.c_str()) == 0);
    }
    SUBCASE("the directory is read-only (skipped as root, who may write anyway)") {
        if (geteuid() == 0) {
            MESSAGE("running as root: a read-only directory does not stop writes, skipped");
        } else {
            REQUIRE(chmod(dir.path.c_str(), 0500) == 0);
            CHECK(contains(error_of([&] { save_safetensors(path, new_file); }), "Permission denied"));
            chmod(dir.path.c_str(), 0700);
        }
    }
    // In every case: the old file is there, byte for byte, loads, and nothing else is.
    CHECK(read_bytes(path) == old_bytes);
    TensorFile back = load_safetensors(path);
    CHECK(back.metadata("version") == "old");
    check_same_values(back.get("w"), Tensor::from_data(Shape{2}, {1, 2}));
    CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});

    // And a save that succeeds replaces it.
    save_safetensors(path, new_file);
    CHECK(load_safetensors(path).metadata("version") == "new");
    CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("safetensors: a save into a directory that does not exist fails cleanly") {
    TempDir dir("safetensors-no-dir");
    TensorFile f;
    f.put("w", Tensor::ones(Shape{1}));
    const std::string message = error_of([&] { save_safetensors(dir.file("no/such/dir/m.safetensors"), f); });
    CHECK(contains(message, "No such file or directory"));
    CHECK(dir.listing().empty());
}
