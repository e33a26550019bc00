#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "blob/blob_store.hpp"
#include "broker/broker.hpp"
#include "http/server.hpp"
#include "store/job_store.hpp"
#include "token/token_verifier.hpp"

namespace v2m::gateway {

class EventStreams;

struct GatewayDeps {
    using VerifyFn = std::function<token::VerifyResult(std::string_view token)>;
    using IssueTokenFn = std::function<http::Response(const http::Request&)>;

    store::JobStore& jobs;
    blob::BlobStore& blobs;
    broker::Broker& broker;
    /// Checks a bearer token: `TokenVerifier::Verify` in `all`,
    /// `RemoteKeyVerifier::Verify` (auth's published keys) in `gateway`. A
    /// `VerifyError::kKeysUnavailable` refusal is answered 503
    /// `auth_unavailable`, any other 401. Called from many threads at once.
    VerifyFn verify;
    /// auth's `POST /v1/auth/token` for the browser's sign-in (`POST
    /// /v1/session`, same JSON body): its handler in `all`, forwarded to auth
    /// in `gateway`. Its answer goes back to the browser unless it is a 200.
    IssueTokenFn issue_token;
    /// `GET /v1/events`; none: 404.
    EventStreams* events = nullptr;
    std::function<std::int64_t()> now_ms;
    std::string video_queue = "video";
    std::string openapi_yaml;  ///< served at /openapi.yaml
};

/// The public API of DESIGN.md §4 and docs/openapi.yaml (besides the auth
/// endpoints): the original's `POST /upload` and `GET /download?fid=`,
/// `/v1/jobs` (create, list, get, delete, audio), the browser's session
/// (`/v1/session`) and live job events (`/v1/events`), and the web app of
/// `web/` at `/`. Callers sign in with a bearer token or the session cookie
/// (then state-changing requests need `X-CSRF-Token`). Uploads stream into
/// the blob store (the server's `max_upload_bytes` is the limit); every read
/// checks ownership. `deps` must outlive the server.
void AddGatewayRoutes(http::Server& server, const GatewayDeps& deps);

/// docs/openapi.yaml, built into the binary.
const std::string& OpenApiYaml();

/// The job as the API shows it (DESIGN.md §4).
nlohmann::json JobJson(const domain::Job& job);

}  // namespace v2m::gateway
