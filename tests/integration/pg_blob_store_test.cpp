// The PostgreSQL blob store against a real PostgreSQL (label pg): the
// BlobStore contract every store passes, then what only a database shows —
// the rows themselves, the sweep of a crashed writer's rows, the connection
// pool, broken connections, and (OwnServer: on a server of the test's own)
// the server going away and coming back under a live store.
#include "blob/pg_blob_store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.hpp"
#include "blob/blob_store_contract.hpp"
#include "services.hpp"
#include "test_support.hpp"

namespace v2m::blob {
namespace {

using namespace std::chrono_literals;
using contract::Bytes;
using contract::RandomBytes;
using contract::ReadAll;
using contract::Sha256Hex;
constexpr std::size_t kChunk = PgBlobStore::kChunkSize;

struct Server {
    std::string host;
    std::string port;
};

Server ParseServer(const std::string& url) {
    std::smatch m;
    if (!std::regex_match(url, m, std::regex(R"(^postgresql://[^@]*@([^:/]+):(\d+)/.*$)"))) {
        throw std::runtime_error("unexpected PostgreSQL URL " + url);
    }
    return {m[1], m[2]};
}

// One value (or rows joined by newlines) from psql; fails the test when psql does.
std::string Psql(const Server& server, const std::string& database, const std::string& sql) {
    const test::ProcessResult r =
        test::Run({"psql", "-X", "-h", server.host, "-p", server.port, "-U", "postgres", "-d", database, "-v",
                   "ON_ERROR_STOP=1", "-tAc", sql});
    EXPECT_EQ(r.exit_code, 0) << sql << ": " << r.Describe();
    std::string out = r.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

// A database of the test's own on a server, dropped at the end.
class PgDatabase final {
  public:
    explicit PgDatabase(Server server) : server_(std::move(server)) {
        static std::atomic<int> counter{0};
        name_ = "blob_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
        Psql(server_, "postgres", "CREATE DATABASE " + name_);
    }
    ~PgDatabase() { Psql(server_, "postgres", "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"); }
    PgDatabase(const PgDatabase&) = delete;
    PgDatabase& operator=(const PgDatabase&) = delete;

    std::string Url(const std::string& userinfo = "postgres") const {
        return "postgresql://" + userinfo + "@" + server_.host + ":" + server_.port + "/" + name_;
    }
    const std::string& name() const { return name_; }
    std::string Query(const std::string& sql) const { return Psql(server_, name_, sql); }
    std::size_t Count(const std::string& sql) const { return std::stoul(Query(sql)); }
    // Connections of blob stores to this database.
    std::size_t StoreConnections() const {
        return Count("SELECT count(*) FROM pg_stat_activity WHERE datname = '" + name_ +
                     "' AND application_name = 'video2mp3-blob'");
    }

  private:
    Server server_;
    std::string name_;
};

// The server scripts/testenv started for the whole run.
Server SharedServer() {
    const auto env = test::TestEnv();
    const auto it = env.find("V2M_TEST_POSTGRES_URL");
    if (it == env.end()) {
        throw std::runtime_error("V2M_TEST_POSTGRES_URL not set: is scripts/testenv running (V2M_TESTENV)?");
    }
    return ParseServer(it->second);
}

constexpr const char* kPendingItems =
    "SELECT (SELECT count(*) FROM v2m_blob_files WHERE NOT committed) + "
    "(SELECT count(*) FROM v2m_blob_chunks c JOIN v2m_blob_files f ON f.id = c.file_id WHERE NOT "
    "f.committed)";
constexpr const char* kStoredItems =
    "SELECT (SELECT count(*) FROM v2m_blob_files) + (SELECT count(*) FROM v2m_blob_chunks)";

class PgHarness final : public contract::Harness {
  public:
    PgHarness() : db_(SharedServer()) {}
    std::unique_ptr<BlobStore> NewStore() override { return std::make_unique<PgBlobStore>(db_.Url()); }
    std::size_t PendingItems() override { return db_.Count(kPendingItems); }
    std::size_t StoredItems() override { return db_.Count(kStoredItems); }
    std::size_t ChunkSize() const override { return kChunk; }

  private:
    PgDatabase db_;
};

using contract::BlobStoreContract;
INSTANTIATE_TEST_SUITE_P(Postgres, BlobStoreContract,
                         ::testing::Values(contract::Backend{"postgres",
                                                             [] { return std::make_unique<PgHarness>(); }}),
                         contract::BackendName);

class PgBlobStoreTest : public ::testing::Test {
  protected:
    PgBlobStoreTest() : db_(SharedServer()), store_(std::make_unique<PgBlobStore>(db_.Url())) {}
    void TearDown() override {
        store_.reset();
        EXPECT_EQ(db_.Count(kPendingItems), 0u) << "a test left pending rows";
    }

    BlobInfo Put(std::span<const std::byte> data) {
        auto writer = store_->Create();
        writer->Write(data);
        return writer->Commit();
    }

    PgDatabase db_;
    std::unique_ptr<PgBlobStore> store_;
};

TEST_F(PgBlobStoreTest, ChunksAreOneMiBBinaryRowsStoredUncompressed) {
    auto data = RandomBytes(2 * kChunk + 3, 1);
    const auto head = Bytes(std::string("\0\x01\0\xff\\x'", 7));
    std::copy(head.begin(), head.end(), data.begin());
    const BlobInfo info = Put(data);

    EXPECT_EQ(db_.Query("SELECT string_agg(n || ':' || length(data), ',' ORDER BY n) FROM v2m_blob_chunks "
                        "WHERE file_id = '" +
                        info.id + "'"),
              "0:1048576,1:1048576,2:3");
    EXPECT_EQ(
        db_.Query("SELECT encode(substring(data FROM 1 FOR 7), 'hex') FROM v2m_blob_chunks WHERE n = 0"),
        "000100ff5c7827");
    EXPECT_EQ(
        db_.Query(
            "SELECT size || ' ' || sha256 || ' ' || committed || ' ' || chunk_size FROM v2m_blob_files"),
        std::to_string(data.size()) + " " + Sha256Hex(data) + " true 1048576");
    EXPECT_EQ(db_.Query("SELECT attstorage FROM pg_attribute "
                        "WHERE attrelid = 'v2m_blob_chunks'::regclass AND attname = 'data'"),
              "e");
}

TEST_F(PgBlobStoreTest, AWriterHoldsAtMostOneChunkAndItsRowsStayPending) {
    auto writer = store_->Create();
    EXPECT_EQ(db_.Query("SELECT committed FROM v2m_blob_files WHERE id = '" + writer->id() + "'"), "f");
    writer->Write(RandomBytes(2 * kChunk + 100, 2));
    EXPECT_EQ(db_.Count("SELECT count(*) FROM v2m_blob_chunks"), 2u) << "full chunks are stored at once";
    writer->Write(RandomBytes(kChunk - 101, 3));
    EXPECT_EQ(db_.Count("SELECT count(*) FROM v2m_blob_chunks"), 2u)
        << "one byte short of a chunk stays buffered";
    writer->Write(Bytes("x"));
    EXPECT_EQ(db_.Count("SELECT count(*) FROM v2m_blob_chunks"), 3u);
    EXPECT_EQ(db_.Count(kPendingItems), 4u);
    const BlobInfo info = writer->Commit();
    EXPECT_EQ(db_.Count(kPendingItems), 0u);
    EXPECT_EQ(info.size, 3 * kChunk);
}

TEST_F(PgBlobStoreTest, StaleLeftoversAreSweptAtOpen) {
    auto crashed = store_->Create();
    crashed->Write(RandomBytes(kChunk + 1, 4));
    auto live = store_->Create();
    live->Write(RandomBytes(kChunk + 1, 5));
    const BlobInfo old_committed = Put(Bytes("old but committed"));
    db_.Query("UPDATE v2m_blob_files SET touched_at = now() - interval '61 minutes' WHERE id IN ('" +
              crashed->id() + "', '" + old_committed.id + "')");
    db_.Query("UPDATE v2m_blob_files SET touched_at = now() - interval '59 minutes' WHERE id = '" +
              live->id() + "'");

    PgBlobStore again(db_.Url());
    EXPECT_EQ(db_.Count("SELECT count(*) FROM v2m_blob_files WHERE id = '" + crashed->id() + "'"), 0u);
    EXPECT_EQ(db_.Count("SELECT count(*) FROM v2m_blob_chunks WHERE file_id = '" + crashed->id() + "'"), 0u);
    EXPECT_EQ(again.Stat(old_committed.id), 17u);

    // The writer whose rows were swept finds out at its next chunk.
    EXPECT_THROW(crashed->Write(RandomBytes(kChunk, 6)), BlobUnavailable);
    crashed.reset();
    live->Write(Bytes("and more"));
    const BlobInfo info = live->Commit();
    EXPECT_EQ(again.Stat(info.id), kChunk + 9);
}

TEST_F(PgBlobStoreTest, AFailedCommitLeavesNothing) {
    auto writer = store_->Create();
    const std::string id = writer->id();
    writer->Write(RandomBytes(kChunk + 5, 7));
    db_.Query("DELETE FROM v2m_blob_chunks WHERE file_id = '" + id + "' AND n = 0");
    EXPECT_THROW(writer->Commit(), BlobUnavailable) << "a chunk is missing";
    EXPECT_THROW(writer->Commit(), std::logic_error);
    writer.reset();
    EXPECT_EQ(db_.Count(kStoredItems), 0u);
}

TEST_F(PgBlobStoreTest, ConcurrentStoresCreateTheTablesOnce) {
    PgDatabase fresh(SharedServer());
    std::vector<std::thread> threads;
    threads.reserve(8);
    std::atomic<int> ok{0};
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            try {
                PgBlobStore store(fresh.Url());
                store.Ping();
                ++ok;
            } catch (const std::exception& e) {
                ADD_FAILURE() << e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(ok.load(), 8);
    EXPECT_EQ(fresh.Query("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'v2m_blob_%'"), "2");
}

TEST_F(PgBlobStoreTest, KilledIdleConnectionsAreReplaced) {
    const auto data = RandomBytes(2 * kChunk + 1, 8);
    const BlobInfo info = Put(data);
    auto reader = store_->Open(info.id);
    std::vector<std::byte> first(100);
    ASSERT_EQ(reader->Read(first), 100u);
    auto writer = store_->Create();
    writer->Write(RandomBytes(kChunk + 1, 9));
    ASSERT_GE(db_.StoreConnections(), 1u);
    EXPECT_GE(db_.Count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
                        db_.name() + "' AND application_name = 'video2mp3-blob'"),
              1u);

    EXPECT_EQ(store_->Stat(info.id), data.size());
    reader->Seek(kChunk);
    EXPECT_EQ(ReadAll(*reader, 65'536), std::vector<std::byte>(data.begin() + kChunk, data.end()));
    writer->Write(RandomBytes(kChunk, 10));
    EXPECT_EQ(writer->Commit().size, 2 * kChunk + 1);
}

TEST_F(PgBlobStoreTest, AStatementWhoseConnectionDiesIsRunAgain) {
    const BlobInfo info = Put(Bytes("retried"));
    // Another session holds a lock the store's next statement waits for; the
    // waiting backend is killed, so the connection breaks mid-statement.
    test::Process locker(
        {"psql", "-X", "-h", SharedServer().host, "-p", SharedServer().port, "-U", "postgres", "-d",
         db_.name(), "-v", "ON_ERROR_STOP=1", "-c",
         "BEGIN; LOCK TABLE v2m_blob_files IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;"});
    const std::string lock_held =
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'v2m_blob_files' AND l.mode = 'AccessExclusiveLock' AND l.granted";
    for (int i = 0; i < 100 && db_.Count(lock_held) == 0; ++i) std::this_thread::sleep_for(20ms);
    ASSERT_EQ(db_.Count(lock_held), 1u);

    std::optional<std::uint64_t> size;
    std::string error;
    std::thread stat([&] {
        try {
            size = store_->Stat(info.id);
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    const std::string waiting = "SELECT pid FROM pg_stat_activity WHERE datname = '" + db_.name() +
                                "' AND application_name = 'video2mp3-blob' AND wait_event_type = 'Lock'";
    std::string pid;
    for (int i = 0; i < 100 && (pid = db_.Query(waiting)).empty(); ++i) std::this_thread::sleep_for(20ms);
    ASSERT_FALSE(pid.empty()) << "the store's statement never waited";
    EXPECT_EQ(db_.Query("SELECT pg_terminate_backend(" + pid + ")"), "t");
    stat.join();
    EXPECT_EQ(error, "");
    EXPECT_EQ(size, 7u) << "run again on a new connection once the lock was gone";
    EXPECT_EQ(locker.Wait().exit_code, 0);
}

TEST_F(PgBlobStoreTest, APoolOfTwoServesManyThreadsAndLeaksNothing) {
    PgBlobStore small(db_.Url(), {.max_connections = 2});
    const auto data = RandomBytes(kChunk + 77, 11);
    const BlobInfo info = [&] {
        auto writer = small.Create();
        writer->Write(data);
        return writer->Commit();
    }();
    std::atomic<bool> done{false};
    std::size_t most = 0;
    std::thread watcher([&] {
        while (!done) {
            most = std::max(most, db_.StoreConnections());
            std::this_thread::sleep_for(10ms);
        }
    });
    std::vector<std::thread> threads;
    threads.reserve(12);
    for (int t = 0; t < 12; ++t) {
        threads.emplace_back([&, t] {
            try {
                for (int round = 0; round < 3; ++round) {
                    EXPECT_EQ(Sha256Hex(ReadAll(*small.Open(info.id), 30'000)), info.sha256);
                    auto writer = small.Create();
                    writer->Write(RandomBytes(kChunk / 2 + static_cast<std::size_t>(t), 12));
                    if (round == 1) continue;  // dropped: its rows are deleted
                    EXPECT_TRUE(small.Remove(writer->Commit().id));
                    EXPECT_THROW(small.Open("0123456789abcdef0123456789abcdef"), BlobNotFound);
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << "thread " << t << ": " << e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    done = true;
    watcher.join();
    // The store's connections plus the fixture's own store's one.
    EXPECT_LE(most, 3u);
    EXPECT_LE(db_.StoreConnections(), 3u);
    store_.reset();
    EXPECT_TRUE(small.Remove(info.id));
}

TEST_F(PgBlobStoreTest, ClosingTheStoreClosesItsConnections) {
    const BlobInfo info = Put(Bytes("x"));
    auto reader = store_->Open(info.id);
    EXPECT_GE(db_.StoreConnections(), 1u);
    store_.reset();
    EXPECT_GE(db_.StoreConnections(), 1u) << "the reader still shares the pool";
    reader.reset();
    std::size_t left = 1;
    for (int i = 0; i < 100 && (left = db_.StoreConnections()) > 0; ++i) std::this_thread::sleep_for(20ms);
    EXPECT_EQ(left, 0u);
}

TEST_F(PgBlobStoreTest, OpenBlobStoreTakesBothSchemesAndTheUrlAsItIs) {
    for (const std::string scheme : {"postgresql", "postgres"}) {
        // Trust authentication: the password is sent to no one, but must show nowhere.
        std::string url = db_.Url("postgres:pa%24%24word");
        url.replace(0, url.find("://"), scheme);
        auto store = OpenBlobStore(url + "?application_name=custom-name&connect_timeout=3");
        const auto info = [&] {
            auto writer = store->Create();
            writer->Write(Bytes("via url"));
            return writer->Commit();
        }();
        EXPECT_EQ(db_.Count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'custom-name'"),
                  1u);
        EXPECT_EQ(store_->Stat(info.id), 7u);
        EXPECT_TRUE(store->Remove(info.id));
    }
    EXPECT_EQ(store_->redacted_url(), db_.Url());
}

TEST_F(PgBlobStoreTest, ServerErrorsNeverShowThePassword) {
    const Server server = SharedServer();
    const std::string url =
        "postgresql://postgres:s3cr%2Ft@" + server.host + ":" + server.port + "/no_such_database";
    try {
        PgBlobStore store(url);
        ADD_FAILURE() << "no exception";
    } catch (const BlobUnavailable& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("no_such_database"), std::string::npos) << message;
        EXPECT_EQ(message.find("s3cr"), std::string::npos) << message;
    }
}

// A server of the test's own, so that stopping it disturbs no other test.
class OwnTestEnv final {
  public:
    OwnTestEnv() {
        const test::ProcessResult r =
            test::Run({"bash", Script(), "start", state_ / "env", "postgres"}, {.timeout = 180s});
        if (r.exit_code != 0) throw std::runtime_error("testenv start failed: " + r.Describe());
        std::ifstream in(state_ / "env/env");
        std::string line;
        std::smatch m;
        while (std::getline(in, line)) {
            if (std::regex_match(line, m, std::regex(R"(^export V2M_TEST_POSTGRES_URL=(.*)$)"))) url_ = m[1];
        }
        if (url_.empty()) throw std::runtime_error("testenv wrote no V2M_TEST_POSTGRES_URL");
    }
    ~OwnTestEnv() {
        const test::ProcessResult r =
            test::Run({"bash", Script(), "stop", state_ / "env"}, {.timeout = 120s});
        EXPECT_EQ(r.exit_code, 0) << r.Describe();
    }
    OwnTestEnv(const OwnTestEnv&) = delete;
    OwnTestEnv& operator=(const OwnTestEnv&) = delete;

    const std::string& url() const { return url_; }
    void Service(const std::string& command) {
        const test::ProcessResult r =
            test::Run({"bash", Script(), command, state_ / "env", "postgres"}, {.timeout = 120s});
        ASSERT_EQ(r.exit_code, 0) << command << ": " << r.Describe();
    }

  private:
    static std::string Script() { return std::string(V2M_SOURCE_DIR) + "/scripts/testenv"; }

    test::TempDir state_;
    std::string url_;
};

// How long `call` takes to throw BlobUnavailable; fails the test if it does not.
template <typename Call>
std::chrono::milliseconds TimeToUnavailable(const char* what, Call call) {
    const auto start = std::chrono::steady_clock::now();
    try {
        call();
        ADD_FAILURE() << what << ": no BlobUnavailable while the server is down";
    } catch (const BlobUnavailable& e) {
        EXPECT_NE(std::string(e.what()).find("127.0.0.1"), std::string::npos) << what << ": " << e.what();
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

TEST(PgBlobStoreOwnServer, UnavailableWhileTheServerIsDownThenRecovers) {
    OwnTestEnv env;
    PgBlobStore store(env.url());
    const auto data = RandomBytes(2 * kChunk + 5, 21);
    const BlobInfo info = [&] {
        auto writer = store.Create();
        writer->Write(data);
        return writer->Commit();
    }();
    auto reader = store.Open(info.id);
    std::vector<std::byte> head(100);
    ASSERT_EQ(reader->Read(head), 100u);
    // Its first chunk is stored before the stop, the rest after the start.
    auto survivor = store.Create();
    survivor->Write(std::span(data).first(kChunk + 10));
    auto casualty = store.Create();
    casualty->Write(std::span(data).first(kChunk - 1));

    env.Service("stop-service");
    std::vector<std::pair<const char*, std::chrono::milliseconds>> times;
    times.emplace_back("Ping", TimeToUnavailable("Ping", [&] { store.Ping(); }));
    times.emplace_back("Stat", TimeToUnavailable("Stat", [&] { store.Stat(info.id); }));
    times.emplace_back("Open", TimeToUnavailable("Open", [&] { store.Open(info.id); }));
    times.emplace_back("Create", TimeToUnavailable("Create", [&] { store.Create(); }));
    times.emplace_back("Remove", TimeToUnavailable("Remove", [&] { store.Remove(info.id); }));
    times.emplace_back("Read", TimeToUnavailable("Read", [&] {
                           reader->Seek(kChunk);
                           std::vector<std::byte> buffer(10);
                           reader->Read(buffer);
                       }));
    times.emplace_back("Write",
                       TimeToUnavailable("Write", [&] { casualty->Write(Bytes("to fill the chunk")); }));
    times.emplace_back("new store", TimeToUnavailable("new store", [&] { PgBlobStore another(env.url()); }));
    for (const auto& [what, time] : times) {
        EXPECT_LT(time, 3s) << what << " took " << time.count() << " ms";
        std::cout << "[ measure  ] " << what << " unavailable after " << time.count() << " ms\n";
    }
    EXPECT_THROW(casualty->Write(Bytes("more")), BlobUnavailable) << "a writer that failed stays failed";

    env.Service("start-service");
    EXPECT_NO_THROW(store.Ping());
    EXPECT_EQ(store.Stat(info.id), data.size());
    reader->Seek(kChunk);
    EXPECT_EQ(ReadAll(*reader, 65'536), std::vector<std::byte>(data.begin() + kChunk, data.end()));
    survivor->Write(std::span(data).subspan(kChunk + 10));
    const BlobInfo survived = survivor->Commit();
    EXPECT_EQ(survived.sha256, info.sha256);
    EXPECT_EQ(ReadAll(*store.Open(survived.id), kChunk), data);
    casualty.reset();  // its rows go now that the server is back
    survivor.reset();
    reader.reset();
    const Server server = ParseServer(env.url());
    EXPECT_EQ(Psql(server, "v2m", kPendingItems), "0");
    EXPECT_EQ(Psql(server, "v2m", "SELECT count(*) FROM v2m_blob_files"), "2");
}

}  // namespace
}  // namespace v2m::blob
