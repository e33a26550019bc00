#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "blob/blob_store.hpp"

namespace v2m::blob {

/// Blobs as files under one directory: `DIR/ab/abcdef…` (fanned out by the
/// id's first two hex digits), writes in progress in `DIR/tmp/`. `Commit`
/// fsyncs the file, renames it into place and fsyncs the directory, so a
/// committed blob survives a crash and a reader never sees half a blob.
/// Ids are checked with `IsBlobId` before they come near a path.
///
/// Thread-safe: the store holds nothing mutable; several processes may share
/// one directory. Writers and readers are used by one thread at a time.
/// `Commit` is one-shot: after it (even a failed one) the writer only accepts
/// destruction; `Write`, `Patch` and `Commit` throw `std::logic_error`.
class FileBlobStore final : public BlobStore {
  public:
    /// Uses `dir` (absolute, or relative to the working directory now),
    /// creating it, `tmp/` and the 256 fan-out directories with mode 0700
    /// where missing, and removes files in `tmp/` last written more than an
    /// hour ago (left by a crash; younger ones may belong to a live writer).
    /// Throws `BlobUnavailable` when the directory cannot be made or used.
    explicit FileBlobStore(const std::filesystem::path& dir);

    std::unique_ptr<BlobWriter> Create() override;
    std::unique_ptr<BlobReader> Open(std::string_view id) override;
    /// Empty for an invalid or unknown id; throws `BlobUnavailable` when the
    /// file system fails otherwise (rather than calling a blob missing).
    std::optional<std::uint64_t> Stat(std::string_view id) override;
    bool Remove(std::string_view id) override;
    /// Checks that `DIR` and `DIR/tmp` are directories this process may write.
    void Ping() override;

  private:
    std::filesystem::path BlobPath(std::string_view id) const;

    std::filesystem::path dir_;
    std::filesystem::path tmp_dir_;
};

}  // namespace v2m::blob
