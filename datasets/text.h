// datasets/text.h: a text file as bytes for byte-level language modelling (the KJV, data/kjv.txt).
// A 90/5/5 split by position (train, validation, test), a seeded sampler of random windows for training whose state can be
// saved and restored, and a sequential pass over a split for evaluation (notes/06a-data.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"
#include "datasets/batch.h"

namespace plat {

// The whole file, as bytes. Throws plat::Error naming the file when it is missing or empty.
std::vector<uint8_t> load_text_bytes(const std::string& path);

// Training text first, then validation, then test: bytes [0, boundary), [boundary, test_boundary)
// and [test_boundary, n), with boundary = n - floor(n * held_out_fraction) and test_boundary =
// n - floor(n * test_fraction). The training part depends on held_out_fraction alone, so adding
// the test split left it byte for byte what it was under the old 90/10 split
// (notes/06a-data.md, "The split"; notes/06c-what-p-lat-changes.md, section 3).
struct TextSplit {
    std::vector<uint8_t> train;
    std::vector<uint8_t> val;
    std::vector<uint8_t> test;
    int64_t boundary = 0;       // index in the file of val[0]
    int64_t test_boundary = 0;  // index in the file of test[0] (n when there is no test part)
};
// Needs 0 <= test_fraction <= held_out_fraction < 1; test_fraction = 0 leaves no test part.
TextSplit split_text(const std::vector<uint8_t>& bytes, double held_out_fraction = 0.1, double test_fraction = 0.05);

// load_text_bytes + split_text, then checks that each split holds at least one window of T + 1
// bytes (the test split only when there is one), so that the samplers below can be built. The
// KJV: data_dir() + "/kjv.txt".
TextSplit load_text_splits(const std::string& path, int64_t T, double held_out_fraction = 0.1,
                           double test_fraction = 0.05);

// Training batches: B windows of T + 1 consecutive bytes, each starting at a position drawn
// uniformly from [0, n - T) by a seeded Generator; x is the first T bytes, y the last T, so
// y[b, t] = x[b, t + 1] inside a row and y[b, T-1] is the byte after the row's x.
// state() / set_state() save and restore the generator word and the step: a sampler restored
// from a state draws exactly the batches the saved one would have drawn next.
class TextBatchSampler {
public:
    // `name` ("train") appears in errors. Needs B > 0, T > 0 and data.size() >= T + 1.
    TextBatchSampler(std::vector<uint8_t> data, int64_t B, int64_t T, uint64_t seed,
                     std::string name = "train");

    Batch next();
    SamplerState state() const { return {gen_.state(), step_}; }
    void set_state(const SamplerState& state);
    int64_t step() const { return step_; }
    int64_t B() const { return B_; }
    int64_t T() const { return T_; }
    int64_t size() const { return int64_t(data_.size()); }

private:
    std::vector<uint8_t> data_;
    int64_t B_, T_;
    Generator gen_;
    int64_t step_ = 0;
    std::string name_;
};

// Evaluation batches: the split cut into non-overlapping windows, window w covering bytes
// [w*T, w*T + T] (x = the first T, y = the last T), so every byte after the first is predicted
// exactly once, in order; windows = (n - 1) / T and the last (n - 1) % T bytes are not used.
// Rows fill batches of B in order; the last batch may have fewer rows (its Batch::B says).
class TextSequentialBatches {
public:
    TextSequentialBatches(std::vector<uint8_t> data, int64_t B, int64_t T,
                          std::string name = "validation");

    // Fills `batch` with the next batch and returns true, or returns false after the last one.
    bool next(Batch& batch);
    void reset() { window_ = 0; }
    int64_t num_windows() const { return (int64_t(data_.size()) - 1) / T_; }
    int64_t num_batches() const { return (num_windows() + B_ - 1) / B_; }

private:
    std::vector<uint8_t> data_;
    int64_t B_, T_;
    int64_t window_ = 0;  // next window to hand out
    std::string name_;
};

}  // namespace plat
