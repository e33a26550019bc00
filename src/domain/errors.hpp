#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace v2m::domain {

/// A client's mistake: carries the HTTP status and a stable snake_case code;
/// `what()` is a sentence fit to show the client. The HTTP layer turns it
/// into `{"error": {"code", "message"}}`; the CLI prints the message.
class ClientError : public std::runtime_error {
  public:
    ClientError(int status, std::string code, const std::string& message)
        : std::runtime_error(message), status_(status), code_(std::move(code)) {}
    int status() const { return status_; }
    const std::string& code() const { return code_; }
    /// For 429 and 503: when to try again, in seconds (0: not said).
    long retry_after_s() const { return retry_after_s_; }
    ClientError& WithRetryAfter(long seconds) {
        retry_after_s_ = seconds;
        return *this;
    }
    /// A header the answer must carry (e.g. `WWW-Authenticate` on a 401).
    ClientError& WithHeader(std::string name, std::string value) {
        headers_.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

  private:
    int status_;
    std::string code_;
    long retry_after_s_ = 0;
    std::vector<std::pair<std::string, std::string>> headers_;
};

/// Something the service depends on (the database, the broker) is down: 503,
/// try again later. The adapters' own "unavailable" errors derive from it.
class Unavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

}  // namespace v2m::domain
