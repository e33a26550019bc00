#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace v2m::domain {

constexpr std::size_t kMinPasswordLength = 10;
constexpr std::size_t kMaxPasswordLength = 1024;  // Argon2 takes any length; a bound keeps requests cheap
constexpr std::size_t kMaxEmailLength = 254;      // RFC 5321's path limit

/// True when `text` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
bool IsValidUtf8(std::string_view text);

/// The canonical form of an email address: surrounding spaces trimmed, ASCII
/// letters lower-cased. Empty when it is not a plausible address (one '@',
/// non-empty local part and domain with a dot-free or dotted name, no spaces
/// or control characters, valid UTF-8, at most 254 bytes).
std::optional<std::string> NormaliseEmail(std::string_view email);

/// Why `password` may not be used by the account `email` (already normalised),
/// or empty when it may: at least 10 characters, at most 1024 bytes, valid
/// UTF-8, and not the email (or its local part) itself.
std::optional<std::string> PasswordProblem(std::string_view password, std::string_view email);

}  // namespace v2m::domain
