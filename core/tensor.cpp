// core/tensor.cpp: construction, access and printing of Tensor (notes/01-tensors.md).
#include "core/tensor.h"

#include <cmath>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <fmt/format.h>

#include "core/error.h"
#include "core/random.h"

namespace plat {

namespace {
// A training step allocates and frees the same large tensors every step (activations, gradients).
// By default glibc hands freed memory above a threshold back to the operating system (munmap, or
// trimming the heap's top) and asks for fresh pages again in the next step; each fresh page costs
// a page fault and the kernel's zero-fill. Keeping freed memory with the process removes nearly
// all of those faults at no cost in peak memory: the freed blocks are reused by the next step
// (measurements in notes/07-performance.md, "Measured history"). These are glibc's own settings
// (mallopt(3)); on another C library the defaults stay.
[[maybe_unused]] const bool g_allocator_tuned = [] {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // blocks up to 32 MB (glibc's maximum) come from the heap,
    mallopt(M_MMAP_MAX, 0);               // and larger ones too (attention's [B,H,T,T] at long contexts)
    mallopt(M_TRIM_THRESHOLD, 1 << 30);   // and the heap's free top is kept, up to 1 GB
    mallopt(M_TOP_PAD, 64 << 20);         // grow the heap 64 MB at a time
#endif
    return true;
}();
}  // namespace

Tensor::Tensor(const Shape& shape) : shape_(shape), storage_(std::make_shared<Storage>(shape.numel(), real(0))) {}

Tensor Tensor::uninitialized(const Shape& shape) {
    Tensor t;
    t.shape_ = shape;
    t.storage_ = std::make_shared<Storage>(shape.numel());
    return t;
}

Tensor Tensor::full(const Shape& shape, real value) {
    Tensor t(shape);
    t.fill(value);
    return t;
}

Tensor Tensor::from_data(const Shape& shape, std::vector<real> values) {
    if ((int64_t)values.size() != shape.numel())
        fail("Tensor::from_data: shape {} needs {} values, got {}", shape.str(), shape.numel(), values.size());
    Tensor t;
    t.shape_ = shape;
    t.storage_ = std::make_shared<Storage>(values.begin(), values.end());
    return t;
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, real mean, real std) {
    Tensor t(shape);
    for (int64_t i = 0; i < t.numel(); i++) t[i] = mean + std * real(gen.normal());
    return t;
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, real low, real high) {
    if (!(low <= high)) fail("Tensor::uniform: needs low <= high, got low={} high={}", low, high);
    Tensor t(shape);
    // Computed in double, then rounded once to `real`. gen.uniform() < 1, but a value within
    // 2^-25 of 1 rounds up to exactly `high` in float (about once in 3e7 draws, so in every
    // large initialization); such a value is moved down to the largest `real` below `high`.
    real below_high = std::nextafter(high, low);
    for (int64_t i = 0; i < t.numel(); i++) {
        real v = real(double(low) + (double(high) - double(low)) * gen.uniform());
        t[i] = v < high ? v : below_high;
    }
    return t;
}

int64_t Tensor::flat_index(std::initializer_list<int64_t> index) const {
    if (empty()) fail("Tensor::at: the tensor is empty (default-constructed, no storage)");
    if ((int)index.size() != ndim())
        fail("Tensor::at: {} indices given for a tensor of shape {}", index.size(), shape_.str());
    int64_t flat = 0;
    int axis = 0;
    for (int64_t i : index) {
        if (i < 0 || i >= shape_[axis])
            fail("Tensor::at: index {} is out of range for dimension {} of shape {}", i, axis, shape_.str());
        flat = flat * shape_[axis] + i;  // row-major: the last index moves fastest
        axis++;
    }
    return flat;
}

// The index is checked before storage_ is touched (it may be null for an empty tensor).
real& Tensor::at(std::initializer_list<int64_t> index) {
    int64_t i = flat_index(index);
    return (*storage_)[i];
}
real Tensor::at(std::initializer_list<int64_t> index) const {
    int64_t i = flat_index(index);
    return (*storage_)[i];
}

real Tensor::item() const {
    if (numel() != 1) fail("Tensor::item: needs a one-element tensor, got shape {}", shape_.str());
    return (*storage_)[0];
}

Tensor Tensor::reshape(const Shape& shape) const {
    if (shape.numel() != numel())
        fail("reshape: cannot view {} ({} values) as {} ({} values)", shape_.str(), numel(), shape.str(), shape.numel());
    Tensor t = *this;
    t.shape_ = shape;
    return t;
}

Tensor Tensor::clone() const {
    Tensor t;
    t.shape_ = shape_;
    if (storage_) t.storage_ = std::make_shared<Storage>(*storage_);
    return t;
}

void Tensor::fill(real value) {
    for (int64_t i = 0; i < numel(); i++) (*storage_)[i] = value;
}

void Tensor::copy_from(const Tensor& other) {
    check_shape(other, shape_, "Tensor::copy_from");
    std::copy(other.data(), other.data() + numel(), data());
}

std::string Tensor::str(int max_values) const {
    if (empty()) return "Tensor(empty)";
    std::string s = "Tensor" + shape_.str();
    int64_t n = numel() < max_values ? numel() : max_values;
    for (int64_t i = 0; i < n; i++) s += fmt::format(" {:.6g}", double((*storage_)[i]));
    if (numel() > n) s += fmt::format(" ... ({} values)", numel());
    return s;
}

void check_shape(const Tensor& t, const Shape& expected, const char* what) {
    if (t.shape() != expected) fail("{}: expected shape {}, got {}", what, expected.str(), t.shape().str());
}

}  // namespace plat
