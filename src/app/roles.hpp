#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>

#include "auth/auth_http.hpp"
#include "auth/login_throttle.hpp"
#include "auth/password_hasher.hpp"
#include "auth/user_service.hpp"
#include "obs/log.hpp"
#include "token/jwk_set.hpp"
#include "token/signing_key.hpp"
#include "token/token_issuer.hpp"
#include "token/token_verifier.hpp"

namespace v2m::store {
class SociStore;
class UserStore;
}  // namespace v2m::store
namespace v2m::obs {
class Metrics;
}

namespace v2m::app {

struct DatabaseConfig {
    std::string url;  ///< V2M_DATABASE_URL, already defaulted
    int pool_size = 8;
    std::chrono::seconds wait{30};  ///< retry connecting this long at start
};

struct AuthConfig {
    std::string listen = "127.0.0.1:8081";
    int http_threads = 32;
    DatabaseConfig database;
    std::string key_file;
    std::string issuer = "video2mp3";
    std::string audience = "video2mp3";
    std::chrono::seconds token_ttl{3600};
    bool open_registration = false;
    auth::PasswordSettings password;
    auth::ThrottleSettings throttle;
    obs::LogSettings log;
    /// V2M_TRUSTED_PROXIES: whose X-Forwarded-For names the client (the gateway's).
    auth::TrustedProxies trusted_proxies = auth::TrustedProxies::Loopback();
};

/// The auth service's parts, built once from its configuration; served by
/// `auth`, and in-process by `all`.
struct AuthParts {
    AuthParts(const AuthConfig& config, store::UserStore& user_store, const token::SigningKey& key,
              obs::Metrics& metrics);
    auth::PasswordHasher hasher;
    auth::UserService users;
    auth::LoginThrottle throttle;
    token::TokenIssuer issuer;
    token::JwkSet jwks;
    token::TokenVerifier verifier;
    auth::AuthHttpDeps deps;

  private:
    static token::JwkSet OneKey(const token::SigningKey& key);
};

/// Unix milliseconds from the system clock.
std::int64_t NowMs();

/// `video2mp3 auth`: serves until `stop`; returns the exit status.
int RunAuth(const AuthConfig& config, const std::stop_token& stop);

/// V2M_BROKER_URL and the AMQP settings.
struct BrokerConfig {
    std::string url = "db";
    std::chrono::seconds heartbeat{30};
    int delivery_limit = 5;
};

/// What the converter needs besides its backends (in `converter` and `all`).
struct ConversionConfig {
    int concurrency = 2;
    std::chrono::milliseconds job_lease{30'000};
    std::chrono::milliseconds reaper_interval{5'000};
    int max_attempts = 5;
    double max_duration_s = 6 * 3600;
};

/// What the notifier needs besides its backends (in `notifier` and `all`).
struct MailConfig {
    std::string smtp_url;  ///< V2M_SMTP_URL, already defaulted
    std::chrono::seconds smtp_timeout{30};
    std::string mail_from = "video2mp3@localhost";
    std::string public_url = "http://127.0.0.1:8080";
};

struct QueueConfig {
    std::string video = "video";
    std::string mp3 = "mp3";
};

/// `video2mp3 gateway`: the public API; sign-in forwarded to auth, tokens
/// checked with auth's published keys.
struct GatewayConfig {
    std::string listen = "127.0.0.1:8080";
    int http_threads = 32;
    DatabaseConfig database;
    std::string blob_store;
    BrokerConfig broker;
    QueueConfig queues;
    std::string auth_url = "http://127.0.0.1:8081";
    std::chrono::milliseconds auth_timeout{10'000};
    std::string issuer = "video2mp3";
    std::string audience = "video2mp3";
    std::uint64_t max_upload_bytes = std::uint64_t{2} << 30;
    obs::LogSettings log;
};

/// `video2mp3 converter` (health and metrics on `admin_listen`).
struct ConverterConfig {
    std::string admin_listen = "127.0.0.1:9091";
    DatabaseConfig database;
    std::string blob_store;
    BrokerConfig broker;
    QueueConfig queues;
    ConversionConfig conversion;
    obs::LogSettings log;
};

/// `video2mp3 notifier` (health and metrics on `admin_listen`).
struct NotifierConfig {
    std::string admin_listen = "127.0.0.1:9092";
    DatabaseConfig database;
    BrokerConfig broker;
    QueueConfig queues;
    MailConfig mail;
    int concurrency = 2;
    obs::LogSettings log;
};

int RunGateway(const GatewayConfig& config, const std::stop_token& stop);
int RunConverter(const ConverterConfig& config, const std::stop_token& stop);
int RunNotifier(const NotifierConfig& config, const std::stop_token& stop);

struct AllConfig {
    std::string listen = "127.0.0.1:8080";
    std::string data_dir = "./data";
    AuthConfig auth;         ///< its listen address is unused: auth answers on `listen`
    std::string blob_store;  ///< V2M_BLOB_STORE, already defaulted
    BrokerConfig broker;
    QueueConfig queues;
    MailConfig mail;
    ConversionConfig conversion;
    std::uint64_t max_upload_bytes = std::uint64_t{2} << 30;
};

/// `video2mp3 all`: gateway, auth, converter and notifier in one process on
/// the embedded defaults; serves until `stop`, then stops taking work and
/// releases running conversions. Returns the exit status.
int RunAll(const AllConfig& config, const std::stop_token& stop);

/// Opens the store and applies migrations, retrying for `config.wait` while
/// the database is unreachable (it may be starting too). Throws
/// `store::StoreUnavailable` after that, `store::DatabaseUrlError` at once.
std::unique_ptr<store::SociStore> OpenDatabase(const DatabaseConfig& config, const std::stop_token& stop);

/// Blocks until `stop` is requested.
void WaitForStop(std::stop_token stop);

}  // namespace v2m::app
