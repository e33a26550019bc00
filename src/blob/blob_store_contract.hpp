#pragma once

// What every BlobStore must do, as value-parameterised GoogleTest cases
// (blob_store_contract.cpp, linked into each adapter's test binary). An
// adapter's test supplies a Harness that makes stores of its kind:
//
//   INSTANTIATE_TEST_SUITE_P(File, BlobStoreContract,
//                            ::testing::Values(contract::Backend{"file", MakeFileHarness}),
//                            contract::BackendName);
//
// Also the helpers those tests share: an independent SHA-256, deterministic
// bytes, reading a blob whole.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "blob/blob_store.hpp"

namespace v2m::blob::contract {

/// One test's own storage, and a look behind the store's back.
class Harness {
  public:
    virtual ~Harness() = default;
    /// A new store object on this test's storage (the same storage at every call).
    virtual std::unique_ptr<BlobStore> NewStore() = 0;
    /// Pieces of storage held for blobs not committed: temporary files, or
    /// pending rows and their chunks.
    virtual std::size_t PendingItems() = 0;
    /// Every piece of storage held: files, or rows of every table.
    virtual std::size_t StoredItems() = 0;
    /// Where the store's writes are cut up (its chunk or write buffer): the
    /// tests write, seek and patch around multiples of it.
    virtual std::size_t ChunkSize() const = 0;
};

/// A parameter of the suite: a name for the test names and a harness maker.
struct Backend {
    std::string name;
    std::function<std::unique_ptr<Harness>()> make;
};

inline void PrintTo(const Backend& backend, std::ostream* out) { *out << backend.name; }

/// For INSTANTIATE_TEST_SUITE_P: the backend's name.
std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

class BlobStoreContract : public ::testing::TestWithParam<Backend> {
  protected:
    /// Makes the harness and a store on it.
    void SetUp() override;
    /// Destroys the store, then checks that nothing pending is left.
    void TearDown() override;

    /// Writes `data` in one piece and commits it.
    BlobInfo Put(std::span<const std::byte> data);
    std::size_t Chunk() const { return harness_->ChunkSize(); }

    std::unique_ptr<Harness> harness_;
    std::unique_ptr<BlobStore> store_;
};

std::vector<std::byte> Bytes(std::string_view text);

/// The tests' own SHA-256 (OpenSSL's streaming EVP calls, apart from the stores' code).
class TestHasher {
  public:
    TestHasher() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
    }
    void Update(std::span<const std::byte> data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
    std::string Hex() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int length = 0;
        EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length);
        std::string hex;
        for (unsigned int i = 0; i < length; ++i) {
            static constexpr char kHex[] = "0123456789abcdef";
            hex += kHex[digest[i] >> 4];
            hex += kHex[digest[i] & 0x0F];
        }
        return hex;
    }

  private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string Sha256Hex(std::span<const std::byte> data);

/// Deterministic bytes (xorshift64*), so a large blob needs no memory to check.
class Generator {
  public:
    explicit Generator(std::uint64_t seed) : state_(seed) {}
    void Fill(std::span<std::byte> out) {
        for (std::size_t i = 0; i < out.size(); i += sizeof(std::uint64_t)) {
            state_ ^= state_ >> 12;
            state_ ^= state_ << 25;
            state_ ^= state_ >> 27;
            const std::uint64_t word = state_ * 0x2545F4914F6CDD1DULL;
            std::memcpy(out.data() + i, &word, std::min(sizeof word, out.size() - i));
        }
    }

  private:
    std::uint64_t state_;
};

/// `size` bytes from `Generator(seed)`.
std::vector<std::byte> RandomBytes(std::size_t size, std::uint64_t seed);

/// Reads from the current position to the end, `chunk` bytes at a time.
std::vector<std::byte> ReadAll(BlobReader& reader, std::size_t chunk);

}  // namespace v2m::blob::contract
