#include "blob/blob_store_contract.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace v2m::blob::contract {

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

void BlobStoreContract::SetUp() {
    harness_ = GetParam().make();
    store_ = harness_->NewStore();
}

void BlobStoreContract::TearDown() {
    store_.reset();
    if (harness_) {
        EXPECT_EQ(harness_->PendingItems(), 0u) << "a test left uncommitted data behind";
    }
}

BlobInfo BlobStoreContract::Put(std::span<const std::byte> data) {
    auto writer = store_->Create();
    writer->Write(data);
    return writer->Commit();
}

std::vector<std::byte> Bytes(std::string_view text) {
    std::vector<std::byte> out(text.size());
    std::memcpy(out.data(), text.data(), text.size());
    return out;
}

std::string Sha256Hex(std::span<const std::byte> data) {
    TestHasher hasher;
    hasher.Update(data);
    return hasher.Hex();
}

std::vector<std::byte> RandomBytes(std::size_t size, std::uint64_t seed) {
    std::vector<std::byte> out(size);
    Generator(seed).Fill(out);
    return out;
}

std::vector<std::byte> ReadAll(BlobReader& reader, std::size_t chunk) {
    std::vector<std::byte> out;
    std::vector<std::byte> buffer(chunk);
    while (const std::size_t n = reader.Read(buffer)) {
        out.insert(out.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    }
    return out;
}

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Writes `data` in pieces of `piece` bytes.
void WriteInPieces(BlobWriter& writer, std::span<const std::byte> data, std::size_t piece) {
    for (std::size_t offset = 0; offset < data.size(); offset += piece) {
        writer.Write(data.subspan(offset, std::min(piece, data.size() - offset)));
    }
}

// The process's peak resident set (VmHWM) in KiB.
std::uint64_t PeakRssKib() {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.starts_with("VmHWM:")) return std::stoull(line.substr(6));
    }
    throw std::runtime_error("no VmHWM in /proc/self/status");
}

// Makes the peak resident set the current one, so that PeakRssKib() measures from now.
void ResetPeakRss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    if (!out) throw std::runtime_error("cannot write /proc/self/clear_refs");
}

// A peak that cannot be reset would hide any growth: 64 MiB touched and
// freed must show, and then be forgotten.
::testing::AssertionResult PeakRssCanBeMeasured() {
    ResetPeakRss();
    const std::uint64_t before = PeakRssKib();
    {
        std::vector<char> ballast(std::size_t{64} << 20, 1);  // large: mmapped, returned when freed
        // Read through a volatile, so that the allocation is not optimised away.
        const volatile char* probe = ballast.data();
        if (probe[ballast.size() - 1] != 1) return ::testing::AssertionFailure() << "ballast lost";
        const std::uint64_t peak = PeakRssKib();
        if (peak < before + std::uint64_t{60} * 1024) {
            return ::testing::AssertionFailure()
                   << "64 MiB touched raised VmHWM by " << peak - before << " KiB only";
        }
    }
    ResetPeakRss();
    const std::uint64_t after = PeakRssKib();
    if (after > before + std::uint64_t{4} * 1024) {
        return ::testing::AssertionFailure()
               << "VmHWM was not reset: " << before << " KiB, then " << after << " KiB";
    }
    return ::testing::AssertionSuccess();
}

TEST_P(BlobStoreContract, RoundTrip) {
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
    EXPECT_EQ(info.sha256, Sha256Hex(data));
    EXPECT_EQ(store_->Stat(id), data.size());
    auto reader = store_->Open(id);
    EXPECT_EQ(reader->Size(), data.size());
    EXPECT_EQ(ReadAll(*reader, 4), data);
}

TEST_P(BlobStoreContract, RoundTripOfSizesAroundTheChunkSize) {
    const std::size_t c = Chunk();
    std::uint64_t seed = 1;
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, c - 1, c, c + 1, 3 * c + 17}) {
        SCOPED_TRACE("size " + std::to_string(size));
        const auto data = RandomBytes(size, seed++);
        // In odd pieces, and in one piece: the store must cut them up the same.
        for (const std::size_t piece : {std::size_t{65'537}, std::max<std::size_t>(size, 1)}) {
            auto writer = store_->Create();
            WriteInPieces(*writer, data, piece);
            EXPECT_EQ(writer->Size(), size);
            const BlobInfo info = writer->Commit();
            EXPECT_EQ(info.size, size);
            EXPECT_EQ(info.sha256, Sha256Hex(data));
            EXPECT_EQ(store_->Stat(info.id), size);
            auto reader = store_->Open(info.id);
            EXPECT_EQ(reader->Size(), size);
            EXPECT_EQ(ReadAll(*reader, 100'003), data) << "small reads";
            reader->Seek(0);
            EXPECT_EQ(ReadAll(*reader, c + 13), data) << "reads longer than a chunk";
            EXPECT_TRUE(store_->Remove(info.id));
        }
    }
}

TEST_P(BlobStoreContract, EmptyBlob) {
    const BlobInfo info = Put({});
    EXPECT_EQ(info.size, 0u);
    EXPECT_EQ(info.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(store_->Stat(info.id), 0u);
    std::array<std::byte, 8> buffer{};
    auto reader = store_->Open(info.id);
    EXPECT_EQ(reader->Size(), 0u);
    EXPECT_EQ(reader->Read(buffer), 0u);
}

TEST_P(BlobStoreContract, Sha256MatchesKnownVectorAndIndependentHash) {
    EXPECT_EQ(Put(Bytes("abc")).sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    const auto data = RandomBytes(100'003, 7);
    auto writer = store_->Create();
    WriteInPieces(*writer, data, 4099);
    EXPECT_EQ(writer->Commit().sha256, Sha256Hex(data));
}

TEST_P(BlobStoreContract, BinaryBytesSurviveUnchanged) {
    // Every byte value, NULs in runs, and what text encodings would mangle.
    std::vector<std::byte> data;
    for (int round = 0; round < 3; ++round) {
        for (int value = 0; value < 256; ++value) data.push_back(static_cast<std::byte>(value));
        data.insert(data.end(), 1000, std::byte{0});
    }
    const auto tricky = Bytes("\\x00\\\\'\"\r\n\xff\xfe");
    data.insert(data.end(), tricky.begin(), tricky.end());
    const BlobInfo info = Put(data);
    EXPECT_EQ(info.sha256, Sha256Hex(data));
    EXPECT_EQ(ReadAll(*store_->Open(info.id), 333), data);
}

TEST_P(BlobStoreContract, SeekToEveryChunkBoundaryAndPastTheEnd) {
    const std::size_t c = Chunk();
    const auto data = RandomBytes(4 * c + 5, 5);
    const BlobInfo info = Put(data);
    auto reader = store_->Open(info.id);
    std::vector<std::uint64_t> offsets = {0, 1};
    for (std::size_t k = 1; k <= 4; ++k) {
        offsets.insert(offsets.end(), {k * c - 1, k * c, k * c + 1});
    }
    offsets.insert(offsets.end(), {data.size() - 1, data.size(), data.size() + 1, 10 * c, UINT64_MAX});
    // Backwards too: a reader's cached chunk must not answer for another.
    std::vector<std::uint64_t> order = offsets;
    order.insert(order.end(), offsets.rbegin(), offsets.rend());
    std::array<std::byte, 10> buffer{};
    for (const std::uint64_t offset : order) {
        SCOPED_TRACE("offset " + std::to_string(offset));
        reader->Seek(offset);
        const std::size_t expected =
            offset >= data.size() ? 0 : std::min<std::size_t>(buffer.size(), data.size() - offset);
        ASSERT_EQ(reader->Read(buffer), expected);
        EXPECT_TRUE(std::equal(
            buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(expected),
            data.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(offset, data.size()))));
        if (offset >= data.size()) {
            EXPECT_EQ(reader->Read(buffer), 0u) << "stays at the end";
        }
    }
    // From a boundary to the end in one go.
    reader->Seek(2 * c);
    EXPECT_EQ(ReadAll(*reader, 3 * c),
              std::vector<std::byte>(data.begin() + static_cast<std::ptrdiff_t>(2 * c), data.end()));
}

TEST_P(BlobStoreContract, SeekAndPartialReads) {
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

TEST_P(BlobStoreContract, PatchInsideTheUnwrittenTail) {
    const auto data = RandomBytes(4096, 3);
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
    EXPECT_EQ(ReadAll(*store_->Open(info.id), 1000), expected);
}

TEST_P(BlobStoreContract, PatchAcrossChunkBoundariesOfWrittenBytes) {
    const std::size_t c = Chunk();
    auto expected = RandomBytes(3 * c + 100, 11);
    auto writer = store_->Create();
    WriteInPieces(*writer, expected, 65'536);

    std::uint64_t seed = 100;
    const auto patch = [&](std::uint64_t offset, std::size_t length) {
        SCOPED_TRACE("patch of " + std::to_string(length) + " at " + std::to_string(offset));
        const auto bytes = RandomBytes(length, seed++);
        writer->Patch(offset, bytes);
        std::copy(bytes.begin(), bytes.end(), expected.begin() + static_cast<std::ptrdiff_t>(offset));
    };
    patch(0, 3);            // the MP3's Xing header
    patch(c - 3, 8);        // across the first boundary
    patch(c - 10, c + 20);  // the end of one chunk, a whole chunk, the start of the next
    patch(3 * c - 4, 10);   // from the last full chunk into the tail
    patch(3 * c + 50, 50);  // the tail to its end
    EXPECT_EQ(writer->Size(), 3 * c + 100);
    const auto more = RandomBytes(c / 2, 99);
    writer->Write(more);
    expected.insert(expected.end(), more.begin(), more.end());
    patch(3 * c + 90, 20);  // old tail into the new bytes

    const BlobInfo info = writer->Commit();
    EXPECT_EQ(info.size, expected.size());
    EXPECT_EQ(info.sha256, Sha256Hex(expected)) << "the hash must be of the patched bytes";
    EXPECT_EQ(ReadAll(*store_->Open(info.id), 77'777), expected);
}

TEST_P(BlobStoreContract, PatchedHashIsRecomputedAcrossChunks) {
    auto data = RandomBytes(2 * Chunk() + 1, 13);
    auto writer = store_->Create();
    writer->Write(data);
    const auto patch = Bytes("ID3");
    writer->Patch(Chunk() + 7, patch);
    std::copy(patch.begin(), patch.end(), data.begin() + static_cast<std::ptrdiff_t>(Chunk() + 7));
    EXPECT_EQ(writer->Commit().sha256, Sha256Hex(data));
}

TEST_P(BlobStoreContract, PatchOutOfRangeThrows) {
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

TEST_P(BlobStoreContract, PatchOutOfRangeOfWrittenChunksThrows) {
    const std::size_t c = Chunk();
    auto writer = store_->Create();
    writer->Write(RandomBytes(2 * c, 17));
    EXPECT_THROW(writer->Patch(2 * c - 1, Bytes("ab")), std::out_of_range);
    EXPECT_THROW(writer->Patch(0, RandomBytes(2 * c + 1, 18)), std::out_of_range);
    EXPECT_NO_THROW(writer->Patch(2 * c - 1, Bytes("a")));
}

TEST_P(BlobStoreContract, WriterIsDoneAfterCommit) {
    auto writer = store_->Create();
    writer->Write(Bytes("x"));
    const BlobInfo info = writer->Commit();
    EXPECT_THROW(writer->Commit(), std::logic_error);
    EXPECT_THROW(writer->Write(Bytes("y")), std::logic_error);
    EXPECT_THROW(writer->Patch(0, Bytes("y")), std::logic_error);
    writer.reset();
    EXPECT_EQ(store_->Stat(info.id), 1u) << "destroying a committed writer keeps the blob";
}

TEST_P(BlobStoreContract, UncommittedIsInvisible) {
    const auto data = RandomBytes(2 * Chunk() + 5, 19);
    auto writer = store_->Create();
    const std::string id = writer->id();
    writer->Write(data);
    auto other = harness_->NewStore();
    for (BlobStore* store : {store_.get(), other.get()}) {
        EXPECT_FALSE(store->Stat(id));
        EXPECT_THROW(store->Open(id), BlobNotFound);
        EXPECT_FALSE(store->Remove(id)) << "Remove must not touch a blob being written";
    }
    const BlobInfo info = writer->Commit();
    EXPECT_EQ(info.sha256, Sha256Hex(data));
    EXPECT_EQ(other->Stat(id), data.size());
    EXPECT_EQ(ReadAll(*other->Open(id), 1 << 16), data);
}

TEST_P(BlobStoreContract, DestroyedWriterLeavesNothing) {
    std::string id;
    {
        auto writer = store_->Create();
        id = writer->id();
        writer->Write(RandomBytes(2 * Chunk() + 5, 23));
        writer->Patch(1, Bytes("patched"));
        EXPECT_GT(harness_->PendingItems(), 0u) << "the harness cannot see pending data";
    }
    EXPECT_EQ(harness_->PendingItems(), 0u);
    EXPECT_EQ(harness_->StoredItems(), 0u);
    EXPECT_FALSE(store_->Stat(id));
    EXPECT_THROW(store_->Open(id), BlobNotFound);
    EXPECT_FALSE(store_->Remove(id));
}

TEST_P(BlobStoreContract, InvalidIdsAreNotFound) {
    const BlobInfo info = Put(Bytes("secret"));
    std::string upper = info.id;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    std::string quote = info.id;
    quote[5] = '\'';
    for (const std::string& id :
         {std::string("../etc/passwd"), upper, info.id.substr(0, 31), info.id + "0", std::string(),
          std::string("tmp"), quote, info.id.substr(0, 31) + "%", std::string("' OR ''='"),
          info.id.substr(0, 2) + "/" + info.id.substr(3), std::string(info.id).replace(7, 1, 1, '\0')}) {
        SCOPED_TRACE("id '" + id + "'");
        EXPECT_THROW(store_->Open(id), BlobNotFound);
        EXPECT_FALSE(store_->Stat(id));
        EXPECT_FALSE(store_->Remove(id));
    }
    EXPECT_EQ(store_->Stat(info.id), 6u);
}

TEST_P(BlobStoreContract, RemoveDeletesEverything) {
    const BlobInfo kept = Put(Bytes("kept"));
    const std::size_t stored_before = harness_->StoredItems();
    const BlobInfo info = Put(RandomBytes(2 * Chunk() + 1, 29));
    EXPECT_GT(harness_->StoredItems(), stored_before);
    EXPECT_TRUE(store_->Remove(info.id));
    EXPECT_EQ(harness_->StoredItems(), stored_before) << "its chunks must go too";
    EXPECT_FALSE(store_->Remove(info.id));
    EXPECT_FALSE(store_->Stat(info.id));
    EXPECT_THROW(store_->Open(info.id), BlobNotFound);
    EXPECT_EQ(store_->Stat(kept.id), 4u);
    EXPECT_TRUE(store_->Remove(kept.id));
    EXPECT_EQ(harness_->StoredItems(), 0u);
}

TEST_P(BlobStoreContract, ReadersAndWritersMayOutliveTheStore) {
    const auto data = RandomBytes(Chunk() + 3, 31);
    const BlobInfo info = Put(data);
    auto reader = store_->Open(info.id);
    auto writer = store_->Create();
    writer->Write(data);
    store_.reset();
    EXPECT_EQ(ReadAll(*reader, 4096), data);
    const BlobInfo written = writer->Commit();
    store_ = harness_->NewStore();
    EXPECT_EQ(store_->Stat(written.id), data.size());
}

TEST_P(BlobStoreContract, AnotherStoreOnTheSameStorageSeesCommittedBlobs) {
    const BlobInfo info = Put(Bytes("shared"));
    auto again = harness_->NewStore();
    EXPECT_NO_THROW(again->Ping());
    EXPECT_EQ(again->Stat(info.id), 6u);
    EXPECT_TRUE(again->Remove(info.id));
    EXPECT_FALSE(store_->Stat(info.id));
}

TEST_P(BlobStoreContract, ConcurrentWritersAndReaders) {
    constexpr int kWriters = 6;
    constexpr int kReaders = 6;
    const std::size_t size = 2 * Chunk() + 4321;
    // Two blobs for the readers, committed up front.
    std::array<std::vector<std::byte>, 2> shared_data = {RandomBytes(size, 41), RandomBytes(size / 3, 42)};
    std::array<BlobInfo, 2> shared_info = {Put(shared_data[0]), Put(shared_data[1])};

    std::vector<BlobInfo> infos(kWriters);
    std::vector<std::string> expected(kWriters);
    std::atomic<int> reads{0};
    std::vector<std::thread> threads;
    threads.reserve(kWriters + kReaders);
    for (int t = 0; t < kWriters; ++t) {
        threads.emplace_back([&, t] {
            try {
                auto data =
                    RandomBytes(size + static_cast<std::size_t>(t), static_cast<std::uint64_t>(t) + 100);
                auto writer = store_->Create();
                for (std::size_t offset = 0; offset < data.size(); offset += 65'536) {
                    writer->Write(
                        std::span(data).subspan(offset, std::min<std::size_t>(65'536, data.size() - offset)));
                    std::this_thread::yield();
                }
                const auto header = Bytes("ID3-" + std::to_string(t));
                writer->Patch(0, header);
                std::copy(header.begin(), header.end(), data.begin());
                expected[t] = Sha256Hex(data);
                infos[t] = writer->Commit();
            } catch (const std::exception& e) {
                ADD_FAILURE() << "writer " << t << ": " << e.what();
            }
        });
    }
    for (int t = 0; t < kReaders; ++t) {
        threads.emplace_back([&, t] {
            try {
                for (int round = 0; round < 3; ++round) {
                    const std::size_t which = static_cast<std::size_t>(t + round) % 2;
                    auto reader = store_->Open(shared_info[which].id);
                    const auto got = ReadAll(*reader, 50'000 + static_cast<std::size_t>(t) * 1000);
                    EXPECT_EQ(Sha256Hex(got), shared_info[which].sha256) << "reader " << t;
                    ++reads;
                }
            } catch (const std::exception& e) {
                ADD_FAILURE() << "reader " << t << ": " << e.what();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(reads.load(), kReaders * 3);
    for (int t = 0; t < kWriters; ++t) {
        ASSERT_TRUE(IsBlobId(infos[t].id)) << t;
        EXPECT_EQ(infos[t].sha256, expected[t]) << t;
        EXPECT_EQ(store_->Stat(infos[t].id), size + static_cast<std::size_t>(t));
        EXPECT_EQ(Sha256Hex(ReadAll(*store_->Open(infos[t].id), 100'000)), expected[t]) << t;
    }
}

TEST_P(BlobStoreContract, LargeBlobStreamsBothWaysInBoundedMemory) {
    constexpr std::size_t kPiece = std::size_t{1} << 20;
    constexpr std::size_t kPieces = 300;
    constexpr std::uint64_t kTotal = std::uint64_t{kPiece} * kPieces;
    // Far below the blob's 300 MiB: a chunk or two in the store, the client
    // library's buffers, the allocator's slack.
    constexpr std::uint64_t kMaxGrowthKib = std::uint64_t{16} * 1024;
    std::vector<std::byte> piece(kPiece);
    std::vector<std::byte> buffer(999'983);  // a prime: reads straddle the store's chunks
    Generator generator(42);
    TestHasher expected;
    // AddressSanitizer's quarantine keeps freed memory resident on purpose:
    // there, only the bytes are checked.
    if (!kAddressSanitizer) {
        ASSERT_TRUE(PeakRssCanBeMeasured());
    }

    ResetPeakRss();
    const std::uint64_t before_write = PeakRssKib();
    const auto write_start = std::chrono::steady_clock::now();
    auto writer = store_->Create();
    for (std::size_t i = 0; i < kPieces; ++i) {
        generator.Fill(piece);
        expected.Update(piece);
        writer->Write(piece);
    }
    const BlobInfo info = writer->Commit();
    const std::chrono::duration<double> write_time = std::chrono::steady_clock::now() - write_start;
    writer.reset();
    const std::uint64_t write_growth = PeakRssKib() - before_write;
    const std::string expected_hex = expected.Hex();
    EXPECT_EQ(info.size, kTotal);
    EXPECT_EQ(info.sha256, expected_hex);

    ResetPeakRss();
    const std::uint64_t before_read = PeakRssKib();
    const auto read_start = std::chrono::steady_clock::now();
    auto reader = store_->Open(info.id);
    EXPECT_EQ(reader->Size(), kTotal);
    TestHasher actual;
    std::uint64_t total = 0;
    while (const std::size_t n = reader->Read(buffer)) {
        actual.Update(std::span(buffer).first(n));
        total += n;
    }
    const std::chrono::duration<double> read_time = std::chrono::steady_clock::now() - read_start;
    reader.reset();
    const std::uint64_t read_growth = PeakRssKib() - before_read;
    EXPECT_EQ(total, kTotal);
    EXPECT_EQ(actual.Hex(), expected_hex);

    const double mib = static_cast<double>(kTotal) / (1024.0 * 1024.0);
    std::cout << "[ measure  ] " << GetParam().name << ": 300 MiB written at " << mib / write_time.count()
              << " MiB/s (peak RSS +" << write_growth << " KiB), read at " << mib / read_time.count()
              << " MiB/s (peak RSS +" << read_growth << " KiB)\n";
    RecordProperty("write_mib_per_s", std::to_string(mib / write_time.count()));
    RecordProperty("read_mib_per_s", std::to_string(mib / read_time.count()));
    RecordProperty("write_peak_rss_growth_kib", std::to_string(write_growth));
    RecordProperty("read_peak_rss_growth_kib", std::to_string(read_growth));
    if (!kAddressSanitizer) {
        EXPECT_LT(write_growth, kMaxGrowthKib) << "writing is not streamed";
        EXPECT_LT(read_growth, kMaxGrowthKib) << "reading is not streamed";
    }
    EXPECT_TRUE(store_->Remove(info.id));
}

}  // namespace
}  // namespace v2m::blob::contract
