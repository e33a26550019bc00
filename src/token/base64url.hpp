#pragma once

#include <optional>
#include <string>
#include <string_view>

// Internal to v2m_token: the unpadded base64url of JWS and JWK (RFC 7515 §2).
namespace v2m::token::detail {

/// Encodes `bytes` as base64url without padding.
std::string Base64UrlEncode(std::string_view bytes);

/// Decodes unpadded base64url. Strict: returns nothing on any character
/// outside [A-Za-z0-9_-], on padding, on an impossible length, or when the
/// unused low bits of the last character are not zero — so that one byte
/// string has exactly one encoding.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace v2m::token::detail
