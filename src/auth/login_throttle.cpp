#include "auth/login_throttle.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "util/text.hpp"

namespace v2m::auth {

namespace {

using util::Trim;

std::string AccountKey(std::string_view account) { return "a:" + std::string(account); }
std::string AddressKey(std::string_view address) { return "i:" + std::string(address); }

using Bytes = std::array<std::uint8_t, 16>;
constexpr int kMappedPrefixBits = 96;  // ::ffff:0:0/96 holds the IPv4 addresses
constexpr int kMaxHops = 32;

bool IsMapped(const Bytes& a) {
    return std::all_of(a.begin(), a.begin() + 10, [](std::uint8_t b) { return b == 0; }) && a[10] == 0xff &&
           a[11] == 0xff;
}

// An IPv4 or IPv6 address in text (no brackets, port or zone).
std::optional<Bytes> ParseAddress(std::string_view text) {
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
    const std::string s(text);
    Bytes a{};
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
        a[10] = a[11] = 0xff;
        std::memcpy(&a[12], &v4, 4);
        return a;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
        std::memcpy(a.data(), &v6, 16);
        return a;
    }
    return std::nullopt;
}

// Canonical text, so that one client is one throttle key however written.
std::string Format(const Bytes& a) {
    char text[INET6_ADDRSTRLEN] = {};
    if (IsMapped(a)) {
        in_addr v4{};
        std::memcpy(&v4, &a[12], 4);
        inet_ntop(AF_INET, &v4, text, sizeof text);
    } else {
        in6_addr v6{};
        std::memcpy(&v6, a.data(), 16);
        inet_ntop(AF_INET6, &v6, text, sizeof text);
    }
    return text;
}

bool AllDigits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One X-Forwarded-For entry: "1.2.3.4", "1.2.3.4:5678", "::1", "[::1]" or "[::1]:5678".
std::optional<Bytes> ParseForwarded(std::string_view entry) {
    entry = Trim(entry);
    if (!entry.empty() && entry.front() == '[') {
        const auto close = entry.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view after = entry.substr(close + 1);
        if (!after.empty() && !(after.front() == ':' && AllDigits(after.substr(1)))) return std::nullopt;
        return ParseAddress(entry.substr(1, close - 1));
    }
    if (const auto colon = entry.find(':');
        colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
        if (!AllDigits(entry.substr(colon + 1))) return std::nullopt;
        entry = entry.substr(0, colon);  // IPv4 with a port
    }
    return ParseAddress(entry);
}

bool PrefixMatches(const Bytes& a, const Bytes& network, int bits) {
    const auto whole = static_cast<std::size_t>(bits / 8);
    if (!std::equal(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(whole), network.begin())) return false;
    if (bits % 8 == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits % 8));
    return (a[whole] & mask) == (network[whole] & mask);
}

}  // namespace

TrustedProxies TrustedProxies::Parse(std::string_view list) {
    TrustedProxies proxies;
    // An empty environment variable counts as unset: "none" says it.
    if (Trim(list) == "none") return proxies;
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view entry = Trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (entry.empty()) continue;
        const auto bad = [&](const std::string& why) {
            return std::invalid_argument("'" + std::string(entry) + "' is not an address range (" + why +
                                         ")");
        };
        const auto slash = entry.find('/');
        const std::optional<Bytes> address = ParseAddress(entry.substr(0, slash));
        if (!address) throw bad("expected an IPv4 or IPv6 address, optionally /prefix-length");
        const bool v4 = IsMapped(*address) && entry.find(':') == std::string_view::npos;
        const int max_bits = v4 ? 32 : 128;
        int bits = max_bits;
        if (slash != std::string_view::npos) {
            const std::string_view digits = entry.substr(slash + 1);
            const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
            if (!AllDigits(digits) || ec != std::errc() || end != digits.data() + digits.size() || bits < 0 ||
                bits > max_bits) {
                throw bad("the prefix length must be 0 to " + std::to_string(max_bits));
            }
        }
        if (v4) bits += kMappedPrefixBits;
        Range range{*address, bits};
        // Host bits are dropped: 127.0.0.1/8 means 127.0.0.0/8.
        for (int i = 0; i < 128; ++i) {
            if (i >= bits)
                range.network[static_cast<std::size_t>(i / 8)] &=
                    static_cast<std::uint8_t>(~(0x80 >> (i % 8)));
        }
        proxies.ranges_.push_back(range);
    }
    return proxies;
}

TrustedProxies TrustedProxies::Loopback() { return Parse("127.0.0.1/8,::1/128"); }

bool TrustedProxies::Contains(const Address& address) const {
    return std::any_of(ranges_.begin(), ranges_.end(),
                       [&](const Range& r) { return PrefixMatches(address, r.network, r.prefix_bits); });
}

bool TrustedProxies::Contains(std::string_view address) const {
    const std::optional<Bytes> parsed = ParseAddress(address);
    return parsed && Contains(*parsed);
}

std::string TrustedProxies::ClientAddress(std::string_view peer, std::string_view forwarded_for) const {
    const std::optional<Bytes> peer_address = ParseAddress(peer);
    if (!peer_address) return std::string(peer);
    std::string client = Format(*peer_address);
    if (!Contains(*peer_address)) return client;
    // From the right: each trusted hop vouches for the entry before it.
    for (int hop = 0; hop < kMaxHops && !forwarded_for.empty(); ++hop) {
        const auto comma = forwarded_for.rfind(',');
        const std::string_view entry =
            comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
        forwarded_for = comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
        const std::optional<Bytes> address = ParseForwarded(entry);
        if (!address) break;
        client = Format(*address);
        if (!Contains(*address)) break;
    }
    return client;
}

LoginThrottle::LoginThrottle(ThrottleSettings settings, Clock clock)
    : settings_(settings), clock_(std::move(clock)) {}

long LoginThrottle::Remaining(const std::string& key, int limit, std::chrono::steady_clock::time_point now) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return 0;
    const auto window_end = it->second.window_start + settings_.window;
    if (now >= window_end) {
        entries_.erase(it);
        return 0;
    }
    if (it->second.failures < limit) return 0;
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(window_end - now).count();
    return left < 1 ? 1 : static_cast<long>(left);
}

long LoginThrottle::RetryAfter(std::string_view account, std::string_view address) {
    const auto now = clock_();
    std::lock_guard lock(mutex_);
    const long by_account = Remaining(AccountKey(account), settings_.max_failures_per_account, now);
    const long by_address = Remaining(AddressKey(address), settings_.max_failures_per_address, now);
    return by_account > by_address ? by_account : by_address;
}

void LoginThrottle::Count(const std::string& key, std::chrono::steady_clock::time_point now) {
    auto [it, inserted] = entries_.try_emplace(key);
    if (inserted || now >= it->second.window_start + settings_.window) it->second = Entry{0, now};
    ++it->second.failures;
}

void LoginThrottle::RecordFailure(std::string_view account, std::string_view address) {
    const auto now = clock_();
    std::lock_guard lock(mutex_);
    if (entries_.size() >= settings_.max_tracked) {
        // Forget finished windows first; under a flood, forget everything
        // rather than grow without bound.
        std::erase_if(entries_,
                      [&](const auto& e) { return now >= e.second.window_start + settings_.window; });
        if (entries_.size() >= settings_.max_tracked) entries_.clear();
    }
    Count(AccountKey(account), now);
    Count(AddressKey(address), now);
}

void LoginThrottle::RecordSuccess(std::string_view account) {
    std::lock_guard lock(mutex_);
    entries_.erase(AccountKey(account));
}

}  // namespace v2m::auth
