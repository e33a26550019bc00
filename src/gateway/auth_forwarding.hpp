#pragma once

#include "gateway/auth_client.hpp"
#include "http/server.hpp"

namespace v2m::gateway {

/// The auth endpoints of the public API, forwarded to auth (DESIGN.md §4):
/// `POST /login` (Basic; the body may be empty, even without a
/// Content-Length), `POST /v1/auth/token` and `POST /v1/users`. auth gets the
/// same method, path and body (bounded by the server's `max_body_bytes`:
/// larger is 413 before auth is asked), the client's `Authorization`,
/// `Content-Type` and `Accept`, our request id, and `X-Forwarded-For` with the
/// client's address appended to what the client sent (auth believes it only
/// from a trusted proxy, and then takes the rightmost address it does not
/// trust). The client gets auth's status, body, `Content-Type`,
/// `Retry-After`, `WWW-Authenticate` and `Location`. When auth cannot be
/// asked (down, too slow, a broken answer): 503 `auth_unavailable` with
/// `Retry-After`, never a 500 and never longer than the client's timeout
/// allows. `auth` must outlive the server.
void AddAuthForwarding(http::Server& server, const AuthClient& auth);

/// `req` forwarded to auth's `path` as `AddAuthForwarding` does (the
/// gateway's `POST /v1/session` asks auth's `/v1/auth/token` this way).
http::Response ForwardToAuth(const AuthClient& auth, const http::Request& req, std::string_view path);

}  // namespace v2m::gateway
