#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace v2m::obs {
class Metrics;
}

namespace v2m::http {

/// An HTTP request, parsed into plain types at the edge (the handlers never
/// see the HTTP library).
struct Request {
    std::string method;
    std::string path;
    std::string body;
    std::string remote_addr;
    std::string request_id;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::string> path_params;  ///< the pattern's capture groups, in order

    /// The first header of that name (case-insensitive), or empty.
    std::string_view Header(std::string_view name) const;
    std::optional<std::string> Query(std::string_view name) const;
};

/// Writes part of a streamed body; false when the client has gone.
using WriteFn = std::function<bool(std::string_view)>;

/// A body produced piece by piece (a blob), never held whole.
struct BodyStream {
    std::uint64_t length = 0;  ///< exactly this many bytes are produced
    /// Writes the body's bytes from `offset` on, at least one and at most
    /// `length` (the rest of what is wanted); false to abort (the client
    /// went away, or the source failed or ended early). Called repeatedly
    /// on the connection's thread until all are written.
    std::function<bool(std::uint64_t offset, std::uint64_t length, const WriteFn& write)> produce;
};

/// A body of unknown length sent in chunks as it is produced (Server-Sent
/// Events): `next` is called repeatedly on the connection's thread; it writes
/// zero or more pieces (it may wait a while first) and returns false to end
/// the body. A failed write means the client has gone: return false then.
struct ChunkedStream {
    std::function<bool(const WriteFn& write)> next;
};

struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
    /// When set, the body comes from here instead of `body`.
    std::optional<BodyStream> stream;
    /// When set (and `stream` is not), the body is sent in chunks from here.
    std::optional<ChunkedStream> chunked;

    static Response Json(int status, const nlohmann::json& body);
    static Response Text(int status, std::string body);
    /// `{"error": {"code", "message"}}`, the one error shape of the API.
    static Response Error(int status, std::string_view code, std::string_view message);
};

using Handler = std::function<Response(const Request&)>;

/// One part of a multipart/form-data body.
struct FormPart {
    std::string name;      ///< the field name
    std::string filename;  ///< empty for a plain field
    std::string content_type;
};

/// A request body read as it arrives (uploads), in bounded memory.
class BodyReader {
  public:
    virtual ~BodyReader() = default;
    /// True when the body is multipart/form-data (read it with `ReadParts`).
    virtual bool IsMultipart() const = 0;
    /// Hands the raw body to `sink` piece by piece; after a false from
    /// `sink` the rest is read and dropped (never left on the connection).
    /// Returns false when the body did not arrive whole or `sink` stopped.
    /// Throws a 413 `ClientError` past the limit. Call once.
    virtual bool Read(const std::function<bool(std::string_view)>& sink) = 0;
    /// Hands each part's start to `on_part` and its bytes to `sink`; after a
    /// false from either the rest is read and dropped. Returns false when the
    /// body did not arrive whole, is not valid multipart, or a callback
    /// stopped. Throws a 413 `ClientError` past the limit. Call once.
    virtual bool ReadParts(const std::function<bool(const FormPart&)>& on_part,
                           const std::function<bool(std::string_view)>& sink) = 0;
    /// Bytes the client declared (Content-Length), when it did.
    virtual std::optional<std::uint64_t> DeclaredLength() const = 0;
};

/// Handles a request whose body it streams itself.
using StreamingHandler = std::function<Response(const Request&, BodyReader&)>;
/// Looks at a request before its body: a response to refuse it (sent
/// instead of `100 Continue` when the client asked for one), or empty.
using Precheck = std::function<std::optional<Response>(const Request&)>;

struct ServerSettings {
    std::string host = "127.0.0.1";
    int port = 8080;                       ///< 0: any free port (see `Server::port`)
    int threads = 32;                      ///< connections served at once
    std::size_t max_body_bytes = 1 << 20;  ///< larger bodies get 413
    std::uint64_t max_upload_bytes = 0;    ///< the limit of streamed bodies (`RouteStreaming`)
    int read_timeout_s = 30;
    int write_timeout_s = 30;
    int keep_alive_s = 5;
};

/// A thread-pooled HTTP server with one error policy: a handler's
/// `domain::ClientError` becomes its status and JSON body, a
/// `domain::Unavailable` a 503, anything else a logged 500 with the request
/// id. Every request is counted and timed in `metrics`.
class Server final {
  public:
    Server(ServerSettings settings, obs::Metrics& metrics);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Registers a handler for `method` and a regex `pattern` over the path.
    /// Call before `Bind`.
    void Route(std::string_view method, const std::string& pattern, Handler handler);
    /// Registers a handler that streams the request body itself; `precheck`
    /// runs first (before `100 Continue`). A body the handler leaves unread
    /// is drained before the answer. Call before `Bind`.
    void RouteStreaming(std::string_view method, const std::string& pattern, Precheck precheck,
                        StreamingHandler handler);
    /// Binds the listening socket; throws `std::runtime_error` when it cannot.
    void Bind();
    /// The bound port (after `Bind`).
    int port() const;
    /// Serves until `Stop`. Blocks.
    void Serve();
    /// Stops serving; safe from any thread.
    void Stop();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Splits "host:port" (":8080" and "8080" mean all interfaces / loopback as
/// written); throws `std::invalid_argument` for anything else.
std::pair<std::string, int> ParseListenAddress(std::string_view text);

}  // namespace v2m::http
