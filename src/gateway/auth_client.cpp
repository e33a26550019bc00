#include "gateway/auth_client.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <stdexcept>

#include "util/text.hpp"

namespace v2m::gateway {

namespace {

using util::EqualsIgnoreCase;

std::string Describe(httplib::Error error) {
    switch (error) {
        case httplib::Error::Connection:
            return "cannot connect";
        case httplib::Error::ConnectionTimeout:
            return "no connection within the timeout";
        case httplib::Error::Read:
            return "no answer within the timeout, or the connection broke";
        case httplib::Error::Write:
            return "the request could not be sent";
        default:
            return httplib::to_string(error);
    }
}

}  // namespace

std::string_view AuthAnswer::Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (EqualsIgnoreCase(k, name)) return v;
    }
    return {};
}

AuthClient::AuthClient(AuthClientSettings settings) : settings_(std::move(settings)) {
    static const std::regex kUrl(
        R"(^(https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?)(/[^?#]*)?$)");
    std::smatch m;
    if (!std::regex_match(settings_.url, m, kUrl)) {
        throw std::invalid_argument("the auth URL '" + settings_.url +
                                    "' is not http://host[:port][/path] (or https://)");
    }
    origin_ = m[1].str();
    base_path_ = m[4].str();
    while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
    if (settings_.timeout <= std::chrono::milliseconds(0))
        throw std::invalid_argument("the auth timeout must be positive");
    if (!httplib::Client(origin_).is_valid())
        throw std::invalid_argument("the auth URL '" + settings_.url + "' is not usable");
}

AuthAnswer AuthClient::Send(const AuthRequest& request) const {
    httplib::Client client(origin_);
    client.set_connection_timeout(settings_.timeout);
    client.set_read_timeout(settings_.timeout);
    client.set_write_timeout(settings_.timeout);
    client.set_keep_alive(false);
    client.set_follow_location(false);

    httplib::Request req;
    req.method = request.method;
    req.path = base_path_ + request.path;
    for (const auto& [name, value] : request.headers) req.headers.emplace(name, value);
    // Bytes as auth wrote them: no compression to undo.
    if (!req.has_header("Accept-Encoding")) req.headers.emplace("Accept-Encoding", "identity");
    req.body = request.body;
    std::string body;
    bool too_large = false;
    req.content_receiver = [&](const char* data, std::size_t length, std::uint64_t, std::uint64_t) {
        if (body.size() + length > settings_.max_answer_bytes) {
            too_large = true;
            return false;
        }
        body.append(data, length);
        return true;
    };
    const httplib::Result result = client.send(req);
    const auto where = [&] {
        return "auth at " + settings_.url + ", " + request.method + " " + request.path;
    };
    if (too_large) {
        throw AuthUnavailable(where() + ": the answer is larger than " +
                              std::to_string(settings_.max_answer_bytes) + " bytes");
    }
    if (!result) throw AuthUnavailable(where() + ": " + Describe(result.error()));
    AuthAnswer answer;
    answer.status = result->status;
    answer.body = std::move(body);
    answer.headers.assign(result->headers.begin(), result->headers.end());
    return answer;
}

std::string AuthClient::FetchJwks() const {
    AuthAnswer answer = Send({.method = "GET",
                              .path = "/.well-known/jwks.json",
                              .body = "",
                              .headers = {{"Accept", "application/jwk-set+json, application/json"}}});
    if (answer.status != 200) {
        throw AuthUnavailable("auth at " + settings_.url + " answered HTTP " + std::to_string(answer.status) +
                              " for its keys");
    }
    return std::move(answer.body);
}

}  // namespace v2m::gateway
