#include "blob/file_blob_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <new>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

#include "blob/sha256.hpp"
#include "util/random_id.hpp"

namespace v2m::blob {

namespace {

constexpr mode_t kDirectoryMode = 0700;
constexpr mode_t kFileMode = 0600;
// What a crashed process left behind; a live writer touches its file far more often.
constexpr std::chrono::seconds kStaleTemporaryAge = std::chrono::hours(1);
constexpr std::size_t kRehashChunk = std::size_t{256} * 1024;
constexpr std::string_view kHexDigits = "0123456789abcdef";

// Reads errno before anything else can overwrite it. std::error_code rather
// than strerror: same text, and safe from several threads.
[[noreturn]] void ThrowErrno(std::string_view action, const std::filesystem::path& path) {
    const int error = errno;
    throw BlobUnavailable("blob store: " + std::string(action) + " " + path.string() + ": " +
                          std::error_code(error, std::generic_category()).message());
}

template <typename Call>
auto RetryOnEintr(Call call) {
    while (true) {
        auto result = call();
        if (result != -1 || errno != EINTR) return result;
    }
}

class Fd final {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { Reset(); }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd& operator=(Fd&&) = delete;

    int get() const { return fd_; }
    void Reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_;
};

struct DirCloser {
    void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

void SyncDirectory(const std::filesystem::path& dir) {
    const Fd fd(RetryOnEintr([&] { return ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
    if (fd.get() < 0) ThrowErrno("cannot open", dir);
    if (RetryOnEintr([&] { return ::fsync(fd.get()); }) != 0) ThrowErrno("cannot sync", dir);
}

// Like `mkdir -p`, with mode 0700 for what it makes; true when `dir` itself was made.
bool MakeDirectory(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), kDirectoryMode) == 0) return true;
    if (errno == ENOENT && dir.parent_path() != dir) {
        MakeDirectory(dir.parent_path());
        if (::mkdir(dir.c_str(), kDirectoryMode) == 0) return true;
    }
    if (errno != EEXIST) ThrowErrno("cannot create", dir);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) ThrowErrno("cannot stat", dir);
    if (!S_ISDIR(st.st_mode)) throw BlobUnavailable("blob store: " + dir.string() + " is not a directory");
    return false;
}

// Best effort: a file that cannot be removed now is tried again at the next start.
void RemoveStaleTemporaries(const std::filesystem::path& tmp_dir) {
    const std::unique_ptr<DIR, DirCloser> dir(::opendir(tmp_dir.c_str()));
    if (!dir) ThrowErrno("cannot list", tmp_dir);
    const std::time_t cutoff =
        std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() - kStaleTemporaryAge);
    while (const dirent* entry = ::readdir(dir.get())) {
        // Only names this store gives its temporaries: nothing else is ours to delete.
        if (!IsBlobId(entry->d_name)) continue;
        struct stat st {};
        if (::fstatat(::dirfd(dir.get()), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISREG(st.st_mode) && st.st_mtim.tv_sec < cutoff)
            ::unlinkat(::dirfd(dir.get()), entry->d_name, 0);
    }
}

// Writes all of `data` at `offset`, handing each piece that reached the file to `done`.
constexpr std::size_t kWriteBuffer = std::size_t{256} * 1024;

template <typename Done>
void WriteAllAt(int fd, std::uint64_t offset, std::span<const std::byte> data,
                const std::filesystem::path& path, Done done) {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            ThrowErrno("cannot write", path);
        }
        const auto written = static_cast<std::size_t>(n);
        done(data.first(written));
        offset += written;
        data = data.subspan(written);
    }
}

int CreateExclusive(const std::filesystem::path& path) {
    return RetryOnEintr(
        [&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode); });
}

class FileBlobWriter final : public BlobWriter {
  public:
    FileBlobWriter(std::string id, std::filesystem::path temp_path, std::filesystem::path final_path)
        : id_(std::move(id)),
          temp_path_(std::move(temp_path)),
          final_path_(std::move(final_path)),
          fd_(CreateExclusive(temp_path_)) {
        if (fd_.get() < 0) ThrowErrno("cannot create", temp_path_);
    }
    ~FileBlobWriter() override {
        if (!committed_) ::unlink(temp_path_.c_str());
    }
    FileBlobWriter(const FileBlobWriter&) = delete;
    FileBlobWriter& operator=(const FileBlobWriter&) = delete;

    const std::string& id() const override { return id_; }

    void Write(std::span<const std::byte> data) override {
        CheckOpen("Write");
        if (!patched_) hash_.Update(data);
        size_ += data.size();
        // Uploads arrive in 4 KiB pieces: gathered here, they reach the file
        // in a few large writes instead of one system call each.
        if (buffer_.size() + data.size() > kWriteBuffer) Flush();
        if (data.size() >= kWriteBuffer) {
            WriteOrBreak(flushed_, data);
            flushed_ += data.size();
        } else {
            buffer_.insert(buffer_.end(), data.begin(), data.end());
        }
    }

    void Patch(std::uint64_t offset, std::span<const std::byte> data) override {
        CheckOpen("Patch");
        if (offset > size_ || data.size() > size_ - offset) {
            throw std::out_of_range("blob patch of " + std::to_string(data.size()) + " bytes at " +
                                    std::to_string(offset) + " goes past the " + std::to_string(size_) +
                                    " bytes written");
        }
        if (data.empty()) return;
        patched_ = true;
        Flush();
        WriteOrBreak(offset, data);
    }

    std::uint64_t Size() const override { return size_; }

    BlobInfo Commit() override {
        CheckOpen("Commit");
        // One attempt only: after a failed fsync the kernel may have dropped
        // the dirty pages and a second fsync would wrongly succeed.
        Flush();
        closed_ = true;
        if (patched_) Rehash();
        std::string sha256 = hash_.FinishHex();
        if (RetryOnEintr([&] { return ::fsync(fd_.get()); }) != 0) ThrowErrno("cannot sync", temp_path_);
        fd_.Reset();
        if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0)
            ThrowErrno("cannot rename to", final_path_);
        committed_ = true;
        try {
            SyncDirectory(final_path_.parent_path());
        } catch (const BlobUnavailable&) {
            // Not durable, so not committed: the caller hears of a failure and
            // must not find the blob after all.
            ::unlink(final_path_.c_str());
            throw;
        }
        return BlobInfo{.id = id_, .size = size_, .sha256 = std::move(sha256)};
    }

  private:
    void CheckOpen(const char* operation) const {
        if (closed_) throw std::logic_error(std::string("BlobWriter::") + operation + " after Commit");
        if (broken_)
            throw BlobUnavailable("blob store: an earlier write to " + temp_path_.string() + " failed");
    }

    void Flush() {
        if (buffer_.empty()) return;
        WriteOrBreak(flushed_, buffer_);
        flushed_ += buffer_.size();
        buffer_.clear();
    }

    // A failed write leaves the file's contents unknown: the writer is done for.
    void WriteOrBreak(std::uint64_t offset, std::span<const std::byte> data) {
        try {
            WriteAllAt(fd_.get(), offset, data, temp_path_, [](std::span<const std::byte>) {});
        } catch (...) {
            broken_ = true;
            throw;
        }
    }

    // The incremental hash no longer matches the file once bytes behind the
    // end were overwritten: read it all back, a chunk at a time.
    void Rehash() {
        hash_.Reset();
        const auto buffer = std::make_unique_for_overwrite<std::byte[]>(kRehashChunk);
        std::uint64_t offset = 0;
        while (offset < size_) {
            const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(kRehashChunk, size_ - offset));
            const ssize_t n = ::pread(fd_.get(), buffer.get(), want, static_cast<off_t>(offset));
            if (n < 0) {
                if (errno == EINTR) continue;
                ThrowErrno("cannot read back", temp_path_);
            }
            if (n == 0)
                throw BlobUnavailable("blob store: " + temp_path_.string() + " is shorter than written");
            hash_.Update({buffer.get(), static_cast<std::size_t>(n)});
            offset += static_cast<std::uint64_t>(n);
        }
    }

    std::string id_;
    std::filesystem::path temp_path_;
    std::filesystem::path final_path_;
    Sha256 hash_;
    // Created last: when anything before throws there is no file to clean up.
    Fd fd_;
    std::uint64_t size_ = 0;     ///< written, buffered or not
    std::uint64_t flushed_ = 0;  ///< in the file
    std::vector<std::byte> buffer_;
    bool broken_ = false;
    bool patched_ = false;
    bool closed_ = false;
    bool committed_ = false;
};

class FileBlobReader final : public BlobReader {
  public:
    FileBlobReader(Fd fd, std::uint64_t size, std::filesystem::path path)
        : fd_(std::move(fd)), size_(size), path_(std::move(path)) {}

    std::size_t Read(std::span<std::byte> buffer) override {
        // Also keeps a far Seek from reaching pread as a negative offset.
        if (position_ >= size_) return 0;
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size_ - position_));
        while (true) {
            const ssize_t n = ::pread(fd_.get(), buffer.data(), want, static_cast<off_t>(position_));
            if (n >= 0) {
                position_ += static_cast<std::uint64_t>(n);
                return static_cast<std::size_t>(n);
            }
            if (errno != EINTR) ThrowErrno("cannot read", path_);
        }
    }

    void Seek(std::uint64_t offset) override { position_ = offset; }

    std::uint64_t Size() const override { return size_; }

  private:
    Fd fd_;
    std::uint64_t size_;
    std::filesystem::path path_;
    std::uint64_t position_ = 0;
};

}  // namespace

FileBlobStore::FileBlobStore(const std::filesystem::path& dir) {
    if (dir.empty()) throw std::invalid_argument("blob store directory is empty");
    // Absolute now, so that a later chdir cannot move the store.
    dir_ = std::filesystem::absolute(dir).lexically_normal();
    if (!dir_.has_filename()) dir_ = dir_.parent_path();  // "/srv/blobs/" → "/srv/blobs"
    tmp_dir_ = dir_ / "tmp";

    const bool created = MakeDirectory(dir_);
    MakeDirectory(tmp_dir_);
    // All 256 fan-out directories up front: a directory made by one Commit
    // would not be durable for another process's Commit racing into it.
    for (const char high : kHexDigits) {
        for (const char low : kHexDigits) MakeDirectory(dir_ / std::string{high, low});
    }
    SyncDirectory(dir_);
    if (created) SyncDirectory(dir_.parent_path());
    RemoveStaleTemporaries(tmp_dir_);
}

std::filesystem::path FileBlobStore::BlobPath(std::string_view id) const {
    return dir_ / id.substr(0, 2) / id;
}

std::unique_ptr<BlobWriter> FileBlobStore::Create() {
    std::string id = util::RandomId();
    auto temp_path = tmp_dir_ / id;
    auto final_path = BlobPath(id);
    return std::make_unique<FileBlobWriter>(std::move(id), std::move(temp_path), std::move(final_path));
}

std::unique_ptr<BlobReader> FileBlobStore::Open(std::string_view id) {
    if (!IsBlobId(id)) throw BlobNotFound("no blob with that id");
    auto path = BlobPath(id);
    Fd fd(RetryOnEintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
    if (fd.get() < 0) {
        if (errno == ENOENT) throw BlobNotFound("no blob " + std::string(id));
        ThrowErrno("cannot open", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) ThrowErrno("cannot stat", path);
    // Readers stream a blob front to back (downloads, the transcoder's input).
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    return std::make_unique<FileBlobReader>(std::move(fd), static_cast<std::uint64_t>(st.st_size),
                                            std::move(path));
}

std::optional<std::uint64_t> FileBlobStore::Stat(std::string_view id) {
    if (!IsBlobId(id)) return std::nullopt;
    const auto path = BlobPath(id);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::nullopt;
        ThrowErrno("cannot stat", path);
    }
    return static_cast<std::uint64_t>(st.st_size);
}

bool FileBlobStore::Remove(std::string_view id) {
    if (!IsBlobId(id)) return false;
    const auto path = BlobPath(id);
    if (::unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    ThrowErrno("cannot remove", path);
}

void FileBlobStore::Ping() {
    for (const auto* dir : {&dir_, &tmp_dir_}) {
        struct stat st {};
        if (::stat(dir->c_str(), &st) != 0) ThrowErrno("cannot stat", *dir);
        if (!S_ISDIR(st.st_mode))
            throw BlobUnavailable("blob store: " + dir->string() + " is not a directory");
        if (::access(dir->c_str(), W_OK | X_OK) != 0) ThrowErrno("cannot write in", *dir);
    }
}

}  // namespace v2m::blob
