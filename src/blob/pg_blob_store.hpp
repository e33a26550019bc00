#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "blob/blob_store.hpp"

namespace v2m::blob {

struct PgBlobStoreOptions {
    /// Connections open at most; a call beyond that waits for one to come back.
    std::size_t max_connections = 8;
    /// How long a call waits for a free connection before `BlobUnavailable`.
    std::chrono::milliseconds acquire_timeout{30'000};
};

/// Blobs in PostgreSQL, GridFS-like: the bytes in 1 MiB `bytea` chunks
/// (`v2m_blob_chunks`, stored uncompressed out of line), one row per blob in
/// `v2m_blob_files` (size, SHA-256, committed or pending). The tables live in
/// whatever database (and `search_path`) the URL names, next to the relational
/// store's if it is the same database; they are made at construction.
///
/// Writers buffer at most one chunk and insert it with a binary parameter;
/// their rows stay pending, invisible to `Open`/`Stat`/`Remove`, until
/// `Commit` flips them in one statement. A writer destroyed without `Commit`
/// deletes its rows; rows of a writer that crashed are deleted by the next
/// store constructed once they have not been written for an hour. Readers
/// fetch one chunk at a time. `Commit` is one-shot: after it (even a failed
/// one) `Write`, `Patch` and `Commit` throw `std::logic_error`; after a failed
/// `Write` or `Patch` they throw `BlobUnavailable`.
///
/// Thread-safe. Calls borrow a pooled connection for one statement each, so
/// any number of writers and readers may be open at once; a connection found
/// broken (the server restarted, the backend killed) is replaced and the
/// statement, always idempotent, is run once more. A server that cannot be
/// reached gives `BlobUnavailable` (libpq's `connect_timeout`, 5 s unless the
/// URL says otherwise), and the same store works again once it is back.
/// Writers and readers share the pool: they may outlive the store.
class PgBlobStore final : public BlobStore {
  public:
    /// Bytes per chunk of the blobs this store writes.
    static constexpr std::size_t kChunkSize = std::size_t{1} << 20;

    /// `url`: `postgresql://user:pass@host:port/db?param=…` (or `postgres://`),
    /// handed to libpq as it is. Creates the tables where missing (under an
    /// advisory lock: several processes may start at once) and deletes stale
    /// pending blobs. Throws `std::invalid_argument` when libpq cannot parse
    /// `url`, `BlobUnavailable` when the server cannot be used. No message
    /// repeats the password.
    explicit PgBlobStore(const std::string& url, PgBlobStoreOptions options = {});
    ~PgBlobStore() override;
    PgBlobStore(const PgBlobStore&) = delete;
    PgBlobStore& operator=(const PgBlobStore&) = delete;

    std::unique_ptr<BlobWriter> Create() override;
    /// Also `BlobNotFound` for a blob still being written.
    std::unique_ptr<BlobReader> Open(std::string_view id) override;
    /// Empty for an invalid, unknown or uncommitted id; throws `BlobUnavailable`
    /// when the server cannot answer (rather than calling a blob missing).
    std::optional<std::uint64_t> Stat(std::string_view id) override;
    /// Deletes the blob's row and chunks in one statement.
    bool Remove(std::string_view id) override;
    /// A `SELECT 1` on a pooled connection.
    void Ping() override;

    /// The URL without its password (`postgresql://user@host:port/db`), for messages.
    const std::string& redacted_url() const;

    /// Internal: the pool and settings the store, its writers and its readers share.
    struct Shared;

  private:
    std::shared_ptr<Shared> shared_;
};

}  // namespace v2m::blob
