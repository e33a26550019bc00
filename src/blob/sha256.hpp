#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

namespace v2m::blob {

/// An incremental SHA-256 (OpenSSL EVP behind the .cpp), as every blob store
/// computes it while bytes go by. Throws `std::runtime_error` if OpenSSL fails.
class Sha256 final {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    /// Starts over.
    void Reset();
    void Update(std::span<const std::byte> data);
    /// The digest as 64 lowercase hex digits; `Reset` before reusing.
    std::string FinishHex();

  private:
    struct Context;
    std::unique_ptr<Context> ctx_;
};

}  // namespace v2m::blob
