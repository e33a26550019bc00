#include "token/jwk_set.hpp"

#include <utility>

#include "token/ec_key.hpp"

namespace v2m::token {

namespace {

// A string member's value, or nullptr when it is absent or not a string.
const std::string* StringMember(const nlohmann::json& object, const char* name) {
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// Whether a member is absent or equals `expected`.
bool AbsentOr(const nlohmann::json& object, const char* name, std::string_view expected) {
    const auto it = object.find(name);
    return it == object.end() || (it->is_string() && it->get_ref<const std::string&>() == expected);
}

}  // namespace

JwkSet JwkSet::FromJson(const nlohmann::json& document) {
    const auto keys = document.is_object() ? document.find("keys") : document.end();
    if (!document.is_object() || keys == document.end() || !keys->is_array()) {
        throw KeyError("JWKS is not an object with a \"keys\" array");
    }
    JwkSet set;
    std::size_t index = 0;
    for (const nlohmann::json& jwk : *keys) {
        const std::string where = "JWKS key #" + std::to_string(index++);
        if (!jwk.is_object()) throw KeyError(where + " is not an object");
        // Keys this verifier cannot use may sit beside ours (a rotation to
        // another algorithm, an encryption key): they are not errors.
        const std::string* kty = StringMember(jwk, "kty");
        const std::string* crv = StringMember(jwk, "crv");
        if (kty == nullptr || *kty != "EC" || crv == nullptr || *crv != "P-256" ||
            !AbsentOr(jwk, "alg", "ES256") || !AbsentOr(jwk, "use", "sig")) {
            continue;
        }
        if (jwk.contains("d")) throw KeyError(where + " contains a private key");
        const std::string* kid = StringMember(jwk, "kid");
        const std::string* x = StringMember(jwk, "x");
        const std::string* y = StringMember(jwk, "y");
        if (kid == nullptr || kid->empty()) throw KeyError(where + " has no kid");
        if (x == nullptr || y == nullptr) throw KeyError(where + " (kid " + *kid + ") has no x or y");
        try {
            set.Insert(*kid, {*x, *y, detail::P256PublicKeyPem(*x, *y)});
        } catch (const KeyError& error) {
            throw KeyError(where + " (kid " + *kid + "): " + error.what());
        }
    }
    return set;
}

JwkSet JwkSet::Parse(std::string_view text) {
    const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) throw KeyError("JWKS is not valid JSON");
    return FromJson(document);
}

void JwkSet::Add(const SigningKey& key) {
    const nlohmann::json jwk = key.PublicJwk();
    Insert(key.Kid(), {jwk.at("x").get<std::string>(), jwk.at("y").get<std::string>(), key.PublicKeyPem()});
}

void JwkSet::Insert(const std::string& kid, PublicKey key) {
    if (!keys_.emplace(kid, std::move(key)).second) throw KeyError("duplicate kid " + kid + " in key set");
}

nlohmann::json JwkSet::ToJson() const {
    nlohmann::json keys = nlohmann::json::array();
    for (const auto& [kid, key] : keys_) {
        keys.push_back({{"kty", "EC"},
                        {"crv", "P-256"},
                        {"x", key.x},
                        {"y", key.y},
                        {"kid", kid},
                        {"use", "sig"},
                        {"alg", "ES256"}});
    }
    return {{"keys", std::move(keys)}};
}

const std::string* JwkSet::FindPublicKeyPem(std::string_view kid) const {
    const auto it = keys_.find(kid);
    return it != keys_.end() ? &it->second.pem : nullptr;
}

}  // namespace v2m::token
