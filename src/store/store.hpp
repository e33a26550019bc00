#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "domain/errors.hpp"

namespace v2m::store {

/// The database cannot be reached right now: answer 503, try again later.
class StoreUnavailable final : public domain::Unavailable {
  public:
    using domain::Unavailable::Unavailable;
};

/// A row with the same unique key already exists.
class DuplicateError final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

enum class Role { kUser, kAdmin };

std::string_view RoleName(Role role);
std::optional<Role> ParseRole(std::string_view name);

struct User {
    std::string id;             ///< 128-bit random, 32 hex digits
    std::string email;          ///< normalised (see `NormaliseEmail`)
    std::string password_hash;  ///< libsodium's Argon2id string
    Role role = Role::kUser;
    bool disabled = false;
    std::int64_t created_at_ms = 0;  ///< Unix time in milliseconds
    std::int64_t updated_at_ms = 0;
};

/// Users, on whichever database the URL named. Every method is thread-safe,
/// blocks on the database, and throws `StoreUnavailable` when it cannot be
/// reached (other failures: `std::runtime_error`).
class UserStore {
  public:
    virtual ~UserStore() = default;
    /// Throws `DuplicateError` when the email is taken.
    virtual void CreateUser(const User& user) = 0;
    virtual std::optional<User> FindUserByEmail(std::string_view email) = 0;
    virtual std::optional<User> FindUserById(std::string_view id) = 0;
    /// Every user, oldest first.
    virtual std::vector<User> ListUsers() = 0;
    /// False when no such user exists.
    virtual bool SetPasswordHash(std::string_view id, std::string_view hash, std::int64_t now_ms) = 0;
    virtual bool SetDisabled(std::string_view id, bool disabled, std::int64_t now_ms) = 0;
};

/// The database itself: reachability for `/readyz`, and the schema.
class Database {
  public:
    virtual ~Database() = default;
    /// Throws `StoreUnavailable` when the database does not answer.
    virtual void Ping() = 0;
    /// Applies the migrations not yet applied, under a lock so that several
    /// processes starting at once apply each exactly once. Returns how many
    /// it applied.
    virtual int Migrate() = 0;
};

}  // namespace v2m::store
