// The gateway's side of auth: forwarding sign-in and registration, and
// checking tokens with auth's published keys. A small httplib::Server on a
// loopback port plays auth; the forwarding runs on the real http::Server.
#include "gateway/auth_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gateway/auth_forwarding.hpp"
#include "http/server.hpp"
#include "obs/metrics.hpp"
#include "testing/free_port.hpp"
#include "token/jwk_set.hpp"
#include "token/remote_key_verifier.hpp"
#include "token/signing_key.hpp"
#include "token/token_issuer.hpp"

namespace v2m::gateway {
namespace {

using namespace std::chrono_literals;

constexpr const char* kIssuer = "video2mp3";
constexpr const char* kAudience = "video2mp3";

bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// A loopback port nothing listens on (it was free a moment ago).
int ClosedPort() { return test::FreePort(); }

token::Claims Alice() {
    token::Claims c;
    c.subject = "user-alice";
    c.username = "alice@example.com";
    return c;
}

std::string JwksOf(const token::SigningKey& key) {
    token::JwkSet set;
    set.Add(key);
    return set.ToJson().dump();
}

// What auth received.
struct Seen {
    std::string method;
    std::string path;
    std::string body;
    httplib::Headers headers;
};

// What auth answers to the POSTs.
struct Canned {
    int status = 200;
    std::string body = "token";
    std::string content_type = "text/plain";
    httplib::Headers headers;
    std::chrono::milliseconds delay{0};
};

// Plays auth: a JWKS and canned answers to any POST, remembering what it got.
class FakeAuth {
  public:
    explicit FakeAuth(const std::string& prefix = "") {
        server_.Get(prefix + "/.well-known/jwks.json",
                    [this](const httplib::Request&, httplib::Response& res) {
                        ++jwks_fetches_;
                        const std::lock_guard lock(mutex_);
                        res.status = jwks_status_;
                        res.set_content(jwks_, "application/jwk-set+json");
                    });
        server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
            Canned answer;
            {
                const std::lock_guard lock(mutex_);
                seen_.push_back({req.method, req.path, req.body, req.headers});
                answer = canned_;
            }
            std::this_thread::sleep_for(answer.delay);
            res.status = answer.status;
            for (const auto& [k, v] : answer.headers) res.set_header(k, v);
            res.set_content(answer.body, answer.content_type);
        });
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        EXPECT_TRUE(Eventually([this] { return server_.is_running(); }));
    }
    ~FakeAuth() {
        server_.stop();
        thread_.join();
    }
    FakeAuth(const FakeAuth&) = delete;
    FakeAuth& operator=(const FakeAuth&) = delete;

    std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void Publish(std::string jwks, int status = 200) {
        const std::lock_guard lock(mutex_);
        jwks_ = std::move(jwks);
        jwks_status_ = status;
    }
    void Answer(Canned canned) {
        const std::lock_guard lock(mutex_);
        canned_ = std::move(canned);
    }
    std::vector<Seen> SeenRequests() {
        const std::lock_guard lock(mutex_);
        return seen_;
    }
    int jwks_fetches() const { return jwks_fetches_; }

  private:
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
    std::mutex mutex_;
    std::string jwks_ = R"({"keys":[]})";
    int jwks_status_ = 200;
    Canned canned_;
    std::vector<Seen> seen_;
    std::atomic<int> jwks_fetches_{0};
};

// The forwarding on a real http::Server in front of `auth_url`.
class Gateway {
  public:
    explicit Gateway(const std::string& auth_url, std::chrono::milliseconds timeout = 5s)
        : auth_({.url = auth_url, .timeout = timeout}), server_({.port = 0, .threads = 4}, metrics_) {
        AddAuthForwarding(server_, auth_);
        server_.Bind();
        thread_ = std::thread([this] { server_.Serve(); });
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_.port());
        client_->set_read_timeout(20, 0);
        // Stop() only works once Serve() runs: an answer proves it does.
        EXPECT_TRUE(Eventually([this] { return static_cast<bool>(client_->Get("/")); }));
    }
    ~Gateway() {
        server_.Stop();
        thread_.join();
    }
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    httplib::Client& client() { return *client_; }
    int port() const { return server_.port(); }

  private:
    AuthClient auth_;
    obs::Metrics metrics_;
    http::Server server_;
    std::thread thread_;
    std::unique_ptr<httplib::Client> client_;
};

std::string ErrorCodeOf(const httplib::Result& r) {
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("error")) return "(no error body: " + r->body + ")";
    return j["error"].value("code", "(no code)");
}

std::string HeaderOf(const httplib::Headers& headers, const std::string& name) {
    const auto it = headers.find(name);
    return it == headers.end() ? "(none)" : it->second;
}

// Sends raw bytes and reads the answer until the server closes (or 5 s).
std::string RawExchange(int port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
        char buffer[4096];
        ssize_t n = 0;
        while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0)
            answer.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return answer;
}

// --- forwarding ---

TEST(AuthForwarding, LoginGoesToAuthWithItsCredentialsAndComesBackAsAuthSaidIt) {
    FakeAuth auth;
    Gateway gateway(auth.Url());
    auth.Answer({.status = 401,
                 .body = R"({"error":{"code":"invalid_credentials","message":"wrong email or password"}})",
                 .content_type = "application/json",
                 .headers = {{"WWW-Authenticate", "Basic realm=\"video2mp3\""}, {"X-Internal", "secret"}}});
    gateway.client().set_basic_auth("alice@example.com", "wrong password");
    auto r = gateway.client().Post("/login");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(ErrorCodeOf(r), "invalid_credentials");
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    EXPECT_EQ(r->get_header_value("WWW-Authenticate"), "Basic realm=\"video2mp3\"");
    EXPECT_FALSE(r->has_header("X-Internal"));

    const std::vector<Seen> seen = auth.SeenRequests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].path, "/login");
    EXPECT_EQ(seen[0].body, "");
    EXPECT_EQ(HeaderOf(seen[0].headers, "Authorization"),
              "Basic YWxpY2VAZXhhbXBsZS5jb206d3JvbmcgcGFzc3dvcmQ=");
    EXPECT_EQ(HeaderOf(seen[0].headers, "X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(HeaderOf(seen[0].headers, "X-Request-Id"), r->get_header_value("X-Request-Id"));

    auth.Answer({.status = 200, .body = "eyJ.token.sig", .content_type = "text/plain; charset=utf-8"});
    gateway.client().set_basic_auth("alice@example.com", "right password");
    r = gateway.client().Post("/login");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "eyJ.token.sig");
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; charset=utf-8");
}

// curl -X POST -u … sends no Content-Length: the gateway must not wait for a body.
TEST(AuthForwarding, ALoginWithoutContentLengthIsAnsweredAtOnce) {
    FakeAuth auth;
    Gateway gateway(auth.Url());
    const auto start = std::chrono::steady_clock::now();
    const std::string answer = RawExchange(gateway.port(),
                                           "POST /login HTTP/1.1\r\nHost: gateway\r\nAuthorization: Basic "
                                           "YTpi\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
    EXPECT_NE(answer.find("\r\n\r\ntoken"), std::string::npos) << answer;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    ASSERT_EQ(auth.SeenRequests().size(), 1u);
    EXPECT_EQ(HeaderOf(auth.SeenRequests()[0].headers, "Authorization"), "Basic YTpi");
}

TEST(AuthForwarding, BodiesTypesAndTheForwardedChainReachAuth) {
    FakeAuth auth;
    Gateway gateway(auth.Url());
    auth.Answer({.status = 201,
                 .body = R"({"id":"u1","email":"bob@example.com","role":"user"})",
                 .content_type = "application/json",
                 .headers = {{"Location", "/v1/users/u1"}}});
    const std::string body = R"({"email":"bob@example.com","password":"a long password ✓"})";
    auto r =
        gateway.client().Post("/v1/users", {{"X-Forwarded-For", "203.0.113.7"}}, body, "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->get_header_value("Location"), "/v1/users/u1");
    EXPECT_EQ(nlohmann::json::parse(r->body)["email"], "bob@example.com");

    auth.Answer({.status = 429,
                 .body = R"({"error":{"code":"too_many_attempts","message":"later"}})",
                 .content_type = "application/json",
                 .headers = {{"Retry-After", "42"}}});
    r = gateway.client().Post("/v1/auth/token", R"({"email":"a@b.c","password":"x"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->get_header_value("Retry-After"), "42");
    EXPECT_EQ(ErrorCodeOf(r), "too_many_attempts");

    const std::vector<Seen> seen = auth.SeenRequests();
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].path, "/v1/users");
    EXPECT_EQ(seen[0].body, body);
    EXPECT_EQ(HeaderOf(seen[0].headers, "Content-Type"), "application/json");
    // The client's claim stays (auth decides whether to believe it); ours is last.
    EXPECT_EQ(HeaderOf(seen[0].headers, "X-Forwarded-For"), "203.0.113.7, 127.0.0.1");
    EXPECT_EQ(seen[1].path, "/v1/auth/token");

    // A padded chain is cut from the left; the right end survives.
    const std::string padding(5000, '9');
    r = gateway.client().Post("/v1/auth/token", {{"X-Forwarded-For", padding + ", 198.51.100.1"}}, "{}",
                              "application/json");
    ASSERT_TRUE(r);
    const std::string chain = HeaderOf(auth.SeenRequests().back().headers, "X-Forwarded-For");
    EXPECT_EQ(chain, "198.51.100.1, 127.0.0.1");
}

TEST(AuthForwarding, ABodyOverTheLimitIs413AndNeverReachesAuth) {
    FakeAuth auth;
    Gateway gateway(auth.Url());
    const std::string big((std::size_t{1} << 20) + 1, 'x');
    auto r = gateway.client().Post("/v1/users", big, "application/json");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(ErrorCodeOf(r), "too_large");
    EXPECT_TRUE(auth.SeenRequests().empty());
}

TEST(AuthForwarding, AuthDownIs503AuthUnavailable) {
    Gateway gateway("http://127.0.0.1:" + std::to_string(ClosedPort()));
    for (const std::string path : {"/login", "/v1/auth/token", "/v1/users"}) {
        SCOPED_TRACE(path);
        auto r = gateway.client().Post(path, "{}", "application/json");
        ASSERT_TRUE(r) << httplib::to_string(r.error());
        EXPECT_EQ(r->status, 503);
        EXPECT_EQ(ErrorCodeOf(r), "auth_unavailable");
        EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
        EXPECT_EQ(r->get_header_value("Retry-After"), "5");
    }
}

TEST(AuthForwarding, ASlowAuthIs503AfterTheTimeout) {
    FakeAuth auth;
    Gateway gateway(auth.Url(), 300ms);
    auth.Answer({.delay = 2s});
    const auto start = std::chrono::steady_clock::now();
    auto r = gateway.client().Post("/login");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(ErrorCodeOf(r), "auth_unavailable");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1500ms);
}

TEST(AuthForwarding, AnOversizedAnswerIs503) {
    FakeAuth auth;
    Gateway gateway(auth.Url());
    auth.Answer({.body = std::string((std::size_t{1} << 20) + 10, 'x')});
    auto r = gateway.client().Post("/login");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(ErrorCodeOf(r), "auth_unavailable");
}

// --- the client ---

TEST(AuthClient, UrlsAreCheckedAndTheBasePathIsKept) {
    for (const std::string bad : {"", "127.0.0.1:8081", "ftp://auth", "http://", "http://auth:port",
                                  "http://auth:8081?x=1", "http://a b"}) {
        SCOPED_TRACE(bad);
        EXPECT_THROW(AuthClient({.url = bad}), std::invalid_argument);
    }
    EXPECT_THROW(AuthClient({.url = "http://auth", .timeout = 0ms}), std::invalid_argument);
    EXPECT_NO_THROW(AuthClient({.url = "http://[::1]:8081"}));
    EXPECT_NO_THROW(AuthClient({.url = "https://auth.example.com/"}));

    FakeAuth auth("/auth");
    auth.Publish(R"({"keys":[]})");
    const AuthClient client({.url = auth.Url() + "/auth/"});
    EXPECT_EQ(client.FetchJwks(), R"({"keys":[]})");
    const AuthClient without_prefix({.url = auth.Url()});
    EXPECT_THROW(without_prefix.FetchJwks(), AuthUnavailable);  // 404
}

// --- tokens checked with auth's published keys ---

class RemoteKeysTest : public ::testing::Test {
  protected:
    RemoteKeysTest()
        : key_a_(token::GenerateSigningKey()),
          key_b_(token::GenerateSigningKey()),
          key_c_(token::GenerateSigningKey()),
          client_({.url = auth_.Url(), .timeout = 2s}) {}

    std::unique_ptr<token::RemoteKeyVerifier> Verifier(token::RemoteKeySettings settings) {
        settings.verify = {.issuer = kIssuer, .audience = kAudience};
        return std::make_unique<token::RemoteKeyVerifier>([this] { return client_.FetchJwks(); }, settings,
                                                          token::SystemClock(),
                                                          [this] { return steady_now_.load(); });
    }
    std::string TokenOf(const token::SigningKey& key) const {
        return token::TokenIssuer(key, {.issuer = kIssuer, .audience = kAudience}).Issue(Alice());
    }
    void Advance(std::chrono::milliseconds by) { steady_now_ = steady_now_.load() + by; }

    FakeAuth auth_;
    token::SigningKey key_a_;
    token::SigningKey key_b_;
    token::SigningKey key_c_;
    AuthClient client_;
    std::atomic<std::chrono::steady_clock::time_point> steady_now_{std::chrono::steady_clock::time_point(1h)};
};

TEST_F(RemoteKeysTest, ARotatedKeyIsAcceptedAfterOneRefetchAndAFloodCostsOneFetchPerPeriod) {
    auth_.Publish(JwksOf(key_a_));
    const auto verifier = Verifier({.min_fetch_interval = 10s});
    ASSERT_TRUE(Eventually([&] { return !verifier->NotReady(); })) << *verifier->NotReady();
    EXPECT_EQ(auth_.jwks_fetches(), 1);
    const std::string token_a = TokenOf(key_a_);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(verifier->Verify(token_a).Valid());
    EXPECT_EQ(auth_.jwks_fetches(), 1) << "cached: no fetch per token";

    // auth rotates to B: the first token with B costs one fetch.
    auth_.Publish(JwksOf(key_b_));
    const token::VerifyResult with_b = verifier->Verify(TokenOf(key_b_));
    ASSERT_TRUE(with_b.Valid()) << with_b.GetFailure().message;
    EXPECT_EQ(auth_.jwks_fetches(), 2);

    // Tokens of a key auth never published, from many threads at once.
    const std::string token_c = TokenOf(key_c_);
    for (int period = 0; period < 2; ++period) {
        std::atomic<int> refused{0};
        std::vector<std::thread> threads;
        threads.reserve(8);
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&] {
                for (int i = 0; i < 25; ++i) {
                    const token::VerifyResult r = verifier->Verify(token_c);
                    if (!r.Valid() && r.GetFailure().reason == token::VerifyError::kUnknownKey) ++refused;
                }
            });
        }
        for (auto& t : threads) t.join();
        EXPECT_EQ(refused, 200);
        EXPECT_EQ(auth_.jwks_fetches(), 2 + period) << "at most one fetch per period";
        Advance(10s);
    }
}

TEST_F(RemoteKeysTest, UntilAuthAnswersTokensCannotBeCheckedThenTheyCan) {
    auth_.Publish("unavailable", 503);
    const auto verifier = Verifier({.min_fetch_interval = 10s, .retry_interval = 20ms});
    ASSERT_TRUE(Eventually([&] { return auth_.jwks_fetches() >= 2; }));
    ASSERT_TRUE(verifier->NotReady());
    EXPECT_NE(verifier->NotReady()->find("HTTP 503"), std::string::npos) << *verifier->NotReady();
    EXPECT_EQ(verifier->Verify(TokenOf(key_a_)).GetFailure().reason, token::VerifyError::kKeysUnavailable);

    auth_.Publish(JwksOf(key_a_));
    ASSERT_TRUE(Eventually([&] { return !verifier->NotReady(); }));
    EXPECT_TRUE(verifier->Verify(TokenOf(key_a_)).Valid());
}

TEST(RemoteKeys, AnUnreachableAuthAtStartIsNotFatal) {
    const AuthClient client({.url = "http://127.0.0.1:" + std::to_string(ClosedPort()), .timeout = 1s});
    token::RemoteKeyVerifier verifier([&client] { return client.FetchJwks(); },
                                      {.verify = {.issuer = kIssuer, .audience = kAudience}});
    ASSERT_TRUE(Eventually([&] { return verifier.FetchCount() >= 1; }));
    ASSERT_TRUE(verifier.NotReady());
    EXPECT_NE(verifier.NotReady()->find("cannot connect"), std::string::npos) << *verifier.NotReady();
    const token::SigningKey key = token::GenerateSigningKey();
    const std::string token =
        token::TokenIssuer(key, {.issuer = kIssuer, .audience = kAudience}).Issue(Alice());
    EXPECT_EQ(verifier.Verify(token).GetFailure().reason, token::VerifyError::kKeysUnavailable);
    EXPECT_EQ(verifier.Verify("junk").GetFailure().reason, token::VerifyError::kMalformed);
}

}  // namespace
}  // namespace v2m::gateway
