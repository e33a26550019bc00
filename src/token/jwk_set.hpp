#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "token/signing_key.hpp"

namespace v2m::token {

/// The public keys a `TokenVerifier` trusts, by `kid`: EC P-256 keys for
/// ES256 only. A value type; once built, safe to read from many threads.
class JwkSet final {
  public:
    /// An empty set (every token then fails with `VerifyError::kUnknownKey`).
    JwkSet() = default;

    /// Parses a JWKS document {"keys":[…]} such as auth's
    /// `/.well-known/jwks.json`. Keeps the keys with "kty":"EC" and
    /// "crv":"P-256" whose "alg" (if given) is "ES256" and "use" (if given) is
    /// "sig"; skips every other key (other types, curves, algorithms, uses),
    /// so the result may be empty. Throws `KeyError` when the document has no
    /// "keys" array, when a kept key lacks a string "kid", has coordinates that
    /// are not 32 bytes of base64url or not a point on the curve, carries the
    /// private part "d", or shares its kid with another kept key.
    static JwkSet FromJson(const nlohmann::json& document);

    /// The same from JSON text; throws `KeyError` when it is not JSON.
    static JwkSet Parse(std::string_view text);

    /// Adds the public part of `key` under `key.Kid()`. Throws `KeyError` if
    /// the set already has that kid.
    void Add(const SigningKey& key);

    /// The JWKS document: {"keys":[{"kty":"EC","crv":"P-256","x","y","kid",
    /// "use":"sig","alg":"ES256"}, …]}, ordered by kid.
    nlohmann::json ToJson() const;

    bool Contains(std::string_view kid) const { return keys_.find(kid) != keys_.end(); }
    std::size_t Size() const noexcept { return keys_.size(); }
    bool Empty() const noexcept { return keys_.empty(); }

    /// The SubjectPublicKeyInfo PEM of the key `kid`, or nullptr when there is
    /// none. The pointer lives as long as this set is neither changed nor destroyed.
    const std::string* FindPublicKeyPem(std::string_view kid) const;

  private:
    struct PublicKey {
        std::string x;    // base64url
        std::string y;    // base64url
        std::string pem;  // SubjectPublicKeyInfo, what libjwt takes
    };

    void Insert(const std::string& kid, PublicKey key);

    std::map<std::string, PublicKey, std::less<>> keys_;
};

}  // namespace v2m::token
