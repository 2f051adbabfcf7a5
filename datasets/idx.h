// datasets/idx.h: a reader for the idx format of the MNIST family, strict about bad files.
// Layout (all integers big-endian): a 4-byte magic 0x00 0x00 TYPE NDIM, NDIM uint32 sizes, then
// the elements row-major. plat reads TYPE 0x08 (unsigned byte): images are 0x00000803 [N, rows,
// cols], labels 0x00000801 [N] (notes/06a-data.md, "The idx format and its checks").
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace plat {

struct IdxArray {
    std::string name;           // the file, or whatever the caller called the buffer
    uint32_t magic = 0;         // 0x00000800 | NDIM
    std::vector<int64_t> dims;  // NDIM sizes, each >= 1
    std::vector<uint8_t> data;  // prod(dims) bytes, row-major
    int64_t count() const { return dims.empty() ? 0 : dims[0]; }
};

// Parses a whole idx file held in memory. Any input either parses or throws plat::Error
// (never reads out of bounds; a fuzz target relies on this). Checks, in order: at least 4 bytes;
// the magic's first two bytes are 0; the type is 0x08; 1 <= NDIM <= 4; the header fits; every
// size >= 1; the data is exactly prod(sizes) bytes (not past the end, no trailing bytes).
IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name);

// read_file_bytes + parse_idx; errors name the file and `make data`.
IdxArray read_idx(const std::string& path);

// An images file: magic 0x00000803, sizes [N, rows, cols] with the given rows and cols.
void check_idx_images(const IdxArray& images, int64_t rows, int64_t cols);
// A labels file: magic 0x00000801, sizes [N], every value < num_classes.
void check_idx_labels(const IdxArray& labels, int num_classes);

}  // namespace plat
