// tests/fuzz/fuzz_idx.cpp: libFuzzer target for parse_idx and the Fashion-MNIST checks
// check_idx_images / check_idx_labels (datasets/idx.h; notes/08-data-safety.md, "Fuzzing").
// Any input must parse or throw plat::Error with a one-line message; what parses must hold
// exactly prod(dims) bytes, each size >= 1, and what the checks accept must have their shape.
#include <cstdint>

#include "datasets/idx.h"
#include "tests/fuzz/fuzz_common.h"

using namespace plat;
using plat_fuzz::fuzz_check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    IdxArray a;
    try {
        a = parse_idx(data, size, "fuzz.idx");
    } catch (const Error& e) {
        plat_fuzz::check_message(e);
        return 0;
    }
    fuzz_check(!a.dims.empty() && a.dims.size() <= 4, "1 to 4 dimensions");
    uint64_t product = 1;
    for (int64_t d : a.dims) {
        fuzz_check(d >= 1, "every size >= 1");
        product *= uint64_t(d);  // cannot wrap: the product is at most the input size
    }
    fuzz_check(product == a.data.size(), "data is exactly prod(dims) bytes");
    fuzz_check(size == 4 + 4 * a.dims.size() + a.data.size(), "header and data are the whole input");

    try {
        check_idx_images(a, 28, 28);
        fuzz_check(a.dims.size() == 3 && a.dims[1] == 28 && a.dims[2] == 28, "images are [N, 28, 28]");
    } catch (const Error& e) {
        plat_fuzz::check_message(e);
    }
    try {
        check_idx_labels(a, 10);
        fuzz_check(a.dims.size() == 1, "labels are [N]");
        for (uint8_t label : a.data) fuzz_check(label < 10, "labels < 10");
    } catch (const Error& e) {
        plat_fuzz::check_message(e);
    }
    return 0;
}
