#include "store/database_url.hpp"

#include <gtest/gtest.h>

namespace v2m::store {
namespace {

TEST(DatabaseUrl, SqliteAbsoluteAndRelative) {
    auto abs = ParseDatabaseUrl("sqlite:///var/lib/v2m/db.sqlite");
    EXPECT_EQ(abs.dialect, Dialect::kSqlite);
    EXPECT_EQ(abs.sqlite_path, "/var/lib/v2m/db.sqlite");
    EXPECT_EQ(abs.soci_connect, "sqlite3://db=/var/lib/v2m/db.sqlite timeout=10");
    auto rel = ParseDatabaseUrl("sqlite://data/video2mp3.db");
    EXPECT_EQ(rel.sqlite_path, "data/video2mp3.db");
    EXPECT_EQ(ParseDatabaseUrl("sqlite:///tmp/a b.db").soci_connect, "sqlite3://db='/tmp/a b.db' timeout=10");
}

TEST(DatabaseUrl, PostgresqlWithCredentials) {
    auto u = ParseDatabaseUrl("postgresql://v2m:s%40cret@db.local:5433/video2mp3");
    EXPECT_EQ(u.dialect, Dialect::kPostgresql);
    EXPECT_NE(u.soci_connect.find("host='db.local'"), std::string::npos);
    EXPECT_NE(u.soci_connect.find("port=5433"), std::string::npos);
    EXPECT_NE(u.soci_connect.find("user='v2m'"), std::string::npos);
    EXPECT_NE(u.soci_connect.find("password='s@cret'"), std::string::npos);
    EXPECT_NE(u.soci_connect.find("dbname='video2mp3'"), std::string::npos);
    EXPECT_EQ(u.soci_connect.rfind("postgresql://", 0), 0u);
    EXPECT_EQ(u.redacted, "postgresql://v2m:***@db.local:5433/video2mp3");
    EXPECT_EQ(ParseDatabaseUrl("postgres://h/db").dialect, Dialect::kPostgresql);
}

TEST(DatabaseUrl, MysqlQuotesAwkwardPasswords) {
    auto u = ParseDatabaseUrl("mysql://root:it's@127.0.0.1:3306/v2m");
    EXPECT_EQ(u.dialect, Dialect::kMysql);
    EXPECT_NE(u.soci_connect.find("password='it\\'s'"), std::string::npos) << u.soci_connect;
    EXPECT_NE(u.soci_connect.find("db='v2m'"), std::string::npos);
    EXPECT_EQ(u.redacted.find("it's"), std::string::npos);
}

TEST(DatabaseUrl, RejectsBadForms) {
    for (const char* bad :
         {"", "video2mp3.db", "sqlite://", "redis://h/0", "postgresql://h", "postgresql://h/",
          "mysql://h:notaport/db", "mysql://h:70000/db", "postgresql://:5432/db"}) {
        EXPECT_THROW(ParseDatabaseUrl(bad), DatabaseUrlError) << bad;
    }
}

TEST(DatabaseUrl, ErrorsNeverRepeatThePassword) {
    try {
        ParseDatabaseUrl("mysql://u:topsecret@h:bad/db");
        FAIL();
    } catch (const DatabaseUrlError& e) {
        EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos);
    }
}

}  // namespace
}  // namespace v2m::store
