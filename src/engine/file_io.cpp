#include "engine/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace v2m::engine {

namespace {
std::string Reason() { return std::strerror(errno); }
}  // namespace

FileReader::FileReader(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw IoError("cannot open " + path + ": " + Reason());
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        const std::string reason = Reason();
        ::close(fd_);
        throw IoError("cannot read " + path + ": " + reason);
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd_);
        throw IoError("cannot read " + path + ": it is a directory");
    }
    // Only a regular file's size means anything, and 0 not even then (/proc
    // files say 0 and yet have content, or fail to read).
    if (S_ISREG(st.st_mode) && st.st_size > 0) size_ = static_cast<std::uint64_t>(st.st_size);
    // The demuxer reads forward with occasional jumps back.
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

FileReader::~FileReader() { ::close(fd_); }

std::size_t FileReader::Read(std::span<std::byte> buffer) {
    while (true) {
        const ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), static_cast<off_t>(position_));
        if (n >= 0) {
            position_ += static_cast<std::uint64_t>(n);
            return static_cast<std::size_t>(n);
        }
        if (errno != EINTR) throw IoError("read failed: " + Reason());
    }
}

void FileReader::Seek(std::uint64_t offset) { position_ = offset; }

std::optional<std::uint64_t> FileReader::Size() const { return size_; }

void FdSink::Write(std::span<const std::byte> data) {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(position_));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw IoError("write failed: " + Reason());
        }
        position_ += static_cast<std::uint64_t>(n);
        data = data.subspan(static_cast<std::size_t>(n));
    }
    size_ = std::max(size_, position_);
}

void FdSink::Seek(std::uint64_t offset) {
    if (offset > size_) throw IoError("seek past the end of the output");
    position_ = offset;
}

}  // namespace v2m::engine
