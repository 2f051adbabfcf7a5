// datasets/fashion_mnist.h: Fashion-MNIST as tensors: the official 60000/10000 train/test split,
// a validation set carved from the end of train, pixels normalized by the training part's mean
// and std, and a seeded shuffling batch iterator whose state resumes exactly (notes/06a-data.md).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"
#include "nn/batch.h"

namespace plat {

struct FashionMNIST {
    Tensor train_images, val_images, test_images;                // [N, 1, 28, 28], normalized
    std::vector<int64_t> train_labels, val_labels, test_labels;  // [N]
    // Mean and std (population, divide by N) of the training part's pixels scaled to [0, 1]:
    // every image is stored as (pixel / 255 - mean) / std. Validation and test use the same two.
    double mean = 0, std = 1;
    std::string summary() const;  // counts and the normalization, one line
};

// Reads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte (made by `make data`; DIR is usually
// data_dir() + "/fashion-mnist"). The last `validation` training images become the validation
// set (0 <= validation < 60000; default 5000, so train keeps the first 55000). Throws plat::Error
// naming the file and the fix on a missing or malformed file or when counts disagree.
FashionMNIST load_fashion_mnist(const std::string& dir, int64_t validation = 5000);

const char* fashion_mnist_class_name(int64_t label);  // "T-shirt/top", ..., "Ankle boot"

// Mean and population std of pixels / 255, from exact integer sums of p and p^2.
void pixel_mean_std(const uint8_t* pixels, int64_t count, double& mean, double& std);
// (pixels / 255 - mean) / std as a [N, 1, rows, cols] tensor.
Tensor normalize_images(const uint8_t* pixels, int64_t N, int64_t rows, int64_t cols, double mean, double std);

// Rows [start, start + count) of images [N, ...] and labels [N]: the evaluation batches, in order.
Batch image_batch(const Tensor& images, const std::vector<int64_t>& labels, int64_t start, int64_t count);

// Where an ImageBatchIterator is: the epoch, the next index into that epoch's permutation, and
// the generator word as it was at the START of that epoch, before the permutation was drawn.
struct ImageLoaderState {
    int64_t epoch = 0;
    int64_t position = 0;
    uint64_t generator_state = 0;
    bool operator==(const ImageLoaderState& o) const {
        return epoch == o.epoch && position == o.position && generator_state == o.generator_state;
    }
};

// Training batches for ever, epoch after epoch. Each epoch draws a fresh permutation of [0, N)
// (Fisher-Yates from the seeded generator, starting from the identity) and hands it out in
// batches of B; the last N % B examples of an epoch's permutation are dropped, so every batch
// is full (they differ from epoch to epoch). set_state(state()) redraws the epoch's permutation
// from its saved start word, so a resumed run sees exactly the batches the first would have.
class ImageBatchIterator {
public:
    ImageBatchIterator(Tensor images, std::vector<int64_t> labels, int64_t B, uint64_t seed);

    Batch next();  // B = rows, images [B, ...], targets = labels [B]; T = 0
    ImageLoaderState state() const { return {epoch_, position_, epoch_start_state_}; }
    void set_state(const ImageLoaderState& state);
    int64_t epoch() const { return epoch_; }
    int64_t batches_per_epoch() const { return N_ / B_; }
    const std::vector<int64_t>& permutation() const { return perm_; }  // this epoch's order

private:
    void start_epoch();  // records the start word, then draws perm_

    Tensor images_;                // [N, ...]
    std::vector<int64_t> labels_;  // [N]
    int64_t N_, B_, row_;          // row_ = elements per example
    Generator gen_;
    int64_t epoch_ = 0, position_ = 0;
    uint64_t epoch_start_state_ = 0;
    std::vector<int64_t> perm_;    // [N]
};

}  // namespace plat
