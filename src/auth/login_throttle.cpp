#include "auth/login_throttle.hpp"

#include <utility>

namespace v2m::auth {

namespace {
std::string AccountKey(std::string_view account) { return "a:" + std::string(account); }
std::string AddressKey(std::string_view address) { return "i:" + std::string(address); }
}  // namespace

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
