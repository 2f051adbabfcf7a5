// core/files.h: the file-system helpers of the whole project, in one place: writing a file so that
// it is either completely the new version or still the old one, whatever happens during the write
// (notes/08-data-safety.md, "Atomic saves"; used for checkpoints, images and run files), and the
// small checks and reads around it.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace plat {

// A new file beside `target` that becomes `target` only through commit(). Destroyed without
// commit (an error, an exception, a failed rename) it is closed and deleted: a failed save
// leaves the previous file and no temporary behind. `op` names the caller in error messages.
class AtomicFile {
public:
    AtomicFile(const std::string& target, const std::string& op);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t size);
    void commit();  // fsync, close, rename over the target, fsync the directory

private:
    [[noreturn]] void io_failed(const char* step, int err) const;

    std::string target_, op_, path_;
    int fd_ = -1;
    bool committed_ = false;
};

// True for an existing regular file (not a directory).
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// mkdir -p; throws plat::Error naming the path and the system's reason.
void make_directories(const std::string& path);
// The whole file as text; throws plat::Error naming the path when it cannot be read.
std::string read_text_file(const std::string& path);

// The whole file in one call.
void write_file_atomic(const std::string& path, const void* data, size_t size, const std::string& op);
inline void write_file_atomic(const std::string& path, const std::string& text, const std::string& op) {
    write_file_atomic(path, text.data(), text.size(), op);
}

}  // namespace plat
