#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace v2m::gateway {

/// The browser's session (DESIGN.md §4): the token in an `HttpOnly`,
/// `SameSite=Strict` cookie, never in a URL or in storage a script can read;
/// state-changing requests signed in by the cookie also carry
/// `X-CSRF-Token`, a value derived from the token that `GET /v1/session`
/// tells the page (a page of another site can neither read it nor send the
/// header without a CORS preflight we never grant).
inline constexpr std::string_view kSessionCookie = "v2m_session";
inline constexpr std::string_view kCsrfHeader = "X-CSRF-Token";

/// The value of cookie `name` in a `Cookie` header, or empty.
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

/// The CSRF token of a session token: 32 hex digits of SHA-256 over a
/// fixed label and the token (the token is secret, so this is too).
std::string CsrfToken(std::string_view session_token);

/// Compares in time independent of where the two differ.
bool SameSecret(std::string_view a, std::string_view b);

/// `Set-Cookie` values: the session for `max_age_s` seconds, and its removal.
/// `secure` adds `Secure` (the browser reached us over HTTPS).
std::string SessionCookie(std::string_view token, std::int64_t max_age_s, bool secure);
std::string ClearedSessionCookie(bool secure);

}  // namespace v2m::gateway
