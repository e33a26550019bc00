#include "auth/auth_http.hpp"

#include <sodium.h>

#include <optional>
#include <string>

#include "domain/account.hpp"
#include "domain/errors.hpp"
#include "obs/metrics.hpp"
#include "util/text.hpp"

namespace v2m::auth {

namespace {

using util::EqualsIgnoreCase;
using util::StartsWithIgnoreCase;

using domain::ClientError;
using http::Request;
using http::Response;

struct Credentials {
    std::string email;
    std::string password;
};

// `Authorization: Basic base64(email:password)`; empty when the header is absent.
std::optional<Credentials> BasicCredentials(std::string_view header) {
    if (header.empty()) return std::nullopt;
    if (!StartsWithIgnoreCase(header, "Basic ")) {
        throw ClientError(400, "bad_request", "expected HTTP Basic credentials (curl -u email:password)");
    }
    std::string_view encoded = header.substr(6);
    while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
    if (encoded.size() > 4096) throw ClientError(400, "bad_request", "credentials too long");
    std::string decoded(encoded.size(), '\0');
    std::size_t length = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), encoded.data(),
                          encoded.size(), nullptr, &length, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        throw ClientError(400, "bad_request", "the Basic credentials are not valid base64");
    }
    decoded.resize(length);
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) throw ClientError(400, "bad_request", "the Basic credentials lack a ':'");
    Credentials c{decoded.substr(0, colon), decoded.substr(colon + 1)};
    if (!domain::IsValidUtf8(c.email) || !domain::IsValidUtf8(c.password)) {
        throw ClientError(400, "bad_request", "the credentials are not valid UTF-8");
    }
    return c;
}

// `{"email": "…", "password": "…"}`, strings both.
Credentials JsonCredentials(const Request& req) {
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        throw ClientError(400, "bad_request", "the body must be a JSON object");
    const auto email = body.find("email");
    const auto password = body.find("password");
    if (email == body.end() || !email->is_string() || password == body.end() || !password->is_string()) {
        throw ClientError(400, "bad_request", "the body needs \"email\" and \"password\" strings");
    }
    Credentials c{email->get<std::string>(), password->get<std::string>()};
    if (!domain::IsValidUtf8(c.email) || !domain::IsValidUtf8(c.password)) {
        throw ClientError(400, "bad_request", "the credentials are not valid UTF-8");
    }
    return c;
}

token::Claims ClaimsFor(const store::User& user) {
    token::Claims c;
    c.subject = user.id;
    c.username = user.email;
    c.admin = user.role == store::Role::kAdmin;
    c.role = c.admin ? token::Role::kAdmin : token::Role::kUser;
    return c;
}

// Every X-Forwarded-For header of the request, in order, as one list.
std::string ForwardedFor(const Request& req) {
    std::string chain;
    for (const auto& [name, value] : req.headers) {
        if (!EqualsIgnoreCase(name, "X-Forwarded-For")) continue;
        if (!chain.empty()) chain += ',';
        chain += value;
    }
    return chain;
}

std::int64_t Seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

class AuthHandlers {
  public:
    explicit AuthHandlers(const AuthHttpDeps& deps)
        : d_(deps),
          logins_(prometheus::BuildCounter()
                      .Name("v2m_auth_logins_total")
                      .Help("Sign-in attempts by outcome")
                      .Register(deps.metrics.registry())) {}

    // Checks the throttle, then the password; the same answer for every kind
    // of wrong credentials.
    store::User SignIn(const Credentials& c, const Request& req) {
        const std::string account = domain::NormaliseEmail(c.email).value_or(c.email.substr(0, 254));
        const std::string address = d_.trusted_proxies.ClientAddress(req.remote_addr, ForwardedFor(req));
        if (const long wait = d_.throttle.RetryAfter(account, address); wait > 0) {
            Count("throttled");
            throw Throttled(wait);
        }
        auto user = d_.users.Authenticate(c.email, c.password);
        if (!user) {
            d_.throttle.RecordFailure(account, address);
            Count("failure");
            throw ClientError(401, "invalid_credentials", "wrong email or password");
        }
        d_.throttle.RecordSuccess(account);
        Count("success");
        return *user;
    }

    Response Login(const Request& req) {
        const auto credentials = BasicCredentials(req.Header("Authorization"));
        if (!credentials) {
            Response r = Response::Error(401, "missing_credentials",
                                         "sign in with HTTP Basic: curl -u email:password");
            r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"video2mp3\", charset=\"UTF-8\"");
            return r;
        }
        return Response::Text(200, d_.issuer.Issue(ClaimsFor(SignIn(*credentials, req))));
    }

    Response Token(const Request& req) {
        const store::User user = SignIn(JsonCredentials(req), req);
        return Response::Json(200, {{"access_token", d_.issuer.Issue(ClaimsFor(user))},
                                    {"token_type", "Bearer"},
                                    {"expires_in", d_.token_ttl.count()}});
    }

    Response Validate(const Request& req) {
        const std::string_view bearer = BearerToken(req.Header("Authorization"));
        if (bearer.empty()) throw ClientError(401, "missing_token", "send Authorization: Bearer <token>");
        const token::VerifyResult result = d_.verifier.Verify(bearer);
        if (!result)
            throw ClientError(
                401, "invalid_token",
                "the token is not valid (" + std::string(token::ToString(result.GetFailure().reason)) + ")");
        const token::Claims& c = result.GetClaims();
        return Response::Json(200, {{"sub", c.subject},
                                    {"username", c.username},
                                    {"admin", c.admin},
                                    {"role", token::ToString(c.role)},
                                    {"iat", Seconds(c.issued_at)},
                                    {"exp", Seconds(c.expires_at)}});
    }

    Response Jwks(const Request&) {
        Response r = Response::Json(200, d_.jwks.ToJson());
        r.content_type = "application/jwk-set+json";
        r.headers.emplace_back("Cache-Control", "public, max-age=300");
        return r;
    }

    Response Register(const Request& req) {
        // An admin's token may create accounts (and admins) even when open
        // registration is off.
        bool by_admin = false;
        if (const std::string_view bearer = BearerToken(req.Header("Authorization")); !bearer.empty()) {
            const token::VerifyResult result = d_.verifier.Verify(bearer);
            if (!result) throw ClientError(401, "invalid_token", "the token is not valid");
            by_admin = result.GetClaims().admin;
        }
        if (!d_.open_registration && !by_admin) {
            throw ClientError(403, "registration_closed", "registration is closed; ask an administrator");
        }
        const Credentials c = JsonCredentials(req);
        store::Role role = store::Role::kUser;
        const auto body = nlohmann::json::parse(req.body, nullptr, false);
        if (const auto it = body.find("role"); it != body.end()) {
            if (!it->is_string() || !store::ParseRole(it->get<std::string>())) {
                throw ClientError(400, "bad_request", "\"role\" must be \"user\" or \"admin\"");
            }
            role = *store::ParseRole(it->get<std::string>());
            if (role == store::Role::kAdmin && !by_admin) {
                throw ClientError(403, "forbidden", "only an administrator can create administrators");
            }
        }
        const store::User user = d_.users.Register(c.email, c.password, role);
        Response r = Response::Json(201, {{"id", user.id},
                                          {"email", user.email},
                                          {"role", store::RoleName(user.role)},
                                          {"created_at_ms", user.created_at_ms}});
        r.headers.emplace_back("Location", "/v1/users/" + user.id);
        return r;
    }

  private:
    static ClientError Throttled(long wait) {
        ClientError e(429, "too_many_attempts",
                      "too many failed sign-ins; try again in " + std::to_string(wait) + " s");
        e.WithRetryAfter(wait);
        return e;
    }
    void Count(const std::string& outcome) { logins_.Add({{"outcome", outcome}}).Increment(); }

    const AuthHttpDeps& d_;
    prometheus::Family<prometheus::Counter>& logins_;
};

}  // namespace

std::string_view BearerToken(std::string_view authorization) {
    if (!StartsWithIgnoreCase(authorization, "Bearer ")) return {};
    std::string_view t = authorization.substr(7);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    return t;
}

http::Handler AddAuthRoutes(http::Server& server, const AuthHttpDeps& deps) {
    auto handlers = std::make_shared<AuthHandlers>(deps);
    auto route = [&](std::string_view method, const std::string& pattern,
                     Response (AuthHandlers::*fn)(const Request&)) {
        server.Route(method, pattern, [handlers, fn](const Request& req) { return ((*handlers).*fn)(req); });
    };
    route("POST", "/login", &AuthHandlers::Login);
    route("POST", "/v1/auth/token", &AuthHandlers::Token);
    route("POST", "/validate", &AuthHandlers::Validate);
    route("GET", "/.well-known/jwks.json", &AuthHandlers::Jwks);
    route("POST", "/v1/users", &AuthHandlers::Register);
    return [handlers](const Request& req) { return handlers->Token(req); };
}

}  // namespace v2m::auth
