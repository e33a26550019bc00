#include "auth/login_throttle.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

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

// --- whose address a sign-in counts against ---

TEST(TrustedProxies, ParsesIpv4AndIpv6Ranges) {
    const TrustedProxies p = TrustedProxies::Parse(" 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,::1/128,,");
    EXPECT_TRUE(p.Contains("10.0.0.1"));
    EXPECT_TRUE(p.Contains("10.255.255.255"));
    EXPECT_FALSE(p.Contains("11.0.0.1"));
    EXPECT_FALSE(p.Contains("9.255.255.255"));
    EXPECT_TRUE(p.Contains("192.168.1.7"));  // a bare address is one host
    EXPECT_FALSE(p.Contains("192.168.1.8"));
    EXPECT_TRUE(p.Contains("2001:db8::1"));
    EXPECT_TRUE(p.Contains("2001:DB8:ffff:ffff::"));
    EXPECT_FALSE(p.Contains("2001:db9::1"));
    EXPECT_TRUE(p.Contains("::1"));
    EXPECT_TRUE(p.Contains("0:0:0:0:0:0:0:1"));  // however it is written
    EXPECT_FALSE(p.Contains("::2"));
    // A dual-stack socket shows IPv4 peers as IPv4-mapped IPv6.
    EXPECT_TRUE(p.Contains("::ffff:10.1.2.3"));
    EXPECT_FALSE(p.Contains("::ffff:11.1.2.3"));
    // Not addresses at all.
    for (const char* junk : {"", "localhost", "10.0.0", "10.0.0.1:80", "[::1]", "10.0.0.1/8", "fe80::1%eth0"})
        EXPECT_FALSE(p.Contains(junk)) << junk;
}

TEST(TrustedProxies, PrefixesOfAnyLengthAndHostBitsAreIgnored) {
    const TrustedProxies p = TrustedProxies::Parse("127.0.0.1/8, 172.16.0.0/12, 203.0.113.128/25, fd00::1/7");
    EXPECT_TRUE(p.Contains("127.200.0.9"));
    EXPECT_TRUE(p.Contains("172.31.255.1"));
    EXPECT_FALSE(p.Contains("172.32.0.1"));
    EXPECT_TRUE(p.Contains("203.0.113.200"));
    EXPECT_FALSE(p.Contains("203.0.113.127"));
    EXPECT_TRUE(p.Contains("fc12::5"));
    EXPECT_FALSE(p.Contains("fe00::1"));
    const TrustedProxies everyone = TrustedProxies::Parse("0.0.0.0/0, ::/0");
    EXPECT_TRUE(everyone.Contains("8.8.8.8"));
    EXPECT_TRUE(everyone.Contains("2a00::1"));
    const TrustedProxies nobody = TrustedProxies::Parse("");
    EXPECT_TRUE(nobody.Empty());
    EXPECT_TRUE(TrustedProxies::Parse(" none ").Empty());
    EXPECT_FALSE(nobody.Contains("127.0.0.1"));
    const TrustedProxies loopback = TrustedProxies::Loopback();
    EXPECT_TRUE(loopback.Contains("127.0.0.1"));
    EXPECT_TRUE(loopback.Contains("::1"));
    EXPECT_FALSE(loopback.Contains("10.0.0.1"));
}

TEST(TrustedProxies, BadRangesAreRefusedByName) {
    for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0/8",
                            "localhost", "10.0.0.0/8/8", "[::1]/128", "::1/ 64", "1.2.3.4, nonsense"}) {
        try {
            TrustedProxies::Parse(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find('\''), std::string::npos) << e.what();
        }
    }
}

TEST(TrustedProxies, TheClientIsThePeerUnlessThePeerIsTrusted) {
    const TrustedProxies p = TrustedProxies::Parse("10.0.0.0/8");
    // A client straight from the internet cannot name its own address.
    EXPECT_EQ(p.ClientAddress("198.51.100.7", "1.2.3.4"), "198.51.100.7");
    EXPECT_EQ(p.ClientAddress("198.51.100.7", ""), "198.51.100.7");
    // Behind the gateway (10.0.0.5): what it appended.
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "198.51.100.7"), "198.51.100.7");
    // Without the header, the gateway itself.
    EXPECT_EQ(p.ClientAddress("10.0.0.5", ""), "10.0.0.5");
    // Canonical forms: one client, one key.
    EXPECT_EQ(p.ClientAddress("::ffff:198.51.100.7", ""), "198.51.100.7");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "2001:DB8:0:0::7"), "2001:db8::7");
    EXPECT_EQ(p.ClientAddress("::ffff:10.0.0.5", " 198.51.100.7 "), "198.51.100.7");
}

TEST(TrustedProxies, TheRightmostUntrustedAddressOfTheChainWins) {
    const TrustedProxies p = TrustedProxies::Parse("10.0.0.0/8, fd00::/8");
    // client → ingress (10.1.1.1) → gateway (10.0.0.5) → auth
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "198.51.100.7, 10.1.1.1"), "198.51.100.7");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "198.51.100.7,fd00::2"), "198.51.100.7");
    // Ports and brackets as some proxies write them.
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "198.51.100.7:51234"), "198.51.100.7");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "[2001:db8::7]:443"), "2001:db8::7");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "[2001:db8::7]"), "2001:db8::7");
    // Every hop trusted: the leftmost.
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "10.9.9.9, 10.1.1.1"), "10.9.9.9");
}

TEST(TrustedProxies, SpoofedEntriesLeftOfTheRealClientAreIgnored) {
    const TrustedProxies p = TrustedProxies::Parse("10.0.0.0/8");
    // The attacker sends X-Forwarded-For itself; the gateway appends the
    // address it really saw. Only that one counts, whatever was before it.
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "1.1.1.1, 203.0.113.66"), "203.0.113.66");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "10.0.0.1, 203.0.113.66"), "203.0.113.66");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "127.0.0.1, 203.0.113.66"), "203.0.113.66");
    // Garbage behind a trusted hop stops the walk at the last good address,
    // so a client cannot get a fresh throttle key per request.
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "random-1, 10.1.1.1"), "10.1.1.1");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "random-1"), "10.0.0.5");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "1.2.3.4,, 10.1.1.1"), "10.1.1.1");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "unknown, 10.1.1.1"), "10.1.1.1");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "[::1, 10.1.1.1"), "10.1.1.1");
    EXPECT_EQ(p.ClientAddress("10.0.0.5", "1.2.3.4:x, 10.1.1.1"), "10.1.1.1");
    // An untrusted peer's header is never read, however plausible.
    EXPECT_EQ(p.ClientAddress("203.0.113.66", "10.0.0.5, 198.51.100.1"), "203.0.113.66");
    // A chain of trusted hops longer than any real one ends the walk.
    std::string long_chain = "198.51.100.1";
    for (int i = 0; i < 100; ++i) long_chain += ", 10.0.0." + std::to_string(i % 250);
    EXPECT_NE(p.ClientAddress("10.0.0.5", long_chain), "198.51.100.1");
    EXPECT_TRUE(p.Contains(p.ClientAddress("10.0.0.5", long_chain)));
}

TEST(TrustedProxies, TrustingNobodyMeansThePeer) {
    const TrustedProxies nobody;
    EXPECT_EQ(nobody.ClientAddress("127.0.0.1", "203.0.113.9"), "127.0.0.1");
    EXPECT_EQ(nobody.ClientAddress("not-an-address", "203.0.113.9"), "not-an-address");
}

}  // namespace
}  // namespace v2m::auth
