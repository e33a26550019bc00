// The whole pipeline end to end: `video2mp3 all` as a separate process on
// SQLite in a temporary data dir, driven with the curl command line tool the
// way the original's clients drive it (sign in, upload, wait for the email,
// download). The MP3s are decoded with ffmpeg, the emails read from the file
// mailer's directory, the database read with sqlite3. Every test has its own
// data dir, database and port, so tests run in parallel.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "e2e_client.hpp"
#include "services.hpp"
#include "test_support.hpp"

namespace v2m::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Cheap Argon2, one conversion at a time, short leases and a busy reaper:
// fast, and a killed converter's job comes back within seconds.
const std::vector<std::string> kAllEnv = {
    "V2M_ARGON2_OPS=1",       "V2M_ARGON2_MEMORY_KIB=1024", "V2M_CONCURRENCY=1",  "V2M_JOB_LEASE=3s",
    "V2M_REAPER_INTERVAL=1s", "V2M_OPEN_REGISTRATION=true", "V2M_LOG_FORMAT=json"};

// `video2mp3 all` on a free port, on `data` and `db`, stopped at the end.
class AllServer {
  public:
    AllServer(const TempDir& data, const Database& db, const std::vector<std::string>& extra_env = {})
        : AllServer(FreePort(), data, db, extra_env) {}

    std::string Url(const std::string& path) const { return service_.Url(path); }
    int port() const { return service_.port(); }
    ServiceProcess& process() { return service_; }

  private:
    AllServer(int port, const TempDir& data, const Database& db, const std::vector<std::string>& extra_env)
        : service_("all", Env(port, data, db, extra_env), port) {}

    static std::vector<std::string> Env(int port, const TempDir& data, const Database& db,
                                        const std::vector<std::string>& extra_env) {
        std::vector<std::string> env = {"V2M_DATA_DIR=" + data.path().string(),
                                        "V2M_DATABASE_URL=" + db.url(),
                                        "V2M_PUBLIC_URL=http://127.0.0.1:" + std::to_string(port)};
        env.insert(env.end(), kAllEnv.begin(), kAllEnv.end());
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        return env;
    }

    ServiceProcess service_;
};

// The emails the file mailer wrote: DATA/mail/*.eml (its temporaries start with a dot).
std::vector<std::string> Mails(const TempDir& data) {
    std::vector<std::string> mails;
    const fs::path dir = data.path() / "mail";
    if (!fs::exists(dir)) return mails;
    for (const auto& entry : fs::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name.front() != '.' && entry.path().extension() == ".eml") mails.push_back(entry.path().string());
    }
    std::sort(mails.begin(), mails.end());
    return mails;
}

// The emails whose file name mentions `job_id`, once there is at least one (or after `limit`).
std::vector<std::string> WaitForMailsOf(const TempDir& data, const std::string& job_id,
                                        std::chrono::milliseconds limit = 30s) {
    const auto deadline = Clock::now() + limit;
    while (true) {
        std::vector<std::string> found;
        for (const auto& m : Mails(data)) {
            if (fs::path(m).filename().string().find(job_id) != std::string::npos) found.push_back(m);
        }
        if (!found.empty() || Clock::now() > deadline) return found;
        std::this_thread::sleep_for(50ms);
    }
}

// Regular files under DATA/blobs: committed blobs, and in tmp/ those being written.
std::vector<std::string> BlobFiles(const TempDir& data) {
    std::vector<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(data.path() / "blobs")) {
        if (!entry.is_directory()) files.push_back(entry.path().string());
    }
    return files;
}

// The lines of a Prometheus text page that mention `name`, for failure messages.
std::string MetricLines(const std::string& page, const std::string& name) {
    std::string out;
    for (const std::string& line : Lines(page)) {
        if (line.find(name) != std::string::npos) out += line + "\n";
    }
    return out.empty() ? "(no " + name + " lines)" : out;
}

// A file of `size` zero bytes (sparse: instant, and takes no space).
std::string SparseFile(const std::string& path, std::uintmax_t size) {
    WriteFile(path, std::string());
    fs::resize_file(path, size);
    return path;
}

// `video2mp3 user add EMAIL --admin --password-stdin` on the database.
ProcessResult AddAdmin(const Database& db, const std::string& email) {
    return test::Run({"sh", "-c", R"(printf '%s\n' "$0" | "$@")", kPassword, "env", "V2M_ARGON2_OPS=1",
                      "V2M_ARGON2_MEMORY_KIB=1024", "V2M_DATABASE_URL=" + db.url(), Binary(), "user", "add",
                      email, "--admin", "--password-stdin"});
}

// Sends `request` over a fresh connection and reads until the server closes it.
std::string RawExchange(int port, const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
        std::array<char, 65536> buffer{};
        ssize_t n = 0;
        while ((n = ::recv(fd, buffer.data(), buffer.size(), 0)) > 0) {
            out.append(buffer.data(), static_cast<std::size_t>(n));
        }
    }
    ::close(fd);
    return out;
}

// An upload with curl's own Expect: 100-continue (bodies over 1 MiB): the
// answer, and how many body bytes curl sent before it came.
struct CountedUpload {
    int status = 0;
    double bytes_sent = 0;
    bool asked_to_continue = false;  ///< curl sent Expect: 100-continue
    std::string body;
    json Json() const { return json::parse(body, nullptr, false); }
};

CountedUpload UploadCounted(const std::string& url, const std::vector<std::string>& args) {
    TempDir dir;
    std::vector<std::string> argv = {"curl", "-sSv",       "-m", "60",
                                     "-o",   dir / "body", "-w", "%{http_code} %{size_upload}"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    const ProcessResult r = test::Run(argv, {.timeout = 90s});
    CountedUpload out;
    std::istringstream(r.out) >> out.status >> out.bytes_sent;
    out.asked_to_continue = r.err.find("> Expect: 100-continue") != std::string::npos;
    out.body = fs::exists(dir / "body") ? ReadFile(dir / "body") : "";
    return out;
}

// --- JWTs, to make an expired one with the server's own key ------------------

std::string Base64UrlEncode(const std::string& bytes) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : bytes) {
        buffer = buffer << 8 | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(buffer >> bits) & 0x3F];
        }
    }
    if (bits > 0) out += kAlphabet[(buffer << (6 - bits)) & 0x3F];
    return out;
}

std::string Base64UrlDecode(const std::string& text) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : text) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        if (c >= '0' && c <= '9') v = c - '0' + 52;
        if (c == '-') v = 62;
        if (c == '_') v = 63;
        if (v < 0) throw std::runtime_error("not base64url: " + text);
        buffer = buffer << 6 | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xFF);
        }
    }
    return out;
}

// An ECDSA signature from DER (SEQUENCE of two INTEGERs, as openssl writes
// it) to JWS's form: r and s as 32 bytes each.
std::string RawEcdsaSignature(const std::string& der) {
    std::size_t at = 2;  // SEQUENCE, its (short) length
    std::string raw;
    for (int i = 0; i < 2; ++i) {
        if (at + 2 > der.size() || der[at] != 0x02) throw std::runtime_error("unexpected DER signature");
        const auto length = static_cast<std::size_t>(static_cast<unsigned char>(der[at + 1]));
        std::string integer = der.substr(at + 2, length);
        while (integer.size() > 32 && integer.front() == '\0') integer.erase(0, 1);
        raw += std::string(32 - integer.size(), '\0') + integer;
        at += 2 + length;
    }
    return raw;
}

// `token` with its iat and exp moved by `shift_s`, signed again with the
// server's key file (ES256 with openssl).
std::string Resigned(const std::string& token, std::int64_t shift_s, const std::string& key_pem,
                     const TempDir& dir) {
    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = token.find('.', dot1 + 1);
    json claims = json::parse(Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1)));
    claims["iat"] = claims.at("iat").get<std::int64_t>() + shift_s;
    claims["exp"] = claims.at("exp").get<std::int64_t>() + shift_s;
    const std::string input = token.substr(0, dot1) + "." + Base64UrlEncode(claims.dump());
    WriteFile(dir / "jwt-input", input);
    const ProcessResult r = test::Run(
        {"openssl", "dgst", "-sha256", "-sign", key_pem, "-out", dir / "jwt-signature", dir / "jwt-input"});
    if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.Describe());
    return input + "." + Base64UrlEncode(RawEcdsaSignature(ReadFile(dir / "jwt-signature")));
}

class PipelineTest : public ::testing::Test {
  protected:
    AllServer& Start(const std::vector<std::string>& extra_env = {}) {
        server_.reset();
        server_ = std::make_unique<AllServer>(data_, db_, extra_env);
        return *server_;
    }
    // The song the original's README uploads: the 3 s tone in an MP4.
    std::string Song() {
        std::string path = work_ / "song.mp4";
        if (!fs::exists(path)) fs::copy_file(Fixture("h264_aac.mp4"), path);
        return path;
    }
    std::string Query(const std::string& sql) const { return db_.Query(sql); }

    TempDir data_;           // V2M_DATA_DIR: blobs/, mail/, the signing key
    Database db_{"sqlite"};  // in a directory of its own
    TempDir work_;           // the client's files
    std::unique_ptr<AllServer> server_;
};

// 1. The original's three commands, with everything between them checked.
TEST_F(PipelineTest, TheOriginalsThreeCurlCommandsWork) {
    AllServer& server = Start();
    const std::string email = "alice@example.com";
    const std::string token = SignUp(server, email);

    const HttpResult upload = Upload(server, token, Song());
    ASSERT_EQ(upload.status, 202) << upload.body;
    json job = upload.Json();
    const std::set<std::string> keys = {"job_id",     "state",      "progress",   "filename",   "video_fid",
                                        "mp3_fid",    "options",    "error",      "duration_s", "mp3_bytes",
                                        "created_at", "started_at", "finished_at"};
    std::set<std::string> got;
    for (const auto& [key, value] : job.items()) got.insert(key);
    EXPECT_EQ(got, keys) << job.dump();
    const std::regex id("^[0-9a-f]{32}$");
    const std::regex rfc3339(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$)");
    const std::string job_id = job.value("job_id", "");
    EXPECT_TRUE(std::regex_match(job_id, id)) << job.dump();
    EXPECT_EQ(job["state"], "queued");
    EXPECT_EQ(job["progress"], 0.0);
    EXPECT_EQ(job["filename"], "song.mp4");
    EXPECT_TRUE(std::regex_match(job.value("video_fid", ""), id)) << job.dump();
    EXPECT_TRUE(job["mp3_fid"].is_null());
    EXPECT_EQ(job["options"], json({{"quality", 2}}));
    EXPECT_TRUE(job["error"].is_null());
    EXPECT_TRUE(job["duration_s"].is_null());
    EXPECT_TRUE(job["mp3_bytes"].is_null());
    EXPECT_TRUE(std::regex_match(job.value("created_at", ""), rfc3339)) << job.dump();
    EXPECT_TRUE(job["started_at"].is_null());
    EXPECT_TRUE(job["finished_at"].is_null());
    EXPECT_EQ(upload.Header("Location"), "/v1/jobs/" + job_id);
    EXPECT_NE(upload.Header("Content-Type").find("application/json"), std::string::npos);

    const JobWatch watch = Watch(server, token, job_id, Finished);
    ASSERT_EQ(watch.state(), "done") << watch.History();
    EXPECT_TRUE(MovesForward(watch));
    json done = watch.job;
    const std::string mp3_fid = done.value("mp3_fid", "");
    EXPECT_TRUE(std::regex_match(mp3_fid, id)) << done.dump();
    EXPECT_EQ(done["progress"], 1.0);
    EXPECT_TRUE(done["error"].is_null());
    EXPECT_EQ(done["video_fid"], job["video_fid"]);
    EXPECT_TRUE(std::regex_match(done.value("started_at", ""), rfc3339)) << done.dump();
    EXPECT_TRUE(std::regex_match(done.value("finished_at", ""), rfc3339)) << done.dump();
    const double source_seconds = DecodeMono(Song()).seconds();
    EXPECT_NEAR(done.value("duration_s", 0.0), source_seconds, 0.05);

    // The email: one, to the user, naming the MP3 and linking to it.
    const std::vector<std::string> mails = WaitForMailsOf(data_, job_id);
    ASSERT_EQ(mails.size(), 1u);
    EXPECT_EQ(Mails(data_).size(), 1u);
    const std::string mail = ReadMail(mails[0]);
    EXPECT_NE(mail.find("\r\nSubject: MP3 Download\r\n"), std::string::npos) << mail;
    EXPECT_NE(mail.find("\r\nTo: " + email + "\r\n"), std::string::npos) << mail;
    EXPECT_NE(mail.find(mp3_fid), std::string::npos) << mail;
    const std::string link = server.Url("/download?fid=" + mp3_fid);
    EXPECT_NE(mail.find(link), std::string::npos) << mail;

    // curl --output song.mp3 -H "Authorization: Bearer $TOKEN" "http://HOST/download?fid=<mp3_fid>"
    const ProcessResult fetched = test::Run(
        {"env", "TOKEN=" + token, "sh", "-c",
         R"(cd "$0" && curl --output song.mp3 -H "Authorization: Bearer $TOKEN" "$1")", work_.path(), link});
    ASSERT_EQ(fetched.exit_code, 0) << fetched.Describe();
    const std::string mp3 = work_ / "song.mp3";
    ExpectTone(mp3, source_seconds);
    EXPECT_EQ(static_cast<std::int64_t>(fs::file_size(mp3)), done.value("mp3_bytes", std::int64_t{-1}));

    const HttpResult download = Curl({"-H", Bearer(token), link});
    ASSERT_EQ(download.status, 200);
    EXPECT_EQ(download.body, ReadFile(mp3));
    EXPECT_EQ(download.Header("Content-Type"), "audio/mpeg");
    EXPECT_NE(download.Header("Content-Disposition").find("attachment; filename=\"song.mp3\""),
              std::string::npos)
        << download.headers;
    EXPECT_EQ(download.Header("ETag"), "\"" + Sha256Sum(mp3) + "\"");
    // The same file under the REST name.
    const HttpResult audio = Curl({"-H", Bearer(token), server.Url("/v1/jobs/" + job_id + "/audio")});
    EXPECT_EQ(audio.status, 200);
    EXPECT_TRUE(audio.body == download.body);

    const HttpResult metrics = Curl({server.Url("/metrics")});
    EXPECT_NE(metrics.body.find("\nv2m_conversions_total{outcome=\"done\"} 1\n"), std::string::npos)
        << MetricLines(metrics.body, "v2m_conversions_total");
    EXPECT_NE(metrics.body.find("\nv2m_emails_total{outcome=\"sent\"} 1\n"), std::string::npos)
        << MetricLines(metrics.body, "v2m_emails_total");
    EXPECT_EQ(Query("SELECT notify_state || ' ' || notify_attempts FROM jobs"), "sent 1");
}

// 2. Ranges, HEAD and conditional requests on the download.
TEST_F(PipelineTest, DownloadHonoursRangesHeadAndEtags) {
    AllServer& server = Start();
    const std::string token = SignUp(server, "alice@example.com");
    const json job = ConvertOne(server, token, Song());
    const std::string url = server.Url("/download?fid=" + job.value("mp3_fid", ""));
    const HttpResult full = Curl({"-H", Bearer(token), url});
    ASSERT_EQ(full.status, 200);
    const std::string& bytes = full.body;
    const std::size_t n = bytes.size();
    ASSERT_GT(n, 1000u);
    const std::string size = std::to_string(n);
    EXPECT_EQ(full.Header("Accept-Ranges"), "bytes");

    HttpResult r = Curl({"-r", "0-99", "-H", Bearer(token), url});
    EXPECT_EQ(r.status, 206);
    EXPECT_TRUE(r.body == bytes.substr(0, 100)) << r.body.size() << " bytes";
    EXPECT_EQ(r.Header("Content-Range"), "bytes 0-99/" + size);
    EXPECT_EQ(r.Header("Content-Length"), "100");

    r = Curl({"-r", "100-", "-H", Bearer(token), url});
    EXPECT_EQ(r.status, 206);
    EXPECT_TRUE(r.body == bytes.substr(100)) << r.body.size() << " bytes";
    EXPECT_EQ(r.Header("Content-Range"), "bytes 100-" + std::to_string(n - 1) + "/" + size);

    r = Curl({"-r", "-10", "-H", Bearer(token), url});
    EXPECT_EQ(r.status, 206);
    EXPECT_TRUE(r.body == bytes.substr(n - 10)) << r.body.size() << " bytes";
    EXPECT_EQ(r.Header("Content-Range"),
              "bytes " + std::to_string(n - 10) + "-" + std::to_string(n - 1) + "/" + size);

    for (const std::string& past : {size + "-", std::to_string(n + 1000) + "-" + std::to_string(n + 2000)}) {
        r = Curl({"-r", past, "-H", Bearer(token), url});
        EXPECT_EQ(r.status, 416) << past;
        EXPECT_EQ(r.Header("Content-Range"), "bytes */" + size) << past;
        EXPECT_EQ(r.Json()["error"]["code"], "range_not_satisfiable") << r.body;
    }

    // HEAD: the headers of the whole file and no body. curl -I does not read a
    // body, so a raw connection checks that none is sent.
    r = Curl({"-I", "-H", Bearer(token), url});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.Header("Content-Length"), size);
    EXPECT_EQ(r.Header("ETag"), full.Header("ETag"));
    const std::string head = RawExchange(server.port(), "HEAD /download?fid=" + job.value("mp3_fid", "") +
                                                            " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                                                            Bearer(token) + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
    EXPECT_NE(head.find("\r\nContent-Length: " + size + "\r\n"), std::string::npos) << head;
    const std::size_t end = head.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << head;
    EXPECT_EQ(head.size(), end + 4) << "HEAD answered with a body of " << head.size() - end - 4 << " bytes";

    r = Curl({"-H", Bearer(token), "-H", "If-None-Match: " + full.Header("ETag"), url});
    EXPECT_EQ(r.status, 304);
    EXPECT_TRUE(r.body.empty());
    r = Curl({"-H", Bearer(token), "-H", "If-None-Match: \"something else\"", url});
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body.size(), n);
}

// 3. Ownership: another user learns nothing; an admin may read.
TEST_F(PipelineTest, OnlyTheOwnerOrAnAdminSeesAJob) {
    AllServer& server = Start();
    const std::string alice = SignUp(server, "alice@example.com");
    const std::string bob = SignUp(server, "bob@example.com");
    const json job = ConvertOne(server, alice, Song());
    const std::string id = job.value("job_id", "");
    const std::string fid = job.value("mp3_fid", "");
    const std::string nobody(32, 'a');

    // Bob's answers are the same whether the id exists or not.
    const std::vector<std::pair<std::string, std::vector<std::string>>> requests = {
        {"download", {"/download?fid=" + fid, "/download?fid=" + nobody}},
        {"job", {"/v1/jobs/" + id, "/v1/jobs/" + nobody}},
        {"audio", {"/v1/jobs/" + id + "/audio", "/v1/jobs/" + nobody + "/audio"}},
    };
    for (const auto& [what, paths] : requests) {
        const HttpResult theirs = Curl({"-H", Bearer(bob), server.Url(paths[0])});
        const HttpResult missing = Curl({"-H", Bearer(bob), server.Url(paths[1])});
        EXPECT_EQ(theirs.status, 404) << what << ": " << theirs.body;
        EXPECT_EQ(theirs.Json()["error"]["code"], "not_found") << what << ": " << theirs.body;
        EXPECT_EQ(theirs.body, missing.body) << what;
        EXPECT_EQ(missing.status, 404) << what;
    }
    const HttpResult deleted = Curl({"-X", "DELETE", "-H", Bearer(bob), server.Url("/v1/jobs/" + id)});
    const HttpResult deleted_missing =
        Curl({"-X", "DELETE", "-H", Bearer(bob), server.Url("/v1/jobs/" + nobody)});
    EXPECT_EQ(deleted.status, 404) << deleted.body;
    EXPECT_EQ(deleted.body, deleted_missing.body);
    EXPECT_EQ(GetJob(server, alice, id).status, 200) << "bob's DELETE removed alice's job";

    // Lists show only one's own jobs.
    json bobs = Submit(server, bob, Song());
    const HttpResult bob_list = Curl({"-H", Bearer(bob), server.Url("/v1/jobs")});
    ASSERT_EQ(bob_list.status, 200);
    ASSERT_EQ(bob_list.Json()["jobs"].size(), 1u) << bob_list.body;
    EXPECT_EQ(bob_list.Json()["jobs"][0]["job_id"], bobs["job_id"]);
    const HttpResult alice_list = Curl({"-H", Bearer(alice), server.Url("/v1/jobs")});
    ASSERT_EQ(alice_list.Json()["jobs"].size(), 1u) << alice_list.body;
    EXPECT_EQ(alice_list.Json()["jobs"][0]["job_id"], id);

    // An admin made with the command line tool while the server runs.
    const ProcessResult added = AddAdmin(db_, "root@example.com");
    ASSERT_EQ(added.exit_code, 0) << added.Describe();
    const std::string admin = Login(server, "root@example.com");
    const HttpResult seen = GetJob(server, admin, id);
    EXPECT_EQ(seen.status, 200) << seen.body;
    EXPECT_EQ(seen.Json()["job_id"], id);
    const HttpResult fetched = Curl({"-H", Bearer(admin), server.Url("/download?fid=" + fid)});
    EXPECT_EQ(fetched.status, 200);
    EXPECT_EQ(fetched.Header("Content-Type"), "audio/mpeg");
    // "Mine": an admin's list holds the admin's own jobs.
    const HttpResult admin_list = Curl({"-H", Bearer(admin), server.Url("/v1/jobs")});
    EXPECT_EQ(admin_list.Json()["jobs"].size(), 0u) << admin_list.body;
}

// 4a. Requests the gateway refuses: 400 and 401, always with a JSON error.
TEST_F(PipelineTest, BadUploadsAndTokensAreRefused) {
    AllServer& server = Start();
    const std::string token = SignUp(server, "alice@example.com");
    const std::string song = Song();
    const std::string upload = server.Url("/upload");
    struct Case {
        std::string what;
        std::vector<std::string> args;
        int status;
        std::string code;
    };
    const std::vector<Case> cases = {
        {"no file", {"-F", "note=hello", "-H", Bearer(token)}, 400, "bad_request"},
        {"two files",
         {"-F", "file=@" + song, "-F", "other=@" + song, "-H", Bearer(token)},
         400,
         "bad_request"},
        {"not multipart",
         {"--data-binary", "@" + song, "-H", "Content-Type: application/octet-stream", "-H", Bearer(token)},
         400,
         "bad_request"},
        {"no token", {"-F", "file=@" + song}, 401, "missing_token"},
        {"garbage token", {"-F", "file=@" + song, "-H", Bearer("garbage")}, 401, "invalid_token"},
        {"tampered signature",
         {"-F", "file=@" + song, "-H", Bearer(token.substr(0, token.size() - 6) + "AAAAAA")},
         401,
         "invalid_token"},
        {"basic credentials",
         {"-F", "file=@" + song, "-u", "alice@example.com:" + std::string(kPassword)},
         401,
         "missing_token"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args = {"-X", "POST"};
        args.insert(args.end(), c.args.begin(), c.args.end());
        args.push_back(upload);
        const HttpResult r = Curl(args);
        EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
        EXPECT_EQ(r.Json()["error"]["code"], c.code) << c.what << ": " << r.body;
        EXPECT_NE(r.Header("Content-Type").find("application/json"), std::string::npos) << c.what;
        if (c.status == 401) {
            EXPECT_EQ(r.Header("WWW-Authenticate").rfind("Bearer", 0), 0u) << c.what;
        }
    }

    // An expired token signed with the server's own key. Shifted by nothing it
    // is accepted, so the refusal is for its age, not for how it was made.
    const std::string key = data_ / "jwt-signing-key.pem";
    const std::string same = Resigned(token, 0, key, work_);
    ASSERT_EQ(GetJob(server, same, std::string(32, 'a')).status, 404) << "a re-signed token is not accepted";
    const std::string expired = Resigned(token, -7200, key, work_);
    const HttpResult r = Upload(server, expired, song);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.Json()["error"]["code"], "invalid_token");
    EXPECT_NE(r.Json()["error"].value("message", "").find("expired"), std::string::npos) << r.body;
    EXPECT_EQ(Curl({"-H", Bearer(expired), server.Url("/v1/jobs")}).status, 401);

    // Refusals that need no body come before it: a 50 MB upload whose body
    // curl holds back for Expect: 100-continue is never sent.
    const std::string big = SparseFile(work_ / "big.mp4", 50'000'000);
    const std::vector<std::pair<std::string, std::vector<std::string>>> early = {
        {"?quality=12", {"-H", Bearer(token)}},
        {"?bitrate=7k", {"-H", Bearer(token)}},
        {"", {}},
    };
    for (const auto& [query, extra] : early) {
        std::vector<std::string> args = {"-X", "POST", "-F", "file=@" + big};
        args.insert(args.end(), extra.begin(), extra.end());
        const CountedUpload u = UploadCounted(upload + query, args);
        EXPECT_EQ(u.status, extra.empty() ? 401 : 400) << query << ": " << u.body;
        EXPECT_EQ(u.Json()["error"]["code"], extra.empty() ? "missing_token" : "invalid_options") << u.body;
        EXPECT_TRUE(u.asked_to_continue) << query;
        EXPECT_LT(u.bytes_sent, 1e6) << query << ": the body was sent before the refusal";
    }
    EXPECT_EQ(Query("SELECT COUNT(*) FROM jobs"), "0");
    EXPECT_TRUE(server.process().Alive());
}

// 4b. The size limit, with the body announced and with it chunked.
TEST_F(PipelineTest, TooLargeUploadsAreRefused) {
    AllServer& server = Start({"V2M_MAX_UPLOAD_BYTES=100000"});
    const std::string token = SignUp(server, "alice@example.com");
    const std::string big = SparseFile(work_ / "big.mp4", 50'000'000);
    const CountedUpload announced =
        UploadCounted(server.Url("/upload"), {"-X", "POST", "-F", "file=@" + big, "-H", Bearer(token)});
    EXPECT_EQ(announced.status, 413) << announced.body;
    EXPECT_EQ(announced.Json()["error"]["code"], "too_large") << announced.body;
    EXPECT_TRUE(announced.asked_to_continue);
    EXPECT_LT(announced.bytes_sent, 1e6) << "the body was sent before the refusal";

    const std::string medium = SparseFile(work_ / "medium.mp4", 400'000);
    const HttpResult chunked = Curl({"-X", "POST", "-H", "Transfer-Encoding: chunked", "-F",
                                     "file=@" + medium, "-H", Bearer(token), server.Url("/upload")});
    EXPECT_EQ(chunked.status, 413) << chunked.body;
    EXPECT_EQ(chunked.Json()["error"]["code"], "too_large") << chunked.body;
    const HttpResult raw = Curl({"-X", "POST", "-H", "Transfer-Encoding: chunked", "-H",
                                 "Content-Type: application/octet-stream", "--data-binary", "@" + medium,
                                 "-H", Bearer(token), server.Url("/v1/jobs?filename=big.mp4")});
    EXPECT_EQ(raw.status, 413) << raw.body;

    // Nothing was kept, and a file under the limit still goes through.
    EXPECT_EQ(Query("SELECT COUNT(*) FROM jobs"), "0");
    EXPECT_EQ(Query("SELECT COUNT(*) FROM blobs"), "0");
    const std::string small = Fixture("audio_only.m4a");
    ASSERT_LT(fs::file_size(small), 100'000u);
    EXPECT_EQ(ConvertOne(server, token, small).value("state", ""), "done");
}

// 4c. Media that cannot be converted: the job fails for a reason a person can
// read, and the owner gets exactly one email saying so.
TEST_F(PipelineTest, BadMediaFailsWithOneEmailEach) {
    AllServer& server = Start({"V2M_MAX_DURATION=10s"});
    const std::string token = SignUp(server, "alice@example.com");
    const std::string notes = work_ / "notes.mp4";
    fs::copy_file(Fixture("notes.txt"), notes);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {notes, "not_media"},
        {Fixture("no_audio.mp4"), "no_audio"},
        {Fixture("long_60s.wav"), "too_long"},
    };
    for (const auto& [file, code] : cases) {
        const json job = Submit(server, token, file);
        const std::string id = job.value("job_id", "");
        JobWatch watch = Watch(server, token, id, Finished);
        ASSERT_EQ(watch.state(), "failed") << file << ": " << watch.History();
        EXPECT_TRUE(MovesForward(watch)) << file;
        EXPECT_EQ(watch.job["error"]["code"], code) << watch.job.dump();
        const std::string reason = watch.job["error"].value("message", "");
        EXPECT_FALSE(reason.empty()) << watch.job.dump();
        EXPECT_TRUE(watch.job["mp3_fid"].is_null()) << watch.job.dump();
        EXPECT_TRUE(std::regex_match(watch.job.value("finished_at", ""), std::regex(R"(^\d{4}-.*Z$)")));

        const std::vector<std::string> mails = WaitForMailsOf(data_, id);
        ASSERT_EQ(mails.size(), 1u) << file;
        const std::string mail = ReadMail(mails[0]);
        EXPECT_NE(mail.find("\r\nSubject: MP3 conversion failed"), std::string::npos) << mail;
        EXPECT_NE(mail.find("\r\nTo: alice@example.com\r\n"), std::string::npos) << mail;
        EXPECT_NE(mail.find("Reason: " + reason), std::string::npos) << mail;
        EXPECT_NE(mail.find(id), std::string::npos) << mail;
        EXPECT_EQ(Query("SELECT notify_state || ' ' || notify_attempts FROM jobs WHERE id = '" + id + "'"),
                  "sent 1");
        // A failed job has nothing to download.
        const HttpResult audio = Curl({"-H", Bearer(token), server.Url("/v1/jobs/" + id + "/audio")});
        EXPECT_EQ(audio.status, 409) << audio.body;
    }
    EXPECT_EQ(Mails(data_).size(), cases.size());
}

// 5. The REST upload with a raw body, and paging through the list.
TEST_F(PipelineTest, RawBodyUploadAndPagination) {
    AllServer& server = Start();
    const std::string token = SignUp(server, "alice@example.com");
    const std::string song = Song();
    const HttpResult raw =
        Curl({"-X", "POST", "--data-binary", "@" + song, "-H", "Content-Type: application/octet-stream", "-H",
              Bearer(token), server.Url("/v1/jobs?filename=song.mp4")});
    ASSERT_EQ(raw.status, 202) << raw.body;
    EXPECT_EQ(raw.Json()["filename"], "song.mp4");
    const std::string first = raw.Json().value("job_id", "");
    const JobWatch watch = Watch(server, token, first, Finished);
    ASSERT_EQ(watch.state(), "done") << watch.History();
    const HttpResult mp3 = Curl({"-H", Bearer(token), server.Url("/v1/jobs/" + first + "/audio")});
    ASSERT_EQ(mp3.status, 200);
    const std::string path = work_ / "raw.mp3";
    WriteFile(path, mp3.body);
    ExpectTone(path, DecodeMono(song).seconds());
    EXPECT_NE(mp3.Header("Content-Disposition").find("filename=\"song.mp3\""), std::string::npos);

    const HttpResult unnamed =
        Curl({"-X", "POST", "--data-binary", "@" + song, "-H", "Content-Type: application/octet-stream", "-H",
              Bearer(token), server.Url("/v1/jobs")});
    EXPECT_EQ(unnamed.status, 400) << unnamed.body;
    EXPECT_EQ(unnamed.Json()["error"]["code"], "bad_request") << unnamed.body;

    const std::string second = Submit(server, token, song).value("job_id", "");
    const std::string third = Submit(server, token, song).value("job_id", "");
    HttpResult page = Curl({"-H", Bearer(token), server.Url("/v1/jobs?limit=2")});
    ASSERT_EQ(page.status, 200) << page.body;
    json list = page.Json();
    ASSERT_EQ(list["jobs"].size(), 2u) << page.body;
    EXPECT_EQ(list["jobs"][0]["job_id"], third);
    EXPECT_EQ(list["jobs"][1]["job_id"], second);
    ASSERT_TRUE(list["next_cursor"].is_string()) << page.body;
    page = Curl({"-G", "-H", Bearer(token), server.Url("/v1/jobs"), "--data-urlencode", "limit=2",
                 "--data-urlencode", "cursor=" + list.value("next_cursor", "")});
    ASSERT_EQ(page.status, 200) << page.body;
    list = page.Json();
    ASSERT_EQ(list["jobs"].size(), 1u) << page.body;
    EXPECT_EQ(list["jobs"][0]["job_id"], first);
    EXPECT_TRUE(list["next_cursor"].is_null()) << page.body;

    const std::vector<std::string> bad_queries = {"cursor=garbage", "cursor=123_nothex", "cursor=x_" + first,
                                                  "limit=0",        "limit=101",         "limit=two"};
    for (const std::string& query : bad_queries) {
        const HttpResult bad = Curl({"-H", Bearer(token), server.Url("/v1/jobs?" + query)});
        EXPECT_EQ(bad.status, 400) << query << ": " << bad.body;
        EXPECT_EQ(bad.Json()["error"]["code"], "bad_request") << query << ": " << bad.body;
    }
}

// 6. Deleting a job while it converts stops the conversion and leaves nothing behind.
TEST_F(PipelineTest, DeleteDuringConversionCancelsItAndRemovesEverything) {
    AllServer& server = Start();
    const std::string token = SignUp(server, "alice@example.com");
    const json job = Submit(server, token, LongInput(work_));
    const std::string id = job.value("job_id", "");
    const JobWatch converting = Watch(server, token, id, ConvertingWithProgress);
    ASSERT_EQ(converting.state(), "processing")
        << "not seen converting (make kLongInputSeconds longer?): " << converting.History();

    // The video, and the MP3 being written in tmp/.
    const std::vector<std::string> before = BlobFiles(data_);
    EXPECT_EQ(before.size(), 2u);
    EXPECT_EQ(std::count_if(before.begin(), before.end(),
                            [](const std::string& f) { return f.find("/blobs/tmp/") != std::string::npos; }),
              1);

    const HttpResult deleted = Curl({"-X", "DELETE", "-H", Bearer(token), server.Url("/v1/jobs/" + id)});
    EXPECT_EQ(deleted.status, 204) << deleted.body;
    EXPECT_TRUE(deleted.body.empty());
    const HttpResult gone = GetJob(server, token, id);
    EXPECT_EQ(gone.status, 404) << gone.body;
    EXPECT_EQ(Curl({"-X", "DELETE", "-H", Bearer(token), server.Url("/v1/jobs/" + id)}).status, 404);

    // The video, and the MP3 being written, go within a few seconds.
    std::vector<std::string> left = BlobFiles(data_);
    for (const auto deadline = Clock::now() + 10s; !left.empty() && Clock::now() < deadline;
         left = BlobFiles(data_)) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_TRUE(left.empty()) << left.size() << " files left, e.g. " << (left.empty() ? "" : left[0]);
    EXPECT_EQ(Query("SELECT COUNT(*) FROM jobs"), "0");
    EXPECT_EQ(Query("SELECT COUNT(*) FROM blobs"), "0");
    EXPECT_EQ(Query("SELECT COUNT(*) FROM outbox"), "0");

    // The converter is free again; the only email is the next job's.
    const json next = ConvertOne(server, token, Song());
    const std::vector<std::string> mails = WaitForMailsOf(data_, next.value("job_id", ""));
    EXPECT_EQ(mails.size(), 1u);
    EXPECT_EQ(Mails(data_).size(), 1u);
    EXPECT_EQ(BlobFiles(data_).size(), 2u);
    EXPECT_TRUE(server.process().Alive());
}

// 7. A converter killed mid-conversion: after a restart the job finishes, once.
TEST_F(PipelineTest, KilledMidConversionTheJobFinishesOnceAfterARestart) {
    AllServer& first = Start();
    const std::string token = SignUp(first, "alice@example.com");
    const json job = Submit(first, token, LongInput(work_));
    const std::string id = job.value("job_id", "");
    const JobWatch converting = Watch(first, token, id, ConvertingWithProgress);
    ASSERT_EQ(converting.state(), "processing")
        << "not seen converting (make kLongInputSeconds longer?): " << converting.History();
    const ProcessResult killed = first.process().Kill();
    EXPECT_EQ(killed.term_signal, SIGKILL) << killed.Describe();
    EXPECT_EQ(Query("SELECT state FROM jobs"), "processing");

    AllServer& second = Start();
    // The old lease runs out, the reaper requeues, the new process converts.
    const JobWatch watch = Watch(second, token, id, Finished, 90s);
    ASSERT_EQ(watch.state(), "done") << watch.History();
    EXPECT_EQ(Query("SELECT state || ' ' || attempts FROM jobs WHERE id = '" + id + "'"), "done 2");
    EXPECT_EQ(Query("SELECT COUNT(*) FROM blobs WHERE kind = 'mp3'"), "1");
    const std::vector<std::string> mails = WaitForMailsOf(data_, id);
    EXPECT_EQ(mails.size(), 1u);
    EXPECT_EQ(Mails(data_).size(), 1u);
    for (auto deadline = Clock::now() + 10s;
         Query("SELECT notify_state FROM jobs") != "sent" && Clock::now() < deadline;) {
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(Query("SELECT notify_state || ' ' || notify_attempts FROM jobs"), "sent 1");

    const HttpResult mp3 =
        Curl({"-H", Bearer(token), second.Url("/download?fid=" + watch.job.value("mp3_fid", ""))});
    ASSERT_EQ(mp3.status, 200);
    const std::string path = work_ / "long.mp3";
    WriteFile(path, mp3.body);
    ExpectTone(path, kLongInputSeconds);
}

// 8. SIGTERM mid-conversion: a prompt clean exit, the job back in the queue.
TEST_F(PipelineTest, SigtermReleasesTheJobAndARestartFinishesIt) {
    AllServer& first = Start();
    const std::string token = SignUp(first, "alice@example.com");
    const json job = Submit(first, token, LongInput(work_));
    const std::string id = job.value("job_id", "");
    const JobWatch converting = Watch(first, token, id, ConvertingWithProgress);
    ASSERT_EQ(converting.state(), "processing")
        << "not seen converting (make kLongInputSeconds longer?): " << converting.History();

    const auto start = Clock::now();
    const ProcessResult stopped = first.process().Stop(15s);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    EXPECT_EQ(stopped.exit_code, 0) << stopped.Describe();
    EXPECT_LT(took, 5s) << stopped.Describe();
    EXPECT_EQ(Query("SELECT state || ' ' || COALESCE(lease_owner, '-') FROM jobs"), "queued -");

    AllServer& second = Start();
    const JobWatch watch = Watch(second, token, id, Finished, 90s);
    ASSERT_EQ(watch.state(), "done") << watch.History();
    EXPECT_EQ(Query("SELECT COUNT(*) FROM blobs WHERE kind = 'mp3'"), "1");
    EXPECT_EQ(WaitForMailsOf(data_, id).size(), 1u);
}

// 9. The served API description, health and metrics.
TEST_F(PipelineTest, ServesItsOpenApiHealthAndMetrics) {
    AllServer& server = Start();
    const HttpResult spec = Curl({server.Url("/openapi.yaml")});
    EXPECT_EQ(spec.status, 200);
    EXPECT_TRUE(spec.body == ReadFile(std::string(V2M_SOURCE_DIR) + "/docs/openapi.yaml"))
        << "/openapi.yaml differs from docs/openapi.yaml";
    EXPECT_NE(spec.Header("Content-Type").find("yaml"), std::string::npos) << spec.headers;
    EXPECT_EQ(Curl({server.Url("/healthz")}).status, 200);
    EXPECT_EQ(Curl({server.Url("/readyz")}).status, 200);
    const HttpResult metrics = Curl({server.Url("/metrics")});
    EXPECT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.body.find("\n# TYPE v2m_http_requests_total counter\n"), std::string::npos);
    // Every outcome series exists from the start (rates are 0, not "no data").
    EXPECT_NE(metrics.body.find("\nv2m_conversions_total{outcome=\"done\"} 0\n"), std::string::npos)
        << MetricLines(metrics.body, "v2m_conversions_total");
    EXPECT_NE(metrics.body.find("\nv2m_emails_total{outcome=\"sent\"} 0\n"), std::string::npos)
        << MetricLines(metrics.body, "v2m_emails_total");
    const HttpResult unknown = Curl({server.Url("/no/such/thing")});
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.Json()["error"]["code"], "not_found") << unknown.body;
}

}  // namespace
}  // namespace v2m::test
