// The gateway's side of auth against a real `video2mp3 auth` process on
// SQLite: the forwarding of sign-in and the JWKS verifier run in this process
// on an http::Server, as the gateway role runs them; the clients are curl.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "gateway/auth_client.hpp"
#include "gateway/auth_forwarding.hpp"
#include "http/server.hpp"
#include "obs/metrics.hpp"
#include "services.hpp"
#include "test_support.hpp"
#include "token/remote_key_verifier.hpp"

namespace v2m::test {
namespace {

using namespace std::chrono_literals;

// Cheap Argon2 parameters keep the tests fast; the code path is the same.
const std::vector<std::string> kCheapHashing = {"V2M_ARGON2_OPS=1", "V2M_ARGON2_MEMORY_KIB=1024"};
const std::string kBob = "bob@example.com";
const std::string kBobPassword = "bob password 12";

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
    return true;
}

// The gateway's auth parts in this process, in front of auth at `auth_url`.
class InProcessGateway {
  public:
    explicit InProcessGateway(const std::string& auth_url)
        : client_({.url = auth_url, .timeout = 5s}),
          keys_([this] { return client_.FetchJwks(); },
                {.verify = {.issuer = "video2mp3", .audience = "video2mp3"}}),
          server_({.port = 0, .threads = 8}, metrics_) {
        gateway::AddAuthForwarding(server_, client_);
        server_.Bind();
        thread_ = std::thread([this] { server_.Serve(); });
        // Stop() only works once Serve() runs: an answer proves it does.
        EXPECT_TRUE(Eventually([this] { return Curl({Url("/")}).status == 404; }, 10s));
    }
    ~InProcessGateway() {
        server_.Stop();
        thread_.join();
    }
    InProcessGateway(const InProcessGateway&) = delete;
    InProcessGateway& operator=(const InProcessGateway&) = delete;

    std::string Url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(server_.port()) + path;
    }
    token::RemoteKeyVerifier& keys() { return keys_; }

  private:
    gateway::AuthClient client_;
    token::RemoteKeyVerifier keys_;
    obs::Metrics metrics_;
    http::Server server_;
    std::thread thread_;
};

class RemoteAuthTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const ProcessResult r = Admin("user add " + kBob + " --password-stdin", kBobPassword);
        ASSERT_EQ(r.exit_code, 0) << r.Describe();
    }

    ProcessResult Admin(const std::string& command, const std::string& stdin_text) const {
        std::string env;
        for (const auto& e : kCheapHashing) env += e + " ";
        return test::Run({"sh", "-c",
                          "printf '%s\\n' '" + stdin_text + "' | env " + env + "V2M_DATABASE_URL='" +
                              db_.url() + "' '" + Binary() + "' " + command});
    }

    // `video2mp3 auth` on `auth_port_` with the signing key `key_name` (made
    // with `video2mp3 keygen` when new).
    std::unique_ptr<ServiceProcess> StartAuth(const std::string& key_name,
                                              const std::vector<std::string>& extra_env = {}) {
        const std::string key = dir_ / key_name;
        if (!std::filesystem::exists(key)) {
            const ProcessResult k = test::Run({Binary(), "keygen", key});
            if (k.exit_code != 0) throw std::runtime_error("keygen failed: " + k.Describe());
        }
        std::vector<std::string> env = {"V2M_DATABASE_URL=" + db_.url(), "V2M_JWT_PRIVATE_KEY_FILE=" + key,
                                        "V2M_LOG_FORMAT=json", "V2M_DB_WAIT=20s"};
        env.insert(env.end(), kCheapHashing.begin(), kCheapHashing.end());
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        return std::make_unique<ServiceProcess>("auth", env, auth_port_);
    }

    std::string AuthUrl() const { return "http://127.0.0.1:" + std::to_string(auth_port_); }

    // curl -X POST …/login -u email:password, the original's way.
    HttpResult Login(const InProcessGateway& gw, const std::string& email, const std::string& password,
                     const std::string& forwarded_for = "") const {
        std::vector<std::string> args = {"-X", "POST", gw.Url("/login"), "-u", email + ":" + password};
        if (!forwarded_for.empty()) args.insert(args.end(), {"-H", "X-Forwarded-For: " + forwarded_for});
        return Curl(args);
    }

    Database db_{"sqlite"};
    TempDir dir_;
    int auth_port_ = FreePort();
};

TEST_F(RemoteAuthTest, SignInThroughTheGatewayGivesATokenItsJwksVerifierAccepts) {
    const auto auth = StartAuth("key1.pem");
    InProcessGateway gw(AuthUrl());
    ASSERT_TRUE(Eventually([&] { return !gw.keys().NotReady(); }, 20s)) << *gw.keys().NotReady();

    const HttpResult login = Login(gw, kBob, kBobPassword);
    ASSERT_EQ(login.status, 200) << login.body;
    const token::VerifyResult verified = gw.keys().Verify(login.body);
    ASSERT_TRUE(verified.Valid()) << verified.GetFailure().message;
    EXPECT_EQ(verified.GetClaims().username, kBob);
    EXPECT_EQ(gw.keys().FetchCount(), 1u);

    const HttpResult wrong = Login(gw, kBob, "not the password");
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    EXPECT_EQ(wrong.Json()["error"]["code"], "invalid_credentials");

    const HttpResult json =
        Curl({"-X", "POST", gw.Url("/v1/auth/token"), "-H", "Content-Type: application/json", "-d",
              nlohmann::json{{"email", kBob}, {"password", kBobPassword}}.dump()});
    ASSERT_EQ(json.status, 200) << json.body;
    EXPECT_TRUE(gw.keys().Verify(json.Json()["access_token"].get<std::string>()).Valid());

    // Registration is closed on auth: its 403 comes back as it said it.
    const HttpResult reg = Curl({"-X", "POST", gw.Url("/v1/users"), "-H", "Content-Type: application/json",
                                 "-d", R"({"email":"carol@example.com","password":"carol password 1"})"});
    EXPECT_EQ(reg.status, 403) << reg.body;
    EXPECT_EQ(reg.Json()["error"]["code"], "registration_closed");
}

TEST_F(RemoteAuthTest, AuthThrottlesTheClientBehindTheGatewayNotTheGateway) {
    const auto auth = StartAuth("key1.pem");
    InProcessGateway gw(AuthUrl());
    // Twenty failures (the per-address limit) from one client, each for
    // another account so that no account limit is reached.
    for (int i = 0; i < 20; ++i) {
        const HttpResult r =
            Login(gw, "nobody" + std::to_string(i) + "@example.com", "wrong password", "203.0.113.10");
        ASSERT_EQ(r.status, 401) << i << ": " << r.body;
    }
    const HttpResult blocked = Login(gw, "someone@example.com", "wrong password", "203.0.113.10");
    EXPECT_EQ(blocked.status, 429) << blocked.body;
    EXPECT_FALSE(blocked.Header("Retry-After").empty());
    // Another client through the same gateway is not blocked.
    const HttpResult other = Login(gw, "someone@example.com", "wrong password", "203.0.113.11");
    EXPECT_EQ(other.status, 401) << other.body;
    EXPECT_EQ(Login(gw, kBob, kBobPassword, "203.0.113.11").status, 200);
}

TEST_F(RemoteAuthTest, AnUntrustedProxysForwardedForIsIgnored) {
    // The gateway (127.0.0.1) is not among auth's trusted proxies: all its
    // clients count as one.
    const auto auth = StartAuth("key1.pem", {"V2M_TRUSTED_PROXIES=10.0.0.0/8"});
    InProcessGateway gw(AuthUrl());
    for (int i = 0; i < 20; ++i) {
        const HttpResult r =
            Login(gw, "nobody" + std::to_string(i) + "@example.com", "wrong password", "203.0.113.10");
        ASSERT_EQ(r.status, 401) << i << ": " << r.body;
    }
    EXPECT_EQ(Login(gw, "someone@example.com", "wrong password", "203.0.113.11").status, 429);
}

TEST_F(RemoteAuthTest, AuthDownIs503AndARestartWithANewKeyIsFollowed) {
    auto auth = StartAuth("key1.pem");
    InProcessGateway gw(AuthUrl());
    const HttpResult first = Login(gw, kBob, kBobPassword);
    ASSERT_EQ(first.status, 200) << first.body;
    ASSERT_TRUE(gw.keys().Verify(first.body).Valid());

    const ProcessResult stopped = auth->Stop();
    ASSERT_EQ(stopped.exit_code, 0) << stopped.Describe();
    const auto start = std::chrono::steady_clock::now();
    const HttpResult down = Login(gw, kBob, kBobPassword);
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_EQ(down.Json()["error"]["code"], "auth_unavailable");
    EXPECT_EQ(down.Header("Content-Type"), "application/json");
    EXPECT_FALSE(down.Header("Retry-After").empty());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    // Tokens already issued still work: the keys are cached.
    EXPECT_TRUE(gw.keys().Verify(first.body).Valid());
    EXPECT_FALSE(gw.keys().NotReady());

    // auth comes back with a new signing key.
    auth = StartAuth("key2.pem");
    const std::uint64_t fetches = gw.keys().FetchCount();
    const HttpResult second = Login(gw, kBob, kBobPassword);
    ASSERT_EQ(second.status, 200) << second.body;
    const token::VerifyResult verified = gw.keys().Verify(second.body);
    ASSERT_TRUE(verified.Valid()) << verified.GetFailure().message;
    EXPECT_EQ(gw.keys().FetchCount(), fetches + 1) << "one refetch for the new kid";
    // The old key is no longer published: its tokens are refused now.
    const token::VerifyResult old = gw.keys().Verify(first.body);
    ASSERT_FALSE(old.Valid());
    EXPECT_EQ(old.GetFailure().reason, token::VerifyError::kUnknownKey);
}

TEST_F(RemoteAuthTest, TheGatewayStartsBeforeAuthAndIsReadyOnceAuthIs) {
    InProcessGateway gw(AuthUrl());
    ASSERT_TRUE(Eventually([&] { return gw.keys().FetchCount() >= 1; }, 10s));
    ASSERT_TRUE(gw.keys().NotReady());
    const HttpResult down = Login(gw, kBob, kBobPassword);
    EXPECT_EQ(down.status, 503) << down.body;

    const auto auth = StartAuth("key1.pem");
    // The background thread retries on its own (backoff up to 10 s).
    ASSERT_TRUE(Eventually([&] { return !gw.keys().NotReady(); }, 30s)) << *gw.keys().NotReady();
    const HttpResult login = Login(gw, kBob, kBobPassword);
    ASSERT_EQ(login.status, 200) << login.body;
    EXPECT_TRUE(gw.keys().Verify(login.body).Valid());
}

}  // namespace
}  // namespace v2m::test
