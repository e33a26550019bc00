#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/errors.hpp"

namespace v2m::gateway {

struct AuthClientSettings {
    /// V2M_AUTH_URL: http://host[:port][/base-path] (or https://).
    std::string url = "http://127.0.0.1:8081";
    /// V2M_AUTH_TIMEOUT: the longest wait to connect, and for each read or
    /// write on the connection.
    std::chrono::milliseconds timeout{10'000};
    /// A larger answer counts as auth failing.
    std::size_t max_answer_bytes = std::size_t{1} << 20;
};

/// A request to auth.
struct AuthRequest {
    std::string method;  ///< "GET", "POST"
    std::string path;    ///< "/login": appended to the URL's base path
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

/// auth's answer, whatever its status.
struct AuthAnswer {
    int status = 0;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;

    /// The first header of that name (case-insensitive), or empty.
    std::string_view Header(std::string_view name) const;
};

/// auth could not be asked: unreachable, no answer within the timeout, an
/// answer cut off or over the size limit. A 503 (`domain::Unavailable`).
class AuthUnavailable : public domain::Unavailable {
  public:
    using domain::Unavailable::Unavailable;
};

/// The gateway's HTTP client of the auth service (DESIGN.md §1: sign-in is
/// forwarded there, its JWKS fetched from there). Thread-safe: every call
/// opens its own connection, so a slow call never holds up another.
class AuthClient final {
  public:
    /// Throws `std::invalid_argument` when the URL is not
    /// http(s)://host[:port][/path] or the timeout is not positive.
    explicit AuthClient(AuthClientSettings settings);

    /// Sends `request` (with `Accept-Encoding: identity`; the library adds
    /// `Host` and `Content-Length`) and returns the answer, whatever its
    /// status. Blocks for at most the timeout per step (connecting, each read,
    /// each write). Throws `AuthUnavailable` when there is no whole answer.
    AuthAnswer Send(const AuthRequest& request) const;

    /// The text of auth's `GET /.well-known/jwks.json` (not parsed here).
    /// Throws `AuthUnavailable` as `Send` does, and for a status other than 200.
    std::string FetchJwks() const;

    /// The URL as configured, for logs.
    const std::string& url() const { return settings_.url; }

  private:
    AuthClientSettings settings_;
    std::string origin_;     ///< scheme://host[:port]
    std::string base_path_;  ///< "" or "/prefix", without a trailing slash
};

}  // namespace v2m::gateway
