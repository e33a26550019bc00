#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>

namespace v2m::auth {
namespace {

struct FakeClock {
    std::chrono::steady_clock::time_point now{};
    LoginThrottle::Clock fn() {
        return [this] { return now; };
    }
};

TEST(LoginThrottle, BlocksAnAccountAfterItsLimitUntilTheWindowEnds) {
    FakeClock clock;
    LoginThrottle t(
        {.max_failures_per_account = 3, .max_failures_per_address = 100, .window = std::chrono::seconds(60)},
        clock.fn());
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(t.RetryAfter("a@x.y", "10.0.0.1"), 0);
        t.RecordFailure("a@x.y", "10.0.0.1");
    }
    EXPECT_EQ(t.RetryAfter("a@x.y", "10.0.0.2"), 60);  // from any address
    EXPECT_EQ(t.RetryAfter("b@x.y", "10.0.0.1"), 0);   // other accounts are fine
    clock.now += std::chrono::seconds(45);
    EXPECT_EQ(t.RetryAfter("a@x.y", "10.0.0.1"), 15);
    clock.now += std::chrono::seconds(15);
    EXPECT_EQ(t.RetryAfter("a@x.y", "10.0.0.1"), 0);
}

TEST(LoginThrottle, BlocksAnAddressTryingManyAccounts) {
    FakeClock clock;
    LoginThrottle t(
        {.max_failures_per_account = 100, .max_failures_per_address = 4, .window = std::chrono::seconds(60)},
        clock.fn());
    for (int i = 0; i < 4; ++i) t.RecordFailure("user" + std::to_string(i) + "@x.y", "10.0.0.9");
    EXPECT_GT(t.RetryAfter("new@x.y", "10.0.0.9"), 0);
    EXPECT_EQ(t.RetryAfter("new@x.y", "10.0.0.10"), 0);
}

TEST(LoginThrottle, SuccessClearsTheAccount) {
    FakeClock clock;
    LoginThrottle t({.max_failures_per_account = 2, .max_failures_per_address = 100}, clock.fn());
    t.RecordFailure("a@x.y", "ip");
    t.RecordSuccess("a@x.y");
    t.RecordFailure("a@x.y", "ip");
    EXPECT_EQ(t.RetryAfter("a@x.y", "ip"), 0);
}

TEST(LoginThrottle, MemoryIsBounded) {
    FakeClock clock;
    LoginThrottle t({.max_failures_per_account = 1, .max_failures_per_address = 1000000, .max_tracked = 100},
                    clock.fn());
    for (int i = 0; i < 10000; ++i) t.RecordFailure(std::to_string(i), "ip");
    // Survives a flood of distinct keys without growing past the bound; the
    // newest keys are still tracked.
    EXPECT_GT(t.RetryAfter("9999", "other"), 0);
}

}  // namespace
}  // namespace v2m::auth
