#pragma once

// Helpers for tests that talk to real servers: the databases scripts/testenv
// started, free ports, the binary's own long-running roles, and HTTP through
// the curl command line tool.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "testing/free_port.hpp"  // FreePort(), for the tests and ServiceProcess

namespace v2m::test {

/// What scripts/testenv wrote to $V2M_TESTENV/env ("export NAME=value"
/// lines); empty when V2M_TESTENV is unset.
std::map<std::string, std::string> TestEnv();

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

/// A long-running role of the binary under test (`video2mp3 auth`, `video2mp3
/// all`, …) as a child process listening on 127.0.0.1. Its standard output
/// and error go to a log file of its own (a pipe nobody reads would fill up
/// and block it); failure messages quote that log.
class ServiceProcess final {
  public:
    /// Starts `video2mp3 <role>` with V2M_LISTEN and V2M_ADMIN_LISTEN =
    /// 127.0.0.1:<port> (a FreePort()
    /// when `port` is 0) plus `env` ("NAME=value", later entries win), then
    /// waits for GET /readyz to answer 200. Throws std::runtime_error (with the
    /// log) when the process exits first or is not ready within 30 s.
    ServiceProcess(std::string role, const std::vector<std::string>& env, int port = 0);
    /// Unless Stop() or Kill() ended it already: SIGTERM, and a test failure
    /// unless it exits with status 0 within 30 s.
    ~ServiceProcess();
    ServiceProcess(const ServiceProcess&) = delete;
    ServiceProcess& operator=(const ServiceProcess&) = delete;

    int port() const { return port_; }
    pid_t pid() const;
    /// "http://127.0.0.1:<port><path>".
    std::string Url(const std::string& path) const;
    /// Polls GET /readyz until it answers 200; a failure (with the log) when the
    /// process exits or `limit` passes first.
    ::testing::AssertionResult WaitReady(std::chrono::milliseconds limit = std::chrono::seconds(30));
    /// True while the process runs (reaps it once it has ended).
    bool Alive();
    /// SIGTERM, then waits up to `limit` for the end; SIGKILL after that (the
    /// result then says `timed_out`). `err` holds the log.
    ProcessResult Stop(std::chrono::milliseconds limit = std::chrono::seconds(30));
    /// SIGKILL and reap. `err` holds the log.
    ProcessResult Kill();
    /// What the process has printed so far.
    std::string Log() const;

  private:
    ProcessResult Finish(int signal, std::chrono::milliseconds limit);

    std::string role_;
    int port_ = 0;
    TempDir log_dir_;
    std::unique_ptr<Process> process_;
    bool finished_ = false;
};

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
