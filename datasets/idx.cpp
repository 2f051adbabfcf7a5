// datasets/idx.cpp: parse_idx and the image/label checks (notes/06a-data.md, "The idx format
// and its checks"). Every size is compared with the bytes actually present before it is used.
#include "datasets/idx.h"

#include <fmt/format.h>

#include "core/error.h"
#include "datasets/files.h"

namespace plat {

// The hint every message ends with: the files come from `make data`, which re-creates them.
static const char* kFix = "re-create it with `make data`";

static uint32_t read_be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

static const char* idx_type_name(int type) {
    switch (type) {
        case 0x08: return "unsigned byte";
        case 0x09: return "signed byte";
        case 0x0B: return "int16";
        case 0x0C: return "int32";
        case 0x0D: return "float32";
        case 0x0E: return "float64";
        default: return "not an idx type";
    }
}

static std::string dims_str(const std::vector<int64_t>& dims) {
    std::string s;
    for (size_t i = 0; i < dims.size(); i++) s += (i ? " x " : "") + std::to_string(dims[i]);
    return s;
}

IdxArray parse_idx(const uint8_t* bytes, size_t size, const std::string& name) {
    if (size < 4)
        fail("idx '{}': {} bytes is too short for the 4-byte magic number (truncated header); {}",
             name, size, kFix);
    uint32_t magic = read_be32(bytes);
    if (bytes[0] != 0 || bytes[1] != 0) {
        const char* hint = (bytes[0] == 0x1f && bytes[1] == 0x8b) ? " (it is gzip-compressed: gunzip it)"
                         : (bytes[2] == 0 && bytes[3] == 0) ? " (the bytes look reversed: written little-endian?)"
                         : "";
        fail("idx '{}': magic number 0x{:08x} does not start with two zero bytes, so this is not an "
             "idx file{}; {}", name, magic, hint, kFix);
    }
    int type = bytes[2], ndim = bytes[3];
    if (type != 0x08)
        fail("idx '{}': magic number 0x{:08x} has element type 0x{:02x} ({}); plat reads only "
             "unsigned bytes (0x08); {}", name, magic, type, idx_type_name(type), kFix);
    if (ndim < 1 || ndim > 4)
        fail("idx '{}': magic number 0x{:08x} gives {} dimensions; plat reads 1 to 4; {}",
             name, magic, ndim, kFix);
    size_t header = 4 + 4 * size_t(ndim);
    if (size < header)
        fail("idx '{}': truncated header: {} dimensions need a {}-byte header, the file has {} bytes; {}",
             name, ndim, header, size, kFix);

    IdxArray out;
    out.name = name;
    out.magic = magic;
    // The data must be exactly prod(dims) bytes. The product is built while it stays within the
    // bytes present, so it cannot overflow even for four sizes near 2^32.
    const uint64_t present = uint64_t(size - header);
    uint64_t product = 1;
    bool past_end = false;
    for (int i = 0; i < ndim; i++) {
        uint32_t d = read_be32(bytes + 4 + 4 * i);
        if (d == 0) fail("idx '{}': dimension {} has size 0; plat needs at least one element; {}", name, i, kFix);
        out.dims.push_back(int64_t(d));
        if (!past_end && d > present / product) past_end = true;  // product * d > present
        if (!past_end) product *= d;
    }
    if (past_end)
        fail("idx '{}': the header's sizes {} need more data than the {} bytes after the {}-byte "
             "header: they run past the end of the file (truncated or not this shape); {}",
             name, dims_str(out.dims), present, header, kFix);
    if (product < present)
        fail("idx '{}': {} trailing bytes after the {} = {} bytes of data the header describes; {}",
             name, present - product, dims_str(out.dims), product, kFix);
    out.data.assign(bytes + header, bytes + size);
    return out;
}

IdxArray read_idx(const std::string& path) {
    std::vector<uint8_t> bytes = read_file_bytes(path, "idx");
    return parse_idx(bytes.data(), bytes.size(), path);
}

void check_idx_images(const IdxArray& images, int64_t rows, int64_t cols) {
    if (images.dims.size() != 3)
        fail("idx '{}': an images file needs 3 dimensions [N, rows, cols] (magic 0x00000803), this one "
             "has {} (magic 0x{:08x}, sizes {}); is it a labels file? {}",
             images.name, images.dims.size(), images.magic, dims_str(images.dims), kFix);
    if (images.dims[1] != rows || images.dims[2] != cols)
        fail("idx '{}': images are {} x {}, expected {} x {}; {}",
             images.name, images.dims[1], images.dims[2], rows, cols, kFix);
}

void check_idx_labels(const IdxArray& labels, int num_classes) {
    if (labels.dims.size() != 1)
        fail("idx '{}': a labels file needs 1 dimension [N] (magic 0x00000801), this one has {} "
             "(magic 0x{:08x}, sizes {}); is it an images file? {}",
             labels.name, labels.dims.size(), labels.magic, dims_str(labels.dims), kFix);
    for (size_t i = 0; i < labels.data.size(); i++)
        if (labels.data[i] >= num_classes)
            fail("idx '{}': label {} at index {} is out of range: labels must be below {}; {}",
                 labels.name, labels.data[i], i, num_classes, kFix);
}

}  // namespace plat
