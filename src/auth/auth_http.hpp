#pragma once

#include <chrono>

#include "auth/login_throttle.hpp"
#include "auth/user_service.hpp"
#include "http/server.hpp"
#include "token/jwk_set.hpp"
#include "token/token_issuer.hpp"
#include "token/token_verifier.hpp"

namespace v2m::obs {
class Metrics;
}

namespace v2m::auth {

struct AuthHttpDeps {
    UserService& users;
    LoginThrottle& throttle;
    const token::TokenIssuer& issuer;
    const token::TokenVerifier& verifier;
    const token::JwkSet& jwks;
    obs::Metrics& metrics;
    bool open_registration = false;
    std::chrono::seconds token_ttl{3600};
    /// Whose X-Forwarded-For names the client that sign-in throttling counts
    /// (the gateway's); nobody's by default.
    TrustedProxies trusted_proxies;
};

/// The auth role's endpoints: `POST /login` (Basic → the JWT as text, the
/// original's contract), `POST /v1/auth/token` (JSON), `POST /validate`
/// (Bearer → the claims), `GET /.well-known/jwks.json`, `POST /v1/users`.
/// Failed sign-ins count against the client's address: the TCP peer's, or
/// when that is a trusted proxy, the one its X-Forwarded-For names (see
/// `TrustedProxies::ClientAddress`). `deps` must outlive the server.
/// Returns the `POST /v1/auth/token` handler itself, for the gateway's
/// browser sign-in (`POST /v1/session`) in `all`.
http::Handler AddAuthRoutes(http::Server& server, const AuthHttpDeps& deps);

/// The token from an `Authorization: Bearer …` header, or empty.
std::string_view BearerToken(std::string_view authorization);

}  // namespace v2m::auth
