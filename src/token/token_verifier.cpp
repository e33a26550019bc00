#include "token/token_verifier.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <utility>

#include "token/base64url.hpp"
#include "token/jws.hpp"

namespace v2m::token {

namespace {

using nlohmann::json;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

constexpr seconds kMaxLeeway = std::chrono::hours(1);
// NumericDates are accepted up to 2^33 s (year 2242), which keeps every sum
// below in range of system_clock's nanosecond time_point.
constexpr std::int64_t kMaxNumericDate = std::int64_t{1} << 33;
constexpr std::size_t kEs256SignatureBytes = 64;
constexpr std::size_t kMaxQuotedBytes = 40;

VerifyFailure Fail(VerifyError reason, std::string message) { return {reason, std::move(message)}; }

// A short, JSON-escaped excerpt of attacker-controlled text, safe to log.
std::string Quote(std::string_view text) {
    const bool cut = text.size() > kMaxQuotedBytes;
    const json excerpt = std::string(text.substr(0, kMaxQuotedBytes));
    return excerpt.dump(-1, ' ', /*ensure_ascii=*/true, json::error_handler_t::replace) + (cut ? "..." : "");
}

// Decodes one base64url segment and parses it as a JSON object.
std::optional<json> DecodeJsonObject(std::string_view segment) {
    const std::optional<std::string> text = detail::Base64UrlDecode(segment);
    if (!text) return std::nullopt;
    json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!value.is_object()) return std::nullopt;  // also when parsing failed (discarded)
    return value;
}

struct NumericDate {
    bool present = false;
    bool valid = false;
    TimePoint time{};
};

// RFC 7519 NumericDate: seconds since the epoch, possibly fractional.
NumericDate ReadNumericDate(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end()) return {};
    std::int64_t value = -1;
    if (it->is_number_unsigned()) {
        value =
            static_cast<std::int64_t>(std::min<std::uint64_t>(it->get<std::uint64_t>(), kMaxNumericDate + 1));
    } else if (it->is_number_integer()) {
        value = it->get<std::int64_t>();
    } else if (it->is_number_float()) {
        const double number = it->get<double>();
        // The comparisons also refuse NaN.
        if (number >= 0 && number <= static_cast<double>(kMaxNumericDate)) {
            value = static_cast<std::int64_t>(std::floor(number));
        }
    }
    if (value < 0 || value > kMaxNumericDate) return {.present = true};
    return {.present = true, .valid = true, .time = TimePoint(seconds(value))};
}

const std::string* StringClaim(const json& claims, const char* name) {
    const auto it = claims.find(name);
    return it != claims.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

bool AudienceMatches(const json& claims, const std::string& audience) {
    const auto it = claims.find("aud");
    if (it == claims.end()) return false;
    if (it->is_string()) return it->get_ref<const std::string&>() == audience;
    if (!it->is_array()) return false;
    return std::any_of(it->begin(), it->end(), [&](const json& entry) {
        return entry.is_string() && entry.get_ref<const std::string&>() == audience;
    });
}

std::string SecondsText(TimePoint::duration duration) {
    return std::to_string(std::chrono::duration_cast<seconds>(duration).count()) + " s";
}

}  // namespace

std::string_view ToString(VerifyError error) {
    switch (error) {
        case VerifyError::kMalformed:
            return "malformed";
        case VerifyError::kBadAlgorithm:
            return "bad_algorithm";
        case VerifyError::kUnknownKey:
            return "unknown_key";
        case VerifyError::kBadSignature:
            return "bad_signature";
        case VerifyError::kExpired:
            return "expired";
        case VerifyError::kNotYetValid:
            return "not_yet_valid";
        case VerifyError::kWrongIssuer:
            return "wrong_issuer";
        case VerifyError::kWrongAudience:
            return "wrong_audience";
        case VerifyError::kInvalidClaims:
            return "invalid_claims";
        case VerifyError::kKeysUnavailable:
            return "keys_unavailable";
    }
    return "unknown";
}

TokenVerifier::TokenVerifier(JwkSet keys, VerifySettings settings, Clock clock)
    : keys_(std::move(keys)), settings_(std::move(settings)), clock_(std::move(clock)) {
    if (settings_.issuer.empty()) throw std::invalid_argument("token issuer must not be empty");
    if (settings_.audience.empty()) throw std::invalid_argument("token audience must not be empty");
    if (settings_.leeway < seconds(0) || settings_.leeway > kMaxLeeway) {
        throw std::invalid_argument("token leeway must be between 0 s and 1 hour");
    }
    if (!clock_) throw std::invalid_argument("token verifier needs a clock");
}

VerifyResult TokenVerifier::Verify(std::string_view token) const {
    // Bounded first: libjwt copies each segment onto the stack (alloca).
    if (token.empty()) return Fail(VerifyError::kMalformed, "token is empty");
    if (token.size() > kMaxTokenBytes) {
        return Fail(VerifyError::kMalformed,
                    "token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
    }
    const std::size_t first_dot = token.find('.');
    const std::size_t second_dot =
        first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
    if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
        return Fail(VerifyError::kMalformed, "token is not three dot-separated parts");
    }
    const std::string_view header_segment = token.substr(0, first_dot);
    const std::string_view payload_segment = token.substr(first_dot + 1, second_dot - first_dot - 1);
    const std::string_view signature_segment = token.substr(second_dot + 1);

    // The header is read here, before libjwt sees anything, so that the
    // algorithm is pinned and the key is chosen by us.
    const std::optional<json> header = DecodeJsonObject(header_segment);
    if (!header) return Fail(VerifyError::kMalformed, "token header is not a base64url JSON object");
    const std::string* alg = StringClaim(*header, "alg");
    if (alg == nullptr) return Fail(VerifyError::kBadAlgorithm, "token header has no alg");
    if (*alg != "ES256")
        return Fail(VerifyError::kBadAlgorithm, "algorithm " + Quote(*alg) + " is not ES256");
    if (header->contains("crit")) return Fail(VerifyError::kMalformed, "token header has unsupported crit");
    if (const auto typ = header->find("typ"); typ != header->end()) {
        // libjwt 1.10 refuses any other typ; say why rather than "bad signature".
        if (!typ->is_string() || (*typ != "JWT" && *typ != "jwt")) {
            return Fail(VerifyError::kMalformed, "token typ is not JWT");
        }
    }
    const auto kid_it = header->find("kid");
    if (kid_it == header->end()) return Fail(VerifyError::kUnknownKey, "token header has no kid");
    if (!kid_it->is_string()) return Fail(VerifyError::kUnknownKey, "token kid is not a string");
    const std::string& kid = kid_it->get_ref<const std::string&>();
    const std::string* public_pem = keys_.FindPublicKeyPem(kid);
    if (public_pem == nullptr) return Fail(VerifyError::kUnknownKey, "unknown kid " + Quote(kid));

    const std::optional<json> claims = DecodeJsonObject(payload_segment);
    if (!claims) return Fail(VerifyError::kMalformed, "token payload is not a base64url JSON object");
    const std::optional<std::string> signature = detail::Base64UrlDecode(signature_segment);
    if (!signature) return Fail(VerifyError::kMalformed, "token signature is not base64url");
    if (signature->size() != kEs256SignatureBytes) {
        return Fail(VerifyError::kBadSignature, "token signature is not 64 bytes");
    }
    switch (detail::VerifyEs256(std::string(token), *public_pem)) {
        case detail::SignatureCheck::kValid:
            break;
        case detail::SignatureCheck::kBadSignature:
            return Fail(VerifyError::kBadSignature, "token signature does not match key " + Quote(kid));
        case detail::SignatureCheck::kBadAlgorithm:
            return Fail(VerifyError::kBadAlgorithm, "libjwt did not decode the token as ES256");
    }

    // The signature is good: from here on the claims are the issuer's own words.
    const std::string* issuer = StringClaim(*claims, "iss");
    if (issuer == nullptr || *issuer != settings_.issuer) {
        return Fail(VerifyError::kWrongIssuer,
                    issuer == nullptr ? "token has no iss" : "token iss is not ours");
    }
    if (!AudienceMatches(*claims, settings_.audience)) {
        return Fail(VerifyError::kWrongAudience, "token aud does not include ours");
    }

    const NumericDate expires = ReadNumericDate(*claims, "exp");
    const NumericDate not_before = ReadNumericDate(*claims, "nbf");
    const NumericDate issued = ReadNumericDate(*claims, "iat");
    if (!expires.present) return Fail(VerifyError::kInvalidClaims, "token has no exp");
    if (!expires.valid || (not_before.present && !not_before.valid) || (issued.present && !issued.valid)) {
        return Fail(VerifyError::kInvalidClaims, "token exp, nbf or iat is not a valid NumericDate");
    }
    const TimePoint now = clock_();
    const seconds leeway = settings_.leeway;
    if (now >= expires.time + leeway) {
        return Fail(VerifyError::kExpired, "token expired " + SecondsText(now - expires.time) + " ago");
    }
    if (not_before.present && not_before.time > now + leeway) {
        return Fail(VerifyError::kNotYetValid,
                    "token nbf is " + SecondsText(not_before.time - now) + " ahead");
    }
    if (issued.present && issued.time > now + leeway) {
        return Fail(VerifyError::kNotYetValid, "token iat is " + SecondsText(issued.time - now) + " ahead");
    }

    Claims result;
    const std::string* subject = StringClaim(*claims, "sub");
    const std::string* username = StringClaim(*claims, "username");
    if (subject == nullptr || subject->empty()) return Fail(VerifyError::kInvalidClaims, "token has no sub");
    if (username == nullptr || username->empty())
        return Fail(VerifyError::kInvalidClaims, "token has no username");
    result.subject = *subject;
    result.username = *username;

    const auto admin = claims->find("admin");
    const auto role = claims->find("role");
    if (admin != claims->end() && !admin->is_boolean()) {
        return Fail(VerifyError::kInvalidClaims, "token admin is not a boolean");
    }
    if (role != claims->end() && !(role->is_string() && (*role == "user" || *role == "admin"))) {
        return Fail(VerifyError::kInvalidClaims, "token role is not \"user\" or \"admin\"");
    }
    const bool admin_flag = admin != claims->end() && admin->get<bool>();
    const bool admin_role = role != claims->end() && *role == "admin";
    if (admin != claims->end() && role != claims->end() && admin_flag != admin_role) {
        return Fail(VerifyError::kInvalidClaims, "token admin and role disagree");
    }
    result.admin = admin_flag || admin_role;
    result.role = result.admin ? Role::kAdmin : Role::kUser;
    result.issued_at = issued.present ? issued.time : TimePoint{};
    result.expires_at = expires.time;
    return result;
}

}  // namespace v2m::token
