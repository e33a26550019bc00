#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>

namespace v2m::engine {

/// A failed read, write or seek on a reader or sink; `what()` names the cause.
class IoError final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// A source of bytes that can be read from any offset: a local file, later a
/// blob. Used by one thread at a time.
class SeekableReader {
  public:
    virtual ~SeekableReader() = default;
    /// Reads up to `buffer.size()` bytes at the current position and advances
    /// past them. Returns 0 only at the end. Blocks; throws `IoError`.
    virtual std::size_t Read(std::span<std::byte> buffer) = 0;
    /// Moves the position to `offset` from the start (may lie past the end,
    /// where reads return 0). Throws `IoError`.
    virtual void Seek(std::uint64_t offset) = 0;
    /// Total size in bytes, when the source knows it.
    virtual std::optional<std::uint64_t> Size() const = 0;
};

/// A destination of bytes that allows going back to overwrite what was
/// written (the MP3's Xing header is patched at the end). Used by one thread
/// at a time; making the bytes durable or visible is the owner's business.
class SeekableSink {
  public:
    virtual ~SeekableSink() = default;
    /// Writes all of `data` at the current position. Blocks; throws `IoError`.
    virtual void Write(std::span<const std::byte> data) = 0;
    /// Moves the position to `offset`, at most the number of bytes written so
    /// far. Throws `IoError`.
    virtual void Seek(std::uint64_t offset) = 0;
    /// Number of bytes written so far (the end, not the position).
    virtual std::uint64_t Size() const = 0;
};

}  // namespace v2m::engine
