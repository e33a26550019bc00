#pragma once

#include <memory>

#include "store/database_url.hpp"
#include "store/store.hpp"

namespace v2m::store {

struct SociStoreSettings {
    std::string url;    ///< V2M_DATABASE_URL
    int pool_size = 4;  ///< connections held open
};

/// The relational store on SQLite, PostgreSQL or MySQL through SOCI: one SQL
/// text where the dialects agree, a switch only where they differ.
class SociStore final : public UserStore, public Database {
  public:
    /// Opens the pool. Throws `DatabaseUrlError` for a bad URL and
    /// `StoreUnavailable` when the database cannot be reached.
    explicit SociStore(const SociStoreSettings& settings);
    ~SociStore() override;
    SociStore(const SociStore&) = delete;
    SociStore& operator=(const SociStore&) = delete;

    Dialect dialect() const;
    /// The URL with any password hidden, for logs.
    const std::string& redacted_url() const;

    void Ping() override;
    int Migrate() override;

    void CreateUser(const User& user) override;
    std::optional<User> FindUserByEmail(std::string_view email) override;
    std::optional<User> FindUserById(std::string_view id) override;
    std::vector<User> ListUsers() override;
    bool SetPasswordHash(std::string_view id, std::string_view hash, std::int64_t now_ms) override;
    bool SetDisabled(std::string_view id, bool disabled, std::int64_t now_ms) override;

  private:
    /// One user by a unique column; `column` is one of ours, never input.
    std::optional<User> FindUserBy(const char* column, std::string_view value);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace v2m::store
