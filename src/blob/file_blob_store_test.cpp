#include "blob/file_blob_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
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
#include <string>
#include <thread>
#include <vector>

#include "blob/blob_store.hpp"

namespace v2m::blob {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> Bytes(std::string_view text) {
    std::vector<std::byte> out(text.size());
    std::memcpy(out.data(), text.data(), text.size());
    return out;
}

// The test's own SHA-256 (OpenSSL's streaming EVP calls, apart from the store's code).
class TestHasher {
  public:
    TestHasher() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
    }
    void Update(std::span<const std::byte> data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
    std::string Hex() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
        unsigned int length = 0;
        EVP_DigestFinal_ex(ctx_.get(), digest.data(), &length);
        std::string hex;
        for (unsigned int i = 0; i < length; ++i) {
            static constexpr char kHex[] = "0123456789abcdef";
            hex += kHex[digest[i] >> 4];
            hex += kHex[digest[i] & 0x0F];
        }
        return hex;
    }

  private:
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

std::string Sha256Hex(std::span<const std::byte> data) {
    TestHasher hasher;
    hasher.Update(data);
    return hasher.Hex();
}

// Deterministic bytes (xorshift64*), so a large blob needs no memory to check.
class Generator {
  public:
    explicit Generator(std::uint64_t seed) : state_(seed) {}
    void Fill(std::span<std::byte> out) {
        for (std::size_t i = 0; i < out.size(); i += sizeof(std::uint64_t)) {
            state_ ^= state_ >> 12;
            state_ ^= state_ << 25;
            state_ ^= state_ >> 27;
            const std::uint64_t word = state_ * 0x2545F4914F6CDD1DULL;
            std::memcpy(out.data() + i, &word, std::min(sizeof word, out.size() - i));
        }
    }

  private:
    std::uint64_t state_;
};

std::vector<std::byte> ReadAll(BlobReader& reader, std::size_t chunk) {
    std::vector<std::byte> out;
    std::vector<std::byte> buffer(chunk);
    while (const std::size_t n = reader.Read(buffer))
        out.insert(out.end(), buffer.begin(), buffer.begin() + n);
    return out;
}

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

TEST_F(FileBlobStoreTest, RoundTrip) {
    const auto data = Bytes("hello, blob");
    auto writer = store_->Create();
    const std::string id = writer->id();
    EXPECT_TRUE(IsBlobId(id));
    writer->Write(std::span(data).first(5));
    writer->Write(std::span(data).subspan(5));
    EXPECT_EQ(writer->Size(), data.size());
    EXPECT_FALSE(store_->Stat(id)) << "visible before Commit";
    const BlobInfo info = writer->Commit();

    EXPECT_EQ(info.id, id);
    EXPECT_EQ(info.size, data.size());
    EXPECT_TRUE(fs::is_regular_file(dir_ / id.substr(0, 2) / id));
    EXPECT_EQ(CountEntries(dir_ / "tmp"), 0u);
    EXPECT_EQ(store_->Stat(id), data.size());
    auto reader = store_->Open(id);
    EXPECT_EQ(reader->Size(), data.size());
    EXPECT_EQ(ReadAll(*reader, 4), data);
}

TEST_F(FileBlobStoreTest, EmptyBlob) {
    const BlobInfo info = Put({});
    EXPECT_EQ(info.size, 0u);
    EXPECT_EQ(info.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(store_->Stat(info.id), 0u);
    std::array<std::byte, 8> buffer{};
    EXPECT_EQ(store_->Open(info.id)->Read(buffer), 0u);
}

TEST_F(FileBlobStoreTest, Sha256MatchesKnownVectorAndIndependentHash) {
    EXPECT_EQ(Put(Bytes("abc")).sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    std::vector<std::byte> data(100'003);
    Generator(7).Fill(data);
    auto writer = store_->Create();
    for (std::size_t offset = 0; offset < data.size(); offset += 4099) {
        writer->Write(std::span(data).subspan(offset, std::min<std::size_t>(4099, data.size() - offset)));
    }
    EXPECT_EQ(writer->Commit().sha256, Sha256Hex(data));
}

TEST_F(FileBlobStoreTest, LargeBlobStreamsBothWays) {
    constexpr std::size_t kChunk = 1 << 20;
    constexpr std::size_t kChunks = 300;
    std::vector<std::byte> chunk(kChunk);
    Generator generator(42);
    TestHasher expected;
    auto writer = store_->Create();
    for (std::size_t i = 0; i < kChunks; ++i) {
        generator.Fill(chunk);
        expected.Update(chunk);
        writer->Write(chunk);
    }
    const BlobInfo info = writer->Commit();
    const std::string expected_hex = expected.Hex();
    EXPECT_EQ(info.size, kChunk * kChunks);
    EXPECT_EQ(info.sha256, expected_hex);

    auto reader = store_->Open(info.id);
    EXPECT_EQ(reader->Size(), kChunk * kChunks);
    std::vector<std::byte> buffer(999'983);  // a prime: reads straddle the writer's chunks
    TestHasher actual;
    std::uint64_t total = 0;
    while (const std::size_t n = reader->Read(buffer)) {
        actual.Update(std::span(buffer).first(n));
        total += n;
    }
    EXPECT_EQ(total, kChunk * kChunks);
    EXPECT_EQ(actual.Hex(), expected_hex);
}

TEST_F(FileBlobStoreTest, SeekAndPartialReads) {
    std::vector<std::byte> data(1000);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i % 251);
    const BlobInfo info = Put(data);
    auto reader = store_->Open(info.id);
    auto other = store_->Open(info.id);
    std::array<std::byte, 10> buffer{};

    reader->Seek(500);
    ASSERT_EQ(reader->Read(buffer), 10u);
    EXPECT_TRUE(std::equal(buffer.begin(), buffer.end(), data.begin() + 500));
    ASSERT_EQ(reader->Read(std::span(buffer).first(3)), 3u);
    EXPECT_TRUE(std::equal(buffer.begin(), buffer.begin() + 3, data.begin() + 510));

    reader->Seek(995);
    ASSERT_EQ(reader->Read(buffer), 5u);
    EXPECT_TRUE(std::equal(buffer.begin(), buffer.begin() + 5, data.begin() + 995));
    EXPECT_EQ(reader->Read(buffer), 0u);

    reader->Seek(5000);
    EXPECT_EQ(reader->Read(buffer), 0u);
    reader->Seek(UINT64_MAX);
    EXPECT_EQ(reader->Read(buffer), 0u);

    ASSERT_EQ(other->Read(buffer), 10u) << "readers keep their own position";
    EXPECT_TRUE(std::equal(buffer.begin(), buffer.end(), data.begin()));
    reader->Seek(0);
    EXPECT_EQ(ReadAll(*reader, 7), data);
}

TEST_F(FileBlobStoreTest, PatchChangesBytesAndCommittedHash) {
    std::vector<std::byte> data(4096);
    Generator(3).Fill(data);
    const std::string unpatched_hash = Sha256Hex(data);
    auto writer = store_->Create();
    writer->Write(data);

    std::vector<std::byte> expected = data;
    const auto patch = [&](std::uint64_t offset, std::string_view text) {
        const auto bytes = Bytes(text);
        writer->Patch(offset, bytes);
        std::copy(bytes.begin(), bytes.end(), expected.begin() + static_cast<std::ptrdiff_t>(offset));
    };
    patch(0, "HEAD");
    patch(2000, "MIDDLE");
    patch(4092, "TAIL");
    EXPECT_EQ(writer->Size(), 4096u);
    // Appending after a patch (the MP3 case: Xing header first, frames later).
    const auto more = Bytes("more bytes after the patches");
    writer->Write(more);
    expected.insert(expected.end(), more.begin(), more.end());
    patch(4096, "X");

    const BlobInfo info = writer->Commit();
    EXPECT_EQ(info.size, expected.size());
    EXPECT_EQ(info.sha256, Sha256Hex(expected));
    EXPECT_NE(info.sha256, unpatched_hash);
    auto reader = store_->Open(info.id);
    EXPECT_EQ(ReadAll(*reader, 1000), expected);
}

TEST_F(FileBlobStoreTest, PatchedHashIsRecomputedAcrossChunks) {
    // Larger than the store's read-back chunk, and not a multiple of it.
    std::vector<std::byte> data(600'001);
    Generator(11).Fill(data);
    auto writer = store_->Create();
    writer->Write(data);
    const auto patch = Bytes("ID3");
    writer->Patch(300'000, patch);
    std::copy(patch.begin(), patch.end(), data.begin() + 300'000);
    EXPECT_EQ(writer->Commit().sha256, Sha256Hex(data));
}

TEST_F(FileBlobStoreTest, PatchOutOfRangeThrows) {
    auto writer = store_->Create();
    writer->Write(Bytes("0123456789"));
    EXPECT_THROW(writer->Patch(8, Bytes("abc")), std::out_of_range);
    EXPECT_THROW(writer->Patch(11, {}), std::out_of_range);
    EXPECT_THROW(writer->Patch(UINT64_MAX, Bytes("a")), std::out_of_range);
    EXPECT_THROW(writer->Patch(UINT64_MAX - 1, Bytes("ab")), std::out_of_range);
    EXPECT_NO_THROW(writer->Patch(10, {}));
    EXPECT_NO_THROW(writer->Patch(7, Bytes("abc")));
    const BlobInfo info = writer->Commit();
    EXPECT_EQ(info.sha256, Sha256Hex(Bytes("0123456abc")));
}

TEST_F(FileBlobStoreTest, WriterIsDoneAfterCommit) {
    auto writer = store_->Create();
    writer->Write(Bytes("x"));
    const BlobInfo info = writer->Commit();
    EXPECT_THROW(writer->Commit(), std::logic_error);
    EXPECT_THROW(writer->Write(Bytes("y")), std::logic_error);
    EXPECT_THROW(writer->Patch(0, Bytes("y")), std::logic_error);
    writer.reset();
    EXPECT_EQ(store_->Stat(info.id), 1u) << "destroying a committed writer keeps the blob";
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

TEST_F(FileBlobStoreTest, RemoveThenGone) {
    const BlobInfo info = Put(Bytes("bye"));
    EXPECT_TRUE(store_->Remove(info.id));
    EXPECT_FALSE(store_->Remove(info.id));
    EXPECT_FALSE(store_->Stat(info.id));
    EXPECT_THROW(store_->Open(info.id), BlobNotFound);
}

TEST_F(FileBlobStoreTest, ConcurrentWriters) {
    constexpr int kThreads = 4;
    constexpr std::size_t kChunk = std::size_t{64} * 1024;
    constexpr int kChunks = 32;
    std::vector<BlobInfo> infos(kThreads);
    std::vector<std::string> expected(kThreads);
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            try {
                Generator generator(static_cast<std::uint64_t>(t) + 100);
                std::vector<std::byte> chunk(kChunk);
                TestHasher hasher;
                auto writer = store_->Create();
                for (int i = 0; i < kChunks; ++i) {
                    generator.Fill(chunk);
                    hasher.Update(chunk);
                    writer->Write(chunk);
                    std::this_thread::yield();
                }
                infos[t] = writer->Commit();
                expected[t] = hasher.Hex();
            } catch (const std::exception& e) {
                ADD_FAILURE() << "thread " << t << ": " << e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < kThreads; ++t) {
        EXPECT_EQ(infos[t].sha256, expected[t]) << t;
        ASSERT_TRUE(IsBlobId(infos[t].id));
        EXPECT_EQ(store_->Stat(infos[t].id), kChunk * kChunks);
        auto reader = store_->Open(infos[t].id);
        EXPECT_EQ(Sha256Hex(ReadAll(*reader, 100'000)), expected[t]) << t;
    }
    EXPECT_EQ(CountEntries(dir_ / "tmp"), 0u);
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

}  // namespace
}  // namespace v2m::blob
