#include "auth/user_service.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "domain/errors.hpp"

namespace v2m::auth {
namespace {

// An in-memory UserStore: the logic under test, not the database.
class FakeUserStore final : public store::UserStore {
  public:
    void CreateUser(const store::User& user) override {
        for (const auto& [id, u] : users_) {
            if (u.email == user.email) throw store::DuplicateError("dup");
        }
        users_[user.id] = user;
    }
    std::optional<store::User> FindUserByEmail(std::string_view email) override {
        ++lookups;
        for (const auto& [id, u] : users_) {
            if (u.email == email) return u;
        }
        return std::nullopt;
    }
    std::optional<store::User> FindUserById(std::string_view id) override {
        auto it = users_.find(std::string(id));
        if (it == users_.end()) return std::nullopt;
        return it->second;
    }
    std::vector<store::User> ListUsers() override {
        std::vector<store::User> out;
        for (const auto& [id, u] : users_) out.push_back(u);
        return out;
    }
    bool SetPasswordHash(std::string_view id, std::string_view hash, std::int64_t) override {
        auto it = users_.find(std::string(id));
        if (it == users_.end()) return false;
        it->second.password_hash = hash;
        ++hash_updates;
        return true;
    }
    bool SetDisabled(std::string_view id, bool disabled, std::int64_t) override {
        auto it = users_.find(std::string(id));
        if (it == users_.end()) return false;
        it->second.disabled = disabled;
        return true;
    }
    int lookups = 0;
    int hash_updates = 0;

  private:
    std::map<std::string, store::User> users_;
};

PasswordSettings Cheap() {
    return {.ops_limit = 1, .mem_limit = std::size_t{64} * 1024, .max_concurrent = 1};
}

int ErrorStatus(const std::function<void()>& fn, std::string* code = nullptr) {
    try {
        fn();
    } catch (const domain::ClientError& e) {
        if (code) *code = e.code();
        return e.status();
    }
    return 0;
}

TEST(UserService, RegisterNormalisesAndRejectsDuplicates) {
    FakeUserStore store;
    PasswordHasher hasher(Cheap());
    UserService users(store, hasher, [] { return 1000; });
    const auto user = users.Register("  Alice@Example.com", "correct horse battery", store::Role::kUser);
    EXPECT_EQ(user.email, "alice@example.com");
    EXPECT_EQ(user.id.size(), 32u);
    EXPECT_EQ(user.created_at_ms, 1000);
    std::string code;
    EXPECT_EQ(
        ErrorStatus([&] { users.Register("ALICE@example.com", "another good password", store::Role::kUser); },
                    &code),
        409);
    EXPECT_EQ(code, "email_taken");
    EXPECT_EQ(
        ErrorStatus([&] { users.Register("not an email", "correct horse battery", store::Role::kUser); },
                    &code),
        400);
    EXPECT_EQ(code, "invalid_email");
    EXPECT_EQ(ErrorStatus([&] { users.Register("bob@example.com", "short", store::Role::kUser); }, &code),
              400);
    EXPECT_EQ(code, "weak_password");
}

TEST(UserService, AuthenticateOnlyWithTheRightPasswordOfAnEnabledAccount) {
    FakeUserStore store;
    PasswordHasher hasher(Cheap());
    UserService users(store, hasher, [] { return 1000; });
    users.Register("alice@example.com", "correct horse battery", store::Role::kAdmin);
    auto ok = users.Authenticate("ALICE@example.com", "correct horse battery");
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->role, store::Role::kAdmin);
    EXPECT_FALSE(users.Authenticate("alice@example.com", "wrong horse battery").has_value());
    EXPECT_FALSE(users.Authenticate("nobody@example.com", "correct horse battery").has_value());
    EXPECT_FALSE(users.Authenticate("not an email", "x").has_value());
    users.SetDisabled("alice@example.com", true);
    EXPECT_FALSE(users.Authenticate("alice@example.com", "correct horse battery").has_value());
    users.SetDisabled("alice@example.com", false);
    EXPECT_TRUE(users.Authenticate("alice@example.com", "correct horse battery").has_value());
}

TEST(UserService, RehashesOnLoginWhenParametersChange) {
    FakeUserStore store;
    PasswordHasher old_hasher(Cheap());
    UserService before(store, old_hasher, [] { return 1; });
    before.Register("alice@example.com", "correct horse battery", store::Role::kUser);
    PasswordHasher new_hasher({.ops_limit = 2, .mem_limit = std::size_t{128} * 1024, .max_concurrent = 1});
    UserService after(store, new_hasher, [] { return 2; });
    ASSERT_TRUE(after.Authenticate("alice@example.com", "correct horse battery").has_value());
    EXPECT_EQ(store.hash_updates, 1);
    EXPECT_FALSE(new_hasher.NeedsRehash(store.FindUserByEmail("alice@example.com")->password_hash));
    ASSERT_TRUE(after.Authenticate("alice@example.com", "correct horse battery").has_value());
    EXPECT_EQ(store.hash_updates, 1);
}

TEST(UserService, AdministrationOfUnknownUsersIs404) {
    FakeUserStore store;
    PasswordHasher hasher(Cheap());
    UserService users(store, hasher, [] { return 1; });
    EXPECT_EQ(ErrorStatus([&] { users.SetPassword("ghost@example.com", "correct horse battery"); }), 404);
    EXPECT_EQ(ErrorStatus([&] { users.SetDisabled("ghost@example.com", true); }), 404);
    users.Register("alice@example.com", "correct horse battery", store::Role::kUser);
    EXPECT_EQ(ErrorStatus([&] { users.SetPassword("alice@example.com", "alice@example.com"); }), 400);
    users.SetPassword("alice@example.com", "a brand new password");
    EXPECT_TRUE(users.Authenticate("alice@example.com", "a brand new password").has_value());
    EXPECT_EQ(users.List().size(), 1u);
}

}  // namespace
}  // namespace v2m::auth
