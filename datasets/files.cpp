// datasets/files.cpp: whole-file reads with errors naming the file and `make data`
// (notes/06a-data.md, "Where the data is").
#include "datasets/files.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sys/stat.h>

#include "core/error.h"

namespace plat {

std::string data_dir() {
    const char* env = std::getenv("PLAT_DATA_DIR");
    return (env && *env) ? std::string(env) : std::string("data");
}

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what) {
    // stat first, so a directory or a missing file gets its own message rather than a read error.
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
        fail("{}: cannot open '{}': {}; run `make data` to create it", what, path, std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        fail("{}: '{}' is not a regular file; run `make data` to create it", what, path);
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!file) fail("{}: cannot open '{}': {}; check its permissions", what, path, std::strerror(errno));

    std::vector<uint8_t> bytes(size_t(st.st_size));
    size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), file.get());
    if (got != bytes.size())
        fail("{}: read {} of {} bytes from '{}'; the file changed while reading or the disk failed",
             what, got, bytes.size(), path);
    if (bytes.empty()) fail("{}: '{}' is empty; run `make data` to re-create it", what, path);
    return bytes;
}

}  // namespace plat
