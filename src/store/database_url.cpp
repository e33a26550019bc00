#include "store/database_url.hpp"

#include <charconv>

namespace v2m::store {

namespace {

std::string PercentDecode(std::string_view in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '%' && i + 2 < in.size()) {
            int value = 0;
            auto [ptr, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
            if (ec == std::errc() && ptr == in.data() + i + 3) {
                out += static_cast<char>(value);
                i += 2;
                continue;
            }
        }
        out += in[i];
    }
    return out;
}

// SOCI's key=value syntax: quote values, escaping quotes and backslashes.
std::string Quote(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    out += '\'';
    return out;
}

struct Authority {
    std::string user, password, host, port, database;
    bool has_password = false;
};

Authority ParseServerUrl(std::string_view rest, std::string_view scheme) {
    Authority a;
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos || slash + 1 >= rest.size()) {
        throw DatabaseUrlError(std::string(scheme) + " URL needs a database name: " + std::string(scheme) +
                               "://user:pass@host:port/db");
    }
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = rest.substr(slash + 1);
    if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
    a.database = PercentDecode(path);
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
            a.password = PercentDecode(userinfo.substr(colon + 1));
            a.has_password = true;
            userinfo = userinfo.substr(0, colon);
        }
        a.user = PercentDecode(userinfo);
    }
    if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        a.port = std::string(authority.substr(colon + 1));
        authority = authority.substr(0, colon);
        int port = 0;
        auto [ptr, ec] = std::from_chars(a.port.data(), a.port.data() + a.port.size(), port);
        if (ec != std::errc() || ptr != a.port.data() + a.port.size() || port <= 0 || port > 65535) {
            throw DatabaseUrlError(std::string(scheme) + " URL has a bad port: '" + a.port + "'");
        }
    }
    a.host = std::string(authority);
    if (a.host.empty()) throw DatabaseUrlError(std::string(scheme) + " URL needs a host");
    return a;
}

std::string Redact(std::string_view scheme, const Authority& a) {
    std::string out = std::string(scheme) + "://";
    if (!a.user.empty() || a.has_password) out += a.user + (a.has_password ? ":***" : "") + "@";
    out += a.host;
    if (!a.port.empty()) out += ":" + a.port;
    return out + "/" + a.database;
}

}  // namespace

std::string_view DialectName(Dialect dialect) {
    switch (dialect) {
        case Dialect::kSqlite:
            return "sqlite";
        case Dialect::kPostgresql:
            return "postgresql";
        case Dialect::kMysql:
            return "mysql";
    }
    return "unknown";
}

DatabaseUrl ParseDatabaseUrl(std::string_view url) {
    DatabaseUrl out;
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        throw DatabaseUrlError("database URL must start with sqlite://, postgresql:// or mysql://");
    }
    const std::string_view scheme = url.substr(0, sep);
    const std::string_view rest = url.substr(sep + 3);
    if (scheme == "sqlite" || scheme == "sqlite3") {
        if (rest.empty())
            throw DatabaseUrlError("sqlite URL needs a file: sqlite:///abs/path or sqlite://rel/path");
        out.dialect = Dialect::kSqlite;
        out.sqlite_path = std::string(rest);
        // timeout: seconds SQLite waits for a lock held by another connection.
        const bool plain = out.sqlite_path.find_first_of(" '\\\"") == std::string::npos;
        out.soci_connect =
            "sqlite3://db=" + (plain ? out.sqlite_path : Quote(out.sqlite_path)) + " timeout=10";
        out.redacted = "sqlite://" + out.sqlite_path;
        return out;
    }
    if (scheme == "postgresql" || scheme == "postgres") {
        const Authority a = ParseServerUrl(rest, "postgresql");
        out.dialect = Dialect::kPostgresql;
        out.soci_connect =
            "postgresql://host=" + Quote(a.host) + " dbname=" + Quote(a.database) +
            " connect_timeout=5 application_name=video2mp3 options='-c client_min_messages=warning'";
        if (!a.port.empty()) out.soci_connect += " port=" + a.port;
        if (!a.user.empty()) out.soci_connect += " user=" + Quote(a.user);
        if (a.has_password) out.soci_connect += " password=" + Quote(a.password);
        out.redacted = Redact("postgresql", a);
        return out;
    }
    if (scheme == "mysql" || scheme == "mariadb") {
        const Authority a = ParseServerUrl(rest, "mysql");
        out.dialect = Dialect::kMysql;
        out.soci_connect = "mysql://host=" + Quote(a.host) + " db=" + Quote(a.database) +
                           " charset=utf8mb4 connect_timeout=5 read_timeout=30 write_timeout=30";
        if (!a.port.empty()) out.soci_connect += " port=" + a.port;
        if (!a.user.empty()) out.soci_connect += " user=" + Quote(a.user);
        if (a.has_password) out.soci_connect += " password=" + Quote(a.password);
        out.redacted = Redact("mysql", a);
        return out;
    }
    throw DatabaseUrlError("unsupported database URL scheme '" + std::string(scheme) +
                           "' (use sqlite://, postgresql:// or mysql://)");
}

}  // namespace v2m::store
