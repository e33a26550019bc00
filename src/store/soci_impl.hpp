#pragma once

// The SOCI session pool shared by the store's translation units (private to
// src/store/).

// Debian's SOCI is configured with Boost support, which only adds header
// templates for Boost types we do not use; without it no Boost headers are
// needed (the library's ABI does not depend on it).
#include <soci/soci-config.h>
#undef SOCI_HAVE_BOOST
#undef SOCI_HAVE_BOOST_DATE_TIME
#include <soci/soci.h>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "store/soci_store.hpp"

namespace v2m::store {

/// An integer column, whichever C++ type the back-end hands it as (int, long
/// long or double, depending on the database and the declared type); 0 for NULL.
long long IntegerAt(const soci::row& r, std::size_t i);
/// A floating-point column; empty for NULL.
std::optional<double> DoubleAt(const soci::row& r, std::size_t i);
/// A text column; empty for NULL.
std::string TextAt(const soci::row& r, std::size_t i);

/// A write transaction. SQLite's is `BEGIN IMMEDIATE`: a deferred one that
/// reads first fails at once (SQLITE_BUSY, no busy wait) when another
/// connection wrote in between.
class WriteTransaction final {
  public:
    WriteTransaction(soci::session& sql, Dialect dialect) : sql_(sql) {
        sql_ << (dialect == Dialect::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN");
    }
    ~WriteTransaction() {
        if (done_) return;
        try {
            sql_ << "ROLLBACK";
        } catch (const soci::soci_error&) {
            // The connection is gone, and the transaction with it.
        }
    }
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    void Commit() {
        sql_ << "COMMIT";
        done_ = true;
    }

  private:
    soci::session& sql_;
    bool done_ = false;
};

struct SociStore::Impl {
    DatabaseUrl url;
    soci::connection_pool pool;
    std::size_t size;

    Impl(DatabaseUrl u, std::size_t n) : url(std::move(u)), pool(n), size(n) {}

    void Prepare(soci::session& sql) const {
        if (url.dialect == Dialect::kSqlite) {
            // WAL lets readers and one writer work at once; the busy timeout
            // (the URL's timeout) makes writers wait for each other.
            sql << "PRAGMA journal_mode=WAL";
            sql << "PRAGMA synchronous=NORMAL";
            sql << "PRAGMA foreign_keys=ON";
        }
    }

    void OpenAll() {
        for (std::size_t i = 0; i < size; ++i) {
            try {
                pool.at(i).open(url.soci_connect);
                Prepare(pool.at(i));
            } catch (const soci::soci_error& e) {
                throw StoreUnavailable("cannot connect to " + url.redacted + ": " + e.get_error_message());
            }
        }
    }

    // Runs `fn` on a pooled session. A connection that broke (the server
    // restarted) is reopened and `fn` tried once more; a database that stays
    // away is `StoreUnavailable`.
    // Borrows a pooled session itself (SOCI's pool proxy session does not
    // forward is_connected() in 4.0.3: it crashes).
    class Lease {
      public:
        explicit Lease(soci::connection_pool& pool) : pool_(pool), position_(pool.lease()) {}
        ~Lease() { pool_.give_back(position_); }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        soci::session& session() { return pool_.at(position_); }

      private:
        soci::connection_pool& pool_;
        std::size_t position_;
    };

    // Runs the conditional UPDATE `make` prepares in a write transaction;
    // when it changed the row, `then` writes its rows and it commits. False,
    // and nothing written, when the condition did not hold.
    template <typename Make, typename Then>
    bool UpdateThen(Make make, Then then) {
        return With([&](soci::session& sql) {
            WriteTransaction tx(sql, url.dialect);
            soci::statement st = make(sql);
            st.execute(true);
            if (st.get_affected_rows() != 1) return false;
            then(sql);
            tx.Commit();
            return true;
        });
    }

    template <typename Fn>
    auto With(Fn&& fn) -> decltype(fn(std::declval<soci::session&>())) {
        Lease lease(pool);
        soci::session& sql = lease.session();
        for (int attempt = 0;; ++attempt) {
            try {
                if (!sql.is_connected()) {
                    sql.reconnect();
                    Prepare(sql);
                }
                return fn(sql);
            } catch (const soci::soci_error& e) {
                if (sql.is_connected()) throw;
                if (attempt >= 1) {
                    throw StoreUnavailable("database unavailable (" + url.redacted +
                                           "): " + e.get_error_message());
                }
            }
        }
    }
};

}  // namespace v2m::store
