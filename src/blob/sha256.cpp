#include "blob/sha256.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <new>
#include <stdexcept>

namespace v2m::blob {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// The error queue is per thread: a stale entry would be blamed on a later call.
[[noreturn]] void Fail(const char* step) {
    ERR_clear_error();
    throw std::runtime_error(std::string("SHA-256 ") + step + " failed");
}

}  // namespace

struct Sha256::Context {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    Context() {
        if (md == nullptr) throw std::bad_alloc();
    }
    ~Context() { EVP_MD_CTX_free(md); }
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;
};

Sha256::Sha256() : ctx_(std::make_unique<Context>()) { Reset(); }

Sha256::~Sha256() = default;

void Sha256::Reset() {
    if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) Fail("init");
}

void Sha256::Update(std::span<const std::byte> data) {
    if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) Fail("update");
}

std::string Sha256::FinishHex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_->md, digest.data(), &length) != 1) Fail("final");
    std::string hex;
    hex.reserve(std::size_t{2} * length);
    for (unsigned int i = 0; i < length; ++i) {
        hex += kHexDigits[digest[i] >> 4];
        hex += kHexDigits[digest[i] & 0x0F];
    }
    return hex;
}

}  // namespace v2m::blob
