#include "services.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace v2m::test {

using namespace std::chrono_literals;

std::string HttpResult::Header(const std::string& name) const {
    std::string value;
    std::istringstream in(headers);
    std::string line;
    auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        return s;
    };
    const std::string wanted = lower(name) + ":";
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (lower(line.substr(0, wanted.size())) == wanted) {
            value = line.substr(wanted.size());
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        }
    }
    return value;
}

// What scripts/testenv wrote: "export NAME=value" lines.
std::map<std::string, std::string> TestEnv() {
    std::map<std::string, std::string> env;
    const char* dir = std::getenv("V2M_TESTENV");
    if (!dir) return env;
    std::ifstream in(std::string(dir) + "/env");
    std::string line;
    const std::regex pattern(R"(^export ([A-Z0-9_]+)=['"]?([^'"]*)['"]?$)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, pattern)) env[m[1]] = m[2];
    }
    return env;
}

// One request with the curl command line tool.
HttpResult Curl(std::vector<std::string> args) {
    TempDir dir;
    std::vector<std::string> argv = {"curl",          "-sS", "-m",         "30", "-D",
                                     dir / "headers", "-o",  dir / "body", "-w", "%{http_code}"};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = test::Run(argv, {.timeout = 40s});
    HttpResult out;
    out.status = static_cast<int>(std::strtol(r.out.c_str(), nullptr, 10));
    out.body = std::filesystem::exists(dir / "body") ? ReadFile(dir / "body") : "";
    out.headers = std::filesystem::exists(dir / "headers") ? ReadFile(dir / "headers") : "";
    return out;
}

ServiceProcess::ServiceProcess(std::string role, const std::vector<std::string>& env, int port)
    : role_(std::move(role)), port_(port != 0 ? port : FreePort()) {
    // The shell only redirects, then becomes the binary: the pid is the service's.
    std::vector<std::string> argv = {"sh", "-c", R"(log=$1; shift; exec "$@" >>"$log" 2>&1)", "sh",
                                     log_dir_ / (role_ + ".log"), "env",
                                     "V2M_LISTEN=127.0.0.1:" + std::to_string(port_),
                                     // the workers' health and metrics
                                     "V2M_ADMIN_LISTEN=127.0.0.1:" + std::to_string(port_)};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(Binary());
    argv.push_back(role_);
    // The deadline only matters to Wait(), which Finish() calls once the process is ending.
    process_ = std::make_unique<Process>(argv, RunOptions{.timeout = std::chrono::hours(24)});
    if (const ::testing::AssertionResult ready = WaitReady(); !ready) {
        Kill();
        throw std::runtime_error(ready.message());
    }
}

ServiceProcess::~ServiceProcess() {
    if (finished_) return;
    const ProcessResult r = Stop();
    EXPECT_TRUE(r.exit_code == 0 && !r.timed_out)
        << role_ << " did not stop cleanly on SIGTERM: " << r.Describe();
}

pid_t ServiceProcess::pid() const { return process_->pid(); }

std::string ServiceProcess::Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

::testing::AssertionResult ServiceProcess::WaitReady(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (!Alive()) {
            return ::testing::AssertionFailure()
                   << role_ << " exited: " << process_->Wait().Describe() << "\nits log:\n"
                   << Log();
        }
        if (Curl({"-m", "2", Url("/readyz")}).status == 200) return ::testing::AssertionSuccess();
        std::this_thread::sleep_for(100ms);
    }
    return ::testing::AssertionFailure()
           << role_ << " not ready within " << limit.count() << " ms; its log:\n"
           << Log();
}

bool ServiceProcess::Alive() { return !finished_ && !process_->HasExited(); }

ProcessResult ServiceProcess::Stop(std::chrono::milliseconds limit) { return Finish(SIGTERM, limit); }

ProcessResult ServiceProcess::Kill() { return Finish(SIGKILL, 10s); }

ProcessResult ServiceProcess::Finish(int signal, std::chrono::milliseconds limit) {
    finished_ = true;
    if (!process_->HasExited()) ::kill(process_->pid(), signal);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!process_->HasExited() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    const bool timed_out = !process_->HasExited();
    if (timed_out) ::kill(process_->pid(), SIGKILL);
    ProcessResult r = process_->Wait();
    r.timed_out = r.timed_out || timed_out;
    r.err = Log();
    return r;
}

std::string ServiceProcess::Log() const {
    const std::string path = log_dir_ / (role_ + ".log");
    return std::filesystem::exists(path) ? ReadFile(path) : "";
}

Database::Database(const std::string& backend) : backend_(backend) {
    const auto env = TestEnv();
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(counter_++);
    if (backend == "sqlite") {
        url_ = "sqlite://" + (dir_ / "video2mp3.db");
        return;
    }
    const std::string key = backend == "postgres" ? "V2M_TEST_POSTGRES_URL" : "V2M_TEST_MYSQL_URL";
    const auto it = env.find(key);
    if (it == env.end())
        throw std::runtime_error(key + " not set: is scripts/testenv running (V2M_TESTENV)?");
    std::smatch m;
    const std::string base = it->second;
    if (!std::regex_match(base, m, std::regex(R"(^(\w+)://([^@]*)@([^:/]+):(\d+)/.*$)"))) {
        throw std::runtime_error("unexpected test URL " + base);
    }
    host_ = m[3];
    port_ = m[4];
    ProcessResult r;
    if (backend == "postgres") {
        r = test::Run({"psql", "-h", host_, "-p", port_, "-U", "postgres", "-d", "v2m", "-v",
                       "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE " + name});
    } else {
        r = test::Run({"mariadb", "--no-defaults", "-h" + host_, "-P" + port_, "-uroot", "-e",
                       "CREATE DATABASE " + name});
    }
    if (r.exit_code != 0) throw std::runtime_error("cannot create the test database: " + r.Describe());
    url_ = std::string(m[1]) + "://" + std::string(m[2]) + "@" + host_ + ":" + port_ + "/" + name;
}

std::string Database::Query(const std::string& sql) const {
    ProcessResult r;
    if (backend_ == "sqlite") {
        r = test::Run({"sqlite3", url_.substr(9), sql});
    } else if (backend_ == "postgres") {
        r = test::Run({"psql", "-h", host_, "-p", port_, "-U", "postgres", "-d",
                       url_.substr(url_.rfind('/') + 1), "-tAc", sql});
    } else {
        r = test::Run({"mariadb", "--no-defaults", "-h" + host_, "-P" + port_, "-uroot", "-N", "-B",
                       url_.substr(url_.rfind('/') + 1), "-e", sql});
    }
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
}

}  // namespace v2m::test
