// core/shape.h: the shape of a tensor, up to 4 dimensions (notes/01-tensors.md, "Shapes and row offsets").
// Legend used in comments everywhere: B batch, T tokens, C channels, H heads, D head size,
// V vocabulary, N rows of any flattened leading dimensions.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

namespace plat {

class Shape {
public:
    static constexpr int kMaxDims = 4;

    Shape() = default;
    Shape(std::initializer_list<int64_t> dims);

    int ndim() const { return ndim_; }
    // Dimension `i`; negative i counts from the end, as in PyTorch (-1 is the last).
    int64_t operator[](int i) const { return dims_[normalize_axis(i)]; }
    int64_t numel() const;
    // Product of the dimensions before `axis` (outer) and after it (inner): any axis of a
    // contiguous tensor is then the middle index of a [outer, size(axis), inner] view.
    int64_t outer(int axis) const;
    int64_t inner(int axis) const;
    int normalize_axis(int axis) const;  // throws plat::Error when out of range

    Shape with(int axis, int64_t size) const;  // copy with one dimension replaced
    Shape without(int axis) const;             // copy with one dimension removed
    void push_back(int64_t size);

    bool operator==(const Shape& other) const;
    bool operator!=(const Shape& other) const { return !(*this == other); }
    std::string str() const;  // "[2, 3, 4]"

private:
    int ndim_ = 0;
    int64_t dims_[kMaxDims] = {0, 0, 0, 0};
};

// NumPy broadcasting: align from the right, a size-1 dimension stretches. Throws plat::Error
// naming `op` and both shapes when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace plat
