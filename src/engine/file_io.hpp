#pragma once

#include <string>

#include "engine/io.hpp"

namespace v2m::engine {

/// Reads a local file with `pread`; owns the descriptor.
class FileReader final : public SeekableReader {
  public:
    /// Opens `path` for reading; throws `IoError` ("cannot open …: reason").
    explicit FileReader(const std::string& path);
    ~FileReader() override;
    FileReader(const FileReader&) = delete;
    FileReader& operator=(const FileReader&) = delete;

    std::size_t Read(std::span<std::byte> buffer) override;
    void Seek(std::uint64_t offset) override;
    std::optional<std::uint64_t> Size() const override;

  private:
    int fd_ = -1;
    std::uint64_t position_ = 0;
    std::optional<std::uint64_t> size_;
};

/// Writes to an open file descriptor with `pwrite`; does not own it.
class FdSink final : public SeekableSink {
  public:
    explicit FdSink(int fd) : fd_(fd) {}

    void Write(std::span<const std::byte> data) override;
    void Seek(std::uint64_t offset) override;
    std::uint64_t Size() const override { return size_; }

  private:
    int fd_;
    std::uint64_t position_ = 0;
    std::uint64_t size_ = 0;
};

}  // namespace v2m::engine
