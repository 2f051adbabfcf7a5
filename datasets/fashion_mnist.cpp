// datasets/fashion_mnist.cpp: loading, normalizing and batching Fashion-MNIST
// (notes/06a-data.md, "Fashion-MNIST", "Normalization", "The image iterator").
#include "datasets/fashion_mnist.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"
#include "datasets/files.h"
#include "datasets/idx.h"

namespace plat {

const char* fashion_mnist_class_name(int64_t label) {
    static const char* names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    if (label < 0 || label >= 10) fail("fashion_mnist_class_name: label must be in [0, 10), got {}", label);
    return names[label];
}

void pixel_mean_std(const uint8_t* pixels, int64_t count, double& mean, double& std) {
    if (count <= 0) fail("pixel_mean_std: needs at least one pixel, got {}", count);
    // Exact sums: 60000 * 784 * 255^2 < 2^42, far inside uint64.
    uint64_t s1 = 0, s2 = 0;
    for (int64_t i = 0; i < count; i++) {
        s1 += pixels[i];
        s2 += uint64_t(pixels[i]) * pixels[i];
    }
    double n = double(count);
    mean = double(s1) / (255.0 * n);
    double var = double(s2) / (255.0 * 255.0 * n) - mean * mean;  // E[x^2] - E[x]^2, x = p / 255
    std = std::sqrt(std::max(var, 0.0));
}

Tensor normalize_images(const uint8_t* pixels, int64_t N, int64_t rows, int64_t cols, double mean, double std) {
    if (!(std > 0)) fail("normalize_images: std must be > 0, got {} (are all pixels equal?)", std);
    Tensor out(Shape{N, 1, rows, cols});  // [N, 1, rows, cols]
    // A table of the 256 possible values: every pixel with the same byte gets the same float.
    real table[256];
    for (int p = 0; p < 256; p++) table[p] = real((p / 255.0 - mean) / std);
    real* o = out.data();
    for (int64_t i = 0; i < N * rows * cols; i++) o[i] = table[pixels[i]];
    return out;
}

static std::vector<int64_t> to_labels(const uint8_t* labels, int64_t count) {
    return std::vector<int64_t>(labels, labels + count);
}

FashionMNIST load_fashion_mnist(const std::string& dir, int64_t validation) {
    const int64_t rows = 28, cols = 28, pixels_per_image = rows * cols;
    auto load_pair = [&](const char* images_name, const char* labels_name, IdxArray& images, IdxArray& labels) {
        images = read_idx(dir + "/" + images_name);
        check_idx_images(images, rows, cols);
        labels = read_idx(dir + "/" + labels_name);
        check_idx_labels(labels, 10);
        if (images.count() != labels.count())
            fail("Fashion-MNIST: '{}' holds {} images but '{}' holds {} labels; they must agree: "
                 "re-create both with `make data`", images.name, images.count(), labels.name, labels.count());
    };
    IdxArray train_x, train_y, test_x, test_y;
    load_pair("train-images-idx3-ubyte", "train-labels-idx1-ubyte", train_x, train_y);
    load_pair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", test_x, test_y);

    int64_t n_all = train_x.count();
    if (validation < 0 || validation >= n_all)
        fail("load_fashion_mnist: validation must be in [0, {}) (the training images), got {}", n_all, validation);
    int64_t n_train = n_all - validation;  // train: [0, n_train), validation: [n_train, n_all)

    FashionMNIST d;
    // Normalization statistics from the training part only: the validation and test images must
    // not influence anything the model is trained with.
    pixel_mean_std(train_x.data.data(), n_train * pixels_per_image, d.mean, d.std);
    const uint8_t* tx = train_x.data.data();
    d.train_images = normalize_images(tx, n_train, rows, cols, d.mean, d.std);
    d.val_images = normalize_images(tx + n_train * pixels_per_image, validation, rows, cols, d.mean, d.std);
    d.test_images = normalize_images(test_x.data.data(), test_x.count(), rows, cols, d.mean, d.std);
    d.train_labels = to_labels(train_y.data.data(), n_train);
    d.val_labels = to_labels(train_y.data.data() + n_train, validation);
    d.test_labels = to_labels(test_y.data.data(), test_y.count());
    return d;
}

std::string FashionMNIST::summary() const {
    return fmt::format("Fashion-MNIST: {} train, {} validation, {} test images of 1x28x28; "
                       "pixels / 255 normalized by the train part's mean {:.6f} and std {:.6f}",
                       train_labels.size(), val_labels.size(), test_labels.size(), mean, std);
}

Batch image_batch(const Tensor& images, const std::vector<int64_t>& labels, int64_t start, int64_t count) {
    int64_t N = images.ndim() > 0 ? images.size(0) : 0;
    if (int64_t(labels.size()) != N)
        fail("image_batch: {} labels for {} images", labels.size(), N);
    if (start < 0 || count <= 0 || start + count > N)
        fail("image_batch: rows [{}, {}) are not inside [0, {})", start, start + count, N);
    int64_t row = images.numel() / N;
    Batch batch;
    batch.B = count;
    batch.images = Tensor(images.shape().with(0, count));  // [count, ...]
    std::memcpy(batch.images.data(), images.data() + start * row, size_t(count * row) * sizeof(real));
    batch.targets.assign(labels.begin() + start, labels.begin() + start + count);
    return batch;
}

ImageBatchIterator::ImageBatchIterator(Tensor images, std::vector<int64_t> labels, int64_t B, uint64_t seed)
    : images_(std::move(images)), labels_(std::move(labels)), gen_(seed) {
    if (images_.ndim() < 1) fail("ImageBatchIterator: images must be [N, ...], got an empty tensor");
    N_ = images_.size(0);
    if (int64_t(labels_.size()) != N_)
        fail("ImageBatchIterator: {} labels for {} images", labels_.size(), N_);
    if (B <= 0 || B > N_)
        fail("ImageBatchIterator: batch size must be in [1, {}] (the number of images), got {}", N_, B);
    B_ = B;
    row_ = images_.numel() / N_;
    start_epoch();
}

void ImageBatchIterator::start_epoch() {
    epoch_start_state_ = gen_.state();
    perm_.resize(size_t(N_));
    for (int64_t i = 0; i < N_; i++) perm_[i] = i;
    // Fisher-Yates: position i takes a uniformly chosen element of [0, i], so every one of the
    // N! orders is equally likely.
    for (int64_t i = N_ - 1; i > 0; i--) std::swap(perm_[i], perm_[gen_.randint(i + 1)]);
    position_ = 0;
}

void ImageBatchIterator::set_state(const ImageLoaderState& state) {
    if (state.epoch < 0 || state.position < 0 || state.position > N_)
        fail("ImageBatchIterator::set_state: epoch {} and position {} must be >= 0, position <= {}",
             state.epoch, state.position, N_);
    gen_.set_state(state.generator_state);
    start_epoch();  // the same permutation as when this epoch first began
    epoch_ = state.epoch;
    position_ = state.position;
}

Batch ImageBatchIterator::next() {
    if (position_ + B_ > N_) {  // not a full batch left: drop the rest, begin the next epoch
        epoch_++;
        start_epoch();
    }
    Batch batch;
    batch.B = B_;
    batch.images = Tensor(images_.shape().with(0, B_));  // [B, ...]
    batch.targets.resize(size_t(B_));                    // [B] labels
    for (int64_t b = 0; b < B_; b++) {
        int64_t i = perm_[position_ + b];
        std::memcpy(batch.images.data() + b * row_, images_.data() + i * row_, size_t(row_) * sizeof(real));
        batch.targets[b] = labels_[i];
    }
    position_ += B_;
    return batch;
}

}  // namespace plat
