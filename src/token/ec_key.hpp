#pragma once

#include <string>
#include <string_view>

// Internal to v2m_token: every OpenSSL call of the library sits behind these
// functions, so that no header includes OpenSSL.
namespace v2m::token::detail {

/// A P-256 key pair in the forms the library works with.
struct EcKeyMaterial {
    std::string private_pem;  ///< PKCS#8 "PRIVATE KEY", unencrypted; wipe after use
    std::string public_pem;   ///< SubjectPublicKeyInfo "PUBLIC KEY"
    std::string x;            ///< affine x coordinate, 32 bytes, base64url
    std::string y;            ///< affine y coordinate, 32 bytes, base64url
};

/// Parses an unencrypted PEM private key (PKCS#8 or SEC1) and checks that it
/// is a consistent EC key on P-256. Throws `KeyError` with the message
/// "<origin> is not an EC P-256 private key: <why>". Never prompts for a
/// passphrase.
EcKeyMaterial ParseP256PrivateKey(std::string_view pem, const std::string& origin);

/// Makes a new P-256 key from OpenSSL's CSPRNG. Throws `KeyError`.
EcKeyMaterial GenerateP256Key();

/// The SubjectPublicKeyInfo PEM of the P-256 point (x, y), given as the JWK's
/// base64url coordinates. Throws `KeyError` unless both decode to 32 bytes
/// and the point lies on the curve.
std::string P256PublicKeyPem(std::string_view x, std::string_view y);

/// SHA-256 of `data` (32 raw bytes).
std::string Sha256(std::string_view data);

/// Overwrites the bytes of `secret` in a way the compiler cannot elide.
void Cleanse(std::string& secret) noexcept;

}  // namespace v2m::token::detail
