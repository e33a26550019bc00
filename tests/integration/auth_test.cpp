// The auth role and the user commands against real SQLite, PostgreSQL and
// MariaDB, called the way the original's users call them: curl -u.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include "services.hpp"
#include "test_support.hpp"

namespace v2m::test {
namespace {

using namespace std::chrono_literals;

// Cheap Argon2 parameters keep the tests fast; the code path is the same.
const std::vector<std::string> kCheapHashing = {"V2M_ARGON2_OPS=1", "V2M_ARGON2_MEMORY_KIB=1024"};

ProcessResult Admin(const std::string& db_url, const std::string& command,
                    const std::string& stdin_text = "") {
    std::string env;
    for (const auto& e : kCheapHashing) env += e + " ";
    const std::string line = (stdin_text.empty() ? "" : "printf '%s\\n' '" + stdin_text + "' | ") + "env " +
                             env + "V2M_DATABASE_URL='" + db_url + "' '" + Binary() + "' " + command;
    return test::Run({"sh", "-c", line});
}

// `video2mp3 auth` with a signing key in `dir`, on a free port, stopped at the end.
class AuthServer {
  public:
    AuthServer(const std::string& db_url, const TempDir& dir, const std::vector<std::string>& extra_env = {})
        : service_("auth", Env(db_url, dir, extra_env)) {}
    std::string Url(const std::string& path) const { return service_.Url(path); }
    ::testing::AssertionResult WaitReady(std::chrono::seconds limit = 30s) {
        return service_.WaitReady(limit);
    }
    bool Alive() { return service_.Alive(); }

  private:
    static std::vector<std::string> Env(const std::string& db_url, const TempDir& dir,
                                        const std::vector<std::string>& extra_env) {
        const std::string key = dir / "jwt.pem";
        if (!std::filesystem::exists(key)) {
            const ProcessResult k = test::Run({Binary(), "keygen", key});
            if (k.exit_code != 0) throw std::runtime_error("keygen failed: " + k.Describe());
        }
        std::vector<std::string> env = {"V2M_DATABASE_URL=" + db_url, "V2M_JWT_PRIVATE_KEY_FILE=" + key,
                                        "V2M_LOG_FORMAT=json", "V2M_DB_WAIT=20s"};
        env.insert(env.end(), kCheapHashing.begin(), kCheapHashing.end());
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        return env;
    }

    ServiceProcess service_;
};

class AuthTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        db_ = std::make_unique<Database>(GetParam());
        const ProcessResult r =
            Admin(db_->url(), "user add admin@example.com --admin --password-stdin", "admin password 1");
        ASSERT_EQ(r.exit_code, 0) << r.Describe();
    }
    std::unique_ptr<Database> db_;
    TempDir dir_;
};

std::string Login(const AuthServer& auth, const std::string& user, const std::string& password,
                  int* status = nullptr) {
    const HttpResult r = Curl({"-X", "POST", auth.Url("/login"), "-u", user + ":" + password});
    if (status) *status = r.status;
    return r.body;
}

TEST_P(AuthTest, MigrationsAreRecordedAndRunOnce) {
    const ProcessResult again = Admin(db_->url(), "migrate");
    ASSERT_EQ(again.exit_code, 0) << again.Describe();
    EXPECT_NE(again.out.find("applied 0 migration"), std::string::npos) << again.out;
    EXPECT_EQ(db_->Query("SELECT COUNT(*) FROM schema_migrations WHERE version = 1"), "1");
}

TEST_P(AuthTest, ConcurrentFirstStartsMigrateOnce) {
    Database fresh(GetParam());
    // Four processes migrate a new database at the same moment.
    std::vector<std::unique_ptr<Process>> runs;
    runs.reserve(4);
    for (int i = 0; i < 4; ++i) {
        runs.push_back(std::make_unique<Process>(
            std::vector<std::string>{"env", "V2M_DATABASE_URL=" + fresh.url(), Binary(), "migrate"}));
    }
    int applied = 0;
    for (auto& p : runs) {
        const ProcessResult r = p->Wait();
        ASSERT_EQ(r.exit_code, 0) << r.Describe();
        std::smatch m;
        ASSERT_TRUE(std::regex_search(r.out, m, std::regex("applied (\\d+) migration"))) << r.out;
        applied += std::stoi(m[1]);
    }
    const std::string total = fresh.Query("SELECT COUNT(*) FROM schema_migrations");
    EXPECT_EQ(applied, std::stoi(total));
    EXPECT_GE(applied, 1);
}

TEST_P(AuthTest, UserCommands) {
    ProcessResult r = Admin(db_->url(), "user add Bob@Example.com --password-stdin", "bob password 12");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    r = Admin(db_->url(), "user add bob@example.com --password-stdin", "bob password 12");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
    r = Admin(db_->url(), "user add carol@example.com --password-stdin", "short");
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("at least 10"), std::string::npos) << r.err;
    r = Admin(db_->url(), "user list --json");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    const auto list = nlohmann::json::parse(r.out);
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1]["email"], "bob@example.com");
    EXPECT_EQ(list[1]["role"], "user");
    EXPECT_EQ(list[0]["role"], "admin");

    AuthServer auth(db_->url(), dir_);
    int status = 0;
    Login(auth, "bob@example.com", "bob password 12", &status);
    EXPECT_EQ(status, 200);
    ASSERT_EQ(Admin(db_->url(), "user passwd bob@example.com --password-stdin", "new bob password").exit_code,
              0);
    Login(auth, "bob@example.com", "bob password 12", &status);
    EXPECT_EQ(status, 401);
    Login(auth, "bob@example.com", "new bob password", &status);
    EXPECT_EQ(status, 200);
    ASSERT_EQ(Admin(db_->url(), "user disable bob@example.com").exit_code, 0);
    Login(auth, "bob@example.com", "new bob password", &status);
    EXPECT_EQ(status, 401);
    EXPECT_EQ(Admin(db_->url(), "user disable nobody@example.com").exit_code, 1);
    ASSERT_EQ(Admin(db_->url(), "user enable bob@example.com").exit_code, 0);
    Login(auth, "bob@example.com", "new bob password", &status);
    EXPECT_EQ(status, 200);
}

TEST_P(AuthTest, LoginValidateAndJwksAsTheOriginalsClientsCallThem) {
    AuthServer auth(db_->url(), dir_);
    int status = 0;
    const std::string token = Login(auth, "admin@example.com", "admin password 1", &status);
    ASSERT_EQ(status, 200) << token;
    EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;

    const HttpResult claims =
        Curl({"-X", "POST", auth.Url("/validate"), "-H", "Authorization: Bearer " + token});
    ASSERT_EQ(claims.status, 200) << claims.body;
    const auto c = claims.Json();
    EXPECT_EQ(c["username"], "admin@example.com");
    EXPECT_EQ(c["admin"], true);
    EXPECT_EQ(c["role"], "admin");
    EXPECT_EQ(c["sub"].get<std::string>().size(), 32u);
    EXPECT_NEAR(c["exp"].get<double>() - c["iat"].get<double>(), 3600, 1);

    // The token names its key; the JWKS serves it.
    const HttpResult jwks = Curl({auth.Url("/.well-known/jwks.json")});
    ASSERT_EQ(jwks.status, 200);
    const auto keys = jwks.Json()["keys"];
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0]["alg"], "ES256");
    EXPECT_EQ(keys[0]["crv"], "P-256");
    EXPECT_FALSE(keys[0].contains("d"));
    const std::string header_b64 = token.substr(0, token.find('.'));
    const ProcessResult header =
        test::Run({"sh", "-c", "printf '%s' '" + header_b64 + "==' | tr '_-' '/+' | base64 -d 2>/dev/null"});
    const auto h = nlohmann::json::parse(header.out.substr(0, header.out.rfind('}') + 1));
    EXPECT_EQ(h["alg"], "ES256");
    EXPECT_EQ(h["kid"], keys[0]["kid"]);

    Login(auth, "admin@example.com", "wrong password!", &status);
    EXPECT_EQ(status, 401);
    Login(auth, "nobody@example.com", "admin password 1", &status);
    EXPECT_EQ(status, 401);
    const HttpResult tampered = Curl({"-X", "POST", auth.Url("/validate"), "-H",
                                      "Authorization: Bearer " + token.substr(0, token.size() - 4) + "AAAA"});
    EXPECT_EQ(tampered.status, 401);
    EXPECT_EQ(tampered.Json()["error"]["code"], "invalid_token");
    EXPECT_EQ(Curl({"-X", "POST", auth.Url("/validate")}).status, 401);

    // Sign-ins are counted by outcome and requests timed, for Prometheus.
    const HttpResult metrics = Curl({auth.Url("/metrics")});
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("v2m_auth_logins_total{outcome=\"success\"} 1"), std::string::npos)
        << metrics.body;
    EXPECT_NE(metrics.body.find("v2m_auth_logins_total{outcome=\"failure\"} 2"), std::string::npos)
        << metrics.body;
    EXPECT_NE(metrics.body.find("v2m_http_request_duration_seconds_bucket{method=\"POST\",route=\"/login\""),
              std::string::npos)
        << metrics.body;
    EXPECT_EQ(Curl({auth.Url("/healthz")}).status, 200);
}

TEST_P(AuthTest, TokenEndpointAndRegistration) {
    AuthServer auth(db_->url(), dir_);
    const HttpResult t =
        Curl({"-X", "POST", auth.Url("/v1/auth/token"), "-H", "Content-Type: application/json", "-d",
              R"({"email":"admin@example.com","password":"admin password 1"})"});
    ASSERT_EQ(t.status, 200) << t.body;
    EXPECT_EQ(t.Json()["token_type"], "Bearer");
    EXPECT_EQ(t.Json()["expires_in"], 3600);
    const std::string admin_token = t.Json()["access_token"];

    // Registration is closed by default, except to admins.
    const std::string bob = R"({"email":"bob@example.com","password":"bob password 12"})";
    HttpResult r = Curl({"-X", "POST", auth.Url("/v1/users"), "-d", bob});
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(r.Json()["error"]["code"], "registration_closed");
    r = Curl({"-X", "POST", auth.Url("/v1/users"), "-H", "Authorization: Bearer " + admin_token, "-d", bob});
    EXPECT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.Json()["email"], "bob@example.com");
    r = Curl({"-X", "POST", auth.Url("/v1/users"), "-H", "Authorization: Bearer " + admin_token, "-d", bob});
    EXPECT_EQ(r.status, 409) << r.body;

    // A user's token cannot create anyone.
    const std::string bob_token = Login(auth, "bob@example.com", "bob password 12");
    r = Curl({"-X", "POST", auth.Url("/v1/users"), "-H", "Authorization: Bearer " + bob_token, "-d",
              R"({"email":"eve@example.com","password":"eve password 12","role":"admin"})"});
    EXPECT_EQ(r.status, 403) << r.body;
}

TEST_P(AuthTest, OpenRegistrationAndItsPasswordPolicy) {
    AuthServer auth(db_->url(), dir_, {"V2M_OPEN_REGISTRATION=true"});
    HttpResult r = Curl({"-X", "POST", auth.Url("/v1/users"), "-d",
                         R"({"email":"dave@example.com","password":"dave password"})"});
    EXPECT_EQ(r.status, 201) << r.body;
    r = Curl(
        {"-X", "POST", auth.Url("/v1/users"), "-d", R"({"email":"erin@example.com","password":"short"})"});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.Json()["error"]["code"], "weak_password");
    r = Curl({"-X", "POST", auth.Url("/v1/users"), "-d",
              R"({"email":"frank@example.com","password":"frank@example.com"})"});
    EXPECT_EQ(r.status, 400);
    r = Curl({"-X", "POST", auth.Url("/v1/users"), "-d",
              R"({"email":"frank@example.com","password":"long enough pw","role":"admin"})"});
    EXPECT_EQ(r.status, 403);
}

TEST_P(AuthTest, BadInputIsA4xxWithAJsonError) {
    AuthServer auth(db_->url(), dir_);
    const std::vector<std::vector<std::string>> cases = {
        {"-X", "POST", auth.Url("/login"), "-H", "Authorization: Basic !!!notbase64"},
        {"-X", "POST", auth.Url("/login"), "-H", "Authorization: Basic bm9jb2xvbg=="},  // "nocolon"
        {"-X", "POST", auth.Url("/login"), "-H", "Authorization: Basic /w==:"},
        {"-X", "POST", auth.Url("/login"), "-H", "Authorization: Digest abc"},
        {"-X", "POST", auth.Url("/v1/auth/token"), "-d", "not json"},
        {"-X", "POST", auth.Url("/v1/auth/token"), "-d", R"({"email": 5, "password": []})"},
        {"-X", "POST", auth.Url("/v1/auth/token"), "-d", R"(["email"])"},
        {"-X", "POST", auth.Url("/v1/auth/token"), "-d", "{\"email\":\"a@b.c\",\"password\":\"\xff\xfe\"}"},
    };
    for (const auto& args : cases) {
        const HttpResult r = Curl(args);
        EXPECT_EQ(r.status, 400) << args.back() << " → " << r.body;
        EXPECT_TRUE(r.Json().contains("error")) << r.body;
    }
    // No credentials at all: 401 with a challenge.
    HttpResult r = Curl({"-X", "POST", auth.Url("/login")});
    EXPECT_EQ(r.status, 401);
    EXPECT_NE(r.headers.find("WWW-Authenticate: Basic"), std::string::npos) << r.headers;
    // An oversized body: 413, still JSON.
    const std::string big = dir_ / "big.json";
    WriteFile(big, std::string(2 << 20, 'x'));
    r = Curl({"-X", "POST", auth.Url("/v1/auth/token"), "--data-binary", "@" + big});
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(r.Json().contains("error")) << r.body;
    EXPECT_TRUE(auth.Alive());
}

TEST_P(AuthTest, RepeatedFailuresAreThrottled) {
    AuthServer auth(db_->url(), dir_, {"V2M_LOGIN_MAX_FAILURES=3"});
    int status = 0;
    for (int i = 0; i < 3; ++i) {
        Login(auth, "admin@example.com", "wrong password " + std::to_string(i), &status);
        EXPECT_EQ(status, 401);
    }
    // Now even the right password waits, and the answer says how long.
    const HttpResult r = Curl({"-X", "POST", auth.Url("/login"), "-u", "admin@example.com:admin password 1"});
    EXPECT_EQ(r.status, 429);
    EXPECT_NE(r.headers.find("Retry-After: "), std::string::npos) << r.headers;
    EXPECT_EQ(r.Json()["error"]["code"], "too_many_attempts");
    // Another account is unaffected.
    ASSERT_EQ(Admin(db_->url(), "user add bob@example.com --password-stdin", "bob password 12").exit_code, 0);
    Login(auth, "bob@example.com", "bob password 12", &status);
    EXPECT_EQ(status, 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthTest, ::testing::Values("sqlite", "postgres", "mysql"),
                         [](const auto& param_info) { return param_info.param; });

// The database goes away under a running auth and comes back: 503 with a JSON
// error meanwhile, then service again without a restart.
class DatabaseOutageTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DatabaseOutageTest, ServiceRecoversWhenTheDatabaseReturns) {
    // A server of its own: stopping it must not disturb other tests.
    TempDir state;
    const std::string testenv = std::string(V2M_SOURCE_DIR) + "/scripts/testenv";
    const ProcessResult started =
        test::Run({"bash", testenv, "start", state.path().string(), GetParam()}, {.timeout = 120s});
    ASSERT_EQ(started.exit_code, 0) << started.Describe();
    struct Stop {
        std::string script, dir;
        ~Stop() { test::Run({"bash", script, "stop", dir}, {.timeout = 120s}); }
    } stop{testenv, state.path().string()};
    ::setenv("V2M_TESTENV", state.path().c_str(), 1);
    Database db(GetParam());
    ASSERT_EQ(Admin(db.url(), "user add admin@example.com --password-stdin", "admin password 1").exit_code,
              0);
    TempDir dir;
    AuthServer auth(db.url(), dir);
    int status = 0;
    Login(auth, "admin@example.com", "admin password 1", &status);
    ASSERT_EQ(status, 200);

    const ProcessResult down =
        test::Run({"bash", testenv, "stop-service", state.path().string(), GetParam()}, {.timeout = 120s});
    ASSERT_EQ(down.exit_code, 0) << down.Describe();
    const HttpResult failed =
        Curl({"-X", "POST", auth.Url("/login"), "-u", "admin@example.com:admin password 1"});
    EXPECT_EQ(failed.status, 503) << failed.body;
    EXPECT_EQ(failed.Json()["error"]["code"], "unavailable") << failed.body;
    EXPECT_EQ(Curl({auth.Url("/readyz")}).status, 503);
    EXPECT_TRUE(auth.Alive());

    const ProcessResult up =
        test::Run({"bash", testenv, "start-service", state.path().string(), GetParam()}, {.timeout = 120s});
    ASSERT_EQ(up.exit_code, 0) << up.Describe();
    ASSERT_TRUE(auth.WaitReady(60s));
    Login(auth, "admin@example.com", "admin password 1", &status);
    EXPECT_EQ(status, 200);
}

INSTANTIATE_TEST_SUITE_P(Servers, DatabaseOutageTest, ::testing::Values("postgres", "mysql"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace v2m::test
