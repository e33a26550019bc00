#pragma once

#include <string>

// Internal to v2m_token: every libjwt call of the library sits behind these
// functions, so that no header includes <jwt.h>.
namespace v2m::token::detail {

/// Signs `payload_json` (the text of a JSON object) with ES256 and returns the
/// compact token; the header is {"alg":"ES256","kid":kid,"typ":"JWT"}.
/// Thread-safe. Throws `std::runtime_error` if libjwt fails.
std::string SignEs256(const std::string& private_pem, const std::string& kid,
                      const std::string& payload_json);

enum class SignatureCheck { kValid, kBadSignature, kBadAlgorithm };

/// Checks the signature of the compact `token` against the SubjectPublicKeyInfo
/// `public_pem`, and that libjwt itself took the token for ES256 (it would
/// otherwise check an HS256 token using the PEM as the HMAC secret). Checks
/// nothing else: no claims, no times. Thread-safe.
SignatureCheck VerifyEs256(const std::string& token, const std::string& public_pem);

}  // namespace v2m::token::detail
