// Tests of the token library. The forged tokens (alg none, HS256 keyed with
// the public key, other keys, tampered claims) are built here with libjwt and
// OpenSSL directly, independently of the code under test.
#include <gtest/gtest.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "token/claims.hpp"
#include "token/jwk_set.hpp"
#include "token/jws.hpp"
#include "token/signing_key.hpp"
#include "token/token_issuer.hpp"
#include "token/token_verifier.hpp"

namespace v2m::token {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using TimePoint = std::chrono::system_clock::time_point;

constexpr const char* kIssuer = "https://auth.video2mp3.test";
constexpr const char* kAudience = "video2mp3";

// RFC 6979 A.2.5's P-256 key (x = C9AFA9D8…), SEC1 PEM. Its public point is
// published there: Ux = 60FED4BA…, Uy = 7903FE10…. The expected x, y and
// thumbprint below were computed with Python's `cryptography` and `hashlib`.
constexpr const char* kRfc6979Pem =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIMmvqdhFunUWa1whV2ex1pNOUMPbNuibEnuKYisSD2choAoGCCqGSM49\n"
    "AwEHoUQDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8\n"
    "maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==\n"
    "-----END EC PRIVATE KEY-----\n";
constexpr const char* kRfc6979X = "YP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Y";
constexpr const char* kRfc6979Y = "eQP-EAi4vJmkGunpVii8ZPLxsgwtfp9Rd6PClNRGIpk";
constexpr const char* kRfc6979Kid = "DOvxvJiAdIqVWIkFt5hDtCunXLF0BV4-JGv4f-ALSm0";

// ---- Independent helpers (OpenSSL's base64 and digest, libjwt's signer) ----

struct PkeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct BioFree {
    void operator()(BIO* bio) const { BIO_free_all(bio); }
};
struct JwtFree {
    void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
struct CharFree {
    void operator()(char* text) const { std::free(text); }  // libjwt allocates with malloc
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string B64Url(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    for (char& c : out) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
}

std::string B64UrlDecode(std::string text) {
    for (char& c : text) {
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    std::size_t padding = 0;
    while (text.size() % 4 != 0) {
        text.push_back('=');
        ++padding;
    }
    std::string out(text.size() * 3 / 4, '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    EXPECT_GE(n, 0) << "not base64: " << text;
    out.resize(static_cast<std::size_t>(std::max(n, 0)) - padding);
    return out;
}

std::string Sha256(std::string_view data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EXPECT_EQ(EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr), 1);
    return {reinterpret_cast<const char*>(digest), length};
}

std::string PrivatePem(EVP_PKEY* key) {
    const std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
    char* data = nullptr;
    const long size = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, static_cast<void*>(&data));
    return {data, static_cast<std::size_t>(size)};
}

std::string PublicPem(EVP_PKEY* key) {
    const std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
    EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key), 1);
    char* data = nullptr;
    const long size = BIO_ctrl(bio.get(), BIO_CTRL_INFO, 0, static_cast<void*>(&data));
    return {data, static_cast<std::size_t>(size)};
}

PkeyPtr NewEcKey(const char* curve) {
    const std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_group_name(ctx.get(), curve), 1);
    EVP_PKEY* key = nullptr;
    EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &key), 1);
    return PkeyPtr(key);
}

std::string NewEcPem(const char* curve = "P-256") { return PrivatePem(NewEcKey(curve).get()); }

std::string NewRsaPem() {
    const std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 1024), 1);
    EVP_PKEY* key = nullptr;
    EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &key), 1);
    const PkeyPtr owned(key);
    return PrivatePem(owned.get());
}

std::string PemPublicPart(const std::string& private_pem) {
    const std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())));
    const PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    EXPECT_TRUE(key);
    return PublicPem(key.get());
}

// The JWK coordinate `name` of a PEM key, read by OpenSSL.
std::string CoordinateOf(const std::string& private_pem, const char* name) {
    const std::unique_ptr<BIO, BioFree> bio(
        BIO_new_mem_buf(private_pem.data(), static_cast<int>(private_pem.size())));
    const PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    BIGNUM* value = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key.get(), name, &value), 1);
    unsigned char bytes[32];
    EXPECT_EQ(BN_bn2binpad(value, bytes, sizeof bytes), 32);
    BN_free(value);
    return B64Url({reinterpret_cast<const char*>(bytes), sizeof bytes});
}

// Signs `payload` with libjwt: `alg` keyed with `key` (a PEM for ES*, the
// HMAC secret for HS*), with header `kid` when given and `extra_headers`.
std::string LibjwtSign(jwt_alg_t alg, const std::string& key, const std::optional<std::string>& kid,
                       const json& payload, const json& extra_headers = json::object()) {
    jwt_t* raw = nullptr;
    EXPECT_EQ(jwt_new(&raw), 0);
    const std::unique_ptr<jwt_t, JwtFree> jwt(raw);
    EXPECT_EQ(jwt_set_alg(jwt.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                          static_cast<int>(key.size())),
              0);
    if (kid) {
        EXPECT_EQ(jwt_add_header(jwt.get(), "kid", kid->c_str()), 0);
    }
    if (!extra_headers.empty()) {
        EXPECT_EQ(jwt_add_headers_json(jwt.get(), extra_headers.dump().c_str()), 0);
    }
    EXPECT_EQ(jwt_add_grants_json(jwt.get(), payload.dump().c_str()), 0);
    const std::unique_ptr<char, CharFree> token(jwt_encode_str(jwt.get()));
    EXPECT_TRUE(token);
    return token ? std::string(token.get()) : std::string();
}

std::vector<std::string> Split(const std::string& token) {
    std::vector<std::string> parts;
    std::stringstream stream(token);
    std::string part;
    while (std::getline(stream, part, '.')) parts.push_back(part);
    if (!token.empty() && token.back() == '.') parts.emplace_back();
    return parts;
}

json HeaderOf(const std::string& token) { return json::parse(B64UrlDecode(Split(token).at(0))); }
json PayloadOf(const std::string& token) { return json::parse(B64UrlDecode(Split(token).at(1))); }

// A temporary directory, removed with its contents.
class TempDir final {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "token_test.XXXXXX").string();
        EXPECT_NE(::mkdtemp(pattern.data()), nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::string File(const std::string& name) const { return (path_ / name).string(); }
    std::vector<std::string> Entries() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::directory_iterator(path_)) {
            names.push_back(entry.path().filename().string());
        }
        return names;
    }

  private:
    std::filesystem::path path_;
};

void WriteFile(const std::string& path, const std::string& contents) {
    std::ofstream(path, std::ios::binary) << contents;
}

unsigned ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
}

// ---- Fixture: one key, an issuer and a verifier on a clock the test sets ----

class TokenTest : public ::testing::Test {
  protected:
    TimePoint now_ = TimePoint(seconds(1'700'000'000));
    Clock clock_ = [this] { return now_; };
    std::string pem_ = NewEcPem();
    SigningKey key_ = SigningKey::FromPem(pem_);
    TokenIssuer issuer_{key_, {.issuer = kIssuer, .audience = kAudience}, clock_};
    TokenVerifier verifier_{KeysOf(key_), {.issuer = kIssuer, .audience = kAudience}, clock_};

    static JwkSet KeysOf(const SigningKey& key) {
        JwkSet keys;
        keys.Add(key);
        return keys;
    }

    static Claims Alice() { return {.subject = "42", .username = "alice@example.com"}; }

    long Now() const { return std::chrono::duration_cast<seconds>(now_.time_since_epoch()).count(); }

    json ValidPayload() const {
        return {{"iss", kIssuer}, {"aud", kAudience}, {"sub", "42"},  {"username", "alice@example.com"},
                {"admin", false}, {"role", "user"},   {"iat", Now()}, {"exp", Now() + 3600}};
    }

    // ES256 with our key and kid, signed by libjwt rather than TokenIssuer.
    std::string Sign(const json& payload) const {
        return LibjwtSign(JWT_ALG_ES256, pem_, key_.Kid(), payload);
    }

    // The refusal reason for `token`; fails the test if it is accepted.
    VerifyError Refusal(const std::string& token) const {
        const VerifyResult result = verifier_.Verify(token);
        EXPECT_FALSE(result.Valid()) << "accepted: " << token;
        return result.Valid() ? static_cast<VerifyError>(-1) : result.GetFailure().reason;
    }

    void ExpectValid(const std::string& token) const {
        const VerifyResult result = verifier_.Verify(token);
        EXPECT_TRUE(result.Valid()) << ToString(result.GetFailure().reason) << ": "
                                    << result.GetFailure().message;
    }
};

// ---- Issue and verify ----

TEST_F(TokenTest, IssuedTokenVerifiesWithTheSameClaims) {
    Claims admin = Alice();
    admin.admin = true;
    admin.role = Role::kAdmin;
    for (const Claims& claims : {Alice(), admin}) {
        const VerifyResult result = verifier_.Verify(issuer_.Issue(claims));
        ASSERT_TRUE(result.Valid()) << result.GetFailure().message;
        Claims expected = claims;
        expected.issued_at = now_;
        expected.expires_at = now_ + std::chrono::hours(1);
        EXPECT_EQ(result.GetClaims(), expected);
    }
}

TEST_F(TokenTest, IssuedTokenCarriesTheDocumentedHeaderAndClaims) {
    const std::string token = issuer_.Issue(Alice());
    EXPECT_EQ(HeaderOf(token), (json{{"alg", "ES256"}, {"kid", key_.Kid()}, {"typ", "JWT"}}));
    EXPECT_EQ(PayloadOf(token), ValidPayload());
}

TEST_F(TokenTest, LifetimeIsConfigurable) {
    const TokenIssuer issuer(key_, {.issuer = kIssuer, .audience = kAudience, .ttl = seconds(90)}, clock_);
    const VerifyResult result = verifier_.Verify(issuer.Issue(Alice()));
    ASSERT_TRUE(result.Valid());
    EXPECT_EQ(result.GetClaims().expires_at, now_ + seconds(90));
}

TEST_F(TokenTest, IssueRefusesIncompleteOrInconsistentClaims) {
    Claims no_subject = Alice();
    no_subject.subject.clear();
    EXPECT_THROW(issuer_.Issue(no_subject), std::invalid_argument);
    Claims no_username = Alice();
    no_username.username.clear();
    EXPECT_THROW(issuer_.Issue(no_username), std::invalid_argument);
    Claims disagreeing = Alice();
    disagreeing.admin = true;  // role stays kUser
    EXPECT_THROW(issuer_.Issue(disagreeing), std::invalid_argument);
    Claims not_utf8 = Alice();
    not_utf8.username = "\xff\xfe@example.com";
    EXPECT_THROW(issuer_.Issue(not_utf8), std::invalid_argument);
    EXPECT_NO_THROW(issuer_.Issue(Alice()));
}

TEST_F(TokenTest, SettingsAreChecked) {
    EXPECT_THROW(TokenIssuer(key_, {.issuer = "", .audience = kAudience}, clock_), std::invalid_argument);
    EXPECT_THROW(TokenIssuer(key_, {.issuer = kIssuer, .audience = kAudience, .ttl = seconds(0)}, clock_),
                 std::invalid_argument);
    EXPECT_THROW(TokenVerifier(JwkSet(), {.issuer = kIssuer, .audience = ""}, clock_), std::invalid_argument);
    EXPECT_THROW(
        TokenVerifier(JwkSet(), {.issuer = kIssuer, .audience = kAudience, .leeway = seconds(-1)}, clock_),
        std::invalid_argument);
    EXPECT_NO_THROW(TokenVerifier(JwkSet(), {.issuer = kIssuer, .audience = kAudience}, clock_));
}

TEST_F(TokenTest, HandSignedValidTokenVerifies) {
    // The baseline for the forgeries below: the helper itself makes good tokens.
    ExpectValid(Sign(ValidPayload()));
}

// ---- Keys, kid, JWKS ----

TEST_F(TokenTest, KidIsTheRfc7638ThumbprintOfThePublicJwk) {
    const json jwk = key_.PublicJwk();
    EXPECT_EQ(jwk, (json{{"kty", "EC"},
                         {"crv", "P-256"},
                         {"x", jwk.at("x")},
                         {"y", jwk.at("y")},
                         {"kid", key_.Kid()},
                         {"use", "sig"},
                         {"alg", "ES256"}}));
    // x and y are the key's own coordinates, as OpenSSL reads them from the PEM.
    EXPECT_EQ(jwk.at("x"), CoordinateOf(pem_, OSSL_PKEY_PARAM_EC_PUB_X));
    EXPECT_EQ(jwk.at("y"), CoordinateOf(pem_, OSSL_PKEY_PARAM_EC_PUB_Y));
    // nlohmann::json sorts members and dumps without spaces: RFC 7638's form.
    const std::string canonical =
        json{{"crv", jwk.at("crv")}, {"kty", jwk.at("kty")}, {"x", jwk.at("x")}, {"y", jwk.at("y")}}.dump();
    ASSERT_EQ(canonical.rfind(R"({"crv":"P-256","kty":"EC","x":")", 0), 0U);
    EXPECT_EQ(key_.Kid(), B64Url(Sha256(canonical)));
    EXPECT_EQ(jwk.at("kid"), key_.Kid());
}

TEST_F(TokenTest, KnownKeyHasKnownCoordinatesAndKid) {
    const SigningKey key = SigningKey::FromPem(kRfc6979Pem);
    const json jwk = key.PublicJwk();
    EXPECT_EQ(jwk.at("x"), kRfc6979X);
    EXPECT_EQ(jwk.at("y"), kRfc6979Y);
    EXPECT_EQ(key.Kid(), kRfc6979Kid);
    EXPECT_EQ(key.PublicKeyPem(), PemPublicPart(kRfc6979Pem));
}

TEST_F(TokenTest, LoadsSec1KeyWithParametersBlock) {
    // What `openssl ecparam -name prime256v1 -genkey` writes.
    const std::string pem = std::string(
                                "-----BEGIN EC PARAMETERS-----\n"
                                "BggqhkjOPQMBBw==\n"
                                "-----END EC PARAMETERS-----\n") +
                            kRfc6979Pem;
    EXPECT_EQ(SigningKey::FromPem(pem).Kid(), kRfc6979Kid);
}

TEST_F(TokenTest, AssignmentCopiesTheWholeKey) {
    SigningKey copy = GenerateSigningKey();
    copy = key_;
    EXPECT_EQ(copy.Kid(), key_.Kid());
    EXPECT_EQ(copy.PublicJwk(), key_.PublicJwk());
    const TokenIssuer issuer(copy, {.issuer = kIssuer, .audience = kAudience}, clock_);
    ExpectValid(issuer.Issue(Alice()));
    SigningKey moved = GenerateSigningKey();
    moved = std::move(copy);
    EXPECT_EQ(moved.PublicKeyPem(), key_.PublicKeyPem());
    ExpectValid(TokenIssuer(moved, {.issuer = kIssuer, .audience = kAudience}, clock_).Issue(Alice()));
}

TEST_F(TokenTest, GeneratedKeysDiffer) { EXPECT_NE(GenerateSigningKey().Kid(), GenerateSigningKey().Kid()); }

TEST_F(TokenTest, KeygenFileHasMode0600AndReloads) {
    const TempDir dir;
    const std::string path = dir.File("signing.pem");
    const SigningKey generated = GenerateSigningKey();
    // With no umask a plain open(…, 0644) would leave the key world-readable.
    const mode_t old_umask = ::umask(0);
    generated.WritePrivateKeyPem(path);
    ::umask(old_umask);
    EXPECT_EQ(ModeOf(path), 0600U);
    EXPECT_EQ(dir.Entries(), std::vector<std::string>{"signing.pem"});  // no temporary file left
    const SigningKey reloaded = SigningKey::FromPemFile(path);
    EXPECT_EQ(reloaded.Kid(), generated.Kid());

    // Tokens signed by the reloaded key verify with the original's public part.
    const TokenIssuer issuer(reloaded, {.issuer = kIssuer, .audience = kAudience}, clock_);
    const TokenVerifier verifier(KeysOf(generated), {.issuer = kIssuer, .audience = kAudience}, clock_);
    EXPECT_TRUE(verifier.Verify(issuer.Issue(Alice())).Valid());
}

TEST_F(TokenTest, KeygenReplacesAWorldReadableFileWithA0600One) {
    const TempDir dir;
    const std::string path = dir.File("signing.pem");
    WriteFile(path, "old");
    ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
    key_.WritePrivateKeyPem(path);
    EXPECT_EQ(ModeOf(path), 0600U);
    EXPECT_EQ(SigningKey::FromPemFile(path).Kid(), key_.Kid());
    EXPECT_EQ(dir.Entries(), std::vector<std::string>{"signing.pem"});
}

TEST_F(TokenTest, KeygenIntoAMissingDirectoryFailsCleanly) {
    const TempDir dir;
    const std::string path = dir.File("missing/signing.pem");
    try {
        key_.WritePrivateKeyPem(path);
        ADD_FAILURE() << "no exception";
    } catch (const KeyError& error) {
        EXPECT_EQ(std::string(error.what()).rfind("cannot write key " + path + ": ", 0), 0U) << error.what();
    }
}

TEST_F(TokenTest, LoadErrorsNameTheFileAndTheReason) {
    const TempDir dir;
    const auto expect_error = [](const std::string& path, const std::string& prefix) {
        try {
            (void)SigningKey::FromPemFile(path);
            ADD_FAILURE() << "no exception for " << path;
        } catch (const KeyError& error) {
            EXPECT_EQ(std::string(error.what()).rfind(prefix, 0), 0U) << error.what();
        }
    };
    const std::string missing = dir.File("missing.pem");
    expect_error(missing, "cannot read key " + missing + ": No such file or directory");
    expect_error(dir.File(""), "cannot read key " + dir.File(""));  // a directory

    const std::vector<std::pair<std::string, std::string>> not_keys = {
        {"rsa.pem", NewRsaPem()},
        {"p384.pem", NewEcPem("P-384")},
        {"public.pem", key_.PublicKeyPem()},
        {"garbage.pem", "not a key\n"},
        {"empty.pem", ""},
    };
    for (const auto& [name, contents] : not_keys) {
        const std::string path = dir.File(name);
        WriteFile(path, contents);
        expect_error(path, path + " is not an EC P-256 private key");
    }
    EXPECT_THROW((void)SigningKey::FromPem("garbage"), KeyError);
}

TEST_F(TokenTest, TokenVerifiesThroughAJwksRoundTrip) {
    const SigningKey other = GenerateSigningKey();
    JwkSet published;
    published.Add(key_);
    published.Add(other);
    const json document = published.ToJson();
    ASSERT_EQ(document.at("keys").size(), 2U);
    EXPECT_TRUE(document.at("keys").at(0) == key_.PublicJwk() ||
                document.at("keys").at(1) == key_.PublicJwk());

    const JwkSet fetched = JwkSet::Parse(document.dump());
    EXPECT_EQ(fetched.Size(), 2U);
    EXPECT_EQ(fetched.ToJson(), document);
    const TokenVerifier verifier(fetched, {.issuer = kIssuer, .audience = kAudience}, clock_);
    EXPECT_TRUE(verifier.Verify(issuer_.Issue(Alice())).Valid());
    const TokenIssuer other_issuer(other, {.issuer = kIssuer, .audience = kAudience}, clock_);
    EXPECT_TRUE(verifier.Verify(other_issuer.Issue(Alice())).Valid());
}

TEST_F(TokenTest, JwksParsingSkipsKeysItCannotUse) {
    json document = KeysOf(key_).ToJson();
    json& keys = document.at("keys");
    keys.push_back({{"kty", "RSA"}, {"kid", "rsa"}, {"n", "AQAB"}, {"e", "AQAB"}});
    keys.push_back({{"kty", "OKP"}, {"crv", "Ed25519"}, {"kid", "ed"}, {"x", "AA"}});
    keys.push_back({{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}});
    json p384 = key_.PublicJwk();
    p384["crv"] = "P-384";
    p384["kid"] = "p384";
    keys.push_back(p384);
    json es384 = key_.PublicJwk();
    es384["alg"] = "ES384";
    es384["kid"] = "es384";
    keys.push_back(es384);
    json encryption = key_.PublicJwk();
    encryption["use"] = "enc";
    encryption["kid"] = "enc";
    keys.push_back(encryption);

    const JwkSet set = JwkSet::FromJson(document);
    EXPECT_EQ(set.Size(), 1U);
    EXPECT_TRUE(set.Contains(key_.Kid()));
    EXPECT_FALSE(set.Contains("es384"));
    // Without "alg" and "use" a P-256 key is still usable.
    json bare = key_.PublicJwk();
    bare.erase("alg");
    bare.erase("use");
    EXPECT_TRUE(JwkSet::FromJson({{"keys", json::array({bare})}}).Contains(key_.Kid()));
}

TEST_F(TokenTest, JwksParsingRefusesBrokenDocuments) {
    const json good = key_.PublicJwk();
    const auto with = [&](const char* name, const json& value) {
        json jwk = good;
        jwk[name] = value;
        return json{{"keys", json::array({jwk})}};
    };
    json no_kid = good;
    no_kid.erase("kid");
    // 32 bytes that are not the x of a point with this y.
    const std::string off_curve = B64Url(std::string(32, '\x01'));
    const std::vector<json> broken = {
        json::array(),
        json{{"keys", "none"}},
        json{{"keys", json::array({42})}},
        json{{"keys", json::array({no_kid})}},
        with("x", "AAAA"),
        with("x", off_curve),
        with("y", "not base64!"),
        with("d", "c2VjcmV0"),
        json{{"keys", {good, good}}},
    };
    for (const json& document : broken) {
        EXPECT_THROW(JwkSet::FromJson(document), KeyError) << document.dump();
    }
    EXPECT_THROW(JwkSet::Parse("{not json"), KeyError);
    EXPECT_NO_THROW(JwkSet::FromJson({{"keys", json::array({good})}}));
    JwkSet twice;
    twice.Add(key_);
    EXPECT_THROW(twice.Add(key_), KeyError);
}

// ---- Refusals ----

TEST_F(TokenTest, RefusesAlgNone) {
    const json payload = ValidPayload();
    for (const char* alg : {"none", "None", "NONE"}) {
        const std::string unsigned_token =
            B64Url(json{{"alg", alg}, {"kid", key_.Kid()}, {"typ", "JWT"}}.dump()) + "." +
            B64Url(payload.dump()) + ".";
        EXPECT_EQ(Refusal(unsigned_token), VerifyError::kBadAlgorithm) << alg;
    }
    // libjwt's own way of writing one, too.
    jwt_t* raw = nullptr;
    ASSERT_EQ(jwt_new(&raw), 0);
    const std::unique_ptr<jwt_t, JwtFree> jwt(raw);
    ASSERT_EQ(jwt_add_header(jwt.get(), "kid", key_.Kid().c_str()), 0);
    ASSERT_EQ(jwt_add_grants_json(jwt.get(), payload.dump().c_str()), 0);
    const std::unique_ptr<char, CharFree> token(jwt_encode_str(jwt.get()));
    ASSERT_TRUE(token);
    EXPECT_EQ(HeaderOf(token.get()).at("alg"), "none");
    EXPECT_EQ(Refusal(token.get()), VerifyError::kBadAlgorithm);
}

TEST_F(TokenTest, RefusesHs256KeyedWithThePublicKeyPem) {
    const std::string& public_pem = key_.PublicKeyPem();
    const std::string forged = LibjwtSign(JWT_ALG_HS256, public_pem, key_.Kid(), ValidPayload());
    // The trap is real: libjwt alone accepts the forgery with our public key.
    jwt_t* raw = nullptr;
    ASSERT_EQ(jwt_decode(&raw, forged.c_str(), reinterpret_cast<const unsigned char*>(public_pem.data()),
                         static_cast<int>(public_pem.size())),
              0);
    jwt_free(raw);
    EXPECT_EQ(Refusal(forged), VerifyError::kBadAlgorithm);
    for (const jwt_alg_t alg : {JWT_ALG_HS384, JWT_ALG_HS512}) {
        EXPECT_EQ(Refusal(LibjwtSign(alg, public_pem, key_.Kid(), ValidPayload())),
                  VerifyError::kBadAlgorithm);
    }
}

TEST_F(TokenTest, RefusesHandMadeHs256EvenWithADuplicateAlg) {
    // HS256 by hand with OpenSSL's HMAC, keyed with the public key PEM.
    const std::string& secret = key_.PublicKeyPem();
    const auto hs256 = [&](const std::string& header_json) {
        const std::string signing_input = B64Url(header_json) + "." + B64Url(ValidPayload().dump());
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_length = 0;
        EXPECT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
                       mac, &mac_length),
                  nullptr);
        return signing_input + "." + B64Url({reinterpret_cast<const char*>(mac), mac_length});
    };
    const std::string kid = key_.Kid();
    EXPECT_EQ(Refusal(hs256(R"({"alg":"HS256","typ":"JWT","kid":")" + kid + R"("})")),
              VerifyError::kBadAlgorithm);
    // Two "alg" members: refused whichever of them a JSON parser keeps.
    EXPECT_FALSE(verifier_.Verify(hs256(R"({"alg":"HS256","kid":")" + kid + R"(","alg":"ES256"})")).Valid());
    EXPECT_FALSE(verifier_.Verify(hs256(R"({"alg":"ES256","kid":")" + kid + R"(","alg":"HS256"})")).Valid());
}

TEST_F(TokenTest, SignatureCheckPinsEs256AfterLibjwtDecodes) {
    // The second line of defence, below the header check: libjwt accepts the
    // HS256 forgery, and VerifyEs256 must still say no.
    const std::string& public_pem = key_.PublicKeyPem();
    const std::string forged = LibjwtSign(JWT_ALG_HS256, public_pem, key_.Kid(), ValidPayload());
    EXPECT_EQ(detail::VerifyEs256(forged, public_pem), detail::SignatureCheck::kBadAlgorithm);
    EXPECT_EQ(detail::VerifyEs256(Sign(ValidPayload()), public_pem), detail::SignatureCheck::kValid);
    EXPECT_EQ(
        detail::VerifyEs256(LibjwtSign(JWT_ALG_ES256, NewEcPem(), key_.Kid(), ValidPayload()), public_pem),
        detail::SignatureCheck::kBadSignature);
}

TEST_F(TokenTest, RefusesOtherAsymmetricAlgorithms) {
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_RS256, NewRsaPem(), key_.Kid(), ValidPayload())),
              VerifyError::kBadAlgorithm);
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_ES384, NewEcPem("P-384"), key_.Kid(), ValidPayload())),
              VerifyError::kBadAlgorithm);
    // Our ES256 signature under a header that claims ES384.
    const std::vector<std::string> parts = Split(Sign(ValidPayload()));
    const std::string relabelled =
        B64Url(json{{"alg", "ES384"}, {"kid", key_.Kid()}}.dump()) + "." + parts.at(1) + "." + parts.at(2);
    EXPECT_EQ(Refusal(relabelled), VerifyError::kBadAlgorithm);
}

TEST_F(TokenTest, RefusesExpiredTokensAfterTheLeeway) {
    const std::string token = issuer_.Issue(Alice());
    const TimePoint issued = now_;
    now_ = issued + std::chrono::hours(1) + seconds(29);
    ExpectValid(token);
    now_ = issued + std::chrono::hours(1) + seconds(30);
    EXPECT_EQ(Refusal(token), VerifyError::kExpired);
    now_ = issued + std::chrono::hours(24 * 400);
    EXPECT_EQ(Refusal(token), VerifyError::kExpired);
}

TEST_F(TokenTest, RefusesTokensNotYetValid) {
    json payload = ValidPayload();
    payload["nbf"] = Now() + 30;
    ExpectValid(Sign(payload));
    payload["nbf"] = Now() + 31;
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kNotYetValid);

    json future = ValidPayload();
    future["iat"] = Now() + 31;
    EXPECT_EQ(Refusal(Sign(future)), VerifyError::kNotYetValid);

    // A token issued by a clock running a minute fast.
    const TokenIssuer fast(key_, {.issuer = kIssuer, .audience = kAudience},
                           [this] { return now_ + seconds(60); });
    EXPECT_EQ(Refusal(fast.Issue(Alice())), VerifyError::kNotYetValid);
}

TEST_F(TokenTest, RefusesWrongAudience) {
    const TokenVerifier elsewhere(KeysOf(key_), {.issuer = kIssuer, .audience = "billing"}, clock_);
    const VerifyResult result = elsewhere.Verify(issuer_.Issue(Alice()));
    ASSERT_FALSE(result.Valid());
    EXPECT_EQ(result.GetFailure().reason, VerifyError::kWrongAudience);

    json payload = ValidPayload();
    payload["aud"] = {"billing", kAudience};
    ExpectValid(Sign(payload));
    payload["aud"] = {"billing", "video2mp3-admin"};
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kWrongAudience);
    payload["aud"] = 42;
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kWrongAudience);
    payload.erase("aud");
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kWrongAudience);
}

TEST_F(TokenTest, RefusesWrongIssuer) {
    const TokenVerifier elsewhere(KeysOf(key_), {.issuer = "https://evil.test", .audience = kAudience},
                                  clock_);
    const VerifyResult result = elsewhere.Verify(issuer_.Issue(Alice()));
    ASSERT_FALSE(result.Valid());
    EXPECT_EQ(result.GetFailure().reason, VerifyError::kWrongIssuer);

    json payload = ValidPayload();
    payload["iss"] = std::string(kIssuer) + "/";
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kWrongIssuer);
    payload.erase("iss");
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kWrongIssuer);
}

TEST_F(TokenTest, RefusesTamperedPayload) {
    const std::string token = issuer_.Issue(Alice());
    std::vector<std::string> parts = Split(token);
    json payload = PayloadOf(token);
    ASSERT_EQ(payload.at("admin"), false);
    payload["admin"] = true;
    payload["role"] = "admin";
    const std::string tampered = parts.at(0) + "." + B64Url(payload.dump()) + "." + parts.at(2);
    EXPECT_EQ(Refusal(tampered), VerifyError::kBadSignature);

    json later = PayloadOf(token);
    later["exp"] = later.at("exp").get<long>() + 86400;
    EXPECT_EQ(Refusal(parts.at(0) + "." + B64Url(later.dump()) + "." + parts.at(2)),
              VerifyError::kBadSignature);
}

TEST_F(TokenTest, RefusesUnknownKid) {
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_ES256, pem_, "some-other-kid", ValidPayload())),
              VerifyError::kUnknownKey);
    // A verifier that does not trust our key.
    const TokenVerifier stranger(KeysOf(GenerateSigningKey()), {.issuer = kIssuer, .audience = kAudience},
                                 clock_);
    const VerifyResult result = stranger.Verify(issuer_.Issue(Alice()));
    ASSERT_FALSE(result.Valid());
    EXPECT_EQ(result.GetFailure().reason, VerifyError::kUnknownKey);
}

TEST_F(TokenTest, RefusesMissingKid) {
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_ES256, pem_, std::nullopt, ValidPayload())),
              VerifyError::kUnknownKey);
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_ES256, pem_, std::nullopt, ValidPayload(), {{"kid", 7}})),
              VerifyError::kUnknownKey);
}

TEST_F(TokenTest, RefusesAnotherKeyUsingOurKid) {
    const std::string other_pem = NewEcPem();
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_ES256, other_pem, key_.Kid(), ValidPayload())),
              VerifyError::kBadSignature);
}

TEST_F(TokenTest, RefusesEveryTruncation) {
    const std::string token = issuer_.Issue(Alice());
    for (std::size_t length = 0; length < token.size(); ++length) {
        EXPECT_FALSE(verifier_.Verify(token.substr(0, length)).Valid()) << length;
    }
    const std::size_t last_dot = token.rfind('.');
    EXPECT_EQ(Refusal(token.substr(0, last_dot)), VerifyError::kMalformed);
    EXPECT_EQ(Refusal(token.substr(0, last_dot + 1)), VerifyError::kBadSignature);
    // 84 of the signature's 86 characters: well-formed base64url of 63 bytes.
    EXPECT_EQ(Refusal(token.substr(0, token.size() - 2)), VerifyError::kBadSignature);
}

TEST_F(TokenTest, RefusesEverySingleCharacterChange) {
    // Strict base64url matters here: the last character of the signature
    // carries two unused bits, and a lax decoder would accept their change.
    const std::string token = issuer_.Issue(Alice());
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (std::size_t i = 0; i < token.size(); ++i) {
        if (token[i] == '.') continue;
        for (const char replacement : {alphabet[(alphabet.find(token[i]) + 1) % 64], 'A', '_', '=', '+'}) {
            if (replacement == token[i]) continue;
            std::string changed = token;
            changed[i] = replacement;
            EXPECT_FALSE(verifier_.Verify(changed).Valid()) << "position " << i << " → " << replacement;
        }
    }
}

TEST_F(TokenTest, RefusesGarbageWithoutCrashing) {
    const std::string header = B64Url(json{{"alg", "ES256"}, {"kid", key_.Kid()}}.dump());
    const std::string payload = B64Url(ValidPayload().dump());
    const std::string signature = B64Url(std::string(64, 'x'));
    const std::vector<std::pair<std::string, VerifyError>> cases = {
        {"", VerifyError::kMalformed},
        {".", VerifyError::kMalformed},
        {"..", VerifyError::kMalformed},
        {"...", VerifyError::kMalformed},
        {"a.b.c", VerifyError::kMalformed},
        {"Bearer " + header + "." + payload + "." + signature, VerifyError::kMalformed},
        {"%%%.%%%.%%%", VerifyError::kMalformed},
        {std::string("eyJ\0hbGciOiJ.a.b", 16), VerifyError::kMalformed},
        {B64Url("not json") + "." + payload + "." + signature, VerifyError::kMalformed},
        {B64Url("[\"ES256\"]") + "." + payload + "." + signature, VerifyError::kMalformed},
        {B64Url("{\"alg\":\"ES256\"") + "." + payload + "." + signature, VerifyError::kMalformed},
        {B64Url(std::string(500, '[')) + "." + payload + "." + signature, VerifyError::kMalformed},
        {B64Url("{\"alg\":\"ES256\",\"kid\":\"\xff\"}") + "." + payload + "." + signature,
         VerifyError::kMalformed},
        {B64Url("{\"alg\":42}") + "." + payload + "." + signature, VerifyError::kBadAlgorithm},
        {B64Url("{\"kid\":\"x\"}") + "." + payload + "." + signature, VerifyError::kBadAlgorithm},
        {header + "." + B64Url("not json") + "." + signature, VerifyError::kMalformed},
        {header + "." + B64Url("\"a string\"") + "." + signature, VerifyError::kMalformed},
        {header + "." + payload + "." + signature + "=", VerifyError::kMalformed},
        {header + "." + payload + ".!!!", VerifyError::kMalformed},
        {header + "." + payload + "." + B64Url(std::string(63, 'x')), VerifyError::kBadSignature},
        {header + "." + payload + "." + signature, VerifyError::kBadSignature},
        {header + "." + payload + "." + signature + ".", VerifyError::kMalformed},
        {std::string(1 << 20, 'A'), VerifyError::kMalformed},
        {header + "." + std::string(1 << 20, 'A') + "." + signature, VerifyError::kMalformed},
    };
    // Refused before libjwt (and its costly PEM parsing) is reached.
    EXPECT_EQ(
        verifier_.Verify(header + "." + payload + "." + B64Url(std::string(63, 'x'))).GetFailure().message,
        "token signature is not 64 bytes");
    for (const auto& [token, reason] : cases) {
        const VerifyResult result = verifier_.Verify(token);
        ASSERT_FALSE(result.Valid()) << token.substr(0, 80);
        EXPECT_EQ(result.GetFailure().reason, reason)
            << token.substr(0, 80) << " → " << result.GetFailure().message;
    }
}

TEST_F(TokenTest, RefusesOversizedTokensEvenWhenSigned) {
    json payload = ValidPayload();
    payload["pad"] = std::string(5000, 'p');
    ExpectValid(Sign(payload));
    payload["pad"] = std::string(TokenVerifier::kMaxTokenBytes, 'p');
    EXPECT_EQ(Refusal(Sign(payload)), VerifyError::kMalformed);
}

TEST_F(TokenTest, RefusesUnsupportedHeaders) {
    EXPECT_EQ(Refusal(LibjwtSign(JWT_ALG_ES256, pem_, key_.Kid(), ValidPayload(), {{"crit", {"exp"}}})),
              VerifyError::kMalformed);
    // libjwt 1.10 refuses any typ but "JWT"; say so rather than "bad signature".
    const std::vector<std::string> parts = Split(Sign(ValidPayload()));
    const std::string retyped =
        B64Url(json{{"alg", "ES256"}, {"kid", key_.Kid()}, {"typ", "at+jwt"}}.dump()) + "." + parts.at(1) +
        "." + parts.at(2);
    EXPECT_EQ(Refusal(retyped), VerifyError::kMalformed);
}

TEST_F(TokenTest, RefusesMissingOrMistypedClaims) {
    const auto without = [&](const char* name) {
        json payload = ValidPayload();
        payload.erase(name);
        return Sign(payload);
    };
    const auto with = [&](const char* name, const json& value) {
        json payload = ValidPayload();
        payload[name] = value;
        return Sign(payload);
    };
    EXPECT_EQ(Refusal(without("exp")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(without("sub")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(without("username")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("sub", 42)), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("sub", "")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("exp", "tomorrow")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("exp", 1e300)), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("exp", -1)), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("nbf", "now")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("admin", "yes")), VerifyError::kInvalidClaims);
    EXPECT_EQ(Refusal(with("admin", true)), VerifyError::kInvalidClaims);  // role says "user"
    EXPECT_EQ(Refusal(with("role", "root")), VerifyError::kInvalidClaims);
    // Optional ones may be absent; a fractional exp is a NumericDate too.
    ExpectValid(without("iat"));
    ExpectValid(without("admin"));
    ExpectValid(with("exp", static_cast<double>(Now()) + 0.5 + 3600));
}

TEST_F(TokenTest, FailureMessagesDoNotEchoTheToken) {
    const std::string kid = "\n" + std::string(1000, 'K');
    const VerifyResult result = verifier_.Verify(LibjwtSign(JWT_ALG_ES256, pem_, kid, ValidPayload()));
    ASSERT_FALSE(result.Valid());
    EXPECT_EQ(result.GetFailure().reason, VerifyError::kUnknownKey);
    EXPECT_LT(result.GetFailure().message.size(), 100U);
    EXPECT_EQ(result.GetFailure().message.find('\n'), std::string::npos);
}

TEST_F(TokenTest, LeavesNoOpenSslErrorsBehind) {
    // OpenSSL queues errors per thread; a stale one would be misread by the
    // next OpenSSL user on the thread (a TLS connection). Signatures whose r
    // or s is out of range make libjwt's OpenSSL calls queue one.
    const std::vector<std::string> parts = Split(issuer_.Issue(Alice()));
    for (const char byte : {'\x00', '\xff'}) {
        ERR_clear_error();
        const std::string token = parts.at(0) + "." + parts.at(1) + "." + B64Url(std::string(64, byte));
        EXPECT_EQ(Refusal(token), VerifyError::kBadSignature);
        EXPECT_EQ(ERR_peek_error(), 0UL) << ERR_reason_error_string(ERR_peek_error());
    }
    ERR_clear_error();
    EXPECT_THROW((void)SigningKey::FromPem("garbage"), KeyError);
    EXPECT_EQ(ERR_peek_error(), 0UL);
    EXPECT_THROW((void)SigningKey::FromPem(NewEcPem("P-384")), KeyError);
    EXPECT_EQ(ERR_peek_error(), 0UL);
    json off_curve = key_.PublicJwk();
    off_curve["x"] = B64Url(std::string(32, '\x01'));
    EXPECT_THROW(JwkSet::FromJson({{"keys", json::array({off_curve})}}), KeyError);
    EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST_F(TokenTest, VerifiesFromManyThreadsAtOnce) {
    const std::string good = issuer_.Issue(Alice());
    const std::string forged = LibjwtSign(JWT_ALG_ES256, NewEcPem(), key_.Kid(), ValidPayload());
    std::atomic<int> wrong{0};
    constexpr int kThreads = 4;
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) {
                if (!verifier_.Verify(good).Valid()) ++wrong;
                if (verifier_.Verify(forged).Valid()) ++wrong;
                if (issuer_.Issue(Alice()).empty()) ++wrong;
            }
        });
    }
    for (std::thread& thread : threads) thread.join();
    EXPECT_EQ(wrong.load(), 0);
}

TEST(VerifyErrorTest, NamesAreDistinct) {
    const std::vector<VerifyError> all = {
        VerifyError::kMalformed,    VerifyError::kBadAlgorithm,  VerifyError::kUnknownKey,
        VerifyError::kBadSignature, VerifyError::kExpired,       VerifyError::kNotYetValid,
        VerifyError::kWrongIssuer,  VerifyError::kWrongAudience, VerifyError::kInvalidClaims};
    std::set<std::string_view> names;
    for (const VerifyError error : all) names.insert(ToString(error));
    EXPECT_EQ(names.size(), all.size());
}

}  // namespace
}  // namespace v2m::token
