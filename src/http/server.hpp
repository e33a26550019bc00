#pragma once

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

struct Response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;

    static Response Json(int status, const nlohmann::json& body);
    static Response Text(int status, std::string body);
    /// `{"error": {"code", "message"}}`, the one error shape of the API.
    static Response Error(int status, std::string_view code, std::string_view message);
};

using Handler = std::function<Response(const Request&)>;

struct ServerSettings {
    std::string host = "127.0.0.1";
    int port = 8080;                       ///< 0: any free port (see `Server::port`)
    int threads = 32;                      ///< connections served at once
    std::size_t max_body_bytes = 1 << 20;  ///< larger bodies get 413
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
