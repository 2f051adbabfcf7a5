// datasets/text.cpp: byte text loading, the train/validation/test split, and the two batchers
// (notes/06a-data.md, "The split", "The training sampler", "The evaluation pass").
#include "datasets/text.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "datasets/files.h"

namespace plat {

std::vector<uint8_t> load_text_bytes(const std::string& path) {
    return read_file_bytes(path, "text");
}

TextSplit split_text(const std::vector<uint8_t>& bytes, double held_out_fraction, double test_fraction) {
    if (!(held_out_fraction >= 0 && held_out_fraction < 1))
        fail("split_text: held_out_fraction must be in [0, 1), got {}", held_out_fraction);
    if (!(test_fraction >= 0 && test_fraction <= held_out_fraction))
        fail("split_text: test_fraction must be in [0, held_out_fraction = {}], got {}", held_out_fraction,
             test_fraction);
    int64_t n = int64_t(bytes.size());
    // For 0.1 and 0.05 these are n / 10 and n / 20 in integer arithmetic: the doubles nearest 0.1
    // and 0.05 lie slightly above them, so the products never round below (the tests check it).
    int64_t n_held = int64_t(std::floor(double(n) * held_out_fraction));
    int64_t n_test = int64_t(std::floor(double(n) * test_fraction));
    TextSplit split;
    split.boundary = n - n_held;
    split.test_boundary = n - n_test;
    split.train.assign(bytes.begin(), bytes.begin() + split.boundary);
    split.val.assign(bytes.begin() + split.boundary, bytes.begin() + split.test_boundary);
    split.test.assign(bytes.begin() + split.test_boundary, bytes.end());
    return split;
}

static void check_window(int64_t n, int64_t B, int64_t T, const std::string& name, const char* who) {
    if (B <= 0 || T <= 0) fail("{}: batch size B and window T must be positive, got B = {}, T = {}", who, B, T);
    if (n < T + 1)
        fail("{}: the {} split has {} bytes, fewer than one window of T + 1 = {} bytes; "
             "use a longer text or a smaller context T", who, name, n, T + 1);
}

TextSplit load_text_splits(const std::string& path, int64_t T, double held_out_fraction, double test_fraction) {
    TextSplit split = split_text(load_text_bytes(path), held_out_fraction, test_fraction);
    std::string who = "load_text_splits('" + path + "')";
    check_window(int64_t(split.train.size()), 1, T, "train", who.c_str());
    check_window(int64_t(split.val.size()), 1, T, "validation", who.c_str());
    if (test_fraction > 0) check_window(int64_t(split.test.size()), 1, T, "test", who.c_str());
    return split;
}

TextBatchSampler::TextBatchSampler(std::vector<uint8_t> data, int64_t B, int64_t T, uint64_t seed,
                                   std::string name)
    : data_(std::move(data)), B_(B), T_(T), gen_(seed), name_(std::move(name)) {
    check_window(int64_t(data_.size()), B, T, name_, "TextBatchSampler");
}

void TextBatchSampler::set_state(const SamplerState& state) {
    if (state.step < 0) fail("TextBatchSampler::set_state: step must be >= 0, got {}", state.step);
    gen_.set_state(state.generator_state);
    step_ = state.step;
}

Batch TextBatchSampler::next() {
    Batch batch;
    batch.B = B_;
    batch.T = T_;
    batch.tokens.resize(size_t(B_ * T_));  // [B, T]
    batch.targets.resize(size_t(B_ * T_));  // [B, T]
    // A window of T + 1 bytes starts anywhere in [0, n - T - 1]: randint(n - T) values.
    int64_t starts = int64_t(data_.size()) - T_;
    for (int64_t b = 0; b < B_; b++) {
        const uint8_t* window = data_.data() + gen_.randint(starts);
        int64_t* x = batch.tokens.data() + b * T_;
        int64_t* y = batch.targets.data() + b * T_;
        for (int64_t t = 0; t < T_; t++) {
            x[t] = window[t];
            y[t] = window[t + 1];
        }
    }
    step_++;
    return batch;
}

TextSequentialBatches::TextSequentialBatches(std::vector<uint8_t> data, int64_t B, int64_t T,
                                             std::string name)
    : data_(std::move(data)), B_(B), T_(T), name_(std::move(name)) {
    check_window(int64_t(data_.size()), B, T, name_, "TextSequentialBatches");
}

bool TextSequentialBatches::next(Batch& batch) {
    int64_t rows = std::min(B_, num_windows() - window_);
    if (rows <= 0) return false;
    batch.B = rows;
    batch.T = T_;
    batch.tokens.resize(size_t(rows * T_));  // [rows, T]
    batch.targets.resize(size_t(rows * T_));
    for (int64_t b = 0; b < rows; b++, window_++) {
        const uint8_t* window = data_.data() + window_ * T_;  // bytes [w*T, w*T + T]
        for (int64_t t = 0; t < T_; t++) {
            batch.tokens[b * T_ + t] = window[t];
            batch.targets[b * T_ + t] = window[t + 1];
        }
    }
    return true;
}

}  // namespace plat
