#include "auth/user_service.hpp"

#include <string>
#include <utility>

#include "domain/account.hpp"
#include "domain/errors.hpp"
#include "util/random_id.hpp"

namespace v2m::auth {

using domain::ClientError;

UserService::UserService(store::UserStore& users, const PasswordHasher& hasher, Clock now_ms)
    : users_(users), hasher_(hasher), now_ms_(std::move(now_ms)) {}

store::User UserService::Register(std::string_view email, std::string_view password, store::Role role) {
    const auto normalised = domain::NormaliseEmail(email);
    if (!normalised) throw ClientError(400, "invalid_email", "that is not a valid email address");
    if (auto problem = domain::PasswordProblem(password, *normalised)) {
        throw ClientError(400, "weak_password", *problem);
    }
    store::User user;
    user.id = util::RandomId();
    user.email = *normalised;
    user.password_hash = hasher_.Hash(password);
    user.role = role;
    user.created_at_ms = user.updated_at_ms = now_ms_();
    try {
        users_.CreateUser(user);
    } catch (const store::DuplicateError&) {
        throw ClientError(409, "email_taken", "an account with this email already exists");
    }
    return user;
}

std::optional<store::User> UserService::Authenticate(std::string_view email, std::string_view password) {
    const auto normalised = domain::NormaliseEmail(email);
    std::optional<store::User> user;
    if (normalised && password.size() <= domain::kMaxPasswordLength)
        user = users_.FindUserByEmail(*normalised);
    if (!user) {
        hasher_.VerifyDummy(password.substr(0, domain::kMaxPasswordLength));
        return std::nullopt;
    }
    if (!hasher_.Verify(user->password_hash, password) || user->disabled) return std::nullopt;
    if (hasher_.NeedsRehash(user->password_hash)) {
        user->password_hash = hasher_.Hash(password);
        users_.SetPasswordHash(user->id, user->password_hash, now_ms_());
    }
    return user;
}

store::User UserService::Find(std::string_view email) {
    const auto normalised = domain::NormaliseEmail(email);
    std::optional<store::User> user;
    if (normalised) user = users_.FindUserByEmail(*normalised);
    if (!user) throw ClientError(404, "not_found", "no user " + std::string(email));
    return *user;
}

void UserService::SetPassword(std::string_view email, std::string_view password) {
    const store::User user = Find(email);
    if (auto problem = domain::PasswordProblem(password, user.email)) {
        throw ClientError(400, "weak_password", *problem);
    }
    users_.SetPasswordHash(user.id, hasher_.Hash(password), now_ms_());
}

void UserService::SetDisabled(std::string_view email, bool disabled) {
    const store::User user = Find(email);
    users_.SetDisabled(user.id, disabled, now_ms_());
}

std::vector<store::User> UserService::List() { return users_.ListUsers(); }

}  // namespace v2m::auth
