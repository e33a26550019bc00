#include "gateway/session.hpp"

#include <openssl/crypto.h>

#include <span>

#include "blob/sha256.hpp"
#include "util/text.hpp"

namespace v2m::gateway {

namespace {

using util::Trim;

std::string Attributes(bool secure) {
    return std::string("; Path=/; HttpOnly; SameSite=Strict") + (secure ? "; Secure" : "");
}

}  // namespace

std::string_view CookieValue(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto semicolon = header.find(';');
        const std::string_view pair = Trim(header.substr(0, semicolon));
        header = semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos || Trim(pair.substr(0, eq)) != name) continue;
        std::string_view value = Trim(pair.substr(eq + 1));
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        return value;
    }
    return {};
}

std::string CsrfToken(std::string_view session_token) {
    blob::Sha256 sha;
    constexpr std::string_view kLabel = "video2mp3 csrf v1:";
    sha.Update(std::as_bytes(std::span(kLabel.data(), kLabel.size())));
    sha.Update(std::as_bytes(std::span(session_token.data(), session_token.size())));
    return sha.FinishHex().substr(0, 32);
}

bool SameSecret(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string SessionCookie(std::string_view token, std::int64_t max_age_s, bool secure) {
    return std::string(kSessionCookie) + "=" + std::string(token) + "; Max-Age=" + std::to_string(max_age_s) +
           Attributes(secure);
}

std::string ClearedSessionCookie(bool secure) {
    return std::string(kSessionCookie) + "=; Max-Age=0" + Attributes(secure);
}

}  // namespace v2m::gateway
