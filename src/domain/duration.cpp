#include "domain/duration.hpp"

#include <charconv>

namespace v2m::domain {

std::optional<std::chrono::seconds> ParseDuration(std::string_view text) {
    if (text.empty() || text.size() > 32) return std::nullopt;
    long long total = 0;
    while (!text.empty()) {
        long long value = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || value < 0) return std::nullopt;
        text.remove_prefix(static_cast<std::size_t>(ptr - text.data()));
        long long unit = 1;
        if (!text.empty()) {
            switch (text.front()) {
                case 's':
                    unit = 1;
                    break;
                case 'm':
                    unit = 60;
                    break;
                case 'h':
                    unit = 3600;
                    break;
                case 'd':
                    unit = 86400;
                    break;
                default:
                    return std::nullopt;
            }
            text.remove_prefix(1);
        } else if (total != 0) {
            return std::nullopt;  // "1h30" is ambiguous
        }
        if (value > (1LL << 40) / unit) return std::nullopt;
        total += value * unit;
    }
    return std::chrono::seconds(total);
}

}  // namespace v2m::domain
