#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace v2m::auth {

struct ThrottleSettings {
    int max_failures_per_account = 5;   ///< within `window`, then 429 for that account
    int max_failures_per_address = 20;  ///< within `window`, then 429 for that client address
    std::chrono::seconds window{15 * 60};
    std::size_t max_tracked = 100000;  ///< keys remembered at most (memory bound)
};

/// Counts failed sign-ins per account and per client address in a fixed
/// window, and says how long to wait once either is over its limit.
/// In-process (each auth replica counts its own). Thread-safe.
class LoginThrottle final {
  public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    explicit LoginThrottle(ThrottleSettings settings, Clock clock = std::chrono::steady_clock::now);

    /// Seconds until an attempt for `account` from `address` is allowed again;
    /// 0 when it is allowed now.
    long RetryAfter(std::string_view account, std::string_view address);
    void RecordFailure(std::string_view account, std::string_view address);
    /// Clears the account's failures (not the address's).
    void RecordSuccess(std::string_view account);

  private:
    struct Entry {
        int failures = 0;
        std::chrono::steady_clock::time_point window_start;
    };
    long Remaining(const std::string& key, int limit, std::chrono::steady_clock::time_point now);
    void Count(const std::string& key, std::chrono::steady_clock::time_point now);

    ThrottleSettings settings_;
    Clock clock_;
    std::mutex mutex_;
    std::unordered_map<std::string, Entry> entries_;
};

/// The proxies (the gateway, an ingress) whose `X-Forwarded-For` is believed,
/// as address ranges (CIDR), and the client address a request counts
/// against: the sign-in throttle must see the real client behind the
/// gateway, and a client must not pick its own address. An immutable value;
/// safe to share between threads.
class TrustedProxies final {
  public:
    /// Trusts nobody: the TCP peer is always the client.
    TrustedProxies() = default;

    /// A comma-separated list of IPv4 or IPv6 ranges, "127.0.0.1/8, ::1/128,
    /// 10.0.0.0/8"; a bare address is one host (/32, /128); bits past the
    /// prefix are ignored (127.0.0.1/8 is 127.0.0.0/8); empty entries are
    /// skipped, so "" (or "none") trusts nobody. IPv4 ranges also match IPv4-mapped IPv6
    /// peers (::ffff:127.0.0.1). Throws `std::invalid_argument` naming the first
    /// entry that is not a range.
    static TrustedProxies Parse(std::string_view list);
    /// 127.0.0.0/8 and ::1/128 (V2M_TRUSTED_PROXIES's default).
    static TrustedProxies Loopback();

    /// Whether `address` (an IPv4 or IPv6 address in text) lies in a range;
    /// false for anything that is not an address.
    bool Contains(std::string_view address) const;

    /// The client's address for a request whose TCP peer is `peer` and whose
    /// `X-Forwarded-For` headers, joined with commas, are `forwarded_for`.
    /// The peer itself unless it is trusted; else the chain is walked from
    /// its right (the entry our proxy appended) leftwards past trusted
    /// proxies, and the first untrusted address is the client. An entry that
    /// is not an address (garbage a client sent) stops the walk at the last
    /// good one; so does a chain longer than 32 hops. Every result is an
    /// address in its canonical text form (IPv4-mapped IPv6 as IPv4), or the
    /// peer as given when it is not one.
    std::string ClientAddress(std::string_view peer, std::string_view forwarded_for) const;

    bool Empty() const noexcept { return ranges_.empty(); }

  private:
    /// IPv6 bytes; IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d, prefix + 96).
    using Address = std::array<std::uint8_t, 16>;
    struct Range {
        Address network;
        int prefix_bits;
    };
    bool Contains(const Address& address) const;

    std::vector<Range> ranges_;
};

}  // namespace v2m::auth
