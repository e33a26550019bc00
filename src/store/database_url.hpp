#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace v2m::store {

enum class Dialect { kSqlite, kPostgresql, kMysql };

/// A `V2M_DATABASE_URL` taken apart.
struct DatabaseUrl {
    Dialect dialect = Dialect::kSqlite;
    std::string soci_connect;  ///< SOCI's own connection string, back-end prefix included
    std::string redacted;      ///< the URL with any password replaced by "***", for logs
    std::string sqlite_path;   ///< the file, for SQLite
};

/// A URL that is not one of the accepted forms; `what()` says what is wrong
/// without repeating a password.
class DatabaseUrlError final : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// Parses `sqlite:///abs/path`, `sqlite://rel/path`,
/// `postgresql://user:pass@host:port/db` (also `postgres://`) and
/// `mysql://user:pass@host:port/db`. Throws `DatabaseUrlError`.
DatabaseUrl ParseDatabaseUrl(std::string_view url);

std::string_view DialectName(Dialect dialect);

}  // namespace v2m::store
