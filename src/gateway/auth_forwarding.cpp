#include "gateway/auth_forwarding.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "util/text.hpp"

namespace v2m::gateway {

namespace {

using util::EqualsIgnoreCase;

using http::Request;
using http::Response;

constexpr std::string_view kRequestHeaders[] = {"Authorization", "Content-Type", "Accept"};
constexpr std::string_view kAnswerHeaders[] = {"Retry-After", "WWW-Authenticate", "Location"};
// Enough for any real chain of proxies; a client's padding is cut from the left.
constexpr std::size_t kMaxForwardedFor = 1024;
constexpr const char* kRetryAfterSeconds = "5";

// What the client (or a proxy before us) said, then who we saw.
std::string ForwardedFor(const Request& req) {
    std::string chain;
    for (const auto& [name, value] : req.headers) {
        if (!EqualsIgnoreCase(name, "X-Forwarded-For")) continue;
        if (!chain.empty()) chain += ", ";
        chain += value;
    }
    if (chain.size() > kMaxForwardedFor) {
        // Only the right end can matter to auth: what trusted hops appended.
        const auto comma = chain.find(',', chain.size() - kMaxForwardedFor);
        chain = comma == std::string::npos ? std::string() : chain.substr(comma + 1);
        while (!chain.empty() && chain.front() == ' ') chain.erase(0, 1);
    }
    if (!chain.empty()) chain += ", ";
    return chain + req.remote_addr;
}

}  // namespace

Response ForwardToAuth(const AuthClient& auth, const Request& req, std::string_view path) {
    AuthRequest call{.method = req.method, .path = std::string(path), .body = req.body, .headers = {}};
    for (const std::string_view name : kRequestHeaders) {
        if (const std::string_view value = req.Header(name); !value.empty())
            call.headers.emplace_back(name, value);
    }
    call.headers.emplace_back("X-Forwarded-For", ForwardedFor(req));
    call.headers.emplace_back("X-Request-Id", req.request_id);
    AuthAnswer answer;
    try {
        answer = auth.Send(call);
    } catch (const AuthUnavailable& e) {
        spdlog::warn("request {} {} {}: {}", req.request_id, req.method, req.path, e.what());
        Response r =
            Response::Error(503, "auth_unavailable", "the sign-in service is unavailable; try again shortly");
        r.headers.emplace_back("Retry-After", kRetryAfterSeconds);
        return r;
    }
    Response r;
    r.status = answer.status;
    r.body = std::move(answer.body);
    const std::string_view type = answer.Header("Content-Type");
    r.content_type = type.empty() ? "application/octet-stream" : std::string(type);
    for (const std::string_view name : kAnswerHeaders) {
        if (const std::string_view value = answer.Header(name); !value.empty())
            r.headers.emplace_back(name, value);
    }
    return r;
}

void AddAuthForwarding(http::Server& server, const AuthClient& auth) {
    for (const char* path : {"/login", "/v1/auth/token", "/v1/users"}) {
        server.Route("POST", path,
                     [&auth](const Request& req) { return ForwardToAuth(auth, req, req.path); });
    }
}

}  // namespace v2m::gateway
