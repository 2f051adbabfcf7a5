// core/files.cpp: the atomic write (temporary file, fsync, rename, directory fsync) and the small
// file-system helpers of core/files.h.
#include "core/files.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace plat {

namespace {

std::string directory_of(const std::string& path) {
    size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace

AtomicFile::AtomicFile(const std::string& target, const std::string& op) : target_(target), op_(op) {
    // A unique name (pid and a counter), so two saves to the same path cannot interleave their
    // bytes in one temporary; O_EXCL never reuses a file that is already there.
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0;; attempt++) {
        path_ = fmt::format("{}.tmp.{}.{}", target, long(getpid()), counter++);
        fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ >= 0) break;
        if (errno != EEXIST || attempt == 100) io_failed("creating a temporary file beside it", errno);
    }
}

AtomicFile::~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd_, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) io_failed("writing", n < 0 ? errno : EIO);
        p += n;
        size -= size_t(n);
    }
}

// fsync before rename: otherwise a crash could leave the new name pointing at a file whose data
// never reached the disk. fsync the directory after: otherwise the rename itself could be lost,
// and the old file come back.
void AtomicFile::commit() {
    if (::fsync(fd_) != 0) io_failed("fsync", errno);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) io_failed("closing", errno);
    if (::rename(path_.c_str(), target_.c_str()) != 0) io_failed("renaming the temporary file over it", errno);
    committed_ = true;
    const std::string dir = directory_of(target_);
    int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dir_fd < 0 ? -1 : ::fsync(dir_fd);
    int err = errno;
    if (dir_fd >= 0) ::close(dir_fd);
    // EINVAL: this file system cannot sync directories; there is nothing more to do.
    if (rc != 0 && err != EINVAL)
        fail("{}: '{}' was written, but syncing its directory '{}' failed: {}; the new file may not survive a power "
             "loss, check the disk",
             op_, target_, dir, std::strerror(err));
}

void AtomicFile::io_failed(const char* step, int err) const {
    fail("{}: cannot save '{}': {} failed: {}; check the directory exists and is writable and the disk has space "
         "(the previous file, if any, is untouched)",
         op_, target_, step, std::strerror(err));
}

void write_file_atomic(const std::string& path, const void* data, size_t size, const std::string& op) {
    AtomicFile out(path, op);
    out.write(data, size);
    out.commit();
}

bool file_exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
    std::error_code ec;
    return std::filesystem::is_directory(path, ec);
}

void make_directories(const std::string& path) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) fail("cannot create the directory '{}': {}; check the path and its permissions", path, ec.message());
    if (!std::filesystem::is_directory(path, ec)) fail("'{}' exists and is not a directory; choose another --run", path);
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open '{}' for reading; check that it exists", path);
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) fail("reading '{}' failed", path);
    return text.str();
}

}  // namespace plat
