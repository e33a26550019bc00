#pragma once

#include <chrono>
#include <string>

#include "token/claims.hpp"
#include "token/signing_key.hpp"

namespace v2m::token {

struct TokenSettings {
    std::string issuer;                               ///< `iss`, e.g. the auth service's public URL
    std::string audience;                             ///< `aud`, e.g. "video2mp3"
    std::chrono::seconds ttl{std::chrono::hours(1)};  ///< lifetime: `exp` = `iat` + ttl
};

/// Issues ES256 access tokens signed by one key. Immutable; `Issue` is safe
/// to call from many threads at once.
class TokenIssuer final {
  public:
    /// Keeps its own copy of `key`. Throws `std::invalid_argument` when the
    /// issuer or audience is empty or the ttl is not within 1 s … 365 days.
    TokenIssuer(const SigningKey& key, TokenSettings settings, Clock clock = SystemClock());

    /// A compact JWS: header {"alg":"ES256","kid","typ":"JWT"}, claims `sub`,
    /// `username`, `admin`, `role`, `iss`, `aud`, `iat` (now, whole seconds)
    /// and `exp` (iat + ttl). `claims.issued_at`/`expires_at` are ignored.
    /// Throws `std::invalid_argument` when the subject or username is empty,
    /// is not UTF-8, or `admin` disagrees with `role`; `std::runtime_error`
    /// if signing fails.
    std::string Issue(const Claims& claims) const;

    const std::string& Kid() const noexcept { return key_.Kid(); }

  private:
    SigningKey key_;
    TokenSettings settings_;
    Clock clock_;
};

}  // namespace v2m::token
