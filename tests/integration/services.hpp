#pragma once

// Helpers for tests that talk to real servers: the databases scripts/testenv
// started, free ports, and HTTP through the curl command line tool.
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace v2m::test {

/// What scripts/testenv wrote to $V2M_TESTENV/env ("export NAME=value"
/// lines); empty when V2M_TESTENV is unset.
std::map<std::string, std::string> TestEnv();

/// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

struct HttpResult {
    int status = 0;  ///< 0 when curl got no answer
    std::string body;
    std::string headers;  ///< the raw response headers
    nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
    /// The value of the last header of that name (case-insensitive), or empty.
    std::string Header(const std::string& name) const;
};

/// One request with the curl command line tool (`-sS -m 30` and `args`).
HttpResult Curl(std::vector<std::string> args);

/// A database of its own for a test, on the backend named ("sqlite",
/// "postgres" or "mysql"; the servers come from scripts/testenv).
class Database {
  public:
    explicit Database(const std::string& backend);
    const std::string& url() const { return url_; }
    /// A SQL query's single value, through the database's own client.
    std::string Query(const std::string& sql) const;

  private:
    static inline int counter_ = 0;
    std::string backend_;
    TempDir dir_;
    std::string url_;
    std::string host_;
    std::string port_;
};

}  // namespace v2m::test
