// core/tensor.h: the Tensor: a contiguous, row-major array of `real` with a Shape.
// `real` is float in the library and double in the gradient-check build (-DPLAT_REAL=double),
// so the same source is checked in double precision (notes/02-autograd.md, "Gradient checking").
// Copies share storage, as PyTorch tensors do; clone() makes an independent copy.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/shape.h"

#ifndef PLAT_REAL
#define PLAT_REAL float
#endif

namespace plat {

using real = PLAT_REAL;

class Generator;

class Tensor {
public:
    Tensor() = default;               // an empty tensor: ndim 0, no storage, numel() == 0
    explicit Tensor(const Shape& shape);  // zeros of that shape

    static Tensor zeros(const Shape& shape) { return Tensor(shape); }
    // Storage whose values are undefined until written: for an operation's output that its kernel
    // overwrites entirely, where zero-filling first would be a wasted pass over memory (megabytes
    // for attention's [B, H, T, T]; notes/07-performance.md, section 4).
    static Tensor uninitialized(const Shape& shape);
    static Tensor ones(const Shape& shape) { return full(shape, 1); }
    static Tensor full(const Shape& shape, real value);
    static Tensor from_data(const Shape& shape, std::vector<real> values);  // sizes must agree
    static Tensor scalar(real value) { return full(Shape{1}, value); }
    // Seeded random tensors; the same generator state gives the same numbers on every machine.
    // uniform draws from [low, high): `high` itself never appears, even after rounding to float
    // (unless low == high).
    static Tensor randn(const Shape& shape, Generator& gen, real mean = 0, real std = 1);
    static Tensor uniform(const Shape& shape, Generator& gen, real low = 0, real high = 1);

    const Shape& shape() const { return shape_; }
    int ndim() const { return shape_.ndim(); }
    int64_t size(int axis) const { return shape_[axis]; }
    // The number of values: the product of the dimensions (1 for a 0-d tensor), 0 when empty().
    int64_t numel() const { return storage_ ? shape_.numel() : 0; }
    bool empty() const { return storage_ == nullptr; }

    real* data() { return storage_ ? storage_->data() : nullptr; }
    const real* data() const { return storage_ ? storage_->data() : nullptr; }
    // Flat element access (no bounds check; the hot path).
    real& operator[](int64_t i) { return (*storage_)[i]; }
    real operator[](int64_t i) const { return (*storage_)[i]; }
    // Element access by index, bounds-checked: t.at({b, t, c}).
    real& at(std::initializer_list<int64_t> index);
    real at(std::initializer_list<int64_t> index) const;
    real item() const;  // the value of a one-element tensor

    Tensor reshape(const Shape& shape) const;  // same storage, new shape; numel must agree
    Tensor clone() const;                      // new storage, same values
    void fill(real value);
    void copy_from(const Tensor& other);       // same shape required

    std::string str(int max_values = 8) const;  // "Tensor[2, 3] 0.1 0.2 ... (6 values)", "Tensor(empty)"

private:
    int64_t flat_index(std::initializer_list<int64_t> index) const;

    // A vector whose elements are default-initialized (for float: left as they are) unless a value
    // is given, so that uninitialized() costs no pass over the memory.
    template <class T>
    struct NoInitAllocator : std::allocator<T> {
        template <class U>
        struct rebind {
            using other = NoInitAllocator<U>;
        };
        template <class U>
        void construct(U* p) noexcept { ::new (static_cast<void*>(p)) U; }
        template <class U, class... Args>
        void construct(U* p, Args&&... args) { ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...); }
    };
    using Storage = std::vector<real, NoInitAllocator<real>>;

    Shape shape_;
    std::shared_ptr<Storage> storage_;
};

// Check that `t` has exactly the given shape; the message names `what`.
void check_shape(const Tensor& t, const Shape& expected, const char* what);

}  // namespace plat
