#include "http/server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

#include "domain/errors.hpp"
#include "obs/metrics.hpp"
#include "util/random_id.hpp"

namespace v2m::http {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

// A client's request id is kept when it is short and plain; otherwise ours.
std::string RequestId(const httplib::Request& req) {
    const std::string& given = req.get_header_value("X-Request-Id");
    const bool plain =
        !given.empty() && given.size() <= 64 && std::all_of(given.begin(), given.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    return plain ? given : util::RandomId().substr(0, 16);
}

std::string_view CodeForStatus(int status) {
    switch (status) {
        case 400:
            return "bad_request";
        case 401:
            return "unauthorized";
        case 403:
            return "forbidden";
        case 404:
            return "not_found";
        case 405:
            return "method_not_allowed";
        case 408:
            return "timeout";
        case 413:
            return "too_large";
        case 414:
            return "uri_too_long";
        case 416:
            return "range_not_satisfiable";
        case 431:
            return "headers_too_large";
        case 503:
            return "unavailable";
        default:
            return status >= 500 ? "internal" : "error";
    }
}

std::string MessageForStatus(int status) {
    switch (status) {
        case 400:
            return "the request is malformed";
        case 404:
            return "no such resource";
        case 405:
            return "method not allowed here";
        case 408:
            return "the request took too long to arrive";
        case 413:
            return "the request body is too large";
        case 414:
            return "the URI is too long";
        case 431:
            return "the request headers are too large";
        default:
            return "HTTP " + std::to_string(status);
    }
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (EqualsIgnoreCase(k, name)) return v;
    }
    return {};
}

std::optional<std::string> Request::Query(std::string_view name) const {
    for (const auto& [k, v] : query) {
        if (k == name) return v;
    }
    return std::nullopt;
}

Response Response::Json(int status, const nlohmann::json& body) {
    Response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

Response Response::Text(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = "text/plain; charset=utf-8";
    return r;
}

Response Response::Error(int status, std::string_view code, std::string_view message) {
    return Json(status, {{"error", {{"code", code}, {"message", message}}}});
}

std::pair<std::string, int> ParseListenAddress(std::string_view text) {
    std::string_view host = "127.0.0.1";
    std::string_view port = text;
    if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.empty()) host = "0.0.0.0";
        if (host.size() > 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
    }
    int value = -1;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || ptr != port.data() + port.size() || value < 0 || value > 65535) {
        throw std::invalid_argument("not a listen address (host:port): '" + std::string(text) + "'");
    }
    return {std::string(host), value};
}

struct Server::Impl {
    ServerSettings settings;
    obs::Metrics& metrics;
    httplib::Server server;
    int port = 0;

    Impl(ServerSettings s, obs::Metrics& m) : settings(std::move(s)), metrics(m) {}

    static Request Convert(const httplib::Request& req) {
        Request r;
        r.method = req.method;
        r.path = req.path;
        r.body = req.body;
        r.remote_addr = req.remote_addr;
        r.request_id = RequestId(req);
        r.headers.assign(req.headers.begin(), req.headers.end());
        r.query.assign(req.params.begin(), req.params.end());
        for (std::size_t i = 1; i < req.matches.size(); ++i) r.path_params.push_back(req.matches[i].str());
        return r;
    }

    static void Apply(const Response& out, const std::string& request_id, httplib::Response& res) {
        res.status = out.status;
        bool cache_control = false;
        for (const auto& [k, v] : out.headers) {
            res.set_header(k, v);
            cache_control = cache_control || EqualsIgnoreCase(k, "Cache-Control");
        }
        res.set_header("X-Request-Id", request_id);
        // API answers are per user: nothing may cache them unless a handler says so.
        if (!cache_control) res.set_header("Cache-Control", "no-store");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_content(out.body, out.content_type);
    }

    // Requests with a body are read through the content reader: httplib
    // 0.11.4 otherwise waits for a body that a request without
    // Content-Length does not have (curl -X POST -u …), until the read timeout.
    using ReadBody = std::function<std::string(const httplib::Request&)>;

    std::function<void(const httplib::Request&, httplib::Response&, const ReadBody&)> Wrap(std::string method,
                                                                                           std::string route,
                                                                                           Handler handler) {
        auto& requests = metrics.http_requests();
        auto& duration =
            metrics.http_duration().Add({{"method", method}, {"route", route}}, obs::LatencyBuckets());
        return [method, route, handler = std::move(handler), &requests, &duration](
                   const httplib::Request& req, httplib::Response& res, const ReadBody& read) {
            const auto start = std::chrono::steady_clock::now();
            Request request = Convert(req);
            Response out;
            try {
                if (read) request.body = read(req);
                out = handler(request);
            } catch (const domain::ClientError& e) {
                out = Response::Error(e.status(), e.code(), e.what());
                if (e.retry_after_s() > 0)
                    out.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s()));
            } catch (const domain::Unavailable& e) {
                spdlog::warn("request {} {} {}: {}", request.request_id, method, request.path, e.what());
                out = Response::Error(503, "unavailable",
                                      "a service this needs is unavailable; try again shortly");
                out.headers.emplace_back("Retry-After", "5");
            } catch (const std::exception& e) {
                spdlog::error("request {} {} {} failed: {}", request.request_id, method, request.path,
                              e.what());
                out = Response::Error(500, "internal",
                                      "internal error (request id " + request.request_id + ")");
            }
            Apply(out, request.request_id, res);
            requests.Add({{"method", method}, {"route", route}, {"status", std::to_string(out.status)}})
                .Increment();
            duration.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        };
    }
};

Server::Server(ServerSettings settings, obs::Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(settings), metrics)) {
    auto& s = impl_->server;
    const int threads = std::max(1, impl_->settings.threads);
    s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    // Without TCP_NODELAY every response waits ~40 ms for a delayed ACK.
    s.set_tcp_nodelay(true);
    s.set_keep_alive_max_count(1000);
    s.set_keep_alive_timeout(impl_->settings.keep_alive_s);
    s.set_read_timeout(impl_->settings.read_timeout_s, 0);
    s.set_write_timeout(impl_->settings.write_timeout_s, 0);
    s.set_payload_max_length(impl_->settings.max_body_bytes);
    // Whatever the library answers by itself (no route, too large, bad
    // syntax) still gets the JSON error shape.
    s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string message = MessageForStatus(res.status);
        res.set_content(
            nlohmann::json{{"error", {{"code", CodeForStatus(res.status)}, {"message", message}}}}.dump(),
            "application/json");
    });
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res, const std::exception_ptr&) {
        res.status = 500;
        res.set_content(R"({"error":{"code":"internal","message":"internal error"}})", "application/json");
    });
}

Server::~Server() { Stop(); }

void Server::Route(std::string_view method, const std::string& pattern, Handler handler) {
    auto wrapped = impl_->Wrap(std::string(method), pattern, std::move(handler));
    auto& s = impl_->server;
    if (method == "GET") {
        s.Get(pattern,
              [wrapped](const httplib::Request& req, httplib::Response& res) { wrapped(req, res, nullptr); });
        return;
    }
    const std::size_t limit = impl_->settings.max_body_bytes;
    auto with_body = [wrapped, limit](const httplib::Request& req, httplib::Response& res,
                                      const httplib::ContentReader& reader) {
        wrapped(req, res, [&](const httplib::Request& r) {
            std::string body;
            if (!r.has_header("Content-Length") &&
                r.get_header_value("Transfer-Encoding").find("chunked") == std::string::npos) {
                return body;  // RFC 9112 §6.3: no length, no chunking: no body
            }
            bool too_large = false;
            const bool complete = reader([&](const char* data, std::size_t length) {
                if (body.size() + length > limit) {
                    too_large = true;
                    return false;
                }
                body.append(data, length);
                return true;
            });
            // The library refuses a declared length over the limit before
            // calling back at all.
            const std::string& declared = r.get_header_value("Content-Length");
            if (too_large || (!declared.empty() && std::strtoull(declared.c_str(), nullptr, 10) > limit)) {
                throw domain::ClientError(
                    413, "too_large", "the request body is larger than " + std::to_string(limit) + " bytes");
            }
            if (!complete)
                throw domain::ClientError(400, "bad_request", "the request body could not be read");
            return body;
        });
    };
    if (method == "POST") {
        s.Post(pattern, with_body);
    } else if (method == "PUT") {
        s.Put(pattern, with_body);
    } else if (method == "DELETE") {
        s.Delete(pattern, with_body);
    } else {
        throw std::invalid_argument("unsupported method " + std::string(method));
    }
}

void Server::Bind() {
    auto& s = impl_->server;
    const auto& st = impl_->settings;
    if (st.port == 0) {
        impl_->port = s.bind_to_any_port(st.host);
        if (impl_->port <= 0) throw std::runtime_error("cannot listen on " + st.host + ": no free port");
    } else {
        if (!s.bind_to_port(st.host, st.port)) {
            throw std::runtime_error("cannot listen on " + st.host + ":" + std::to_string(st.port) +
                                     " (in use, or not an address of this machine)");
        }
        impl_->port = st.port;
    }
}

int Server::port() const { return impl_->port; }

void Server::Serve() { impl_->server.listen_after_bind(); }

void Server::Stop() {
    if (impl_ && impl_->server.is_running()) impl_->server.stop();
}

}  // namespace v2m::http
