#include "auth/password_hasher.hpp"

#include <sodium.h>

#include <semaphore>
#include <stdexcept>

namespace v2m::auth {

struct PasswordHasher::Impl {
    PasswordSettings settings;
    std::counting_semaphore<1024> slots;
    std::string dummy_hash;

    explicit Impl(const PasswordSettings& s)
        : settings(s), slots(static_cast<std::ptrdiff_t>(s.max_concurrent)) {}

    // Holds one of the hashing slots for its lifetime.
    class Slot {
      public:
        explicit Slot(std::counting_semaphore<1024>& s) : s_(s) { s_.acquire(); }
        ~Slot() { s_.release(); }
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;

      private:
        std::counting_semaphore<1024>& s_;
    };
};

PasswordHasher::PasswordHasher(const PasswordSettings& settings) {
    if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
    if (settings.ops_limit < crypto_pwhash_OPSLIMIT_MIN || settings.ops_limit > crypto_pwhash_OPSLIMIT_MAX) {
        throw std::invalid_argument("Argon2 ops limit out of range");
    }
    if (settings.mem_limit < crypto_pwhash_MEMLIMIT_MIN || settings.mem_limit > crypto_pwhash_MEMLIMIT_MAX) {
        throw std::invalid_argument("Argon2 memory limit out of range (at least 8 KiB)");
    }
    if (settings.max_concurrent < 1 || settings.max_concurrent > 1024) {
        throw std::invalid_argument("concurrent hashes must be 1 to 1024");
    }
    impl_ = std::make_unique<Impl>(settings);
    // A real hash of a random password: verifying against it costs the same
    // as verifying a real user's password.
    unsigned char random[32];
    randombytes_buf(random, sizeof random);
    impl_->dummy_hash = Hash(std::string_view(reinterpret_cast<const char*>(random), sizeof random));
}

PasswordHasher::~PasswordHasher() = default;

std::string PasswordHasher::Hash(std::string_view password) const {
    char out[crypto_pwhash_STRBYTES];
    Impl::Slot slot(impl_->slots);
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), impl_->settings.ops_limit,
                              impl_->settings.mem_limit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("out of memory while hashing a password");
    }
    return out;
}

bool PasswordHasher::Verify(std::string_view hash, std::string_view password) const {
    if (hash.size() >= crypto_pwhash_STRBYTES) return false;
    const std::string terminated(hash);
    Impl::Slot slot(impl_->slots);
    return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool PasswordHasher::NeedsRehash(std::string_view hash) const {
    if (hash.size() >= crypto_pwhash_STRBYTES) return true;
    const std::string terminated(hash);
    return crypto_pwhash_str_needs_rehash(terminated.c_str(), impl_->settings.ops_limit,
                                          impl_->settings.mem_limit) != 0;
}

void PasswordHasher::VerifyDummy(std::string_view password) const {
    (void)Verify(impl_->dummy_hash, password);
}

}  // namespace v2m::auth
