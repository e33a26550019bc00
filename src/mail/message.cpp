#include "mail/message.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "util/random_id.hpp"

namespace v2m::mail {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr std::size_t kMaxHeaderLine = 78;
// RFC 2045: encoded lines of at most 76 characters, the soft break's '=' included.
constexpr std::size_t kMaxQpContent = 75;

bool IsAtext(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

bool IsDotAtom(std::string_view text) {
    if (text.empty() || text.front() == '.' || text.back() == '.') return false;
    char previous = '\0';
    for (const char c : text) {
        if (c == '.' ? previous == '.' : !IsAtext(c)) return false;
        previous = c;
    }
    return true;
}

bool IsDomain(std::string_view domain) {
    if (domain.empty() || domain.size() > 253) return false;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = domain.find('.', start);
        const std::string_view label =
            domain.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (const char c : label) {
            const bool ok =
                (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
            if (!ok) return false;
        }
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

// Replaces every byte that does not start a well-formed UTF-8 sequence
// (overlong forms, surrogates and code points past U+10FFFF included) with
// U+FFFD: the parts claim charset=UTF-8, and an encoded word must hold whole
// characters.
std::string SanitizeUtf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    std::size_t i = 0;
    while (i < in.size()) {
        const auto b0 = static_cast<unsigned char>(in[i]);
        std::size_t length = 0;
        std::uint32_t min = 0;
        std::uint32_t code = 0;
        if (b0 < 0x80) {
            out += in[i++];
            continue;
        }
        if ((b0 & 0xE0) == 0xC0) {
            length = 2, min = 0x80, code = b0 & 0x1F;
        } else if ((b0 & 0xF0) == 0xE0) {
            length = 3, min = 0x800, code = b0 & 0x0F;
        } else if ((b0 & 0xF8) == 0xF0) {
            length = 4, min = 0x10000, code = b0 & 0x07;
        }
        bool ok = length != 0 && i + length <= in.size();
        for (std::size_t k = 1; ok && k < length; ++k) {
            const auto b = static_cast<unsigned char>(in[i + k]);
            ok = (b & 0xC0) == 0x80;
            code = (code << 6) | (b & 0x3F);
        }
        ok = ok && code >= min && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
        if (ok) {
            out.append(in.substr(i, length));
            i += length;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

std::size_t Utf8Length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    return 4;
}

std::string Base64(std::string_view in) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                                (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                                std::uint32_t{static_cast<unsigned char>(in[i + 2])};
        out += kAlphabet[(v >> 18) & 0x3F];
        out += kAlphabet[(v >> 12) & 0x3F];
        out += kAlphabet[(v >> 6) & 0x3F];
        out += kAlphabet[v & 0x3F];
    }
    if (i < in.size()) {
        std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
        if (i + 1 < in.size()) v |= std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8;
        out += kAlphabet[(v >> 18) & 0x3F];
        out += kAlphabet[(v >> 12) & 0x3F];
        out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 0x3F] : '=';
        out += '=';
    }
    return out;
}

// One line of a header value: sanitised, control characters (line breaks
// above all) turned into spaces, outer spaces trimmed.
std::string OneLine(std::string_view in) {
    std::string out = SanitizeUtf8(in);
    for (char& c : out) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7F) c = ' ';
    }
    const std::size_t first = out.find_first_not_of(' ');
    if (first == std::string::npos) return {};
    return out.substr(first, out.find_last_not_of(' ') - first + 1);
}

// Folds before the whitespace runs of a plain ASCII value; empty when some
// line would still be longer than 78 characters.
std::string FoldPlain(std::string_view name, std::string_view value) {
    std::string out(name);
    out += ": ";
    std::size_t line_length = out.size();
    std::size_t i = 0;
    while (i < value.size()) {
        // A chunk: a whitespace run (none for the first) and the word after it.
        std::size_t end = i;
        while (end < value.size() && value[end] == ' ') ++end;
        while (end < value.size() && value[end] != ' ') ++end;
        const std::string_view chunk = value.substr(i, end - i);
        if (i > 0 && line_length + chunk.size() > kMaxHeaderLine) {
            out += kCrlf;
            line_length = 0;
        }
        if (line_length + chunk.size() > kMaxHeaderLine) return {};
        out += chunk;
        line_length += chunk.size();
        i = end;
    }
    return out;
}

// RFC 2047 "B" words of whole characters, each at most 75 characters and
// alone on its line after the first.
std::string FoldEncoded(std::string_view name, std::string_view value) {
    constexpr std::size_t kOverhead = std::string_view("=?UTF-8?B?").size() + std::string_view("?=").size();
    // RFC 2047 caps a word at 75 characters; a continuation line is " " and one word.
    constexpr std::size_t kContinuationBudget =
        std::min(kMaxHeaderLine - 1 - kOverhead, std::size_t{75} - kOverhead) / 4 * 3;
    std::string out(name);
    out += ":";
    std::size_t budget = (kMaxHeaderLine - out.size() - 1 - kOverhead) / 4 * 3;
    std::size_t i = 0;
    bool first = true;
    while (i < value.size()) {
        std::size_t end = i;
        while (end < value.size()) {
            const std::size_t next = end + Utf8Length(static_cast<unsigned char>(value[end]));
            if (next - i > budget) break;
            end = next;
        }
        if (!first) out += kCrlf;
        out += " =?UTF-8?B?";
        out += Base64(value.substr(i, end - i));
        out += "?=";
        i = end;
        first = false;
        budget = kContinuationBudget;
    }
    return out;
}

std::string SubjectHeader(std::string_view subject) {
    const std::string value = OneLine(subject);
    if (value.empty()) return "Subject:";
    bool plain = value.find("=?") == std::string::npos;
    for (const char c : value) plain = plain && static_cast<unsigned char>(c) < 0x7F;
    if (plain) {
        std::string folded = FoldPlain("Subject", value);
        if (!folded.empty()) return folded;
    }
    return FoldEncoded("Subject", value);
}

std::string FormatDate(std::chrono::system_clock::time_point date) {
    static constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                              "Thu", "Fri", "Sat"};
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto second = std::chrono::floor<std::chrono::seconds>(date);
    const auto day = std::chrono::floor<std::chrono::days>(second);
    const std::chrono::year_month_day ymd{day};
    const std::chrono::hh_mm_ss hms{second - day};
    auto two = [](long v) {
        return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
    };
    std::string out(kDays[std::chrono::weekday{day}.c_encoding()]);
    out += ", " + two(static_cast<unsigned>(ymd.day())) + " ";
    out += kMonths[static_cast<unsigned>(ymd.month()) - 1];
    out += " " + std::to_string(static_cast<int>(ymd.year())) + " ";
    out += two(hms.hours().count()) + ":" + two(hms.minutes().count()) + ":" + two(hms.seconds().count());
    out += " +0000";
    return out;
}

// Quoted-printable of UTF-8 text with its line breaks (LF, CRLF or CR) made
// CRLF. Besides '=' and non-ASCII, it encodes what some relay could alter:
// trailing whitespace, a '.' that starts a line (SMTP dot-stuffing) and the
// 'F' of "From " there (mbox). '=' never appears unencoded, so the output
// never contains "=_", the boundary's prefix.
std::string QuotedPrintable(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    std::size_t line_length = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
            out += kCrlf;
            line_length = 0;
            continue;
        }
        const auto b = static_cast<unsigned char>(c);
        const bool line_end = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
        bool literal = (b >= 33 && b <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end);
        const std::size_t width = literal ? 1 : 3;
        if (line_length + width > kMaxQpContent) {
            out += "=\r\n";
            line_length = 0;
        }
        if (line_length == 0 && (c == '.' || (c == 'F' && text.substr(i, 5) == "From "))) literal = false;
        if (literal) {
            out += c;
            ++line_length;
        } else {
            out += '=';
            out += kHex[b >> 4];
            out += kHex[b & 0x0F];
            line_length += 3;
        }
    }
    return out;
}

void AppendPart(std::string& out, std::string_view content_type, std::string_view body) {
    out += "Content-Type: ";
    out += content_type;
    out += "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
    out += QuotedPrintable(SanitizeUtf8(body));
}

}  // namespace

bool IsMailAddress(std::string_view address) {
    const std::size_t at = address.rfind('@');
    if (at == std::string_view::npos || address.size() > 254 || at > 64) return false;
    return IsDotAtom(address.substr(0, at)) && IsDomain(address.substr(at + 1));
}

bool IsMessageId(std::string_view message_id) {
    const std::size_t at = message_id.find('@');
    if (at == std::string_view::npos || message_id.size() > 200) return false;
    return IsDotAtom(message_id.substr(0, at)) && IsDotAtom(message_id.substr(at + 1));
}

void CheckEnvelope(std::string_view from, std::string_view to, std::string_view message_id) {
    if (!IsMailAddress(from)) throw std::invalid_argument("mail: the sender is not an address local@domain");
    if (!IsMailAddress(to)) throw std::invalid_argument("mail: the recipient is not an address local@domain");
    if (!IsMessageId(message_id)) throw std::invalid_argument("mail: the Message-ID is not left@right");
}

std::string BuildMessage(const Message& message, std::chrono::system_clock::time_point date) {
    CheckEnvelope(message.from, message.to, message.message_id);
    std::string out;
    out.reserve(1024 + 2 * (message.text.size() + message.html.size()));
    out += "Date: " + FormatDate(date) + "\r\n";
    out += "From: " + message.from + "\r\n";
    out += "To: " + message.to + "\r\n";
    out += SubjectHeader(message.subject) + "\r\n";
    out += "Message-ID: <" + message.message_id + ">\r\n";
    // RFC 3834: keeps vacation responders from answering a notification.
    out += "Auto-Submitted: auto-generated\r\n";
    out += "MIME-Version: 1.0\r\n";
    if (message.html.empty()) {
        AppendPart(out, "text/plain", message.text);
        out += kCrlf;
        return out;
    }
    // "=_" cannot occur in quoted-printable (nor in base64), so no part can
    // contain the boundary whatever its text.
    const std::string boundary = "=_v2m_" + util::RandomId();
    out += "Content-Type: multipart/alternative;\r\n boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary + "\r\n";
    AppendPart(out, "text/plain", message.text);
    out += "\r\n--" + boundary + "\r\n";
    AppendPart(out, "text/html", message.html);
    out += "\r\n--" + boundary + "--\r\n";
    return out;
}

}  // namespace v2m::mail
