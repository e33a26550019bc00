#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "auth/password_hasher.hpp"
#include "store/store.hpp"

namespace v2m::auth {

/// Accounts: registration, sign-in, administration. Knows nothing of HTTP;
/// the `auth` role and the `user` commands both use it. Thread-safe.
class UserService final {
  public:
    using Clock = std::function<std::int64_t()>;  ///< Unix milliseconds

    UserService(store::UserStore& users, const PasswordHasher& hasher, Clock now_ms);

    /// Creates an account. Throws `domain::ClientError`: 400 `invalid_email`,
    /// 400 `weak_password`, 409 `email_taken`.
    store::User Register(std::string_view email, std::string_view password, store::Role role);

    /// The user when email and password match an enabled account; otherwise
    /// empty, after the same work whatever the reason (unknown email, wrong
    /// password, disabled). Rehashes the password when the Argon2 parameters
    /// have changed.
    std::optional<store::User> Authenticate(std::string_view email, std::string_view password);

    /// Throws `domain::ClientError`: 404 `not_found`, 400 `weak_password`.
    void SetPassword(std::string_view email, std::string_view password);
    /// Throws `domain::ClientError` 404 `not_found`.
    void SetDisabled(std::string_view email, bool disabled);
    std::vector<store::User> List();

  private:
    store::User Find(std::string_view email);

    store::UserStore& users_;
    const PasswordHasher& hasher_;
    Clock now_ms_;
};

}  // namespace v2m::auth
