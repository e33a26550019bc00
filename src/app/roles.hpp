#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>

#include "auth/login_throttle.hpp"
#include "auth/password_hasher.hpp"
#include "obs/log.hpp"

namespace v2m::store {
class SociStore;
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
};

/// `video2mp3 auth`: serves until `stop`; returns the exit status.
int RunAuth(const AuthConfig& config, const std::stop_token& stop);

/// Opens the store and applies migrations, retrying for `config.wait` while
/// the database is unreachable (it may be starting too). Throws
/// `store::StoreUnavailable` after that, `store::DatabaseUrlError` at once.
std::unique_ptr<store::SociStore> OpenDatabase(const DatabaseConfig& config, const std::stop_token& stop);

/// Blocks until `stop` is requested.
void WaitForStop(std::stop_token stop);

}  // namespace v2m::app
