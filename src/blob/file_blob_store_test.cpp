#include "blob/file_blob_store.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "blob/blob_store.hpp"
#include "blob/blob_store_contract.hpp"
#include "blob/pg_blob_store.hpp"

namespace v2m::blob {
namespace {

namespace fs = std::filesystem;
using contract::Bytes;

void SetMtime(const fs::path& path, std::chrono::seconds age) {
    std::array<timespec, 2> times{};
    times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - age.count();
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times.data(), 0), 0);
}

void Touch(const fs::path& path) { std::ofstream(path) << "x"; }

std::size_t CountEntries(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

class FileBlobStoreTest : public ::testing::Test {
  protected:
    // One directory for the whole suite: making and deleting the 256 fan-out
    // directories takes about a second on a slow disk. Each test still gets
    // a store of its own, and must leave tmp/ empty.
    static void SetUpTestSuite() {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/blob_test.XXXXXX";
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        root_ = pattern;
        dir_ = root_ / "store";
    }
    static void TearDownTestSuite() {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }
    void SetUp() override { store_ = std::make_unique<FileBlobStore>(dir_); }
    void TearDown() override {
        store_.reset();
        EXPECT_EQ(CountEntries(dir_ / "tmp"), 0u) << "a test left temporary files";
    }

    BlobInfo Put(std::span<const std::byte> data) {
        auto writer = store_->Create();
        writer->Write(data);
        return writer->Commit();
    }

    static inline fs::path root_;
    static inline fs::path dir_;
    std::unique_ptr<FileBlobStore> store_;
};

fs::path MakeTempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/blob_test.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
}

// The contract's view of a file store: a directory of the test's own.
class FileHarness final : public contract::Harness {
  public:
    FileHarness() : root_(MakeTempDir()), dir_(root_ / "store") {}
    ~FileHarness() override {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }
    FileHarness(const FileHarness&) = delete;
    FileHarness& operator=(const FileHarness&) = delete;

    std::unique_ptr<BlobStore> NewStore() override { return std::make_unique<FileBlobStore>(dir_); }
    std::size_t PendingItems() override { return CountEntries(dir_ / "tmp"); }
    std::size_t StoredItems() override {
        std::size_t files = 0;
        for (const auto& entry : fs::recursive_directory_iterator(dir_))
            files += entry.is_regular_file() ? 1 : 0;
        return files;
    }
    // The store's write buffer (kWriteBuffer in file_blob_store.cpp).
    std::size_t ChunkSize() const override { return std::size_t{256} * 1024; }

  private:
    fs::path root_;
    fs::path dir_;
};

using contract::BlobStoreContract;
INSTANTIATE_TEST_SUITE_P(File, BlobStoreContract,
                         ::testing::Values(contract::Backend{"file",
                                                             [] { return std::make_unique<FileHarness>(); }}),
                         contract::BackendName);

TEST(BlobId, OnlyThirtyTwoLowercaseHexDigits) {
    EXPECT_TRUE(IsBlobId("0123456789abcdef0123456789abcdef"));
    EXPECT_FALSE(IsBlobId("0123456789ABCDEF0123456789abcdef"));
    EXPECT_FALSE(IsBlobId("0123456789abcdef0123456789abcde"));
    EXPECT_FALSE(IsBlobId("0123456789abcdef0123456789abcdef0"));
    EXPECT_FALSE(IsBlobId("0123456789abcdef0123456789abcdeg"));
    EXPECT_FALSE(IsBlobId("../etc/passwd"));
    EXPECT_FALSE(IsBlobId(""));
}

TEST_F(FileBlobStoreTest, CreatesItsDirectoriesPrivate) {
    for (const auto& dir : {dir_, dir_ / "tmp", dir_ / "00", dir_ / "ff"}) {
        struct stat st {};
        ASSERT_EQ(::stat(dir.c_str(), &st), 0) << dir;
        EXPECT_TRUE(S_ISDIR(st.st_mode)) << dir;
        EXPECT_EQ(st.st_mode & 0777, 0700u) << dir;
    }
}

TEST_F(FileBlobStoreTest, CommitMovesTheFileIntoItsFanOutDirectory) {
    auto writer = store_->Create();
    const std::string id = writer->id();
    writer->Write(Bytes("hello, blob"));
    EXPECT_EQ(CountEntries(dir_ / "tmp"), 1u);
    writer->Commit();
    EXPECT_TRUE(fs::is_regular_file(dir_ / id.substr(0, 2) / id));
    EXPECT_EQ(CountEntries(dir_ / "tmp"), 0u);
}

TEST_F(FileBlobStoreTest, UncommittedWriterLeavesNothing) {
    std::string id;
    {
        auto writer = store_->Create();
        id = writer->id();
        writer->Write(Bytes("never committed"));
        EXPECT_EQ(CountEntries(dir_ / "tmp"), 1u);
    }
    EXPECT_EQ(CountEntries(dir_ / "tmp"), 0u);
    EXPECT_FALSE(store_->Stat(id));
    EXPECT_THROW(store_->Open(id), BlobNotFound);
    EXPECT_FALSE(store_->Remove(id));
}

TEST_F(FileBlobStoreTest, InvalidIdsAreNotFound) {
    const BlobInfo info = Put(Bytes("secret"));
    std::string upper = info.id;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ASSERT_NE(upper, info.id) << "the id has no letter; rerun";
    Touch(root_ / "passwd");
    for (const std::string& id :
         {std::string("../etc/passwd"), std::string("../../passwd"), upper, info.id.substr(0, 31),
          info.id + "0", std::string(), std::string("tmp"), info.id.substr(0, 2) + "/" + info.id.substr(3)}) {
        EXPECT_THROW(store_->Open(id), BlobNotFound) << id;
        EXPECT_FALSE(store_->Stat(id)) << id;
        EXPECT_FALSE(store_->Remove(id)) << id;
    }
    EXPECT_TRUE(fs::exists(root_ / "passwd"));
    EXPECT_EQ(store_->Stat(info.id), 6u);
}

TEST_F(FileBlobStoreTest, StartupRemovesOnlyStaleTemporaries) {
    const fs::path tmp = dir_ / "tmp";
    const fs::path stale = tmp / "00000000000000000000000000000001";
    const fs::path young = tmp / "00000000000000000000000000000002";
    const fs::path fresh = tmp / "00000000000000000000000000000003";
    const fs::path foreign = tmp / "not-ours";
    for (const auto& path : {stale, young, fresh, foreign}) Touch(path);
    SetMtime(stale, std::chrono::hours(2));
    SetMtime(young, std::chrono::minutes(59));
    SetMtime(foreign, std::chrono::hours(2));

    FileBlobStore again(dir_);
    EXPECT_FALSE(fs::exists(stale));
    EXPECT_TRUE(fs::exists(young));
    EXPECT_TRUE(fs::exists(fresh));
    EXPECT_TRUE(fs::exists(foreign));
    for (const auto& path : {young, fresh, foreign}) fs::remove(path);
}

TEST_F(FileBlobStoreTest, PingChecksTheDirectory) {
    EXPECT_NO_THROW(store_->Ping());

    ASSERT_EQ(::chmod(dir_.c_str(), 0500), 0);
    // Root bypasses permission bits, so this one only means something otherwise.
    if (::geteuid() != 0) {
        EXPECT_THROW(store_->Ping(), BlobUnavailable);
    }
    ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
    EXPECT_NO_THROW(store_->Ping());

    // Gone, then a regular file where the directory was: fails even for root.
    const fs::path moved = root_ / "moved";
    fs::rename(dir_, moved);
    EXPECT_THROW(store_->Ping(), BlobUnavailable);
    Touch(dir_);
    EXPECT_THROW(store_->Ping(), BlobUnavailable);
    EXPECT_THROW(store_->Create(), BlobUnavailable);
    EXPECT_THROW(FileBlobStore{dir_}, BlobUnavailable);
    EXPECT_THROW(FileBlobStore{dir_ / "below"}, BlobUnavailable);
    fs::remove(dir_);
    fs::rename(moved, dir_);
    EXPECT_NO_THROW(store_->Ping());
}

TEST_F(FileBlobStoreTest, OpenBlobStoreFromUrl) {
    auto by_absolute = OpenBlobStore("file://" + dir_.string());
    auto writer = by_absolute->Create();
    writer->Write(Bytes("via url"));
    const BlobInfo info = writer->Commit();
    EXPECT_TRUE(fs::is_regular_file(dir_ / info.id.substr(0, 2) / info.id));
    EXPECT_NO_THROW(by_absolute->Ping());

    const fs::path relative = fs::relative(dir_, fs::current_path());
    ASSERT_TRUE(relative.is_relative());
    auto by_relative = OpenBlobStore("file://" + relative.string() + "/");
    EXPECT_EQ(by_relative->Stat(info.id), 7u);
    EXPECT_TRUE(by_relative->Remove(info.id));
}

TEST(OpenBlobStore, RejectsUnknownUrls) {
    EXPECT_THROW(OpenBlobStore("s3://x"), std::invalid_argument);
    EXPECT_THROW(OpenBlobStore("file://"), std::invalid_argument);
    EXPECT_THROW(OpenBlobStore("/var/lib/blobs"), std::invalid_argument);
    EXPECT_THROW(OpenBlobStore(""), std::invalid_argument);
    try {
        OpenBlobStore("s3://key:secret@bucket");
        ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("'s3'"), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    }
}

// Without a server: what the PostgreSQL store says must never repeat the password.
TEST(OpenBlobStore, PostgresUrlWithoutServerIsUnavailableAndKeepsThePassword) {
    for (const std::string scheme : {"postgresql", "postgres"}) {
        // Port 1: refused at once.
        const std::string url = scheme + "://v2m:s3cr%2Ft@127.0.0.1:1/v2m?connect_timeout=2";
        const auto start = std::chrono::steady_clock::now();
        try {
            OpenBlobStore(url);
            ADD_FAILURE() << "no exception";
        } catch (const BlobUnavailable& e) {
            const std::string message = e.what();
            EXPECT_NE(message.find("postgresql://v2m@127.0.0.1:1/v2m"), std::string::npos) << message;
            EXPECT_EQ(message.find("s3cr"), std::string::npos) << message;
        }
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    }
}

// A server that takes the connection and never says a word: the store gives
// up after its default connect_timeout (5 s) instead of hanging.
TEST(OpenBlobStore, SilentPostgresServerIsUnavailableWithinTheConnectTimeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 16), 0);  // the kernel completes handshakes; nobody accepts
    socklen_t length = sizeof addr;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
    const std::string url = "postgresql://v2m:pw@127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v2m";
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(OpenBlobStore(url), BlobUnavailable);
    const auto took = std::chrono::steady_clock::now() - start;
    ::close(fd);
    EXPECT_GE(took, std::chrono::seconds(4)) << "did it wait for the server at all?";
    EXPECT_LT(took, std::chrono::seconds(8));
}

TEST(OpenBlobStore, MalformedPostgresUrlIsInvalidAndKeepsThePassword) {
    for (const std::string url :
         {"postgresql://v2m:s3cret@[::1/v2m", "postgresql://v2m:s3cret@host/v2m?no_such_option=1",
          "postgresql://127.0.0.1/v2m?password=s3cret&bogus=1",
          "postgresql://v2m:s3cr%zzet@host/v2m?bogus=1"}) {
        try {
            PgBlobStore store(url);
            ADD_FAILURE() << "no exception for " << url;
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find("s3cr"), std::string::npos) << e.what();
        }
    }
}

}  // namespace
}  // namespace v2m::blob
