// Composition root of the `gateway` role on its own: the public API, with
// sign-in forwarded to auth and tokens checked against auth's published keys.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "app/roles.hpp"
#include "app/service_parts.hpp"
#include "gateway/auth_client.hpp"
#include "gateway/auth_forwarding.hpp"
#include "gateway/gateway_http.hpp"
#include "gateway/job_events.hpp"
#include "http/health.hpp"
#include "http/server.hpp"
#include "obs/metrics.hpp"
#include "store/soci_store.hpp"
#include "token/remote_key_verifier.hpp"

namespace v2m::app {

int RunGateway(const GatewayConfig& config, const std::stop_token& stop) {
    obs::InitLogging(config.log);  // a bad setting throws: main reports it, exit 2
    std::unique_ptr<store::SociStore> db;
    std::unique_ptr<blob::BlobStore> blobs;
    std::unique_ptr<gateway::AuthClient> auth;
    std::pair<std::string, int> listen;
    obs::Metrics metrics;
    std::unique_ptr<Messaging> messaging;
    try {
        listen = http::ParseListenAddress(config.listen);
        auth = std::make_unique<gateway::AuthClient>(
            gateway::AuthClientSettings{.url = config.auth_url, .timeout = config.auth_timeout});
        db = OpenDatabase(config.database, stop);
        blobs = OpenBlobStoreWaiting(config.blob_store, config.database.wait, stop);
        messaging =
            std::make_unique<Messaging>(config.broker, *db, metrics, WorkerId("gateway"),
                                        std::vector<std::string>{config.queues.video, config.queues.mp3});
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return stop.stop_requested() ? 0 : 2;
    }
    // Keys come from auth, fetched in the background and on an unknown kid;
    // the gateway serves (and says it is not ready) while auth is away.
    token::RemoteKeyVerifier keys([&auth] { return auth->FetchJwks(); },
                                  {.verify = {.issuer = config.issuer, .audience = config.audience}});

    // Live job events hold server threads: at most half of them.
    gateway::EventStreams events(*db, {.max_streams = std::max(1, config.http_threads / 2)}, NowMs);
    http::Server server({.host = listen.first,
                         .port = listen.second,
                         .threads = config.http_threads,
                         .max_upload_bytes = config.max_upload_bytes,
                         // A slow upload may pause; a stalled one must not hold a thread forever.
                         .read_timeout_s = 60,
                         .write_timeout_s = 60},
                        metrics);
    const http::ReadinessCheck backends = ReadyWhen(db.get(), blobs.get(), &messaging->broker());
    http::AddHealthRoutes(server, metrics, [&backends, &keys]() -> std::optional<std::string> {
        if (auto why = backends()) return why;
        return keys.NotReady();
    });
    gateway::AddAuthForwarding(server, *auth);
    const gateway::GatewayDeps deps{.jobs = *db,
                                    .blobs = *blobs,
                                    .broker = messaging->broker(),
                                    .verify = [&keys](std::string_view token) { return keys.Verify(token); },
                                    .issue_token =
                                        [&auth](const http::Request& req) {
                                            return gateway::ForwardToAuth(*auth, req, "/v1/auth/token");
                                        },
                                    .events = &events,
                                    .now_ms = NowMs,
                                    .video_queue = config.queues.video,
                                    .openapi_yaml = gateway::OpenApiYaml()};
    gateway::AddGatewayRoutes(server, deps);
    try {
        server.Bind();
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return 1;
    }
    spdlog::info("video2mp3 gateway listening on http://{}:{} (database {}, auth {})", listen.first,
                 server.port(), db->redacted_url(), auth->url());
    std::thread serving([&server] { server.Serve(); });
    messaging->Start();
    WaitForStop(stop);
    spdlog::info("stopping");
    events.Stop();
    server.Stop();
    serving.join();
    messaging->Stop();
    spdlog::info("stopped");
    return 0;
}

}  // namespace v2m::app
