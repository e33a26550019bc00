#include "http/range.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>

namespace v2m::http {
namespace {

bool IsOws(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimOws(std::string_view s) {
    while (!s.empty() && IsOws(s.front())) s.remove_prefix(1);
    while (!s.empty() && IsOws(s.back())) s.remove_suffix(1);
    return s;
}

// 1*DIGIT into 64 bits; empty on anything else, a sign included, or overflow.
std::optional<std::uint64_t> ParseDigits(std::string_view s) {
    if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
    return value;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) {
                   return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
               };
               return lower(x) == lower(y);
           });
}

// The one non-empty element of the range set, or empty when there are none
// or several (RFC 9110 §5.6.1: empty list elements are ignored).
std::optional<std::string_view> SingleElement(std::string_view set) {
    std::optional<std::string_view> found;
    while (true) {
        const std::size_t comma = set.find(',');
        const std::string_view element = TrimOws(set.substr(0, comma));
        if (!element.empty()) {
            if (found) return std::nullopt;
            found = element;
        }
        if (comma == std::string_view::npos) return found;
        set.remove_prefix(comma + 1);
    }
}

}  // namespace

RangeResult ParseRange(std::string_view header, std::uint64_t size) {
    const RangeResult none{RangeKind::kNone, {}};
    const RangeResult unsatisfiable{RangeKind::kUnsatisfiable, {}};

    header = TrimOws(header);
    const std::size_t equals = header.find('=');
    if (equals == std::string_view::npos) return none;
    if (!EqualsIgnoreAsciiCase(TrimOws(header.substr(0, equals)), "bytes")) return none;
    const auto element = SingleElement(header.substr(equals + 1));
    if (!element) return none;

    const std::size_t dash = element->find('-');
    if (dash == std::string_view::npos) return none;
    const std::string_view first_text = TrimOws(element->substr(0, dash));
    const std::string_view last_text = TrimOws(element->substr(dash + 1));

    if (first_text.empty()) {  // suffix: the last n bytes
        const auto length = ParseDigits(last_text);
        if (!length) return none;
        if (*length == 0 || size == 0) return unsatisfiable;
        return {RangeKind::kSatisfiable, {size - std::min(*length, size), size - 1}};
    }
    const auto first = ParseDigits(first_text);
    if (!first) return none;
    std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
    if (!last_text.empty()) {
        const auto parsed = ParseDigits(last_text);
        if (!parsed || *parsed < *first) return none;
        last = *parsed;
    }
    if (*first >= size) return unsatisfiable;
    return {RangeKind::kSatisfiable, {*first, std::min(last, size - 1)}};
}

std::string ContentRange(const ByteRange& range, std::uint64_t size) {
    return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
           std::to_string(size);
}

std::string UnsatisfiedRange(std::uint64_t size) { return "bytes */" + std::to_string(size); }

}  // namespace v2m::http
