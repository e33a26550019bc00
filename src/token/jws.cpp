#include "token/jws.hpp"

#include <jwt.h>
#include <openssl/err.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

namespace v2m::token::detail {

namespace {

struct JwtFree {
    void operator()(jwt_t* jwt) const noexcept { jwt_free(jwt); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtFree>;

struct CFree {
    void operator()(char* text) const noexcept { std::free(text); }  // libjwt allocates with malloc
};

const unsigned char* Bytes(const std::string& text) {
    return reinterpret_cast<const unsigned char*>(text.data());
}

int Length(const std::string& text) {
    if (text.size() > INT_MAX) throw std::runtime_error("key or token too large for libjwt");
    return static_cast<int>(text.size());
}

[[noreturn]] void ThrowSignError(const char* step, int error) {
    throw std::runtime_error(std::string("cannot sign token: ") + step + ": " + std::strerror(error));
}

}  // namespace

std::string SignEs256(const std::string& private_pem, const std::string& kid,
                      const std::string& payload_json) {
    jwt_t* raw = nullptr;
    if (const int error = jwt_new(&raw); error != 0) ThrowSignError("jwt_new", error);
    const JwtPtr jwt(raw);
    if (const int error = jwt_set_alg(jwt.get(), JWT_ALG_ES256, Bytes(private_pem), Length(private_pem));
        error != 0) {
        ThrowSignError("jwt_set_alg", error);
    }
    if (const int error = jwt_add_header(jwt.get(), "kid", kid.c_str()); error != 0) {
        ThrowSignError("jwt_add_header", error);
    }
    if (const int error = jwt_add_grants_json(jwt.get(), payload_json.c_str()); error != 0) {
        ThrowSignError("jwt_add_grants_json", error);
    }
    errno = 0;
    const std::unique_ptr<char, CFree> token(jwt_encode_str(jwt.get()));
    const int encode_error = errno;
    ERR_clear_error();
    if (!token) ThrowSignError("jwt_encode_str", encode_error != 0 ? encode_error : EINVAL);
    return token.get();
}

SignatureCheck VerifyEs256(const std::string& token, const std::string& public_pem) {
    jwt_t* raw = nullptr;
    const int error = jwt_decode(&raw, token.c_str(), Bytes(public_pem), Length(public_pem));
    const JwtPtr jwt(raw);
    // OpenSSL's error queue is per thread: leave nothing behind for the next
    // OpenSSL user on this thread (a TLS connection would misread it).
    ERR_clear_error();
    if (error != 0 || !jwt) return SignatureCheck::kBadSignature;
    // libjwt 1.10 verifies whatever algorithm the header names with the key it
    // is given, HMAC included.
    if (jwt_get_alg(jwt.get()) != JWT_ALG_ES256) return SignatureCheck::kBadAlgorithm;
    return SignatureCheck::kValid;
}

}  // namespace v2m::token::detail
