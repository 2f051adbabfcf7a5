// tests/fuzz/fuzz_safetensors.cpp: libFuzzer target for parse_safetensors (core/safetensors.h),
// the reader behind every checkpoint and tensor dump (notes/08-data-safety.md, "Fuzzing").
// Any input must parse or throw plat::Error with a one-line message; what parses must survive
// serialize -> parse unchanged, and every tensor must read back through get()/get_int64().
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

using namespace plat;
using plat_fuzz::fuzz_check;

// Reads every entry the way a user of TensorFile would; F32 and F64 entries of at most
// Shape::kMaxDims dimensions through get(), I64 through get_int64(). Errors here are only
// the documented refusals (too many dimensions), which must still be one line.
static void read_entries(const TensorFile& file) {
    for (const TensorEntry& e : file.entries()) {
        try {
            if (e.dtype == DType::I64) {
                std::vector<int64_t> v = file.get_int64(e.name);
                fuzz_check(int64_t(v.size()) == e.numel(), "get_int64 returned numel values");
            } else {
                Tensor t = file.get(e.name);
                fuzz_check(t.numel() == e.numel(), "get returned numel values");
            }
        } catch (const Error& err) {
            plat_fuzz::check_message(err);
            fuzz_check(e.shape.size() > size_t(Shape::kMaxDims), "get refused only for too many dimensions");
        }
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    TensorFile file;
    try {
        file = parse_safetensors(data, size, "fuzz.safetensors");
    } catch (const Error& e) {
        plat_fuzz::check_message(e);
        return 0;
    }
    // Accepted: the sizes were checked, so each entry holds exactly numel * dtype_size bytes.
    for (const TensorEntry& e : file.entries())
        fuzz_check(e.bytes.size() == size_t(e.numel() * dtype_size(e.dtype)), "entry bytes = numel * dtype size");
    read_entries(file);

    // What was accepted must be writable, and read back identically. A plat::Error here is a
    // finding too: the writer refusing what the reader accepted.
    std::vector<uint8_t> again = serialize_safetensors(file);
    TensorFile back = parse_safetensors(again.data(), again.size(), "again.safetensors");
    fuzz_check(back.size() == file.size(), "round trip keeps the number of tensors");
    for (const TensorEntry& e : file.entries()) {
        fuzz_check(back.has(e.name), "round trip keeps every name");
        const TensorEntry& b = back.entry(e.name);
        fuzz_check(b.dtype == e.dtype && b.shape == e.shape && b.bytes == e.bytes, "round trip keeps every entry");
    }
    fuzz_check(back.metadata() == file.metadata(), "round trip keeps the metadata");
    // plat's own layout is canonical: writing what it read gives the same bytes again.
    fuzz_check(serialize_safetensors(back) == again, "serialize is stable");
    return 0;
}
