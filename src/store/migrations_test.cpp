#include "store/migrations.hpp"

#include <gtest/gtest.h>

namespace v2m::store {
namespace {

TEST(Migrations, SplitStatementsDropsCommentsAndSplitsAtLineEnds) {
    auto s = SplitStatements(
        "-- a comment\nCREATE TABLE a (x INT);\n\n  -- another\nCREATE INDEX i\n  ON a (x);\n");
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0], "CREATE TABLE a (x INT)\n");
    EXPECT_EQ(s[1], "CREATE INDEX i\n  ON a (x)\n");
}

TEST(Migrations, EmbeddedInOrderForEveryDialect) {
    for (Dialect d : {Dialect::kSqlite, Dialect::kPostgresql, Dialect::kMysql}) {
        auto all = MigrationsFor(d);
        ASSERT_FALSE(all.empty());
        EXPECT_EQ(all.front().version, 1);
        EXPECT_EQ(all.front().name, "0001_users");
        for (std::size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].version, all[i].version);
        for (const auto& m : all) EXPECT_FALSE(m.statements.empty()) << m.name;
    }
}

}  // namespace
}  // namespace v2m::store
