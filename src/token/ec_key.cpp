#include "token/ec_key.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <array>
#include <climits>
#include <cstring>
#include <memory>

#include "token/base64url.hpp"
#include "token/signing_key.hpp"

namespace v2m::token::detail {

namespace {

template <auto Free>
struct Deleter {
    template <typename T>
    void operator()(T* handle) const noexcept {
        Free(handle);
    }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<&EVP_PKEY_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<&BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<&BN_free>>;
using ParamBuildPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<&OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<&OSSL_PARAM_free>>;

constexpr std::size_t kCoordinateBytes = 32;
// OpenSSL's name for P-256 (secp256r1).
constexpr std::string_view kP256GroupName = "prime256v1";

// The last queued OpenSSL error, and an empty queue afterwards: the queue is
// per thread and a stale entry would be blamed on some later, unrelated call.
std::string TakeOpenSslError() {
    const unsigned long code = ERR_peek_last_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    ERR_clear_error();
    return reason != nullptr ? reason : "unknown OpenSSL error";
}

[[noreturn]] void ThrowOpenSsl(const std::string& what) { throw KeyError(what + ": " + TakeOpenSslError()); }

// Empties the thread's OpenSSL error queue on the way out, whatever the
// outcome: decoders may queue errors even when they end up succeeding.
class ErrorQueueGuard final {
  public:
    ErrorQueueGuard() = default;
    ~ErrorQueueGuard() { ERR_clear_error(); }
    ErrorQueueGuard(const ErrorQueueGuard&) = delete;
    ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

// Never fall back to OpenSSL's default callback, which prompts on the terminal.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

std::string BioContents(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_ctrl(bio, BIO_CTRL_INFO, 0, static_cast<void*>(&data));
    if (size <= 0 || data == nullptr) return {};
    return {data, static_cast<std::size_t>(size)};
}

std::string Coordinate(const EVP_PKEY* pkey, const char* name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) ThrowOpenSsl("cannot read the EC public point");
    const BignumPtr value(raw);
    std::array<unsigned char, kCoordinateBytes> bytes{};
    if (BN_bn2binpad(value.get(), bytes.data(), static_cast<int>(bytes.size())) < 0) {
        ThrowOpenSsl("EC coordinate does not fit 32 bytes");
    }
    return Base64UrlEncode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::string PublicPem(EVP_PKEY* pkey) {
    const BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey) != 1) ThrowOpenSsl("cannot encode the public key");
    return BioContents(bio.get());
}

EcKeyMaterial Export(EVP_PKEY* pkey) {
    EcKeyMaterial key;
    // Secure memory: the buffer is wiped when the BIO is freed.
    const BioPtr bio(BIO_new(BIO_s_secmem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        ThrowOpenSsl("cannot encode the private key");
    }
    key.private_pem = BioContents(bio.get());
    key.public_pem = PublicPem(pkey);
    key.x = Coordinate(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
    key.y = Coordinate(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
    return key;
}

std::string GroupName(const EVP_PKEY* pkey) {
    std::array<char, 80> name{};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(pkey, name.data(), name.size(), &length) != 1) {
        ERR_clear_error();
        return {};
    }
    return {name.data(), length};
}

}  // namespace

EcKeyMaterial ParseP256PrivateKey(std::string_view pem, const std::string& origin) {
    const ErrorQueueGuard clear_errors;
    const std::string prefix = origin + " is not an EC P-256 private key: ";
    if (pem.size() > INT_MAX) throw KeyError(prefix + "too large");
    const BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) ThrowOpenSsl("cannot parse " + origin);
    const PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
    if (!pkey) {
        ERR_clear_error();
        throw KeyError(prefix + "no unencrypted PEM private key found");
    }
    if (EVP_PKEY_is_a(pkey.get(), "EC") != 1) {
        const char* type = EVP_PKEY_get0_type_name(pkey.get());
        throw KeyError(prefix + "it is a " + (type != nullptr ? type : "non-EC") + " key");
    }
    const std::string group = GroupName(pkey.get());
    if (group != kP256GroupName) {
        throw KeyError(prefix + "its curve is " + (group.empty() ? "not a named curve" : group));
    }
    const PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!ctx || EVP_PKEY_check(ctx.get()) != 1)
        throw KeyError(prefix + "key check failed: " + TakeOpenSslError());
    return Export(pkey.get());
}

EcKeyMaterial GenerateP256Key() {
    const ErrorQueueGuard clear_errors;
    const PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
        ThrowOpenSsl("cannot set up P-256 key generation");
    }
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_generate(ctx.get(), &raw) != 1) ThrowOpenSsl("cannot generate a P-256 key");
    const PkeyPtr pkey(raw);
    return Export(pkey.get());
}

std::string P256PublicKeyPem(std::string_view x, std::string_view y) {
    const ErrorQueueGuard clear_errors;
    const auto x_bytes = Base64UrlDecode(x);
    const auto y_bytes = Base64UrlDecode(y);
    if (!x_bytes || !y_bytes || x_bytes->size() != kCoordinateBytes || y_bytes->size() != kCoordinateBytes) {
        throw KeyError("EC P-256 coordinates must be 32 bytes in base64url");
    }
    // Uncompressed SEC1 point: 0x04 || x || y.
    const std::string point = std::string(1, '\x04') + *x_bytes + *y_bytes;

    const ParamBuildPtr build(OSSL_PARAM_BLD_new());
    if (!build ||
        OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, kP256GroupName.data(),
                                        kP256GroupName.size()) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) !=
            1) {
        ThrowOpenSsl("cannot build EC key parameters");
    }
    const ParamsPtr params(OSSL_PARAM_BLD_to_param(build.get()));
    const PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) ThrowOpenSsl("cannot build EC key");
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        ThrowOpenSsl("EC P-256 coordinates are not a valid point");
    }
    const PkeyPtr pkey(raw);
    const PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        ThrowOpenSsl("EC P-256 coordinates are not a point on the curve");
    }
    return PublicPem(pkey.get());
}

std::string Sha256(std::string_view data) {
    const ErrorQueueGuard clear_errors;
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
        ThrowOpenSsl("SHA-256 failed");
    }
    return {reinterpret_cast<const char*>(digest.data()), length};
}

void Cleanse(std::string& secret) noexcept { OPENSSL_cleanse(secret.data(), secret.size()); }

}  // namespace v2m::token::detail
