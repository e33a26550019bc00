// Composition root of the `all` role: every role in one process on the
// embedded defaults (SQLite, files, the outbox as the queue, mail to files).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "app/roles.hpp"
#include "blob/blob_store.hpp"
#include "broker/db/db_broker.hpp"
#include "gateway/gateway_http.hpp"
#include "http/health.hpp"
#include "http/server.hpp"
#include "mail/mailer.hpp"
#include "obs/metrics.hpp"
#include "store/soci_store.hpp"
#include "util/random_id.hpp"
#include "workers/converter.hpp"
#include "workers/notifier.hpp"

namespace v2m::app {

namespace {

// `all` needs no setup: without a configured key it keeps one in the data dir.
token::SigningKey LoadOrCreateKey(const AllConfig& config) {
    std::string path = config.auth.key_file;
    if (path.empty()) {
        path = (std::filesystem::path(config.data_dir) / "jwt-signing-key.pem").string();
        if (!std::filesystem::exists(path)) {
            token::GenerateSigningKey().WritePrivateKeyPem(path);
            spdlog::info("generated a signing key in {}", path);
        }
    }
    return token::SigningKey::FromPemFile(path);
}

std::string WorkerId(const char* role) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    // Leases hold it in a VARCHAR(64): the host name is cut to fit.
    return std::string(role) + "@" + std::string(host).substr(0, 32) + ":" + std::to_string(getpid()) + ":" +
           util::RandomId().substr(0, 8);
}

}  // namespace

int RunAll(const AllConfig& config, const std::stop_token& stop) {
    try {
        obs::InitLogging(config.auth.log);
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 2;
    }
    std::unique_ptr<store::SociStore> db;
    std::optional<token::SigningKey> key;
    std::unique_ptr<blob::BlobStore> blobs;
    std::unique_ptr<mail::Mailer> mailer;
    std::pair<std::string, int> listen;
    try {
        std::filesystem::create_directories(config.data_dir);
        listen = http::ParseListenAddress(config.listen);
        if (config.broker != "db") {
            throw std::invalid_argument("V2M_BROKER_URL: only 'db' is supported by this version");
        }
        key.emplace(LoadOrCreateKey(config));
        blobs = blob::OpenBlobStore(config.blob_store);
        mailer = mail::OpenMailer(config.smtp_url);
        db = OpenDatabase(config.auth.database, stop);
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return stop.stop_requested() ? 0 : 2;
    }

    obs::Metrics metrics;
    const AuthParts auth(config.auth, *db, *key, metrics);
    broker::DbBroker broker(*db, {.consumer_id = WorkerId("all")}, NowMs);

    http::Server server({.host = listen.first,
                         .port = listen.second,
                         .threads = config.auth.http_threads,
                         .max_upload_bytes = config.max_upload_bytes,
                         // A slow upload may pause; a stalled one must not hold a thread forever.
                         .read_timeout_s = 60,
                         .write_timeout_s = 60},
                        metrics);
    http::AddHealthRoutes(server, metrics, [&db, &blobs]() -> std::optional<std::string> {
        try {
            db->Ping();
        } catch (const std::exception& e) {
            return std::string("database unreachable: ") + e.what();
        }
        try {
            blobs->Ping();
        } catch (const std::exception& e) {
            return std::string("blob store unusable: ") + e.what();
        }
        return std::nullopt;
    });
    auth::AddAuthRoutes(server, auth.deps);
    const gateway::GatewayDeps gateway_deps{.jobs = *db,
                                            .blobs = *blobs,
                                            .broker = broker,
                                            .verifier = auth.verifier,
                                            .now_ms = NowMs,
                                            .video_queue = config.video_queue,
                                            .openapi_yaml = gateway::OpenApiYaml()};
    gateway::AddGatewayRoutes(server, gateway_deps);
    try {
        server.Bind();
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 1;
    }

    workers::Converter converter(*db, *blobs, broker, metrics,
                                 {.worker_id = WorkerId("converter"),
                                  .concurrency = config.concurrency,
                                  .video_queue = config.video_queue,
                                  .mp3_queue = config.mp3_queue,
                                  .lease = config.job_lease,
                                  .reap_every = config.reaper_interval,
                                  .retry = {.max_attempts = config.max_attempts},
                                  .max_duration_s = config.max_duration_s},
                                 NowMs);
    workers::Notifier notifier(*db, *mailer, broker, metrics,
                               {.worker_id = WorkerId("notifier"),
                                .mp3_queue = config.mp3_queue,
                                .public_url = config.public_url,
                                .mail_from = config.mail_from},
                               NowMs);
    spdlog::info("video2mp3 all listening on http://{}:{} (database {}, {} conversions at once)",
                 listen.first, server.port(), db->redacted_url(), config.concurrency);
    std::thread serving([&server] { server.Serve(); });
    std::jthread converting([&converter, &stop] { converter.Run(stop); });
    std::jthread notifying([&notifier, &stop] { notifier.Run(stop); });
    WaitForStop(stop);
    spdlog::info("stopping: no new work; running conversions are released");
    server.Stop();
    serving.join();
    converting.join();
    notifying.join();
    spdlog::info("stopped");
    return 0;
}

}  // namespace v2m::app
