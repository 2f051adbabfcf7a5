// datasets/files.h: reading a whole data file, with errors that say what to do.
// Every reader in datasets/ goes through read_file_bytes, so a missing or empty file always
// names the path and the fix (`make data`) the same way (notes/06a-data.md, "Where the data is").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/files.h"

namespace plat {

// The data directory: $PLAT_DATA_DIR when set and non-empty, otherwise "data" (relative to the
// working directory, where `make data` puts it).
std::string data_dir();

// All bytes of `path`. Throws plat::Error naming the path when it cannot be opened, read, or is
// empty; `what` says what the file is ("KJV text", "Fashion-MNIST train images").
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what);

}  // namespace plat
