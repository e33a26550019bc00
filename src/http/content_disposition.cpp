#include "http/content_disposition.hpp"

#include <cstddef>

namespace v2m::http {
namespace {

constexpr std::string_view kDefaultName = "audio.mp3";
constexpr std::size_t kMaxNameBytes = 200;
// A longer "extension" is more likely part of the name than a file type.
constexpr std::size_t kMaxKeptExtensionBytes = 16;

struct CodePoint {
    char32_t value = 0;
    std::size_t length = 1;  ///< bytes consumed
    bool valid = false;
};

// Decodes the UTF-8 sequence at the front of non-empty `s`; an invalid one
// (overlong, surrogate, past U+10FFFF, truncated) consumes one byte.
CodePoint DecodeFront(std::string_view s) {
    const auto lead = static_cast<unsigned char>(s.front());
    if (lead < 0x80) return {lead, 1, true};
    std::size_t length = 0;
    char32_t smallest = 0;
    char32_t value = 0;
    if ((lead & 0xE0U) == 0xC0U) {
        length = 2;
        smallest = 0x80;
        value = lead & 0x1FU;
    } else if ((lead & 0xF0U) == 0xE0U) {
        length = 3;
        smallest = 0x800;
        value = lead & 0x0FU;
    } else if ((lead & 0xF8U) == 0xF0U) {
        length = 4;
        smallest = 0x10000;
        value = lead & 0x07U;
    } else {
        return {};
    }
    if (s.size() < length) return {};
    for (std::size_t i = 1; i < length; ++i) {
        const auto byte = static_cast<unsigned char>(s[i]);
        if ((byte & 0xC0U) != 0x80U) return {};
        value = (value << 6U) | (byte & 0x3FU);
    }
    if (value < smallest || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return {};
    return {value, length, true};
}

// Characters that must not reach a saved file's name whatever the encoding:
// controls split headers or confuse terminals, separators make paths, and
// bidirectional overrides disguise the extension ("evil\u202Egpj.exe").
bool IsUnsafe(char32_t c) {
    return c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == '/' || c == '\\' || c == 0x061C ||
           c == 0x200E || c == 0x200F || c == 0x2028 || c == 0x2029 || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

// At most `max_bytes` of valid UTF-8 `s`, cut before a continuation byte.
std::string_view CutUtf8(std::string_view s, std::size_t max_bytes) {
    if (s.size() <= max_bytes) return s;
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) --cut;
    return s.substr(0, cut);
}

std::string Bounded(const std::string& name) {
    if (name.size() <= kMaxNameBytes) return name;
    const std::size_t dot = name.rfind('.');
    if (dot != std::string::npos && dot > 0 && name.size() - dot <= kMaxKeptExtensionBytes) {
        const std::string_view extension = std::string_view(name).substr(dot);
        return std::string(CutUtf8(std::string_view(name).substr(0, dot), kMaxNameBytes - extension.size())) +
               std::string(extension);
    }
    return std::string(CutUtf8(name, kMaxNameBytes));
}

// The name as it is offered: valid UTF-8 without unsafe characters, trimmed,
// never empty, bounded.
std::string CleanName(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    while (!name.empty()) {
        const CodePoint cp = DecodeFront(name);
        if (cp.valid && !IsUnsafe(cp.value)) {
            out.append(name.substr(0, cp.length));
        } else {
            out += '_';
        }
        name.remove_prefix(cp.length);
    }
    const std::size_t begin = out.find_first_not_of(' ');
    if (begin == std::string::npos) return std::string(kDefaultName);
    out = out.substr(begin, out.find_last_not_of(' ') - begin + 1);
    if (out.find_first_not_of('.') == std::string::npos) return std::string(kDefaultName);
    return Bounded(out);
}

// RFC 6266 quoted-string content: printable ASCII without the characters that
// quoting, parameter parsing or old percent-decoding browsers trip over.
std::string AsciiFallback(std::string_view clean) {
    std::string out;
    out.reserve(clean.size());
    while (!clean.empty()) {
        const CodePoint cp = DecodeFront(clean);
        const char32_t c = cp.value;
        const bool plain = cp.valid && c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != ';' && c != '%';
        out += plain ? static_cast<char>(c) : '_';
        clean.remove_prefix(cp.length);
    }
    return out;
}

// RFC 8187 value-chars: attr-char as is, every other byte as %XX.
std::string PercentEncode(std::string_view utf8) {
    constexpr std::string_view kAttrPunctuation = "!#$&+-.^_`|~";
    constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(utf8.size() * 3);
    for (const char ch : utf8) {
        const auto byte = static_cast<unsigned char>(ch);
        const bool alnum =
            (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9');
        if (alnum || kAttrPunctuation.find(ch) != std::string_view::npos) {
            out += ch;
        } else {
            out += '%';
            out += kHex[byte >> 4U];
            out += kHex[byte & 0x0FU];
        }
    }
    return out;
}

}  // namespace

std::string AttachmentDisposition(std::string_view filename) {
    const std::string clean = CleanName(filename);
    const std::string fallback = AsciiFallback(clean);
    std::string out = "attachment; filename=\"" + fallback + "\"";
    if (fallback != clean) out += "; filename*=UTF-8''" + PercentEncode(clean);
    return out;
}

}  // namespace v2m::http
