#include "http/server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <regex>
#include <stdexcept>
#include <thread>

#include "domain/errors.hpp"
#include "obs/metrics.hpp"
#include "util/random_id.hpp"
#include "util/text.hpp"

namespace v2m::http {

namespace {

using util::EqualsIgnoreCase;

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
        case 416:
            return "the Range header cannot be used: send one range, bytes=first-last";
        case 431:
            return "the request headers are too large";
        default:
            return "HTTP " + std::to_string(status);
    }
}

domain::ClientError TooLarge(std::uint64_t limit) {
    return domain::ClientError(
        413, "too_large", "the request body is larger than the limit of " + std::to_string(limit) + " bytes");
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
    std::atomic<bool> serving{false};

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
        if (out.stream) {
            auto produce = out.stream->produce;
            res.set_content_provider(
                static_cast<std::size_t>(out.stream->length), out.content_type,
                [produce](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                    return produce(offset, length, [&sink](std::string_view data) {
                        return sink.write(data.data(), data.size());
                    });
                });
        } else if (out.chunked) {
            auto next = out.chunked->next;
            res.set_chunked_content_provider(out.content_type, [next](std::size_t, httplib::DataSink& sink) {
                const bool more = next([&sink](std::string_view data) {
                    return sink.is_writable() && sink.write(data.data(), data.size());
                });
                if (!more) sink.done();
                return true;
            });
        } else {
            res.set_content(out.body, out.content_type);
        }
    }

    // Calls the handler with the request in plain types.
    using Invoke = std::function<Response(Request&, const httplib::Request&, const httplib::ContentReader*)>;
    using Dispatch =
        std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader*)>;

    Dispatch Wrap(std::string method, std::string route, Invoke invoke) {
        auto& requests = metrics.http_requests();
        auto& duration =
            metrics.http_duration().Add({{"method", method}, {"route", route}}, obs::LatencyBuckets());
        return [method, route, invoke = std::move(invoke), &requests, &duration](
                   const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader* reader) {
            const auto start = std::chrono::steady_clock::now();
            // Ranges are ours to apply (see range.hpp): the library's own
            // handling answers bogus 206s for ranges past the end.
            const_cast<httplib::Request&>(req).ranges.clear();
            Request request = Convert(req);
            Response out;
            try {
                out = invoke(request, req, reader);
            } catch (const domain::ClientError& e) {
                out = ErrorResponse(e);
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
            if (out.chunked) {
                // cpp-httplib 0.11.4 compresses text/* bodies when the client
                // accepts gzip or br, and a compressor holds a chunked body back
                // until its buffer fills: Server-Sent Events would not arrive.
                const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
            }
            Apply(out, request.request_id, res);
            requests.Add({{"method", method}, {"route", route}, {"status", std::to_string(out.status)}})
                .Increment();
            duration.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        };
    }

    static Response ErrorResponse(const domain::ClientError& e) {
        Response out = Response::Error(e.status(), e.code(), e.what());
        if (e.retry_after_s() > 0) out.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s()));
        for (const auto& header : e.headers()) out.headers.push_back(header);
        return out;
    }

    void Register(std::string_view method, const std::string& pattern, const Dispatch& dispatch) {
        auto with_body = [dispatch](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& reader) { dispatch(req, res, &reader); };
        if (method == "GET") {
            server.Get(pattern, [dispatch](const httplib::Request& req, httplib::Response& res) {
                dispatch(req, res, nullptr);
            });
        } else if (method == "POST") {
            server.Post(pattern, with_body);
        } else if (method == "PUT") {
            server.Put(pattern, with_body);
        } else if (method == "DELETE") {
            server.Delete(pattern, with_body);
        } else {
            throw std::invalid_argument("unsupported method " + std::string(method));
        }
    }

    struct StreamingRoute {
        std::string method;
        std::regex pattern;
        Precheck precheck;
    };
    std::vector<StreamingRoute> streaming_routes;

    // Answers `Expect: 100-continue`: a refusal (401, 413, 400) goes out
    // before the client sends the body.
    int Expect100(const httplib::Request& req, httplib::Response& res) {
        std::optional<Response> refusal;
        const Request request = Convert(req);
        try {
            const std::string& declared = req.get_header_value("Content-Length");
            const std::uint64_t length = declared.empty() ? 0 : std::strtoull(declared.c_str(), nullptr, 10);
            bool streaming = false;
            for (const StreamingRoute& r : streaming_routes) {
                if (r.method != req.method || !std::regex_match(req.path, r.pattern)) continue;
                streaming = true;
                if (length > settings.max_upload_bytes) throw TooLarge(settings.max_upload_bytes);
                if (r.precheck) refusal = r.precheck(request);
                break;
            }
            if (!streaming && length > settings.max_body_bytes) throw TooLarge(settings.max_body_bytes);
        } catch (const domain::ClientError& e) {
            refusal = ErrorResponse(e);
        } catch (const std::exception& e) {
            spdlog::warn("request {} {} {}: {}", request.request_id, req.method, req.path, e.what());
            refusal =
                Response::Error(503, "unavailable", "a service this needs is unavailable; try again shortly");
        }
        if (!refusal) return 100;
        Apply(*refusal, request.request_id, res);
        return refusal->status;
    }
};

namespace {

// The request body through httplib's content reader, counted against the
// limit. It is always read to its end, even when the handler stops caring
// (refused, too large, a second file): cpp-httplib 0.11.4 keeps the
// connection open whatever the response says, and unread body bytes would be
// parsed as the next request on it.
class HttplibBodyReader final : public BodyReader {
  public:
    HttplibBodyReader(const httplib::Request& req, const httplib::ContentReader& reader, std::uint64_t limit)
        : req_(req), reader_(reader), limit_(limit) {}

    bool IsMultipart() const override {
        // Decided as the library decides it (case-sensitively), so that both agree.
        return req_.get_header_value("Content-Type").rfind("multipart/form-data", 0) == 0;
    }

    std::optional<std::uint64_t> DeclaredLength() const override {
        const std::string& declared = req_.get_header_value("Content-Length");
        if (declared.empty()) return std::nullopt;
        return std::strtoull(declared.c_str(), nullptr, 10);
    }

    bool Read(const std::function<bool(std::string_view)>& sink) override {
        Begin();
        if (!HasBody()) return true;
        const bool ok = reader_([&](const char* data, std::size_t length) {
            Deliver(length, [&] { return sink({data, length}); });
            return true;
        });
        return Finish(ok);
    }

    bool ReadParts(const std::function<bool(const FormPart&)>& on_part,
                   const std::function<bool(std::string_view)>& sink) override {
        Begin();
        if (!HasBody()) return true;
        const bool ok = reader_(
            [&](const httplib::MultipartFormData& part) {
                if (!stopped_ && !on_part(FormPart{part.name, part.filename, part.content_type}))
                    stopped_ = true;
                return true;
            },
            [&](const char* data, std::size_t length) {
                Deliver(length, [&] { return sink({data, length}); });
                return true;
            });
        return Finish(ok);
    }

    /// Reads and drops what nobody read (the handler answered without the body).
    void Drain() {
        if (started_ || !HasBody()) return;
        started_ = true;
        reader_([](const char*, std::size_t) { return true; });
    }

  private:
    bool HasBody() const {
        return req_.has_header("Content-Length") ||
               req_.get_header_value("Transfer-Encoding").find("chunked") != std::string::npos;
    }
    void Begin() {
        if (started_) throw std::logic_error("a request body can be read once");
        started_ = true;
        // Declared too large: nothing is handed on, the body is only drained.
        if (DeclaredLength().value_or(0) > limit_) too_large_ = stopped_ = true;
    }
    template <typename Fn>
    void Deliver(std::size_t length, Fn&& deliver) {
        received_ += length;
        if (received_ > limit_) {
            too_large_ = true;
            stopped_ = true;
        }
        if (!stopped_ && !deliver()) stopped_ = true;
    }
    bool Finish(bool ok) const {
        if (too_large_ || (DeclaredLength().value_or(0) > limit_)) throw TooLarge(limit_);
        return ok && !stopped_;
    }

    const httplib::Request& req_;
    const httplib::ContentReader& reader_;
    std::uint64_t limit_;
    std::uint64_t received_ = 0;
    bool started_ = false;
    bool stopped_ = false;
    bool too_large_ = false;
};

// Drains the body on every way out of a handler, the exceptional ones too.
class DrainOnExit final {
  public:
    explicit DrainOnExit(HttplibBodyReader& body) : body_(body) {}
    ~DrainOnExit() {
        try {
            body_.Drain();
        } catch (const std::exception& e) {
            spdlog::debug("draining a request body failed: {}", e.what());
        }
    }
    DrainOnExit(const DrainOnExit&) = delete;
    DrainOnExit& operator=(const DrainOnExit&) = delete;

  private:
    HttplibBodyReader& body_;
};

}  // namespace

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
    // The library refuses bodies over this by itself; each route then checks
    // its own, smaller limit.
    s.set_payload_max_length(static_cast<std::size_t>(
        std::max<std::uint64_t>(impl_->settings.max_body_bytes, impl_->settings.max_upload_bytes)));
    s.set_expect_100_continue_handler(
        [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
            return impl->Expect100(req, res);
        });
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
    const std::size_t limit = impl_->settings.max_body_bytes;
    auto invoke = [handler = std::move(handler), limit](Request& request, const httplib::Request& req,
                                                        const httplib::ContentReader* reader) {
        if (reader) {
            HttplibBodyReader body(req, *reader, limit);
            const DrainOnExit drain(body);
            const bool complete = body.Read([&](std::string_view data) {
                request.body.append(data);
                return true;
            });
            if (!complete)
                throw domain::ClientError(400, "bad_request", "the request body could not be read");
        }
        return handler(request);
    };
    impl_->Register(method, pattern, impl_->Wrap(std::string(method), pattern, std::move(invoke)));
}

void Server::RouteStreaming(std::string_view method, const std::string& pattern, Precheck precheck,
                            StreamingHandler handler) {
    const std::uint64_t limit = impl_->settings.max_upload_bytes;
    impl_->streaming_routes.push_back({std::string(method), std::regex(pattern), precheck});
    auto invoke = [precheck = std::move(precheck), handler = std::move(handler), limit](
                      Request& request, const httplib::Request& req, const httplib::ContentReader* reader) {
        if (!reader) throw std::logic_error("a streaming route needs a method with a body");
        HttplibBodyReader body(req, *reader, limit);
        const DrainOnExit drain(body);
        if (precheck) {
            if (auto refusal = precheck(request)) return *refusal;
        }
        return handler(request, body);
    };
    impl_->Register(method, pattern, impl_->Wrap(std::string(method), pattern, std::move(invoke)));
}

void Server::Bind() {
    auto& s = impl_->server;
    // Registered last, so they only see what no route took: the body is
    // drained in pieces (never held: the library would read it whole into
    // memory for an unmatched path) and the answer is the JSON 404.
    const auto unknown = [](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader& reader) {
        HttplibBodyReader body(req, reader, std::numeric_limits<std::uint64_t>::max());
        body.Drain();
        res.status = 404;
    };
    s.Post(".*", unknown);
    s.Put(".*", unknown);
    s.Patch(".*", unknown);
    s.Delete(".*", unknown);
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
    // From here on Serve is expected: Stop waits for it to be running.
    impl_->serving = true;
}

int Server::port() const { return impl_->port; }

void Server::Serve() {
    impl_->server.listen_after_bind();
    impl_->serving = false;
}

void Server::Stop() {
    if (!impl_) return;
    // A stop that comes between Serve's start and the library's running flag
    // would be lost (stop() does nothing until then) and Serve never return.
    for (int i = 0; i < 500 && impl_->serving && !impl_->server.is_running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (impl_->server.is_running()) impl_->server.stop();
    impl_->serving = false;
}

}  // namespace v2m::http
