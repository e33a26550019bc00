#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "domain/errors.hpp"

namespace v2m::blob {

/// No blob has that id (never had, or it was removed).
class BlobNotFound final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The storage cannot be reached or written right now (disk full, I/O error,
/// server down): a transient failure, worth a retry later.
class BlobUnavailable final : public domain::Unavailable {
  public:
    using domain::Unavailable::Unavailable;
};

/// What is known about a committed blob.
struct BlobInfo {
    std::string id;  ///< 128-bit random, 32 lowercase hex digits
    std::uint64_t size = 0;
    std::string sha256;  ///< 64 lowercase hex digits
};

/// A blob being written. Bytes are appended with `Write` (hashed on the way);
/// `Patch` overwrites bytes already written (the MP3's Xing header) before
/// `Commit`. Nothing is visible to readers until `Commit`; a writer destroyed
/// without `Commit` leaves nothing behind. Used by one thread at a time.
class BlobWriter {
  public:
    virtual ~BlobWriter() = default;
    /// The id the blob will have once committed.
    virtual const std::string& id() const = 0;
    /// Appends `data`. Throws `BlobUnavailable`.
    virtual void Write(std::span<const std::byte> data) = 0;
    /// Overwrites `data.size()` bytes at `offset`; the range must lie within
    /// what was written (`std::out_of_range` otherwise). Throws `BlobUnavailable`.
    virtual void Patch(std::uint64_t offset, std::span<const std::byte> data) = 0;
    /// Bytes written so far.
    virtual std::uint64_t Size() const = 0;
    /// Makes the blob durable and visible under `id()`; returns its size and
    /// SHA-256 (of the final bytes, patches included). Throws `BlobUnavailable`.
    virtual BlobInfo Commit() = 0;
};

/// A committed blob opened for reading at any offset. Used by one thread at a time.
class BlobReader {
  public:
    virtual ~BlobReader() = default;
    /// Reads up to `buffer.size()` bytes at the current position and advances;
    /// 0 only at the end. Throws `BlobUnavailable`.
    virtual std::size_t Read(std::span<std::byte> buffer) = 0;
    /// Moves to `offset` (past the end is allowed: reads then return 0).
    virtual void Seek(std::uint64_t offset) = 0;
    virtual std::uint64_t Size() const = 0;
};

/// Where video and MP3 bytes live, streamed both ways in bounded memory.
/// Thread-safe: any number of writers and readers at once.
class BlobStore {
  public:
    virtual ~BlobStore() = default;
    /// Starts a new blob with a fresh random id. Throws `BlobUnavailable`.
    virtual std::unique_ptr<BlobWriter> Create() = 0;
    /// Opens a committed blob. Throws `BlobNotFound` (also for an id that is
    /// not 32 lowercase hex digits) or `BlobUnavailable`.
    virtual std::unique_ptr<BlobReader> Open(std::string_view id) = 0;
    /// The size of a committed blob, or empty when there is none.
    virtual std::optional<std::uint64_t> Stat(std::string_view id) = 0;
    /// Removes a blob; false when there was none. Throws `BlobUnavailable`.
    virtual bool Remove(std::string_view id) = 0;
    /// Throws `BlobUnavailable` when the storage cannot be used (for /readyz).
    virtual void Ping() = 0;
};

/// True for what `Create` hands out: 32 lowercase hex digits.
bool IsBlobId(std::string_view id);

/// Builds the store a `V2M_BLOB_STORE` URL names: `file://DIR`, or
/// `postgresql://…` / `postgres://…` (chunks in that database). Throws
/// `std::invalid_argument` for a URL it does not know (never repeating its
/// password), `BlobUnavailable` when the server cannot be reached.
std::unique_ptr<BlobStore> OpenBlobStore(const std::string& url);

}  // namespace v2m::blob
