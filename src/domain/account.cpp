#include "domain/account.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace v2m::domain {

namespace {

std::string LowerAscii(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
        return c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c);
    });
    return out;
}

std::size_t CountCodePoints(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(
        text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        int extra = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            extra = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + static_cast<std::size_t>(extra) >= text.size()) return false;
        for (int k = 1; k <= extra; ++k) {
            const auto cc = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += static_cast<std::size_t>(extra) + 1;
    }
    return true;
}

std::optional<std::string> NormaliseEmail(std::string_view email) {
    const auto first = email.find_first_not_of(" \t");
    if (first == std::string_view::npos) return std::nullopt;
    email = email.substr(first, email.find_last_not_of(" \t") - first + 1);
    if (email.size() > kMaxEmailLength || !IsValidUtf8(email)) return std::nullopt;
    for (char c : email) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x21 || u == 0x7F || c == '"' || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
            c == ';' || c == '\\' || c == '[' || c == ']') {
            return std::nullopt;
        }
    }
    const auto at = email.find('@');
    if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view local = email.substr(0, at);
    const std::string_view domain = email.substr(at + 1);
    if (local.size() > 64 || domain.empty() || domain.front() == '.' || domain.back() == '.' ||
        domain.find("..") != std::string_view::npos || local.front() == '.' || local.back() == '.') {
        return std::nullopt;
    }
    return LowerAscii(email);
}

std::optional<std::string> PasswordProblem(std::string_view password, std::string_view email) {
    if (!IsValidUtf8(password)) return "the password is not valid UTF-8";
    if (password.size() > kMaxPasswordLength) return "the password is longer than 1024 bytes";
    if (CountCodePoints(password) < kMinPasswordLength)
        return "the password must have at least 10 characters";
    const std::string lowered = LowerAscii(password);
    const std::string_view local = email.substr(0, email.find('@'));
    if (lowered == email || lowered == local) return "the password must not be the email address";
    return std::nullopt;
}

}  // namespace v2m::domain
