// Composition roots of the `converter` and `notifier` roles: each its own
// process on the production backends, with health and metrics on a small
// admin port.
#include <spdlog/spdlog.h>

#include <functional>
#include <iostream>
#include <thread>

#include "app/roles.hpp"
#include "app/service_parts.hpp"
#include "http/health.hpp"
#include "http/server.hpp"
#include "mail/mailer.hpp"
#include "obs/metrics.hpp"
#include "store/soci_store.hpp"
#include "workers/converter.hpp"
#include "workers/notifier.hpp"

namespace v2m::app {

workers::ConverterSettings ConverterSettingsFor(const ConversionConfig& c, const QueueConfig& queues) {
    return {.worker_id = WorkerId("converter"),
            .concurrency = c.concurrency,
            .video_queue = queues.video,
            .mp3_queue = queues.mp3,
            .lease = c.job_lease,
            .reap_every = c.reaper_interval,
            .retry = {.max_attempts = c.max_attempts},
            .max_duration_s = c.max_duration_s};
}

workers::NotifierSettings NotifierSettingsFor(const MailConfig& mail, const QueueConfig& queues,
                                              int concurrency) {
    return {.worker_id = WorkerId("notifier"),
            .concurrency = concurrency,
            .mp3_queue = queues.mp3,
            .public_url = mail.public_url,
            .mail_from = mail.mail_from};
}

namespace {

// What a worker process shares: logging, the database, an admin server with
// /healthz, /readyz and /metrics, messaging with its relay, and the stop.
struct WorkerProcess {
    const char* role;
    std::string admin_listen;
    DatabaseConfig database;
    BrokerConfig broker;
    QueueConfig queues;
    obs::LogSettings log;
};

// Runs `work` (the worker's Run) between the setup and the orderly stop;
// `open` opens the role's own backends once the database is there and
// returns the extra readiness dependency (the blob store), if any.
int RunWorker(const WorkerProcess& p, const std::stop_token& stop,
              const std::function<blob::BlobStore*(store::SociStore&)>& open,
              const std::function<void(store::SociStore&, broker::Broker&, obs::Metrics&,
                                       const std::stop_token&)>& work) {
    obs::InitLogging(p.log);  // a bad setting throws: main reports it, exit 2
    std::unique_ptr<store::SociStore> db;
    std::pair<std::string, int> listen;
    obs::Metrics metrics;
    std::unique_ptr<Messaging> messaging;
    blob::BlobStore* blobs = nullptr;
    try {
        listen = http::ParseListenAddress(p.admin_listen);
        db = OpenDatabase(p.database, stop);
        blobs = open(*db);
        messaging = std::make_unique<Messaging>(p.broker, *db, metrics, WorkerId(p.role),
                                                std::vector<std::string>{p.queues.video, p.queues.mp3});
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return stop.stop_requested() ? 0 : 2;
    }
    http::Server admin({.host = listen.first, .port = listen.second, .threads = 4}, metrics);
    http::AddHealthRoutes(admin, metrics, ReadyWhen(db.get(), blobs, &messaging->broker()));
    try {
        admin.Bind();
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 1;
    }
    spdlog::info("video2mp3 {} running (database {}, admin on http://{}:{})", p.role, db->redacted_url(),
                 listen.first, admin.port());
    std::thread serving([&admin] { admin.Serve(); });
    messaging->Start();
    std::jthread working([&](const std::stop_token&) { work(*db, messaging->broker(), metrics, stop); });
    WaitForStop(stop);
    spdlog::info("stopping: no new work; running jobs are released");
    working.join();
    messaging->Stop();
    admin.Stop();
    serving.join();
    spdlog::info("stopped");
    return 0;
}

}  // namespace

int RunConverter(const ConverterConfig& config, const std::stop_token& stop) {
    std::unique_ptr<blob::BlobStore> blobs;
    return RunWorker(
        {"converter", config.admin_listen, config.database, config.broker, config.queues, config.log}, stop,
        [&](store::SociStore&) {
            blobs = OpenBlobStoreWaiting(config.blob_store, config.database.wait, stop);
            return blobs.get();
        },
        [&](store::SociStore& db, broker::Broker& broker, obs::Metrics& metrics, const std::stop_token& s) {
            workers::Converter converter(db, *blobs, broker, metrics,
                                         ConverterSettingsFor(config.conversion, config.queues), NowMs);
            converter.Run(s);
        });
}

int RunNotifier(const NotifierConfig& config, const std::stop_token& stop) {
    std::unique_ptr<mail::Mailer> mailer;
    return RunWorker(
        {"notifier", config.admin_listen, config.database, config.broker, config.queues, config.log}, stop,
        [&](store::SociStore&) -> blob::BlobStore* {
            mailer = mail::OpenMailer(config.mail.smtp_url, {.timeout = config.mail.smtp_timeout});
            return nullptr;
        },
        [&](store::SociStore& db, broker::Broker& broker, obs::Metrics& metrics, const std::stop_token& s) {
            workers::Notifier notifier(db, *mailer, broker, metrics,
                                       NotifierSettingsFor(config.mail, config.queues, config.concurrency),
                                       NowMs);
            notifier.Run(s);
        });
}

}  // namespace v2m::app
