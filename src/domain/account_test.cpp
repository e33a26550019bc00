#include "domain/account.hpp"

#include <gtest/gtest.h>

namespace v2m::domain {
namespace {

TEST(Utf8, AcceptsValidRejectsMalformed) {
    EXPECT_TRUE(IsValidUtf8("plain"));
    EXPECT_TRUE(IsValidUtf8("d\xC3\xA9j\xC3\xA0 \xE2\x82\xAC \xF0\x9F\x8E\xB5"));  // déjà € 🎵
    EXPECT_FALSE(IsValidUtf8("\xC3"));                                             // truncated
    EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));                                         // overlong '/'
    EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));                                     // surrogate
    EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));                                 // past U+10FFFF
    EXPECT_FALSE(IsValidUtf8("\xFF"));
    EXPECT_FALSE(IsValidUtf8("a\x80"));
}

TEST(Email, NormalisesCaseAndSpaces) {
    EXPECT_EQ(*NormaliseEmail("  Alice@Example.COM "), "alice@example.com");
    EXPECT_EQ(*NormaliseEmail("bob+tag@mail.example.org"), "bob+tag@mail.example.org");
    EXPECT_EQ(*NormaliseEmail("root@localhost"), "root@localhost");
}

TEST(Email, RejectsImplausibleAddresses) {
    for (const char* bad : {"", "   ", "alice", "@example.com", "alice@", "a@b@c", "al ice@example.com",
                            "alice@example..com", "alice@.example.com", "alice@example.com.", ".a@b.c",
                            "a\"b@c.d", "a<b@c.d", "a\n@b.c", "\xC3@b.c"}) {
        EXPECT_FALSE(NormaliseEmail(bad).has_value()) << bad;
    }
    EXPECT_FALSE(NormaliseEmail(std::string(250, 'a') + "@b.cd").has_value());
}

TEST(Password, Policy) {
    EXPECT_FALSE(PasswordProblem("correct horse battery", "alice@example.com").has_value());
    EXPECT_TRUE(PasswordProblem("short", "alice@example.com").has_value());
    EXPECT_TRUE(PasswordProblem("alice@example.com", "alice@example.com").has_value());
    EXPECT_TRUE(PasswordProblem("ALICE@example.com", "alice@example.com").has_value());
    EXPECT_TRUE(PasswordProblem("longusername", "longusername@example.com").has_value());
    EXPECT_TRUE(PasswordProblem("bad\xFFutf8 password", "a@b.c").has_value());
    EXPECT_TRUE(PasswordProblem(std::string(1025, 'x'), "a@b.c").has_value());
    // Ten characters, counted as characters rather than bytes.
    EXPECT_FALSE(
        PasswordProblem("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
                        "a@b.c")
            .has_value());
    EXPECT_TRUE(PasswordProblem("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", "a@b.c").has_value());
}

}  // namespace
}  // namespace v2m::domain
