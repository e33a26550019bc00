#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

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

}  // namespace v2m::auth
