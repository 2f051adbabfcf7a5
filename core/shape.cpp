// core/shape.cpp: shapes and broadcasting rules (notes/01-tensors.md).
#include "core/shape.h"

#include <cstdint>

#include "core/error.h"

namespace plat {

Shape::Shape(std::initializer_list<int64_t> dims) {
    if (dims.size() > kMaxDims) fail("Shape: {} dimensions given, at most {} are supported", dims.size(), kMaxDims);
    for (int64_t d : dims) push_back(d);
}

void Shape::push_back(int64_t size) {
    if (ndim_ == kMaxDims) fail("Shape: cannot add a dimension to {}, at most {} are supported", str(), kMaxDims);
    if (size < 0) fail("Shape: dimension sizes must be >= 0, got {}", size);
    // Keep numel() (and every outer/inner product) inside int64: a shape whose element count
    // overflows would otherwise wrap around to a small number and get too little storage.
    int64_t n = 1;
    for (int i = 0; i < ndim_; i++) n = n * (dims_[i] == 0 ? 1 : dims_[i]);
    if (size != 0 && n > INT64_MAX / size)
        fail("Shape: {} with another dimension of {} has more elements than fit in 64 bits", str(), size);
    dims_[ndim_++] = size;
}

int64_t Shape::numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim_; i++) n *= dims_[i];
    return n;
}

int Shape::normalize_axis(int axis) const {
    int a = axis < 0 ? axis + ndim_ : axis;
    if (a < 0 || a >= ndim_) fail("axis {} is out of range for a tensor of shape {} ({} dimensions)", axis, str(), ndim_);
    return a;
}

int64_t Shape::outer(int axis) const {
    int a = normalize_axis(axis);
    int64_t n = 1;
    for (int i = 0; i < a; i++) n *= dims_[i];
    return n;
}

int64_t Shape::inner(int axis) const {
    int a = normalize_axis(axis);
    int64_t n = 1;
    for (int i = a + 1; i < ndim_; i++) n *= dims_[i];
    return n;
}

Shape Shape::with(int axis, int64_t size) const {
    if (size < 0) fail("Shape::with: dimension sizes must be >= 0, got {} for axis {} of {}", size, axis, str());
    int a = normalize_axis(axis);
    Shape s;  // rebuilt through push_back, which checks the element count
    for (int i = 0; i < ndim_; i++) s.push_back(i == a ? size : dims_[i]);
    return s;
}

Shape Shape::without(int axis) const {
    int a = normalize_axis(axis);
    Shape s;
    for (int i = 0; i < ndim_; i++)
        if (i != a) s.push_back(dims_[i]);
    return s;
}

bool Shape::operator==(const Shape& other) const {
    if (ndim_ != other.ndim_) return false;
    for (int i = 0; i < ndim_; i++)
        if (dims_[i] != other.dims_[i]) return false;
    return true;
}

std::string Shape::str() const {
    std::string s = "[";
    for (int i = 0; i < ndim_; i++) s += (i ? ", " : "") + std::to_string(dims_[i]);
    return s + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
    int n = a.ndim() > b.ndim() ? a.ndim() : b.ndim();
    Shape out;
    for (int i = 0; i < n; i++) {
        // Walk both shapes from the left of the aligned result; missing leading dims are 1.
        int ia = i - (n - a.ndim()), ib = i - (n - b.ndim());
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da != db && da != 1 && db != 1)
            fail("{}: shapes {} and {} cannot be broadcast (dimension {} is {} vs {}; each must match or be 1)",
                 op, a.str(), b.str(), i, da, db);
        out.push_back(da == 1 ? db : da);
    }
    return out;
}

}  // namespace plat
