// tests/test_datasets.cpp: the data sets (float build): the text split and both text batchers,
// save/restore of every sampler, the idx reader against a table of bad files, Fashion-MNIST on a
// tiny fake copy (and on the real files when `make data` has made them), and the synthetic task.
// Run: build/tests_f32 -ts=datasets   (notes/06a-data.md; PLAT_DATA_DIR points at the data).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "datasets/fashion_mnist.h"
#include "datasets/files.h"
#include "datasets/idx.h"
#include "datasets/synthetic.h"
#include "datasets/text.h"
#include "tests/helpers.h"

using namespace plat;
using namespace plat::test;

namespace {

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
    FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    if (!bytes.empty()) REQUIRE(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
    std::fclose(f);
}

// An idx file written here byte by byte, independently of datasets/idx.cpp: big-endian magic,
// big-endian uint32 sizes, then the data.
std::vector<uint8_t> idx_file(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
    std::vector<uint8_t> out;
    auto put32 = [&](uint32_t v) {
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
    };
    put32(magic);
    for (uint32_t d : dims) put32(d);
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

// n images of 28 x 28 whose pixel (i, r, c) is (i * 7 + r * 3 + c) % 256, and labels.
std::vector<uint8_t> test_pixels(int n) {
    std::vector<uint8_t> p;
    for (int i = 0; i < n; i++)
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++) p.push_back(uint8_t((i * 7 + r * 3 + c) % 256));
    return p;
}
std::vector<uint8_t> test_labels(int n) {
    std::vector<uint8_t> l;
    for (int i = 0; i < n; i++) l.push_back(uint8_t((i * 3) % 10));
    return l;
}

// A fake Fashion-MNIST directory: n_train and n_test images with the four standard names.
void write_fake_fashion(const TempDir& dir, int n_train, int n_test) {
    write_file(dir.file("train-images-idx3-ubyte"), idx_file(0x803, {uint32_t(n_train), 28, 28}, test_pixels(n_train)));
    write_file(dir.file("train-labels-idx1-ubyte"), idx_file(0x801, {uint32_t(n_train)}, test_labels(n_train)));
    write_file(dir.file("t10k-images-idx3-ubyte"), idx_file(0x803, {uint32_t(n_test), 28, 28}, test_pixels(n_test)));
    write_file(dir.file("t10k-labels-idx1-ubyte"), idx_file(0x801, {uint32_t(n_test)}, test_labels(n_test)));
}

bool same_batch(const Batch& a, const Batch& b) { return a.B == b.B && a.T == b.T && a.tokens == b.tokens && a.targets == b.targets; }

// Bytes 0, 1, ..., n-1 (mod 251, a prime, so any window of up to 250 bytes is increasing by
// one mod 251 and its first byte tells where it starts when n <= 251).
std::vector<uint8_t> counting_bytes(int64_t n) {
    std::vector<uint8_t> v((size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = uint8_t(i % 251);
    return v;
}

}  // namespace

TEST_SUITE("datasets") {

// ---------------------------------------------------------------------------------------------
// Text: the split

TEST_CASE("text: the split keeps the first n - floor(n / 10) bytes for training, then validation, then the last floor(n / 20) for test") {
    // The library computes floor(n * 0.1) and floor(n * 0.05) in double; integer n / 10 and n / 20
    // are the independent reference. The training part is the old 90/10 split's, byte for byte.
    for (int64_t n = 0; n <= 3000; n++) {
        std::vector<uint8_t> bytes = counting_bytes(n);
        TextSplit s = split_text(bytes);
        REQUIRE(int64_t(s.train.size()) == n - n / 10);
        REQUIRE(int64_t(s.val.size()) == n / 10 - n / 20);
        REQUIRE(int64_t(s.test.size()) == n / 20);
        REQUIRE(s.boundary == int64_t(s.train.size()));
        REQUIRE(s.test_boundary == n - n / 20);
        // train, val, test is the original text, nothing lost, nothing reordered
        std::vector<uint8_t> joined = s.train;
        joined.insert(joined.end(), s.val.begin(), s.val.end());
        joined.insert(joined.end(), s.test.begin(), s.test.end());
        REQUIRE(joined == bytes);
    }
    TextSplit quarter = split_text(counting_bytes(1000), 0.25, 0.1);
    CHECK(quarter.train.size() == 750);
    CHECK(quarter.val.size() == 150);
    CHECK(quarter.test.size() == 100);
    CHECK(split_text(counting_bytes(1000), 0.25, 0.0).val.size() == 250);  // no test part
    CHECK(split_text(counting_bytes(1000), 0.25, 0.0).test.empty());
    CHECK(split_text(counting_bytes(1000), 0.0, 0.0).val.empty());
    CHECK(contains(error_of([] { split_text(counting_bytes(10), 1.0); }), "held_out_fraction"));
    CHECK(contains(error_of([] { split_text(counting_bytes(10), 0.1, 0.2); }), "test_fraction"));
}

TEST_CASE("text: missing, empty and too-short files give errors that say what to do") {
    TempDir dir("datasets-text");
    std::string missing = dir.file("kjv.txt");
    std::string msg = error_of([&] { load_text_bytes(missing); });
    CHECK(contains(msg, missing));
    CHECK(contains(msg, "make data"));

    write_file(dir.file("empty.txt"), {});
    msg = error_of([&] { load_text_bytes(dir.file("empty.txt")); });
    CHECK(contains(msg, "is empty"));
    CHECK(contains(msg, "empty.txt"));

    CHECK(contains(error_of([&] { load_text_bytes(dir.path); }), "not a regular file"));

    // 100 bytes: train 90, validation 5, test 5. T = 4 fits all three (5 >= T + 1); T = 5 does not.
    write_file(dir.file("short.txt"), counting_bytes(100));
    TextSplit s = load_text_splits(dir.file("short.txt"), 4);
    CHECK(s.val.size() == 5);
    CHECK(s.test.size() == 5);
    msg = error_of([&] { load_text_splits(dir.file("short.txt"), 5); });
    CHECK(contains(msg, "validation split has 5 bytes"));
    CHECK(contains(msg, "fewer than one window of T + 1 = 6"));
    // A test part of 4 bytes (floor(100 * 0.04)) is too short for T = 4; validation (6) is not.
    msg = error_of([&] { load_text_splits(dir.file("short.txt"), 4, 0.1, 0.04); });
    CHECK(contains(msg, "test split has 4 bytes"));
    msg = error_of([&] { load_text_splits(dir.file("short.txt"), 90); });
    CHECK(contains(msg, "train split has 90 bytes"));

    CHECK(contains(error_of([] { TextBatchSampler(counting_bytes(50), 0, 4, 1); }), "must be positive"));
    CHECK(contains(error_of([] { TextBatchSampler(counting_bytes(50), 4, -1, 1); }), "must be positive"));
    CHECK(contains(error_of([] { TextSequentialBatches(counting_bytes(50), 4, 0); }), "must be positive"));
    CHECK(contains(error_of([] { TextBatchSampler(counting_bytes(4), 2, 4, 1); }), "fewer than one window"));
}

// ---------------------------------------------------------------------------------------------
// Text: the training sampler

TEST_CASE("text sampler: rows are windows of the text, y is x shifted by one") {
    const int64_t n = 240, B = 8, T = 16;
    std::vector<uint8_t> data = counting_bytes(n);  // distinct bytes: x[b, 0] is the window start
    TextBatchSampler sampler(data, B, T, 7);
    for (int step = 0; step < 50; step++) {
        Batch batch = sampler.next();
        REQUIRE(batch.B == B);
        REQUIRE(batch.T == T);
        REQUIRE(batch.tokens.size() == size_t(B * T));
        REQUIRE(batch.targets.size() == size_t(B * T));
        for (int64_t b = 0; b < B; b++) {
            int64_t start = batch.tokens[b * T];
            REQUIRE(start + T <= n - 1);  // the window's last byte, y[b, T-1], is inside the text
            for (int64_t t = 0; t < T; t++) {
                REQUIRE(batch.tokens[b * T + t] == data[start + t]);
                REQUIRE(batch.targets[b * T + t] == data[start + t + 1]);
                if (t + 1 < T) REQUIRE(batch.targets[b * T + t] == batch.tokens[b * T + t + 1]);
            }
        }
    }
    CHECK(sampler.step() == 50);
}

TEST_CASE("text sampler: every start in [0, n - T - 1] is drawn, and no other") {
    // n = T + 4: exactly 4 possible windows. 400 draws miss one of them with probability
    // 4 * (3/4)^400, about 1e-50.
    const int64_t T = 8;
    TextBatchSampler sampler(counting_bytes(T + 4), 4, T, 3);
    std::set<int64_t> starts;
    for (int i = 0; i < 100; i++) {
        Batch batch = sampler.next();
        for (int64_t b = 0; b < 4; b++) starts.insert(batch.tokens[b * T]);
    }
    CHECK(starts == std::set<int64_t>{0, 1, 2, 3});
}

TEST_CASE("text sampler: same seed same batches; a restored state draws the same batches") {
    std::vector<uint8_t> data = counting_bytes(5000);
    TextBatchSampler a(data, 4, 32, 11), b(data, 4, 32, 11), other(data, 4, 32, 12);
    for (int i = 0; i < 5; i++) REQUIRE(same_batch(a.next(), b.next()));
    CHECK_FALSE(same_batch(a.next(), other.next()));  // 4 random starts out of 4968 each

    // Save after 6 batches, draw 10 more; a sampler built with another seed and given the saved
    // state must draw those same 10, and end in the same state.
    SamplerState saved = a.state();
    CHECK(saved.step == 6);
    std::vector<Batch> expected;
    for (int i = 0; i < 10; i++) expected.push_back(a.next());
    TextBatchSampler resumed(data, 4, 32, 999);
    resumed.set_state(saved);
    CHECK(resumed.step() == 6);
    for (int i = 0; i < 10; i++) REQUIRE(same_batch(resumed.next(), expected[i]));
    CHECK(resumed.state() == a.state());
    CHECK(contains(error_of([&] { resumed.set_state({0, -1}); }), "step must be >= 0"));
}

// ---------------------------------------------------------------------------------------------
// Text: the evaluation pass

TEST_CASE("text sequential: windows tile the split in order, the last batch may be short") {
    const int64_t n = 103, B = 3, T = 10;  // windows = (103 - 1) / 10 = 10: batches of 3, 3, 3, 1
    std::vector<uint8_t> data = counting_bytes(n);
    TextSequentialBatches seq(data, B, T);
    CHECK(seq.num_windows() == 10);
    CHECK(seq.num_batches() == 4);
    for (int pass = 0; pass < 2; pass++) {  // twice: reset() starts over
        std::vector<int64_t> xs, ys, rows;
        Batch batch;
        while (seq.next(batch)) {
            rows.push_back(batch.B);
            REQUIRE(batch.tokens.size() == size_t(batch.B * T));
            xs.insert(xs.end(), batch.tokens.begin(), batch.tokens.end());
            ys.insert(ys.end(), batch.targets.begin(), batch.targets.end());
        }
        CHECK(rows == std::vector<int64_t>{3, 3, 3, 1});
        // x rows joined are bytes [0, 100), y rows joined are bytes [1, 101): every byte after
        // the first is a target exactly once; bytes 101 and 102 are the unused (n - 1) % T.
        REQUIRE(xs.size() == 100);
        for (int64_t i = 0; i < 100; i++) {
            REQUIRE(xs[i] == data[i]);
            REQUIRE(ys[i] == data[i + 1]);
        }
        CHECK_FALSE(seq.next(batch));
        seq.reset();
    }
    // Exactly one window: n = T + 1.
    TextSequentialBatches one(counting_bytes(11), 5, 10);
    Batch batch;
    CHECK(one.next(batch));
    CHECK(batch.B == 1);
    CHECK_FALSE(one.next(batch));
}

TEST_CASE("text: the real KJV, when `make data` has made it") {
    std::string path = data_dir() + "/kjv.txt";
    if (!file_exists(path)) {
        MESSAGE("skipped: " << path << " not found (run `make data`, or set PLAT_DATA_DIR)");
        return;
    }
    std::vector<uint8_t> bytes = load_text_bytes(path);
    // The cleaning rules of datasets/prepare_data.sh: printable ASCII and newlines only, no
    // double spaces, no space at either end of a line, a verse per line, headings kept.
    int64_t lines = 0, double_spaces = 0, edge_spaces = 0, bad_bytes = 0;
    for (size_t i = 0; i < bytes.size(); i++) {
        uint8_t c = bytes[i];
        if (c == '\n') lines++;
        else if (c < 0x20 || c > 0x7e) bad_bytes++;
        if (c == ' ' && i + 1 < bytes.size() && bytes[i + 1] == ' ') double_spaces++;
        if (c == ' ' && (i == 0 || bytes[i - 1] == '\n' || i + 1 == bytes.size() || bytes[i + 1] == '\n')) edge_spaces++;
    }
    CHECK(bad_bytes == 0);
    CHECK(double_spaces == 0);
    CHECK(edge_spaces == 0);
    CHECK(lines == 31102 + 1189 + 1188);  // verses + chapter headings + blank lines between chapters
    std::string text(bytes.begin(), bytes.end());
    CHECK(text.rfind("Genesis 1\nIn the beginning God created the heaven and the earth.\n", 0) == 0);
    CHECK(contains(text, "\n\nRevelation 22\n"));
    CHECK(text.substr(text.size() - 23) == "be with you all. Amen.\n");

    TextSplit split = load_text_splits(path, 256);
    const int64_t n = int64_t(bytes.size());
    CHECK(int64_t(split.train.size()) == n - n / 10);
    CHECK(int64_t(split.val.size()) == n / 10 - n / 20);
    CHECK(int64_t(split.test.size()) == n / 20);
    MESSAGE("KJV: " << bytes.size() << " bytes, train " << split.train.size() << ", validation "
                    << split.val.size() << " (from byte " << split.boundary << "), test " << split.test.size()
                    << " (from byte " << split.test_boundary << ")");
}

// ---------------------------------------------------------------------------------------------
// idx

TEST_CASE("idx: a good file round-trips, from a buffer and from a file") {
    std::vector<uint8_t> pixels = test_pixels(3);
    std::vector<uint8_t> bytes = idx_file(0x00000803, {3, 28, 28}, pixels);
    REQUIRE(bytes.size() == 16 + 3 * 784);
    IdxArray a = parse_idx(bytes.data(), bytes.size(), "buffer");
    CHECK(a.magic == 0x803);
    CHECK(a.dims == std::vector<int64_t>{3, 28, 28});
    CHECK(a.count() == 3);
    CHECK(a.data == pixels);
    check_idx_images(a, 28, 28);

    TempDir dir("datasets-idx");
    std::vector<uint8_t> labels = {0, 9, 4};
    write_file(dir.file("labels"), idx_file(0x00000801, {3}, labels));
    IdxArray l = read_idx(dir.file("labels"));
    CHECK(l.name == dir.file("labels"));
    CHECK(l.dims == std::vector<int64_t>{3});
    CHECK(l.data == labels);
    check_idx_labels(l, 10);

    // A 4-dimensional array is a valid idx file too (the fuzz target's seeds use one).
    std::vector<uint8_t> four = idx_file(0x00000804, {2, 1, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    CHECK(parse_idx(four.data(), four.size(), "four").dims == std::vector<int64_t>{2, 1, 3, 2});
}

TEST_CASE("idx: a table of bad files, each rejected with its own message") {
    const std::vector<uint8_t> good_pixels = test_pixels(2);
    const std::vector<uint8_t> good_images = idx_file(0x803, {2, 28, 28}, good_pixels);
    std::vector<uint8_t> gzip = {0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0};
    std::vector<uint8_t> trailing = good_images;
    trailing.push_back(0);
    std::vector<uint8_t> truncated_data(good_images.begin(), good_images.end() - 1);

    enum Kind { images, labels };
    struct Case {
        const char* what;
        bool write;                  // false: the file is missing
        std::vector<uint8_t> bytes;
        Kind kind;
        const char* phrase;          // must appear in the message
    };
    const std::vector<Case> cases = {
        {"missing file", false, {}, images, "cannot open"},
        {"empty file", true, {}, images, "is empty"},
        {"shorter than the magic", true, {0, 0, 8}, images, "too short for the 4-byte magic"},
        {"truncated header", true, {0, 0, 8, 3, 0, 0, 0, 2, 0, 0}, images, "truncated header"},
        {"wrong magic: not starting 00 00", true, idx_file(0x01000803, {2, 28, 28}, good_pixels), images, "not an idx file"},
        {"wrong magic: gzip-compressed", true, gzip, images, "gzip-compressed"},
        {"wrong magic: little-endian", true, {3, 8, 0, 0, 2, 0, 0, 0}, images, "little-endian"},
        {"wrong magic: float32 elements", true, idx_file(0x00000D03, {2, 28, 28}, good_pixels), images, "element type 0x0d (float32)"},
        {"zero dimensions", true, idx_file(0x00000800, {}, {1}), images, "gives 0 dimensions"},
        {"five dimensions", true, idx_file(0x00000805, {1, 1, 1, 1, 1}, {1}), images, "plat reads 1 to 4"},
        {"labels file read as images", true, idx_file(0x801, {2}, {1, 2}), images, "needs 3 dimensions"},
        {"images file read as labels", true, good_images, labels, "needs 1 dimension"},
        {"wrong image size", true, idx_file(0x803, {2, 27, 28}, std::vector<uint8_t>(2 * 27 * 28)), images, "images are 27 x 28, expected 28 x 28"},
        {"a size of zero", true, idx_file(0x803, {0, 28, 28}, {}), images, "dimension 0 has size 0"},
        {"data one byte short", true, truncated_data, images, "past the end of the file"},
        {"sizes far past the end", true, idx_file(0x803, {2, 28, 28}, std::vector<uint8_t>(100)), images, "past the end of the file"},
        {"sizes that overflow 64 bits", true, idx_file(0x804, {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {1}), images, "past the end of the file"},
        {"trailing bytes", true, trailing, images, "1 trailing bytes"},
        {"label 10", true, idx_file(0x801, {3}, {0, 10, 2}), labels, "label 10 at index 1 is out of range"},
        {"label 255", true, idx_file(0x801, {1}, {255}), labels, "label 255 at index 0"},
    };
    TempDir dir("datasets-idx-bad");
    for (size_t i = 0; i < cases.size(); i++) {
        const Case& c = cases[i];
        CAPTURE(c.what);
        std::string path = dir.file("case" + std::to_string(i));
        if (c.write) write_file(path, c.bytes);
        std::string msg = error_of([&] {
            IdxArray a = read_idx(path);
            if (c.kind == images) check_idx_images(a, 28, 28);
            else check_idx_labels(a, 10);
        });
        CHECK(contains(msg, c.phrase));
        CHECK(contains(msg, path));       // names the file
        CHECK(contains(msg, "make data"));  // and the fix
    }
}

TEST_CASE("idx: Fashion-MNIST image and label counts must agree") {
    TempDir dir("datasets-fashion-counts");
    write_fake_fashion(dir, 6, 4);
    write_file(dir.file("t10k-labels-idx1-ubyte"), idx_file(0x801, {3}, test_labels(3)));
    std::string msg = error_of([&] { load_fashion_mnist(dir.path, 2); });
    CHECK(contains(msg, "holds 4 images but"));
    CHECK(contains(msg, "holds 3 labels"));
    CHECK(contains(msg, "make data"));

    TempDir empty_dir("datasets-fashion-empty");
    msg = error_of([&] { load_fashion_mnist(empty_dir.path); });
    CHECK(contains(msg, "train-images-idx3-ubyte"));
    CHECK(contains(msg, "make data"));
}

TEST_CASE("idx: every truncation and random corruption of a good file parses or throws plat::Error") {
    // A small fuzz run: a crash or an out-of-bounds read here (seen under `make test-debug`'s
    // AddressSanitizer) would be a bug; a parse that succeeds must describe the bytes it was given.
    std::vector<uint8_t> good = idx_file(0x803, {2, 3, 4}, std::vector<uint8_t>(24, 7));
    auto try_parse = [](const std::vector<uint8_t>& bytes) {
        try {
            IdxArray a = parse_idx(bytes.data(), bytes.size(), "fuzz");
            int64_t product = 1;
            for (int64_t d : a.dims) product *= d;
            REQUIRE(int64_t(a.data.size()) == product);
            REQUIRE(a.data.size() + 4 + 4 * a.dims.size() == bytes.size());
        } catch (const Error&) {
        }
    };
    for (size_t len = 0; len < good.size(); len++) {
        std::vector<uint8_t> prefix(good.begin(), good.begin() + len);
        CHECK_THROWS_AS(parse_idx(prefix.data(), prefix.size(), "prefix"), Error);
    }
    Generator gen(5);
    for (int i = 0; i < 3000; i++) {
        std::vector<uint8_t> bytes = good;
        int flips = 1 + int(gen.randint(3));
        for (int f = 0; f < flips; f++) bytes[gen.randint(int64_t(bytes.size()))] = uint8_t(gen.randint(256));
        if (gen.randint(4) == 0) bytes.resize(size_t(gen.randint(int64_t(bytes.size()) + 1)));
        try_parse(bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// Fashion-MNIST

TEST_CASE("fashion-mnist: split, normalization by the train part only, on a fake copy") {
    TempDir dir("datasets-fashion-split");
    const int n_all = 12, n_test = 4, n_val = 3, n_train = n_all - n_val;
    write_fake_fashion(dir, n_all, n_test);
    FashionMNIST d = load_fashion_mnist(dir.path, n_val);
    CHECK(d.train_images.shape() == Shape{n_train, 1, 28, 28});
    CHECK(d.val_images.shape() == Shape{n_val, 1, 28, 28});
    CHECK(d.test_images.shape() == Shape{n_test, 1, 28, 28});
    CHECK(d.train_labels.size() == size_t(n_train));
    CHECK(d.val_labels.size() == size_t(n_val));
    CHECK(d.test_labels.size() == size_t(n_test));

    // Reference statistics, two-pass in double over the first n_train images only (the library
    // uses exact integer sums of p and p^2; agreement to 1e-12 is double rounding).
    std::vector<uint8_t> pixels = test_pixels(n_all), labels = test_labels(n_all);
    const int64_t count = int64_t(n_train) * 784;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < count; i++) mean += pixels[i] / 255.0;
    mean /= double(count);
    for (int64_t i = 0; i < count; i++) var += (pixels[i] / 255.0 - mean) * (pixels[i] / 255.0 - mean);
    double std = std::sqrt(var / double(count));
    CHECK(d.mean == doctest::Approx(mean).epsilon(1e-12));
    CHECK(d.std == doctest::Approx(std).epsilon(1e-12));

    // Each stored value is the float nearest (p / 255 - mean) / std: within half a float ulp of
    // a value of size at most ~3, so 1e-6 absolute is comfortably above rounding.
    auto expect = [&](const Tensor& t, int64_t first_image, int64_t n) {
        for (int64_t i = 0; i < n * 784; i++)
            REQUIRE(std::fabs(double(t[i]) - (pixels[first_image * 784 + i] / 255.0 - mean) / std) < 1e-6);
    };
    expect(d.train_images, 0, n_train);
    expect(d.val_images, n_train, n_val);  // validation is the END of the training file
    for (int i = 0; i < n_val; i++) CHECK(d.val_labels[i] == labels[n_train + i]);
    for (int i = 0; i < n_train; i++) CHECK(d.train_labels[i] == labels[i]);
    // Test images use the training statistics too (their own mean would differ: other images).
    std::vector<uint8_t> test_px = test_pixels(n_test);
    for (int64_t i = 0; i < n_test * 784; i++)
        REQUIRE(std::fabs(double(d.test_images[i]) - (test_px[i] / 255.0 - mean) / std) < 1e-6);

    // Normalized training pixels have mean 0 and std 1 (float storage: 1e-5 is far above rounding).
    double m = 0, s = 0;
    for (int64_t i = 0; i < d.train_images.numel(); i++) m += d.train_images[i];
    m /= double(d.train_images.numel());
    for (int64_t i = 0; i < d.train_images.numel(); i++) s += (d.train_images[i] - m) * (d.train_images[i] - m);
    CHECK(std::fabs(m) < 1e-5);
    CHECK(std::sqrt(s / double(d.train_images.numel())) == doctest::Approx(1.0).epsilon(1e-5));

    CHECK(contains(error_of([&] { load_fashion_mnist(dir.path, n_all); }), "validation must be in [0, 12)"));
    CHECK(contains(error_of([&] { load_fashion_mnist(dir.path, -1); }), "validation must be in"));
    CHECK(contains(d.summary(), "9 train, 3 validation, 4 test"));
}

TEST_CASE("fashion-mnist: the real files, when `make data` has made them") {
    std::string dir = data_dir() + "/fashion-mnist";
    if (!file_exists(dir + "/train-images-idx3-ubyte")) {
        MESSAGE("skipped: " << dir << " has no idx files (run `make data`, or set PLAT_DATA_DIR)");
        return;
    }
    FashionMNIST d = load_fashion_mnist(dir);  // validation = the last 5000 training images
    CHECK(d.train_labels.size() + d.val_labels.size() == 60000);
    CHECK(d.val_labels.size() == 5000);
    CHECK(d.test_labels.size() == 10000);
    CHECK(d.train_images.shape() == Shape{55000, 1, 28, 28});
    // The published data set is balanced: 6000 of each class in train, 1000 in test.
    std::vector<int64_t> train_count(10), test_count(10);
    for (int64_t l : d.train_labels) train_count[l]++;
    for (int64_t l : d.val_labels) train_count[l]++;
    for (int64_t l : d.test_labels) test_count[l]++;
    for (int c = 0; c < 10; c++) {
        CHECK(train_count[c] == 6000);
        CHECK(test_count[c] == 1000);
    }
    // Mean ~0 and std ~1 over the normalized training part, summed in double here.
    double m = 0, s = 0;
    const Tensor& x = d.train_images;
    for (int64_t i = 0; i < x.numel(); i++) m += x[i];
    m /= double(x.numel());
    for (int64_t i = 0; i < x.numel(); i++) s += (x[i] - m) * (x[i] - m);
    CHECK(std::fabs(m) < 1e-4);
    CHECK(std::sqrt(s / double(x.numel())) == doctest::Approx(1.0).epsilon(1e-4));
    MESSAGE(d.summary());
}

TEST_CASE("fashion-mnist: the iterator shuffles each epoch and resumes exactly") {
    // 10 "images" whose every value is the image's index, labels = index too.
    const int64_t N = 10, B = 3;
    Tensor images(Shape{N, 1, 2, 2});
    std::vector<int64_t> labels(N);
    for (int64_t i = 0; i < N; i++) {
        labels[i] = i;
        for (int k = 0; k < 4; k++) images[i * 4 + k] = real(i);
    }
    ImageBatchIterator it(images, labels, B, 21);
    CHECK(it.batches_per_epoch() == 3);  // 10 // 3; the tenth example of each epoch is dropped
    std::vector<std::vector<int64_t>> epochs;
    for (int e = 0; e < 4; e++) {
        std::vector<int64_t> seen;
        for (int k = 0; k < 3; k++) {
            Batch batch = it.next();
            REQUIRE(batch.images.shape() == Shape{B, 1, 2, 2});
            REQUIRE(batch.targets.size() == size_t(B));
            for (int64_t b = 0; b < B; b++) {
                for (int v = 0; v < 4; v++) REQUIRE(batch.images[b * 4 + v] == real(batch.targets[b]));
                seen.push_back(batch.targets[b]);
            }
        }
        CHECK(it.epoch() == e);
        std::set<int64_t> distinct(seen.begin(), seen.end());
        CHECK(distinct.size() == 9);  // no example twice in an epoch
        std::vector<int64_t> perm = it.permutation();
        CHECK(std::vector<int64_t>(perm.begin(), perm.begin() + 9) == seen);
        std::sort(perm.begin(), perm.end());
        for (int64_t i = 0; i < N; i++) REQUIRE(perm[i] == i);  // a permutation of [0, N)
        epochs.push_back(seen);
    }
    // 4 epochs of 9! / ... orders: two equal ones would mean no reshuffling (chance ~1e-6).
    CHECK(epochs[0] != epochs[1]);
    CHECK(epochs[1] != epochs[2]);

    // Save mid-epoch and at an epoch's end; a fresh iterator with another seed, restored, must
    // produce the same next 8 batches (crossing epoch boundaries).
    for (int skip : {0, 4, 6}) {
        ImageBatchIterator a(images, labels, B, 5);
        for (int k = 0; k < skip; k++) a.next();
        ImageLoaderState saved = a.state();
        std::vector<std::vector<int64_t>> expected;
        for (int k = 0; k < 8; k++) expected.push_back(a.next().targets);
        ImageBatchIterator b(images, labels, B, 77);
        b.set_state(saved);
        CHECK(b.state() == saved);
        for (int k = 0; k < 8; k++) REQUIRE(b.next().targets == expected[k]);
        CHECK(b.state() == a.state());
    }

    ImageBatchIterator c(images, labels, B, 21);  // same seed as `it`: same first epoch
    std::vector<int64_t> first;
    for (int k = 0; k < 3; k++)
        for (int64_t l : c.next().targets) first.push_back(l);
    CHECK(first == epochs[0]);

    CHECK(contains(error_of([&] { ImageBatchIterator(images, labels, 11, 1); }), "batch size must be in [1, 10]"));
    CHECK(contains(error_of([&] { ImageBatchIterator(images, std::vector<int64_t>(3), 2, 1); }), "3 labels for 10 images"));

    Batch eval = image_batch(images, labels, 8, 2);
    CHECK(eval.images.shape() == Shape{2, 1, 2, 2});
    CHECK(eval.targets == std::vector<int64_t>{8, 9});
    CHECK(eval.images[4] == real(9));
    CHECK(contains(error_of([&] { image_batch(images, labels, 8, 3); }), "not inside [0, 10)"));
}

// ---------------------------------------------------------------------------------------------
// The synthetic task

TEST_CASE("synthetic: labels follow the rule, one hidden true member per cluster per row") {
    ClusterTaskConfig config;  // K = 8, M = 4, q = 0.5, tokens 'A' .. '`'
    Generator gen(3);
    const int64_t B = 64, T = 64;
    Batch batch = cluster_task_batch(config, B, T, gen);
    REQUIRE(batch.tokens.size() == size_t(B * T));
    int64_t same = 0;
    for (int64_t b = 0; b < B; b++) {
        std::vector<int64_t> truth(size_t(config.clusters), -1);
        for (int64_t t = 0; t < T; t++) {
            int64_t x = batch.tokens[b * T + t], y = batch.targets[b * T + t];
            REQUIRE(x >= 'A');
            REQUIRE(x < 'A' + 32);
            REQUIRE(config.cluster_of(y) == config.cluster_of(x));  // the target is in x's cluster
            int c = config.cluster_of(x);
            if (truth[c] < 0) truth[c] = y;
            REQUIRE(y == truth[c]);  // the same target everywhere the cluster appears in this row
            same += (x == y);
        }
    }
    // Each position shows the true member with probability q = 0.5, independently: the count of
    // x == y is Binomial(4096, 0.5), std 32; 5 std is a 1-in-3-million false alarm.
    double expected = config.keep * double(B * T), sd = std::sqrt(double(B * T) * config.keep * (1 - config.keep));
    CHECK(std::fabs(double(same) - expected) < 5 * sd);
}

TEST_CASE("synthetic: deterministic, and the sampler resumes exactly") {
    ClusterTaskConfig config;
    Generator g1(9), g2(9), g3(10);
    Batch a = cluster_task_batch(config, 4, 32, g1), b = cluster_task_batch(config, 4, 32, g2);
    CHECK(same_batch(a, b));
    CHECK_FALSE(same_batch(a, cluster_task_batch(config, 4, 32, g3)));

    ClusterTaskSampler s(config, 4, 32, 1);
    for (int i = 0; i < 3; i++) s.next();
    SamplerState saved = s.state();
    CHECK(saved.step == 3);
    std::vector<Batch> expected;
    for (int i = 0; i < 5; i++) expected.push_back(s.next());
    ClusterTaskSampler r(config, 4, 32, 12345);
    r.set_state(saved);
    for (int i = 0; i < 5; i++) REQUIRE(same_batch(r.next(), expected[i]));
    CHECK(r.state() == s.state());
}

TEST_CASE("synthetic: the Bayes-optimal predictor on a hand-made sequence") {
    ClusterTaskConfig config;
    config.clusters = 2;
    config.members = 3;
    config.first_token = 0;  // cluster 0: tokens 0, 1, 2; cluster 1: tokens 3, 4, 5
    Batch batch;
    batch.B = 1;
    batch.T = 8;
    batch.tokens = {2, 4, 1, 1, 5, 2, 2, 4};
    batch.targets = batch.tokens;  // unused by the predictor
    // By hand, counting earlier tokens of the same cluster (ties to the smallest member):
    // t0: {2}->2; t1: {4}->4; t2: {2,1} tie->1; t3: {2,1,1}->1; t4: {4,5} tie->4;
    // t5: {2,1,1,2} tie->1; t6: {2,1,1,2,2}->2; t7: {4,5,4}->4.
    CHECK(cluster_task_bayes_predict(config, batch) == std::vector<int64_t>{2, 4, 1, 1, 4, 1, 2, 4});
    batch.tokens[3] = 9;
    CHECK(contains(error_of([&] { cluster_task_bayes_predict(config, batch); }), "token 9 at row 0, position 3"));
}

TEST_CASE("synthetic: the control task asks for the next cluster's true member, from the same inputs") {
    // K = 2 clusters of M = 2 members, q = 1: every token shows its cluster's true member, so the
    // answer at a token of cluster c is the member shown by the tokens of cluster 1 - c.
    ClusterTaskConfig config;
    config.clusters = 2;
    config.members = 2;
    config.keep = 1;
    ClusterTaskConfig control = config;
    control.control = true;
    Generator g1(5), g2(5);
    Batch plain = cluster_task_batch(config, 8, 16, g1), swapped = cluster_task_batch(control, 8, 16, g2);
    CHECK(plain.tokens == swapped.tokens);  // the same draws: only the targets differ
    for (int64_t b = 0; b < 8; b++)
        for (int64_t t = 0; t < 16; t++) {
            int c = config.cluster_of(plain.tokens[b * 16 + t]);
            REQUIRE(plain.targets[b * 16 + t] == plain.tokens[b * 16 + t]);  // q = 1: the token is its own answer
            REQUIRE(config.cluster_of(swapped.targets[b * 16 + t]) == 1 - c);
            for (int64_t s = 0; s < 16; s++)  // every token of the other cluster in the row shows the answer
                if (config.cluster_of(plain.tokens[b * 16 + s]) == 1 - c)
                    REQUIRE(swapped.targets[b * 16 + t] == plain.tokens[b * 16 + s]);
        }
    // Bayes-optimal, by hand: no token of the other cluster seen yet -> the smallest member (A or C).
    Batch hand;
    hand.B = 1;
    hand.T = 4;
    hand.tokens = {'B', 'A', 'D', 'B'};  // clusters 0, 0, 1, 0 (A B | C D)
    hand.targets = hand.tokens;          // unused by the predictor
    // t0: cluster 1 unseen -> C; t1: still unseen -> C; t2: answer cluster 0, seen B, A: tie -> A;
    // t3: answer cluster 1, seen D -> D.
    CHECK(cluster_task_bayes_predict(control, hand) == std::vector<int64_t>{'C', 'C', 'A', 'D'});
    // Exact accuracy with q = 1: right for sure once the other cluster was seen, 1/2 before. At
    // position t that cluster is unseen with probability (1/2)^t, so the accuracy is 1 - (1/2)^(t+1):
    // T = 3 gives (1/2 + 3/4 + 7/8) / 3 = 17/24; the plain task is always right (1).
    CHECK(cluster_task_accuracy_given_count(control, 0) == doctest::Approx(0.5).epsilon(1e-12));
    CHECK(cluster_task_bayes_accuracy(control, 3) == doctest::Approx(17.0 / 24).epsilon(1e-12));
    CHECK(cluster_task_bayes_accuracy(config, 3) == doctest::Approx(1.0).epsilon(1e-12));
    control.clusters = 1;
    CHECK(contains(error_of([&] { control.validate(); }), "clusters >= 2"));
}

TEST_CASE("synthetic: exact Bayes accuracy against closed forms and against a simulation") {
    // Closed forms, derived by enumerating the n observations of one cluster (q = keep):
    //   n = 1: the only observation is right with probability q.
    //   n = 2: both true (q^2, right) or one true and one other (2q(1-q), a tie of two: 1/2),
    //          so q^2 + q(1-q) = q for any M.
    //   n = 3, M = 3: 3 true (q^3) or 2 true (3q^2(1-q)) are right; 1 true (3q(1-q)^2) is right
    //          only if the two others differ (probability 1/2), then a three-way tie (1/3).
    for (double q : {0.4, 0.5, 0.8}) {
        ClusterTaskConfig c;
        c.members = 3;
        c.keep = q;
        CHECK(cluster_task_accuracy_given_count(c, 1) == doctest::Approx(q).epsilon(1e-12));
        CHECK(cluster_task_accuracy_given_count(c, 2) == doctest::Approx(q).epsilon(1e-12));
        double n3 = q * q * q + 3 * q * q * (1 - q) + 3 * q * (1 - q) * (1 - q) / 6;
        CHECK(cluster_task_accuracy_given_count(c, 3) == doctest::Approx(n3).epsilon(1e-12));
        CHECK(cluster_task_bayes_accuracy(c, 1) == doctest::Approx(q).epsilon(1e-12));
    }

    // The average over positions against the predictor run on sampled data. Positions in a row
    // share the hidden members, so the standard error comes from the spread of per-row
    // accuracies (rows are independent); 5 standard errors is a 1-in-a-million false alarm.
    ClusterTaskConfig config;
    const int64_t B = 2000, T = 64;
    double exact = cluster_task_bayes_accuracy(config, T);
    Generator gen(17);
    Batch batch = cluster_task_batch(config, B, T, gen);
    std::vector<int64_t> predict = cluster_task_bayes_predict(config, batch);
    std::vector<double> row_acc(B, 0);
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++) row_acc[b] += (predict[b * T + t] == batch.targets[b * T + t]);
        row_acc[b] /= double(T);
    }
    double mean = 0, var = 0;
    for (double a : row_acc) mean += a / double(B);
    for (double a : row_acc) var += (a - mean) * (a - mean) / double(B - 1);
    double se = std::sqrt(var / double(B));
    CHECK(se < 0.005);  // the comparison below is meaningful
    CHECK(std::fabs(mean - exact) < 5 * se);
    CHECK(exact > config.keep + 0.1);  // pooling the cluster's evidence beats copying x
    MESSAGE("cluster task K=8 M=4 q=0.5 T=64: Bayes accuracy " << exact << " (simulated " << mean
            << " +- " << se << "), copying x " << config.keep << ", a guess in the cluster 0.25");

    CHECK(contains(error_of([] { ClusterTaskConfig c; c.keep = 0.25; c.validate(); }), "keep must be in (1/members, 1]"));
    CHECK(contains(error_of([] { ClusterTaskConfig c; c.clusters = 60; c.validate(); }), "must be bytes"));
    CHECK(contains(error_of([] { ClusterTaskConfig c; c.members = 1; c.validate(); }), "members must be >= 2"));
}

}  // TEST_SUITE("datasets")
