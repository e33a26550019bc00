#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "token/claims.hpp"
#include "token/jwk_set.hpp"

namespace v2m::token {

struct VerifySettings {
    std::string issuer;               ///< the `iss` a token must carry
    std::string audience;             ///< a value `aud` must be or contain
    std::chrono::seconds leeway{30};  ///< clock skew allowed on `exp`, `nbf` and `iat`
};

/// Why a token was refused.
enum class VerifyError {
    kMalformed,      ///< not a compact JWS of JSON objects, too large, or unsupported header
    kBadAlgorithm,   ///< `alg` is anything but ES256 (none, HS*, RS*, ES384, …)
    kUnknownKey,     ///< no `kid`, or a kid the key set does not hold
    kBadSignature,   ///< the signature does not match the key named by `kid`
    kExpired,        ///< now ≥ `exp` + leeway
    kNotYetValid,    ///< `nbf` or `iat` later than now + leeway
    kWrongIssuer,    ///< `iss` missing or not ours
    kWrongAudience,  ///< `aud` missing or not (containing) ours
    kInvalidClaims,  ///< `exp`, `sub` or `username` missing, or a claim of the wrong type
    /// The token cannot be checked now: the issuer's keys could not be
    /// fetched (`RemoteKeyVerifier` only; never from `TokenVerifier`).
    kKeysUnavailable,
};

/// "malformed", "bad_algorithm", … — for logs and metrics labels.
std::string_view ToString(VerifyError error);

struct VerifyFailure {
    VerifyError reason;
    std::string message;  ///< for logs; never echoes more than a short, escaped piece of the token
};

/// The outcome of `TokenVerifier::Verify`: the claims of a valid token, or why
/// it is not valid.
class VerifyResult final {
  public:
    // Implicit on purpose, so that `Verify` can `return claims;` or `return failure;`.
    VerifyResult(Claims claims) : outcome_(std::move(claims)) {}
    VerifyResult(VerifyFailure failure) : outcome_(std::move(failure)) {}

    bool Valid() const noexcept { return std::holds_alternative<Claims>(outcome_); }
    explicit operator bool() const noexcept { return Valid(); }

    /// The verified claims. Precondition: `Valid()`; throws
    /// `std::bad_variant_access` otherwise.
    const Claims& GetClaims() const { return std::get<Claims>(outcome_); }

    /// Why the token was refused. Precondition: `!Valid()`; throws
    /// `std::bad_variant_access` otherwise.
    const VerifyFailure& GetFailure() const { return std::get<VerifyFailure>(outcome_); }

  private:
    std::variant<Claims, VerifyFailure> outcome_;
};

/// Checks ES256 access tokens against a set of trusted public keys.
/// Immutable; `Verify` is safe to call from many threads at once (if the
/// clock is). To follow a key rotation, build a new verifier and swap it in.
class TokenVerifier final {
  public:
    /// Tokens longer than this are refused before any parsing.
    static constexpr std::size_t kMaxTokenBytes = std::size_t{8} * 1024;

    /// Throws `std::invalid_argument` when the issuer or audience is empty or
    /// the leeway is not within 0 … 1 hour.
    TokenVerifier(JwkSet keys, VerifySettings settings, Clock clock = SystemClock());

    /// Verifies a compact JWS (without any "Bearer " prefix). Accepts it only
    /// if: it is at most `kMaxTokenBytes`; its header says "alg":"ES256" and
    /// names a known `kid` (and has no `crit`); the signature verifies with
    /// that key; `iss` is ours; `aud` is ours or an array containing ours;
    /// `exp` is present and not past (with the leeway); `nbf` and `iat`, when
    /// present, are not in the future (with the leeway); `sub` and `username`
    /// are non-empty strings; `admin` (bool) and `role` ("user"|"admin"), when
    /// present, agree. Never throws for any input, however malformed (only
    /// `std::bad_alloc` can escape).
    VerifyResult Verify(std::string_view token) const;

  private:
    JwkSet keys_;
    VerifySettings settings_;
    Clock clock_;
};

}  // namespace v2m::token
