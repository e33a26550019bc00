// RemoteKeyVerifier with a fetch function and a clock of the test's own: the
// cache, the rotation refetch, its rate limit, failing fetches, readiness.
// (Over HTTP, against a JWKS server, in src/gateway/auth_client_test.cpp.)
#include "token/remote_key_verifier.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "token/base64url.hpp"
#include "token/jwk_set.hpp"
#include "token/signing_key.hpp"
#include "token/token_issuer.hpp"

namespace v2m::token {
namespace {

using namespace std::chrono_literals;

constexpr const char* kIssuer = "video2mp3";
constexpr const char* kAudience = "video2mp3";

Claims Alice() {
    Claims c;
    c.subject = "user-alice";
    c.username = "alice@example.com";
    return c;
}

std::string JwksOf(const std::vector<const SigningKey*>& keys) {
    JwkSet set;
    for (const SigningKey* key : keys) set.Add(*key);
    return set.ToJson().dump();
}

// What the fake auth publishes, and how often it was asked.
class FakeJwks {
  public:
    void Publish(std::string document) {
        const std::lock_guard lock(mutex_);
        document_ = std::move(document);
        failure_.clear();
    }
    void Fail(std::string why) {
        const std::lock_guard lock(mutex_);
        failure_ = std::move(why);
    }
    void Delay(std::chrono::milliseconds delay) { delay_ms_ = delay.count(); }
    int fetches() const { return fetches_; }

    FetchJwks Fn() {
        return [this] {
            ++fetches_;
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
            const std::lock_guard lock(mutex_);
            if (!failure_.empty()) throw std::runtime_error(failure_);
            return document_;
        };
    }

  private:
    std::mutex mutex_;
    std::string document_ = R"({"keys":[]})";
    std::string failure_;
    std::atomic<int> fetches_{0};
    std::atomic<long> delay_ms_{0};
};

struct FakeSteadyClock {
    std::atomic<std::int64_t> ms{1'000'000};
    SteadyClock Fn() {
        return [this] { return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms.load())); };
    }
    void Advance(std::chrono::milliseconds by) { ms += by.count(); }
};

RemoteKeySettings Settings() {
    return {.verify = {.issuer = kIssuer, .audience = kAudience},
            .min_fetch_interval = 10s,
            .refresh_in_background = false};
}

VerifyError Refusal(const VerifyResult& result) {
    EXPECT_FALSE(result.Valid());
    return result.Valid() ? VerifyError::kMalformed : result.GetFailure().reason;
}

class RemoteKeyVerifierTest : public ::testing::Test {
  protected:
    RemoteKeyVerifierTest()
        : key_a_(GenerateSigningKey()),
          key_b_(GenerateSigningKey()),
          key_c_(GenerateSigningKey()),
          issuer_a_(key_a_, {.issuer = kIssuer, .audience = kAudience}),
          issuer_b_(key_b_, {.issuer = kIssuer, .audience = kAudience}),
          issuer_c_(key_c_, {.issuer = kIssuer, .audience = kAudience}) {}

    SigningKey key_a_;
    SigningKey key_b_;
    SigningKey key_c_;
    TokenIssuer issuer_a_;
    TokenIssuer issuer_b_;
    TokenIssuer issuer_c_;
    FakeJwks jwks_;
    FakeSteadyClock steady_;
};

TEST_F(RemoteKeyVerifierTest, FetchesTheSetOnceAndCachesIt) {
    jwks_.Publish(JwksOf({&key_a_}));
    RemoteKeyVerifier verifier(jwks_.Fn(), Settings(), SystemClock(), steady_.Fn());
    EXPECT_TRUE(verifier.NotReady());
    const std::string token = issuer_a_.Issue(Alice());
    for (int i = 0; i < 20; ++i) {
        const VerifyResult result = verifier.Verify(token);
        ASSERT_TRUE(result.Valid()) << result.GetFailure().message;
        EXPECT_EQ(result.GetClaims().username, "alice@example.com");
    }
    EXPECT_EQ(jwks_.fetches(), 1);
    EXPECT_FALSE(verifier.NotReady());
    // Refusals that no key set could change cost no fetch either.
    EXPECT_EQ(Refusal(verifier.Verify("not.a.token")), VerifyError::kMalformed);
    const std::string no_kid = detail::Base64UrlEncode(R"({"alg":"ES256","typ":"JWT"})") + ".e30.AAAA";
    EXPECT_EQ(Refusal(verifier.Verify(no_kid)), VerifyError::kUnknownKey);
    EXPECT_EQ(jwks_.fetches(), 1);
}

TEST_F(RemoteKeyVerifierTest, ARotatedKeyIsFetchedWhenATokenNamesIt) {
    jwks_.Publish(JwksOf({&key_a_}));
    RemoteKeyVerifier verifier(jwks_.Fn(), Settings(), SystemClock(), steady_.Fn());
    ASSERT_TRUE(verifier.Verify(issuer_a_.Issue(Alice())).Valid());
    ASSERT_EQ(jwks_.fetches(), 1);

    // auth restarts with key B only, long after the last fetch.
    jwks_.Publish(JwksOf({&key_b_}));
    steady_.Advance(11s);
    const VerifyResult with_b = verifier.Verify(issuer_b_.Issue(Alice()));
    ASSERT_TRUE(with_b.Valid()) << with_b.GetFailure().message;
    EXPECT_EQ(jwks_.fetches(), 2);
    // A is gone from the set, so its tokens are refused; within the period
    // that costs no further fetch.
    EXPECT_EQ(Refusal(verifier.Verify(issuer_a_.Issue(Alice()))), VerifyError::kUnknownKey);
    EXPECT_EQ(jwks_.fetches(), 2);
}

TEST_F(RemoteKeyVerifierTest, AFloodOfUnknownKidsFetchesAtMostOncePerPeriod) {
    jwks_.Publish(JwksOf({&key_a_}));
    RemoteKeyVerifier verifier(jwks_.Fn(), Settings(), SystemClock(), steady_.Fn());
    const std::string good = issuer_a_.Issue(Alice());
    const std::string unknown = issuer_c_.Issue(Alice());  // C is never published
    ASSERT_TRUE(verifier.Verify(good).Valid());
    ASSERT_EQ(jwks_.fetches(), 1);

    for (int period = 1; period <= 3; ++period) {
        steady_.Advance(10s);
        std::atomic<int> refused{0};
        std::atomic<int> accepted{0};
        std::vector<std::thread> threads;
        threads.reserve(8);
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 50; ++i) {
                    const VerifyResult r = verifier.Verify(unknown);
                    if (!r.Valid() && r.GetFailure().reason == VerifyError::kUnknownKey) ++refused;
                    if (verifier.Verify(good).Valid()) ++accepted;
                }
            });
        }
        for (auto& t : threads) t.join();
        EXPECT_EQ(refused, 400);
        EXPECT_EQ(accepted, 400);
        EXPECT_EQ(jwks_.fetches(), 1 + period) << "one fetch per period, however many unknown kids";
    }
}

TEST_F(RemoteKeyVerifierTest, RequestsThatNeedTheSameFetchShareIt) {
    jwks_.Publish(JwksOf({&key_a_}));
    jwks_.Delay(200ms);
    RemoteKeyVerifier verifier(jwks_.Fn(), Settings(), SystemClock(), steady_.Fn());
    const std::string token = issuer_a_.Issue(Alice());
    std::atomic<int> accepted{0};
    std::vector<std::thread> threads;
    threads.reserve(16);
    for (int t = 0; t < 16; ++t) {
        threads.emplace_back([&] {
            if (verifier.Verify(token).Valid()) ++accepted;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(accepted, 16);
    EXPECT_EQ(jwks_.fetches(), 1);
}

TEST_F(RemoteKeyVerifierTest, WithoutKeysTokensCannotBeCheckedAndSaySo) {
    jwks_.Fail("connection refused");
    RemoteKeyVerifier verifier(jwks_.Fn(), Settings(), SystemClock(), steady_.Fn());
    const std::string token = issuer_a_.Issue(Alice());
    const VerifyResult result = verifier.Verify(token);
    EXPECT_EQ(Refusal(result), VerifyError::kKeysUnavailable);
    EXPECT_NE(result.GetFailure().message.find("connection refused"), std::string::npos);
    ASSERT_TRUE(verifier.NotReady());
    EXPECT_NE(verifier.NotReady()->find("connection refused"), std::string::npos);
    // Garbage is refused as garbage, keys or not.
    EXPECT_EQ(Refusal(verifier.Verify("garbage")), VerifyError::kMalformed);
    EXPECT_EQ(Refusal(verifier.Verify("")), VerifyError::kMalformed);
    // Rate limited while auth is down.
    EXPECT_EQ(Refusal(verifier.Verify(token)), VerifyError::kKeysUnavailable);
    EXPECT_EQ(jwks_.fetches(), 1);

    // auth comes back.
    jwks_.Publish(JwksOf({&key_a_}));
    steady_.Advance(10s);
    EXPECT_TRUE(verifier.Verify(token).Valid());
    EXPECT_FALSE(verifier.NotReady());
    EXPECT_EQ(jwks_.fetches(), 2);
}

TEST_F(RemoteKeyVerifierTest, ABadFetchNeverReplacesAGoodSet) {
    jwks_.Publish(JwksOf({&key_a_}));
    RemoteKeyVerifier verifier(jwks_.Fn(), Settings(), SystemClock(), steady_.Fn());
    ASSERT_TRUE(verifier.Refresh());
    const std::string token_a = issuer_a_.Issue(Alice());

    for (const std::string& bad : {std::string("not json"), std::string(R"({"keys":[]})"),
                                   std::string(R"({"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]})"),
                                   std::string(R"({"no":"keys"})")}) {
        SCOPED_TRACE(bad);
        jwks_.Publish(bad);
        EXPECT_FALSE(verifier.Refresh());
        EXPECT_TRUE(verifier.Verify(token_a).Valid());
        EXPECT_FALSE(verifier.NotReady());
    }
    jwks_.Fail("timed out");
    EXPECT_FALSE(verifier.Refresh());
    EXPECT_TRUE(verifier.Verify(token_a).Valid());
    // A new kid while the keys cannot be refreshed: perhaps a rotation, so
    // "cannot check now" rather than "invalid".
    const VerifyResult with_b = verifier.Verify(issuer_b_.Issue(Alice()));
    EXPECT_EQ(Refusal(with_b), VerifyError::kKeysUnavailable);
    EXPECT_NE(with_b.GetFailure().message.find("timed out"), std::string::npos);
}

TEST_F(RemoteKeyVerifierTest, TheBackgroundThreadFetchesRetriesAndRefreshes) {
    jwks_.Fail("connection refused");
    RemoteKeySettings settings = Settings();
    settings.refresh_in_background = true;
    settings.refresh_interval = 100ms;
    settings.retry_interval = 10ms;
    settings.min_fetch_interval = 40ms;
    RemoteKeyVerifier verifier(jwks_.Fn(), settings);
    // It retries on its own while auth is down...
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (jwks_.fetches() < 3 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_GE(jwks_.fetches(), 3);
    EXPECT_TRUE(verifier.NotReady());
    // ...is ready soon after auth is up...
    jwks_.Publish(JwksOf({&key_a_}));
    while (verifier.NotReady() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_FALSE(verifier.NotReady());
    const int after_ready = jwks_.fetches();
    // ...then refreshes every refresh_interval: a dropped key stops being trusted.
    jwks_.Publish(JwksOf({&key_b_}));
    while (jwks_.fetches() < after_ready + 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    EXPECT_GE(jwks_.fetches(), after_ready + 2);
    jwks_.Fail("stop counting");
    const VerifyResult old = verifier.Verify(issuer_a_.Issue(Alice()));
    EXPECT_FALSE(old.Valid());
}

TEST(RemoteKeyVerifierSettings, BadSettingsAreRefused) {
    const FetchJwks fetch = [] { return std::string(); };
    RemoteKeySettings settings = Settings();
    settings.verify.issuer = "";
    EXPECT_THROW(RemoteKeyVerifier(fetch, settings), std::invalid_argument);
    settings = Settings();
    settings.min_fetch_interval = 0ms;
    EXPECT_THROW(RemoteKeyVerifier(fetch, settings), std::invalid_argument);
    EXPECT_THROW(RemoteKeyVerifier(nullptr, Settings()), std::invalid_argument);
}

}  // namespace
}  // namespace v2m::token
