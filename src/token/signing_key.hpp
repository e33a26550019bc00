#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace v2m::token {

/// A key that cannot be read, parsed, generated or written, or a JWKS that
/// cannot be used; `what()` names the file or document and the reason.
class KeyError final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// An ES256 (ECDSA on P-256) private key with its public identity.
/// Immutable; safe to use from many threads at once. Each copy holds its own
/// copy of the secret and wipes it when destroyed or assigned over.
class SigningKey final {
  public:
    /// Loads an unencrypted PEM private key (PKCS#8 "PRIVATE KEY" or SEC1
    /// "EC PRIVATE KEY") from `path`. Throws `KeyError`: "cannot read key
    /// PATH: reason" when the file cannot be read, "PATH is not an EC P-256
    /// private key: reason" when it holds something else (an RSA key, another
    /// curve, a public key, an encrypted key, garbage).
    static SigningKey FromPemFile(const std::string& path);

    /// The same for PEM text in memory; the messages call it "PEM".
    static SigningKey FromPem(std::string_view pem);

    SigningKey(const SigningKey&) = default;
    SigningKey(SigningKey&&) noexcept = default;
    SigningKey& operator=(const SigningKey& other);  // wipes the secret it replaces
    SigningKey& operator=(SigningKey&& other) noexcept;
    ~SigningKey();

    /// Writes the private key as unencrypted PKCS#8 PEM to `path` with mode
    /// 0600 whatever the umask, replacing any existing file atomically: the
    /// key goes to a new `PATH.tmp-XXXXXX` created with O_EXCL and mode 0600,
    /// is synced, then renamed over `path`. Readers see the old file or the
    /// whole new one, and the key is never readable by others, not even
    /// briefly. Throws `KeyError` ("cannot write key PATH: reason"), leaving
    /// `path` as it was.
    void WritePrivateKeyPem(const std::string& path) const;

    /// The key id: the RFC 7638 JWK thumbprint (base64url of the SHA-256 of
    /// {"crv":"P-256","kty":"EC","x":…,"y":…}). Stable for a given key.
    const std::string& Kid() const noexcept { return kid_; }

    /// The public key as a JWK: {"kty":"EC","crv":"P-256","x","y","kid",
    /// "use":"sig","alg":"ES256"}.
    nlohmann::json PublicJwk() const;

    /// The public key as SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----").
    const std::string& PublicKeyPem() const noexcept { return public_pem_; }

  private:
    friend class TokenIssuer;  // signs with private_pem_
    friend SigningKey GenerateSigningKey();

    SigningKey(std::string private_pem, std::string public_pem, std::string x, std::string y);

    std::string private_pem_;
    std::string public_pem_;
    std::string x_;
    std::string y_;
    std::string kid_;
};

/// Makes a new random P-256 signing key (OpenSSL's CSPRNG); backs
/// `video2mp3 keygen FILE` together with `WritePrivateKeyPem`. Throws
/// `KeyError` if OpenSSL fails.
SigningKey GenerateSigningKey();

}  // namespace v2m::token
