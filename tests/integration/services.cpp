#include "services.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

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

int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
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
