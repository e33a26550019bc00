#include "token/signing_key.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "token/base64url.hpp"
#include "token/ec_key.hpp"

namespace v2m::token {

namespace {

// A PEM P-256 key is a few hundred bytes; anything far larger is not one.
constexpr std::size_t kMaxKeyFileBytes = std::size_t{64} * 1024;

std::string Reason() { return std::strerror(errno); }

// The file descriptor of a file being read or written; closed on scope exit.
class Fd final {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    int Get() const { return fd_; }
    /// Closes now, reporting the error close(2) gives (NFS reports write errors there).
    bool Close() { return ::close(std::exchange(fd_, -1)) == 0; }

  private:
    int fd_;
};

// Removes a temporary file unless it has been renamed into place.
class TempFileGuard final {
  public:
    explicit TempFileGuard(std::string path) : path_(std::move(path)) {}
    ~TempFileGuard() {
        if (!committed_) ::unlink(path_.c_str());
    }
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;

    void Commit() { committed_ = true; }

  private:
    std::string path_;
    bool committed_ = false;
};

[[noreturn]] void ThrowCannotRead(const std::string& path, const std::string& reason) {
    throw KeyError("cannot read key " + path + ": " + reason);
}

[[noreturn]] void ThrowCannotWrite(const std::string& path, const std::string& reason) {
    throw KeyError("cannot write key " + path + ": " + reason);
}

std::string ReadKeyFile(const std::string& path) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.Get() < 0) ThrowCannotRead(path, Reason());
    std::string contents;
    // Reserved up front so that no reallocation leaves an unwiped copy behind.
    contents.reserve(kMaxKeyFileBytes);
    std::array<char, 4096> buffer{};
    try {
        while (true) {
            const ssize_t n = ::read(fd.Get(), buffer.data(), buffer.size());
            if (n == 0) break;
            if (n < 0) {
                if (errno == EINTR) continue;
                ThrowCannotRead(path, Reason());
            }
            if (contents.size() + static_cast<std::size_t>(n) > kMaxKeyFileBytes) {
                ThrowCannotRead(path, "larger than 64 KiB, not a PEM key");
            }
            contents.append(buffer.data(), static_cast<std::size_t>(n));
        }
    } catch (...) {
        detail::Cleanse(contents);
        ::explicit_bzero(buffer.data(), buffer.size());
        throw;
    }
    ::explicit_bzero(buffer.data(), buffer.size());
    return contents;
}

void WriteAll(int fd, std::string_view data, const std::string& path) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            ThrowCannotWrite(path, Reason());
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

SigningKey::SigningKey(std::string private_pem, std::string public_pem, std::string x, std::string y)
    : private_pem_(std::move(private_pem)),
      public_pem_(std::move(public_pem)),
      x_(std::move(x)),
      y_(std::move(y)) {
    // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
    const std::string canonical = R"({"crv":"P-256","kty":"EC","x":")" + x_ + R"(","y":")" + y_ + R"("})";
    kid_ = detail::Base64UrlEncode(detail::Sha256(canonical));
}

SigningKey::~SigningKey() { detail::Cleanse(private_pem_); }

SigningKey& SigningKey::operator=(const SigningKey& other) {
    if (this != &other) {
        detail::Cleanse(private_pem_);
        private_pem_ = other.private_pem_;
        public_pem_ = other.public_pem_;
        x_ = other.x_;
        y_ = other.y_;
        kid_ = other.kid_;
    }
    return *this;
}

SigningKey& SigningKey::operator=(SigningKey&& other) noexcept {
    if (this != &other) {
        detail::Cleanse(private_pem_);
        private_pem_ = std::move(other.private_pem_);
        public_pem_ = std::move(other.public_pem_);
        x_ = std::move(other.x_);
        y_ = std::move(other.y_);
        kid_ = std::move(other.kid_);
    }
    return *this;
}

SigningKey SigningKey::FromPem(std::string_view pem) {
    detail::EcKeyMaterial material = detail::ParseP256PrivateKey(pem, "PEM");
    return {std::move(material.private_pem), std::move(material.public_pem), std::move(material.x),
            std::move(material.y)};
}

SigningKey SigningKey::FromPemFile(const std::string& path) {
    std::string pem = ReadKeyFile(path);
    try {
        detail::EcKeyMaterial material = detail::ParseP256PrivateKey(pem, path);
        detail::Cleanse(pem);
        return {std::move(material.private_pem), std::move(material.public_pem), std::move(material.x),
                std::move(material.y)};
    } catch (...) {
        detail::Cleanse(pem);
        throw;
    }
}

SigningKey GenerateSigningKey() {
    detail::EcKeyMaterial material = detail::GenerateP256Key();
    return {std::move(material.private_pem), std::move(material.public_pem), std::move(material.x),
            std::move(material.y)};
}

nlohmann::json SigningKey::PublicJwk() const {
    return {{"kty", "EC"}, {"crv", "P-256"}, {"x", x_},       {"y", y_},
            {"kid", kid_}, {"use", "sig"},   {"alg", "ES256"}};
}

void SigningKey::WritePrivateKeyPem(const std::string& path) const {
    std::string temp_path = path + ".tmp-XXXXXX";
    // mkostemp opens with O_CREAT|O_EXCL and mode 0600 (the umask can only narrow it).
    const int raw_fd = ::mkostemp(temp_path.data(), O_CLOEXEC);
    if (raw_fd < 0) ThrowCannotWrite(path, Reason());
    Fd fd(raw_fd);
    TempFileGuard guard(temp_path);
    // The umask may have narrowed 0600 further; the owner must still read its key.
    if (::fchmod(fd.Get(), S_IRUSR | S_IWUSR) != 0) ThrowCannotWrite(path, Reason());
    WriteAll(fd.Get(), private_pem_, path);
    if (::fsync(fd.Get()) != 0 || !fd.Close()) ThrowCannotWrite(path, Reason());
    if (::rename(temp_path.c_str(), path.c_str()) != 0) ThrowCannotWrite(path, Reason());
    guard.Commit();
    // Make the rename itself durable; the key is already complete, so a
    // failure here is not worth reporting.
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    const Fd dir_fd(::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir_fd.Get() >= 0) ::fsync(dir_fd.Get());
}

}  // namespace v2m::token
