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

struct GatewayDeps {
    using VerifyFn = std::function<token::VerifyResult(std::string_view token)>;

    store::JobStore& jobs;
    blob::BlobStore& blobs;
    broker::Broker& broker;
    /// Checks a bearer token: `TokenVerifier::Verify` in `all`,
    /// `RemoteKeyVerifier::Verify` (auth's published keys) in `gateway`. A
    /// `VerifyError::kKeysUnavailable` refusal is answered 503
    /// `auth_unavailable`, any other 401. Called from many threads at once.
    VerifyFn verify;
    std::function<std::int64_t()> now_ms;
    std::string video_queue = "video";
    std::string openapi_yaml;  ///< served at /openapi.yaml
};

/// The public API of DESIGN.md §4 and docs/openapi.yaml (besides the auth
/// endpoints): the original's `POST /upload` and `GET /download?fid=`, and
/// `/v1/jobs` (create, list, get, delete, audio). Uploads stream into the
/// blob store (the server's `max_upload_bytes` is the limit); every read
/// checks ownership. `deps` must outlive the server.
void AddGatewayRoutes(http::Server& server, const GatewayDeps& deps);

/// docs/openapi.yaml, built into the binary.
const std::string& OpenApiYaml();

/// The job as the API shows it (DESIGN.md §4).
nlohmann::json JobJson(const domain::Job& job);

}  // namespace v2m::gateway
