// Composition root of the `all` role: every role in one process on the
// embedded defaults (SQLite, files, the outbox as the queue, mail to files).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/roles.hpp"
#include "app/service_parts.hpp"
#include "blob/blob_store.hpp"
#include "gateway/gateway_http.hpp"
#include "gateway/job_events.hpp"
#include "http/health.hpp"
#include "http/server.hpp"
#include "mail/mailer.hpp"
#include "obs/metrics.hpp"
#include "store/soci_store.hpp"
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

}  // namespace

int RunAll(const AllConfig& config, const std::stop_token& stop) {
    obs::InitLogging(config.auth.log);  // a bad setting throws: main reports it, exit 2
    std::unique_ptr<store::SociStore> db;
    std::optional<token::SigningKey> key;
    std::unique_ptr<blob::BlobStore> blobs;
    std::unique_ptr<mail::Mailer> mailer;
    std::pair<std::string, int> listen;
    obs::Metrics metrics;
    std::unique_ptr<Messaging> messaging;
    try {
        std::filesystem::create_directories(config.data_dir);
        listen = http::ParseListenAddress(config.listen);
        key.emplace(LoadOrCreateKey(config));
        mailer = mail::OpenMailer(config.mail.smtp_url, {.timeout = config.mail.smtp_timeout});
        db = OpenDatabase(config.auth.database, stop);
        blobs = OpenBlobStoreWaiting(config.blob_store, config.auth.database.wait, stop);
        messaging =
            std::make_unique<Messaging>(config.broker, *db, metrics, WorkerId("all"),
                                        std::vector<std::string>{config.queues.video, config.queues.mp3});
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return stop.stop_requested() ? 0 : 2;
    }

    const AuthParts auth(config.auth, *db, *key, metrics);
    broker::Broker& broker = messaging->broker();
    // Live job events hold server threads: at most half of them.
    gateway::EventStreams events(*db, {.max_streams = std::max(1, config.auth.http_threads / 2)}, NowMs);

    http::Server server({.host = listen.first,
                         .port = listen.second,
                         .threads = config.auth.http_threads,
                         .max_upload_bytes = config.max_upload_bytes,
                         // A slow upload may pause; a stalled one must not hold a thread forever.
                         .read_timeout_s = 60,
                         .write_timeout_s = 60},
                        metrics);
    http::AddHealthRoutes(server, metrics, ReadyWhen(db.get(), blobs.get(), &broker));
    const http::Handler issue_token = auth::AddAuthRoutes(server, auth.deps);
    const gateway::GatewayDeps gateway_deps{
        .jobs = *db,
        .blobs = *blobs,
        .broker = broker,
        .verify = [&auth](std::string_view t) { return auth.verifier.Verify(t); },
        .issue_token = issue_token,
        .events = &events,
        .now_ms = NowMs,
        .video_queue = config.queues.video,
        .openapi_yaml = gateway::OpenApiYaml()};
    gateway::AddGatewayRoutes(server, gateway_deps);
    try {
        server.Bind();
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 1;
    }

    workers::Converter converter(*db, *blobs, broker, metrics,
                                 ConverterSettingsFor(config.conversion, config.queues), NowMs);
    workers::Notifier notifier(*db, *mailer, broker, metrics,
                               NotifierSettingsFor(config.mail, config.queues, 2), NowMs);
    spdlog::info("video2mp3 all listening on http://{}:{} (database {}, {} conversions at once)",
                 listen.first, server.port(), db->redacted_url(), config.conversion.concurrency);
    std::thread serving([&server] { server.Serve(); });
    messaging->Start();
    std::jthread converting([&converter, &stop] { converter.Run(stop); });
    std::jthread notifying([&notifier, &stop] { notifier.Run(stop); });
    WaitForStop(stop);
    spdlog::info("stopping: no new work; running conversions are released");
    events.Stop();
    server.Stop();
    serving.join();
    converting.join();
    notifying.join();
    messaging->Stop();
    spdlog::info("stopped");
    return 0;
}

}  // namespace v2m::app
