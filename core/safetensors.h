// core/safetensors.h: reading and writing safetensors files, plat's format for checkpoints and
// tensor dumps (notes/08-data-safety.md). Loading treats every file as untrusted input and checks
// each field before using it; saving is atomic (temporary file, fsync, rename, directory fsync).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace plat {

// The element types plat reads and writes. The other safetensors dtypes (F16, BF16, I32, U8, ...)
// are recognised by name when reading, only so that the error can name them.
// The order is the reference implementation's (F32 < F64 < I64): the writer sorts by it.
enum class DType { F32, F64, I64 };

const char* dtype_name(DType dtype);  // "F32", "F64", "I64": the names used in the JSON header
int64_t dtype_size(DType dtype);      // bytes per element: 4, 8, 8

// One named tensor as it sits in a file: element type, shape, and its numel * dtype_size raw
// little-endian bytes, row-major.
struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;

    int64_t numel() const;  // product of shape; 1 for a scalar (shape [])
};

// The contents of one safetensors file: named tensors, in the order they were put (after
// loading: in the order of their data in the file), and string metadata (the header's
// "__metadata__", where a checkpoint keeps its model configuration).
class TensorFile {
public:
    // Store `t` as F32, converted from plat::real (double in the gradient-check build).
    void put(const std::string& name, const Tensor& t);
    // Store integers (token ids, step counters, random states) as I64.
    void put_int64(const std::string& name, const std::vector<int64_t>& shape,
                   const std::vector<int64_t>& values);
    // Store an entry as given (any DType); checks the name and that the byte count matches.
    void put_entry(TensorEntry entry);

    // The tensor `name` as plat::real, converted from F32 or F64. Throws naming the tensor
    // and its dtype when it holds integers, or when it has more dimensions than a Shape holds.
    Tensor get(const std::string& name) const;
    std::vector<int64_t> get_int64(const std::string& name) const;  // I64 tensors only
    const TensorEntry& entry(const std::string& name) const;       // throws when missing
    bool has(const std::string& name) const { return index_.count(name) != 0; }
    std::vector<std::string> names() const;
    const std::vector<TensorEntry>& entries() const { return entries_; }
    size_t size() const { return entries_.size(); }

    void set_metadata(const std::string& key, const std::string& value);
    bool has_metadata(const std::string& key) const { return metadata_.count(key) != 0; }
    const std::string& metadata(const std::string& key) const;  // throws naming the key
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

private:
    std::vector<TensorEntry> entries_;
    std::map<std::string, size_t> index_;  // name -> position in entries_
    std::map<std::string, std::string> metadata_;
};

// Write `file` to `path` atomically: the bytes go to a new temporary file beside `path`, which is
// fsynced and then renamed over `path`, and the directory is fsynced. An interrupted or failed
// save leaves the previous file at `path` untouched and removes its temporary file.
void save_safetensors(const std::string& path, const TensorFile& file);

// Read and validate a file. Any problem (missing file, truncation, bad JSON, unsupported dtype,
// offsets that do not tile the data...) throws a one-line plat::Error naming the file, what is
// wrong and what to do. Nothing is allocated before the sizes it depends on are checked
// against the file's real size.
TensorFile load_safetensors(const std::string& path);

// The same two steps on memory: the exact bytes save_safetensors writes, and the parser
// load_safetensors uses (also the entry point for fuzzing). `name_for_messages` is what errors
// call the buffer (load passes the path).
std::vector<uint8_t> serialize_safetensors(const TensorFile& file);
TensorFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name_for_messages);

}  // namespace plat
