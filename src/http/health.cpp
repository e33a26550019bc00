#include "http/health.hpp"

#include <utility>

#include "obs/metrics.hpp"

namespace v2m::http {

void AddHealthRoutes(Server& server, obs::Metrics& metrics, ReadinessCheck ready) {
    server.Route("GET", "/healthz", [](const Request&) { return Response::Json(200, {{"status", "ok"}}); });
    server.Route("GET", "/readyz", [ready = std::move(ready)](const Request&) {
        if (auto reason = ready()) return Response::Json(503, {{"status", "not ready"}, {"reason", *reason}});
        return Response::Json(200, {{"status", "ready"}});
    });
    server.Route("GET", "/metrics", [&metrics](const Request&) {
        Response r = Response::Text(200, metrics.Serialize());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        return r;
    });
}

}  // namespace v2m::http
