#include "mail/file_mailer.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "mail/message.hpp"
#include "util/random_id.hpp"

namespace v2m::mail {
namespace {

std::string Sha256Hex(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
        throw MailUnavailable("mail: SHA-256 failed");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += kHex[digest[i] >> 4];
        out += kHex[digest[i] & 0x0F];
    }
    return out;
}

[[noreturn]] void ThrowIo(const std::string& what, int error) {
    throw MailUnavailable("mail: " + what + ": " + std::generic_category().message(error));
}

// Closes on every path; Close() reports the error a late write-back shows.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    int Close() { return ::close(std::exchange(fd_, -1)) == 0 ? 0 : errno; }

  private:
    int fd_;
};

void WriteAll(int fd, std::string_view bytes, const std::string& path) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            ThrowIo("cannot write " + path, errno);
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

FileMailer::FileMailer(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::error_code error;
    std::filesystem::create_directories(dir_, error);
    if (error) ThrowIo("cannot create " + dir_.string(), error.value());
}

std::filesystem::path FileMailer::PathFor(std::string_view message_id) const {
    bool verbatim = !message_id.empty() && message_id.size() <= 200 && message_id.front() != '.' &&
                    message_id.find('@') != std::string_view::npos;
    for (const char c : message_id) {
        verbatim = verbatim && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '.' || c == '_' || c == '@' || c == '+' || c == '-');
    }
    // A hash has no '@', a verbatim name always has one: the two never collide.
    return dir_ / ((verbatim ? std::string(message_id) : Sha256Hex(message_id)) + ".eml");
}

void FileMailer::Send(const std::string& from, const std::string& to, const std::string& message_id,
                      std::string_view bytes) {
    CheckEnvelope(from, to, message_id);
    const std::filesystem::path target = PathFor(message_id);
    const std::filesystem::path temp =
        dir_ / ("." + target.filename().string() + "." + util::RandomId() + ".tmp");
    // Someone may have removed the directory since the start (a cleaned-up data dir).
    std::error_code dir_error;
    std::filesystem::create_directories(dir_, dir_error);

    Fd file(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    if (file.get() < 0) ThrowIo("cannot create " + temp.string(), errno);
    try {
        WriteAll(file.get(), bytes, temp.string());
        if (::fsync(file.get()) != 0) ThrowIo("cannot fsync " + temp.string(), errno);
        if (const int error = file.Close(); error != 0) ThrowIo("cannot close " + temp.string(), error);
        if (::rename(temp.c_str(), target.c_str()) != 0)
            ThrowIo("cannot rename to " + target.string(), errno);
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
    // The rename itself must survive a crash, or a retry would find nothing and
    // the notifier would have recorded a mail that is gone.
    Fd directory(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (directory.get() < 0) ThrowIo("cannot open " + dir_.string(), errno);
    if (::fsync(directory.get()) != 0) ThrowIo("cannot fsync " + dir_.string(), errno);
}

}  // namespace v2m::mail
