#include "store/soci_store.hpp"

// Debian's SOCI is configured with Boost support, which only adds header
// templates for Boost types we do not use; without it no Boost headers are
// needed (the library's ABI does not depend on it).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include "store/migrations.hpp"
#include "store/soci_impl.hpp"

namespace v2m::store {

namespace {

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Each dialect's way to make concurrent migrators take turns.
constexpr long long kMigrationLockKey = 0x76326d6d6967;  // "v2mmig"

constexpr const char* kUserColumns = "id, email, password_hash, role, disabled, created_at, updated_at";

User UserFromRow(const soci::row& r) {
    User u;
    u.id = r.get<std::string>(0);
    u.email = r.get<std::string>(1);
    u.password_hash = r.get<std::string>(2);
    u.role = ParseRole(r.get<std::string>(3)).value_or(Role::kUser);
    u.disabled = IntegerAt(r, 4) != 0;
    u.created_at_ms = IntegerAt(r, 5);
    u.updated_at_ms = IntegerAt(r, 6);
    return u;
}

}  // namespace

long long IntegerAt(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return 0;
    switch (r.get_properties(i).get_data_type()) {
        case soci::dt_integer:
            return r.get<int>(i);
        case soci::dt_long_long:
            return r.get<long long>(i);
        case soci::dt_unsigned_long_long:
            return static_cast<long long>(r.get<unsigned long long>(i));
        case soci::dt_double:
            return static_cast<long long>(r.get<double>(i));
        default:
            return std::stoll(r.get<std::string>(i));
    }
}

std::optional<double> DoubleAt(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return std::nullopt;
    switch (r.get_properties(i).get_data_type()) {
        case soci::dt_double:
            return r.get<double>(i);
        case soci::dt_string:
            return std::stod(r.get<std::string>(i));
        default:
            return static_cast<double>(IntegerAt(r, i));
    }
}

std::string TextAt(const soci::row& r, std::size_t i) {
    if (r.get_indicator(i) == soci::i_null) return {};
    return r.get<std::string>(i);
}

std::string_view RoleName(Role role) { return role == Role::kAdmin ? "admin" : "user"; }

std::optional<Role> ParseRole(std::string_view name) {
    if (name == "admin") return Role::kAdmin;
    if (name == "user") return Role::kUser;
    return std::nullopt;
}

SociStore::SociStore(const SociStoreSettings& settings)
    : impl_(std::make_unique<Impl>(ParseDatabaseUrl(settings.url),
                                   static_cast<std::size_t>(std::max(1, settings.pool_size)))) {
    impl_->OpenAll();
}

SociStore::~SociStore() = default;

Dialect SociStore::dialect() const { return impl_->url.dialect; }
const std::string& SociStore::redacted_url() const { return impl_->url.redacted; }

void SociStore::Ping() {
    impl_->With([](soci::session& sql) {
        int one = 0;
        sql << "SELECT 1", soci::into(one);
        return one;
    });
}

int SociStore::Migrate() {
    const Dialect dialect = impl_->url.dialect;
    const std::vector<Migration> migrations = MigrationsFor(dialect);
    return impl_->With([&](soci::session& sql) {
        // Take the lock first, then read what is applied: two processes
        // starting together apply each migration once.
        if (dialect == Dialect::kPostgresql) {
            sql << "SELECT pg_advisory_lock(" << kMigrationLockKey << ")";
        } else if (dialect == Dialect::kMysql) {
            int got = 0;
            sql << "SELECT GET_LOCK('video2mp3.migrate', 120)", soci::into(got);
            if (got != 1) throw std::runtime_error("timed out waiting for another process's migrations");
        } else {
            sql << "BEGIN IMMEDIATE";
        }
        int applied_now = 0;
        try {
            sql << "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER NOT NULL PRIMARY KEY,"
                   " name VARCHAR(255) NOT NULL,"
                   " applied_at BIGINT NOT NULL)";
            std::vector<int> applied;
            soci::rowset<int> rows = (sql.prepare << "SELECT version FROM schema_migrations");
            for (int v : rows) applied.push_back(v);
            for (const Migration& m : migrations) {
                if (std::find(applied.begin(), applied.end(), m.version) != applied.end()) continue;
                // SQLite runs all of it in the one IMMEDIATE transaction; the
                // others get a transaction per migration (MySQL commits DDL
                // at once anyway: its migrations are written to be re-runnable).
                std::optional<soci::transaction> tx;
                if (dialect != Dialect::kSqlite) tx.emplace(sql);
                for (const std::string& statement : m.statements) sql << statement;
                const long long now = NowMs();
                sql << "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)",
                    soci::use(m.version), soci::use(m.name), soci::use(now);
                if (tx) tx->commit();
                ++applied_now;
            }
        } catch (...) {
            try {
                if (dialect == Dialect::kSqlite) sql << "ROLLBACK";
                if (dialect == Dialect::kPostgresql)
                    sql << "SELECT pg_advisory_unlock(" << kMigrationLockKey << ")";
                if (dialect == Dialect::kMysql) sql << "SELECT RELEASE_LOCK('video2mp3.migrate')";
            } catch (const soci::soci_error&) {
                // The connection is gone: the server dropped the lock with it.
            }
            throw;
        }
        if (dialect == Dialect::kSqlite) sql << "COMMIT";
        if (dialect == Dialect::kPostgresql) sql << "SELECT pg_advisory_unlock(" << kMigrationLockKey << ")";
        if (dialect == Dialect::kMysql) sql << "SELECT RELEASE_LOCK('video2mp3.migrate')";
        return applied_now;
    });
}

void SociStore::CreateUser(const User& user) {
    impl_->With([&](soci::session& sql) {
        const std::string role(RoleName(user.role));
        const int disabled = user.disabled ? 1 : 0;
        const long long created = user.created_at_ms;
        const long long updated = user.updated_at_ms;
        try {
            sql << "INSERT INTO users (id, email, password_hash, role, disabled, created_at, updated_at)"
                   " VALUES (:id, :email, :hash, :role, :disabled, :created, :updated)",
                soci::use(user.id), soci::use(user.email), soci::use(user.password_hash), soci::use(role),
                soci::use(disabled), soci::use(created), soci::use(updated);
        } catch (const soci::soci_error&) {
            // The error category of a unique violation differs per back-end:
            // look for the row instead.
            if (!sql.is_connected()) throw;
            int count = 0;
            sql << "SELECT COUNT(*) FROM users WHERE email = :email", soci::use(user.email),
                soci::into(count);
            if (count > 0) throw DuplicateError("a user with this email already exists");
            throw;
        }
        return 0;
    });
}

std::optional<User> SociStore::FindUserBy(const char* column, std::string_view value) {
    const std::string key(value);
    return impl_->With([&](soci::session& sql) -> std::optional<User> {
        soci::row r;
        sql << "SELECT " << kUserColumns << " FROM users WHERE " << column << " = :key", soci::use(key),
            soci::into(r);
        if (!sql.got_data()) return std::nullopt;
        return UserFromRow(r);
    });
}

std::optional<User> SociStore::FindUserByEmail(std::string_view email) { return FindUserBy("email", email); }

std::optional<User> SociStore::FindUserById(std::string_view id) { return FindUserBy("id", id); }

std::vector<User> SociStore::ListUsers() {
    return impl_->With([&](soci::session& sql) {
        std::vector<User> users;
        soci::rowset<soci::row> rows =
            (sql.prepare << "SELECT " << kUserColumns << " FROM users ORDER BY created_at, email");
        for (const soci::row& r : rows) users.push_back(UserFromRow(r));
        return users;
    });
}

bool SociStore::SetPasswordHash(std::string_view id, std::string_view hash, std::int64_t now_ms) {
    const std::string key(id);
    const std::string value(hash);
    const long long now = now_ms;
    return impl_->With([&](soci::session& sql) {
        soci::statement st =
            (sql.prepare << "UPDATE users SET password_hash = :hash, updated_at = :now WHERE id = :id",
             soci::use(value), soci::use(now), soci::use(key));
        st.execute(true);
        return st.get_affected_rows() > 0;
    });
}

bool SociStore::SetDisabled(std::string_view id, bool disabled, std::int64_t now_ms) {
    const std::string key(id);
    const int flag = disabled ? 1 : 0;
    const long long now = now_ms;
    return impl_->With([&](soci::session& sql) {
        soci::statement st =
            (sql.prepare << "UPDATE users SET disabled = :flag, updated_at = :now WHERE id = :id",
             soci::use(flag), soci::use(now), soci::use(key));
        st.execute(true);
        return st.get_affected_rows() > 0;
    });
}

}  // namespace v2m::store
