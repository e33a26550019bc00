// Composition root of the `auth` role.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>
#include <utility>

#include "app/roles.hpp"
#include "auth/auth_http.hpp"
#include "auth/user_service.hpp"
#include "http/health.hpp"
#include "http/server.hpp"
#include "obs/metrics.hpp"
#include "store/soci_store.hpp"
#include "token/jwk_set.hpp"
#include "token/signing_key.hpp"
#include "token/token_issuer.hpp"
#include "token/token_verifier.hpp"

namespace v2m::app {

void WaitForStop(std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any cv;
    std::unique_lock lock(mutex);
    cv.wait(lock, std::move(stop), [] { return false; });
}

std::unique_ptr<store::SociStore> OpenDatabase(const DatabaseConfig& config, const std::stop_token& stop) {
    const auto deadline = std::chrono::steady_clock::now() + config.wait;
    for (int attempt = 0;; ++attempt) {
        try {
            auto db =
                std::make_unique<store::SociStore>(store::SociStoreSettings{config.url, config.pool_size});
            if (const int applied = db->Migrate(); applied > 0) {
                spdlog::info("applied {} migration(s) to {}", applied, db->redacted_url());
            }
            return db;
        } catch (const store::StoreUnavailable& e) {
            if (std::chrono::steady_clock::now() >= deadline || stop.stop_requested()) throw;
            if (attempt == 0) spdlog::warn("waiting for the database: {}", e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

AuthParts::AuthParts(const AuthConfig& config, store::UserStore& user_store, const token::SigningKey& key,
                     obs::Metrics& metrics)
    : hasher(config.password),
      users(user_store, hasher, NowMs),
      throttle(config.throttle),
      issuer(key, {config.issuer, config.audience, config.token_ttl}),
      jwks(OneKey(key)),
      verifier(jwks, {config.issuer, config.audience}),
      deps{users,
           throttle,
           issuer,
           verifier,
           jwks,
           metrics,
           config.open_registration,
           config.token_ttl,
           config.trusted_proxies} {}

token::JwkSet AuthParts::OneKey(const token::SigningKey& key) {
    token::JwkSet set;
    set.Add(key);
    return set;
}

int RunAuth(const AuthConfig& config, const std::stop_token& stop) {
    obs::InitLogging(config.log);  // a bad setting throws: main reports it, exit 2
    if (config.key_file.empty()) {
        std::cerr << "video2mp3: error: auth needs V2M_JWT_PRIVATE_KEY_FILE (make one with: video2mp3 keygen "
                     "FILE)\n";
        return 2;
    }
    std::unique_ptr<store::SociStore> db;
    std::optional<token::SigningKey> key;
    std::pair<std::string, int> listen;
    try {
        listen = http::ParseListenAddress(config.listen);
        key.emplace(token::SigningKey::FromPemFile(config.key_file));
        db = OpenDatabase(config.database, stop);
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return stop.stop_requested() ? 0 : 2;
    }

    obs::Metrics metrics;
    const AuthParts parts(config, *db, *key, metrics);
    http::Server server({.host = listen.first, .port = listen.second, .threads = config.http_threads},
                        metrics);
    http::AddHealthRoutes(server, metrics, [&db]() -> std::optional<std::string> {
        try {
            db->Ping();
            return std::nullopt;
        } catch (const std::exception& e) {
            return std::string("database unreachable: ") + e.what();
        }
    });
    auth::AddAuthRoutes(server, parts.deps);
    try {
        server.Bind();
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 1;
    }
    spdlog::info("auth listening on http://{}:{} (database {}, key {})", listen.first, server.port(),
                 db->redacted_url(), key->Kid());
    std::thread serving([&server] { server.Serve(); });
    WaitForStop(stop);
    spdlog::info("auth stopping");
    server.Stop();
    serving.join();
    return 0;
}

}  // namespace v2m::app
