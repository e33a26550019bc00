#pragma once

#include <functional>
#include <optional>
#include <string>

#include "http/server.hpp"

namespace v2m::http {

/// Why the process cannot serve right now ("database unreachable"), or empty.
using ReadinessCheck = std::function<std::optional<std::string>()>;

/// `GET /healthz` (the process answers), `GET /readyz` (its dependencies
/// answer: 200, or 503 with the reason) and `GET /metrics` (Prometheus text).
void AddHealthRoutes(Server& server, obs::Metrics& metrics, ReadinessCheck ready);

}  // namespace v2m::http
