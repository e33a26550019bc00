#pragma once

#include <algorithm>

#include "blob/blob_store.hpp"
#include "engine/io.hpp"

namespace v2m::workers {

/// A blob as the engine's input.
class BlobSource final : public engine::SeekableReader {
  public:
    explicit BlobSource(blob::BlobReader& reader) : reader_(reader) {}
    std::size_t Read(std::span<std::byte> buffer) override {
        try {
            return reader_.Read(buffer);
        } catch (const std::exception& e) {
            throw engine::IoError(e.what());
        }
    }
    void Seek(std::uint64_t offset) override { reader_.Seek(offset); }
    std::optional<std::uint64_t> Size() const override { return reader_.Size(); }

  private:
    blob::BlobReader& reader_;
};

/// A blob being written as the engine's seekable output: writes behind the
/// end become patches (the MP3 muxer rewrites its Xing header at the end).
class BlobSink final : public engine::SeekableSink {
  public:
    explicit BlobSink(blob::BlobWriter& writer) : writer_(writer) {}
    void Write(std::span<const std::byte> data) override {
        try {
            const std::uint64_t end = writer_.Size();
            if (position_ < end) {
                const std::size_t overlap =
                    static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), end - position_));
                writer_.Patch(position_, data.first(overlap));
                data = data.subspan(overlap);
                position_ += overlap;
            }
            if (!data.empty()) {
                writer_.Write(data);
                position_ += data.size();
            }
        } catch (const std::exception& e) {
            throw engine::IoError(e.what());
        }
    }
    void Seek(std::uint64_t offset) override {
        if (offset > writer_.Size()) throw engine::IoError("seek past the end of the output");
        position_ = offset;
    }
    std::uint64_t Size() const override { return writer_.Size(); }

  private:
    blob::BlobWriter& writer_;
    std::uint64_t position_ = 0;
};

}  // namespace v2m::workers
