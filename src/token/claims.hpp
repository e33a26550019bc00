#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

namespace v2m::token {

/// What a token lets its holder do; the `role` claim.
enum class Role { kUser, kAdmin };

/// "user" or "admin".
std::string_view ToString(Role role);

/// What a token says about its holder.
struct Claims {
    std::string subject;   ///< `sub`: the user id
    std::string username;  ///< `username`: the user's email
    bool admin = false;    ///< `admin`; always equal to `role == Role::kAdmin`
    Role role = Role::kUser;
    /// `iat` and `exp`: filled in by `TokenVerifier`, ignored by `TokenIssuer`
    /// (which takes them from its clock and lifetime). `issued_at` stays the
    /// epoch when a verified token has no `iat`.
    std::chrono::system_clock::time_point issued_at{};
    std::chrono::system_clock::time_point expires_at{};

    friend bool operator==(const Claims&, const Claims&) = default;
};

/// The current time; injected so that tests need not sleep. Must be safe to
/// call from several threads at once when the verifier using it is shared.
using Clock = std::function<std::chrono::system_clock::time_point()>;

/// `std::chrono::system_clock::now`.
Clock SystemClock();

}  // namespace v2m::token
