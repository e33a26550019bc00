#include "auth/password_hasher.hpp"

#include <gtest/gtest.h>

namespace v2m::auth {
namespace {

// Small parameters keep the tests fast; the algorithm is the same.
PasswordSettings Cheap() {
    return {.ops_limit = 1, .mem_limit = std::size_t{64} * 1024, .max_concurrent = 2};
}

TEST(PasswordHasher, HashesWithArgon2idAndVerifies) {
    PasswordHasher hasher(Cheap());
    const std::string hash = hasher.Hash("correct horse battery");
    EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
    EXPECT_TRUE(hasher.Verify(hash, "correct horse battery"));
    EXPECT_FALSE(hasher.Verify(hash, "correct horse batterY"));
    EXPECT_FALSE(hasher.Verify(hash, ""));
    // Salted: the same password hashes differently each time.
    EXPECT_NE(hasher.Hash("correct horse battery"), hash);
}

TEST(PasswordHasher, MalformedHashesNeverVerify) {
    PasswordHasher hasher(Cheap());
    EXPECT_FALSE(hasher.Verify("", "x"));
    EXPECT_FALSE(hasher.Verify("$argon2id$garbage", "x"));
    EXPECT_FALSE(hasher.Verify(std::string(500, 'a'), "x"));
}

TEST(PasswordHasher, NeedsRehashWhenParametersChange) {
    PasswordHasher cheap(Cheap());
    PasswordHasher costlier({.ops_limit = 2, .mem_limit = std::size_t{128} * 1024, .max_concurrent = 1});
    const std::string hash = cheap.Hash("a long enough password");
    EXPECT_FALSE(cheap.NeedsRehash(hash));
    EXPECT_TRUE(costlier.NeedsRehash(hash));
    // The old hash still verifies under the new settings (login, then rehash).
    EXPECT_TRUE(costlier.Verify(hash, "a long enough password"));
}

TEST(PasswordHasher, RejectsImpossibleParameters) {
    EXPECT_THROW(PasswordHasher({.ops_limit = 0, .mem_limit = std::size_t{64} * 1024}),
                 std::invalid_argument);
    EXPECT_THROW(PasswordHasher({.ops_limit = 1, .mem_limit = 16}), std::invalid_argument);
    EXPECT_THROW(PasswordHasher({.ops_limit = 1, .mem_limit = std::size_t{64} * 1024, .max_concurrent = 0}),
                 std::invalid_argument);
}

}  // namespace
}  // namespace v2m::auth
