#include "token/token_issuer.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "token/jws.hpp"

namespace v2m::token {

namespace {
constexpr std::chrono::seconds kMaxTtl = std::chrono::hours(24 * 365);
}  // namespace

TokenIssuer::TokenIssuer(const SigningKey& key, TokenSettings settings, Clock clock)
    : key_(key), settings_(std::move(settings)), clock_(std::move(clock)) {
    if (settings_.issuer.empty()) throw std::invalid_argument("token issuer must not be empty");
    if (settings_.audience.empty()) throw std::invalid_argument("token audience must not be empty");
    if (settings_.ttl < std::chrono::seconds(1) || settings_.ttl > kMaxTtl) {
        throw std::invalid_argument("token lifetime must be between 1 s and 365 days");
    }
    if (!clock_) throw std::invalid_argument("token issuer needs a clock");
}

std::string TokenIssuer::Issue(const Claims& claims) const {
    if (claims.subject.empty()) throw std::invalid_argument("token subject must not be empty");
    if (claims.username.empty()) throw std::invalid_argument("token username must not be empty");
    if (claims.admin != (claims.role == Role::kAdmin)) {
        throw std::invalid_argument("token claims: admin flag and role disagree");
    }
    const std::chrono::seconds now = std::chrono::floor<std::chrono::seconds>(clock_().time_since_epoch());
    const nlohmann::json payload = {
        {"iss", settings_.issuer}, {"aud", settings_.audience},
        {"sub", claims.subject},   {"username", claims.username},
        {"admin", claims.admin},   {"role", ToString(claims.role)},
        {"iat", now.count()},      {"exp", (now + settings_.ttl).count()},
    };
    std::string payload_text;
    try {
        payload_text = payload.dump();
    } catch (const nlohmann::json::type_error&) {
        throw std::invalid_argument("token claims are not valid UTF-8");
    }
    return detail::SignEs256(key_.private_pem_, key_.Kid(), payload_text);
}

}  // namespace v2m::token
