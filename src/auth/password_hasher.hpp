#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace v2m::auth {

struct PasswordSettings {
    unsigned long long ops_limit = 2;   ///< Argon2id passes (libsodium's "interactive": 2)
    std::size_t mem_limit = 64u << 20;  ///< Argon2id memory in bytes (interactive: 64 MiB)
    unsigned max_concurrent = 2;        ///< hashes at once; bounds memory (mem_limit each)
};

/// Argon2id password hashing with libsodium. Thread-safe; at most
/// `max_concurrent` hashes run at once (the others wait).
class PasswordHasher final {
  public:
    /// Throws `std::invalid_argument` for parameters libsodium refuses.
    explicit PasswordHasher(const PasswordSettings& settings);
    ~PasswordHasher();
    PasswordHasher(const PasswordHasher&) = delete;
    PasswordHasher& operator=(const PasswordHasher&) = delete;

    /// The libsodium string ("$argon2id$v=19$m=…,t=…,p=1$salt$hash").
    std::string Hash(std::string_view password) const;
    /// Constant-time check of `password` against `hash`; false for a malformed hash.
    bool Verify(std::string_view hash, std::string_view password) const;
    /// True when `hash` was made with other parameters than the current ones.
    bool NeedsRehash(std::string_view hash) const;
    /// Does the work of one `Verify` that always fails: for unknown users, so
    /// that they take as long as wrong passwords.
    void VerifyDummy(std::string_view password) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace v2m::auth
