#include "gateway/gateway_http.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "auth/auth_http.hpp"
#include "blob/sha256.hpp"
#include "domain/account.hpp"
#include "domain/convert_options.hpp"
#include "domain/errors.hpp"
#include "domain/message.hpp"
#include "gateway/job_events.hpp"
#include "gateway/session.hpp"
#include "gateway/web_assets.hpp"
#include "http/content_disposition.hpp"
#include "http/range.hpp"
#include "obs/log.hpp"
#include "util/random_id.hpp"
#include "util/text.hpp"

namespace v2m::gateway {

namespace {

using domain::ClientError;
using http::Request;
using http::Response;

constexpr std::size_t kMaxFieldBytes = 4096;

constexpr std::size_t kMaxFilenameBytes = 255;

std::optional<std::string> TimeOrNull(std::int64_t ms) {
    if (ms <= 0) return std::nullopt;
    return domain::FormatRfc3339(ms);
}

nlohmann::json OrNull(const std::optional<std::string>& v) { return v ? nlohmann::json(*v) : nullptr; }

// Who is asking, from the verified token.
struct Caller {
    std::string id;
    std::string email;
    bool admin = false;
    std::int64_t expires_at_ms = 0;
};

ClientError MissingToken() {
    return ClientError(401, "missing_token",
                       "sign in first: send Authorization: Bearer <token> (the token comes from POST /login)")
        .WithHeader("WWW-Authenticate", "Bearer realm=\"video2mp3\"");
}

ClientError InvalidToken(const std::string& message) {
    return ClientError(401, "invalid_token", message)
        .WithHeader("WWW-Authenticate", "Bearer realm=\"video2mp3\", error=\"invalid_token\"");
}

Caller CallerFor(std::string_view token, const GatewayDeps::VerifyFn& verify) {
    const token::VerifyResult result = verify(token);
    if (!result) {
        const token::VerifyError reason = result.GetFailure().reason;
        // The token may be fine: "sign in again" would be wrong (and signing
        // in needs auth too).
        if (reason == token::VerifyError::kKeysUnavailable) {
            throw ClientError(503, "auth_unavailable",
                              "tokens cannot be checked right now: the sign-in service is unavailable; try "
                              "again shortly")
                .WithRetryAfter(5);
        }
        if (reason == token::VerifyError::kExpired)
            throw InvalidToken("the token has expired: sign in again");
        throw InvalidToken("the token is not valid: sign in again");
    }
    const token::Claims& c = result.GetClaims();
    const auto expires =
        std::chrono::duration_cast<std::chrono::milliseconds>(c.expires_at.time_since_epoch()).count();
    return {c.subject, c.username, c.admin, static_cast<std::int64_t>(expires)};
}

// The client's copy (If-None-Match: the tag, one of a list, or *) is current.
bool NotModified(const Request& req, std::string_view etag) {
    const std::string_view match = req.Header("If-None-Match");
    return !match.empty() && (match == etag || match == "*" || match.find(etag) != std::string_view::npos);
}

bool ChangesState(const Request& req) { return req.method != "GET" && req.method != "HEAD"; }

// A request signed in by the session cookie that changes something must
// prove it comes from our page.
void CheckCsrf(const Request& req, std::string_view session_token) {
    if (ChangesState(req) && !SameSecret(req.Header(kCsrfHeader), CsrfToken(session_token))) {
        throw ClientError(403, "csrf",
                          "this request needs the X-CSRF-Token header that GET /v1/session gives");
    }
}

// The bearer token, else the session cookie's.
Caller Authenticate(const Request& req, const GatewayDeps::VerifyFn& verify) {
    std::string_view token = auth::BearerToken(req.Header("Authorization"));
    if (token.empty()) {
        token = CookieValue(req.Header("Cookie"), kSessionCookie);
        if (!token.empty()) CheckCsrf(req, token);
    }
    if (token.empty()) throw MissingToken();
    return CallerFor(token, verify);
}

// The browser reached us over HTTPS (through the ingress).
bool OverHttps(const Request& req) {
    return util::EqualsIgnoreCase(req.Header("X-Forwarded-Proto"), "https");
}

nlohmann::json SessionJson(const Caller& caller, std::string_view token) {
    return {{"email", caller.email},
            {"admin", caller.admin},
            {"csrf_token", CsrfToken(token)},
            {"expires_at", domain::FormatRfc3339(caller.expires_at_ms)}};
}

std::optional<int> StrictInt(std::string_view text) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

ClientError BadOption(const std::string& message) { return ClientError(400, "invalid_options", message); }

// One option from its text form (query parameter or form field).
void SetOption(domain::ConvertOptions& o, std::string_view name, const std::string& value) {
    if (name == "quality") {
        o.quality = StrictInt(value);
        if (!o.quality) throw BadOption("quality: '" + value + "' is not a whole number 0..9");
    } else if (name == "bitrate") {
        o.bitrate_kbps = domain::ParseBitrateKbps(value);
        if (!o.bitrate_kbps) throw BadOption("bitrate: '" + value + "' is not a bitrate (e.g. 192k)");
    } else if (name == "sample_rate") {
        o.sample_rate = StrictInt(value);
        if (!o.sample_rate) throw BadOption("sample_rate: '" + value + "' is not a whole number of Hz");
    } else if (name == "channels") {
        o.channels = StrictInt(value);
        if (!o.channels) throw BadOption("channels: '" + value + "' is not 1 or 2");
    } else if (name == "start") {
        o.start_s = domain::ParseTime(value);
        if (!o.start_s) throw BadOption("start: '" + value + "' is not a time (seconds or hh:mm:ss.mmm)");
    } else if (name == "end") {
        o.end_s = domain::ParseTime(value);
        if (!o.end_s) throw BadOption("end: '" + value + "' is not a time (seconds or hh:mm:ss.mmm)");
    }
}

constexpr std::string_view kOptionNames[] = {"quality", "bitrate", "sample_rate", "channels", "start", "end"};

bool IsOptionName(std::string_view name) {
    return std::find(std::begin(kOptionNames), std::end(kOptionNames), name) != std::end(kOptionNames);
}

void CheckOptions(const domain::ConvertOptions& o) {
    if (o.quality && o.bitrate_kbps) throw BadOption("give either quality (VBR) or bitrate (CBR), not both");
    try {
        domain::Validate(o);
    } catch (const domain::OptionError& e) {
        throw BadOption(e.what());
    }
}

domain::ConvertOptions OptionsFromQuery(const Request& req) {
    domain::ConvertOptions o;
    for (const auto& [name, value] : req.query) SetOption(o, name, value);
    CheckOptions(o);
    return o;
}

// The name the user gave, made safe to store and show: the last path
// component, no control characters, valid UTF-8, bounded.
std::string CleanFilename(std::string_view given) {
    if (const auto slash = given.find_last_of("/\\"); slash != std::string_view::npos)
        given.remove_prefix(slash + 1);
    std::string name;
    const bool utf8 = domain::IsValidUtf8(given);
    for (std::size_t i = 0; i < given.size(); ++i) {
        const auto u = static_cast<unsigned char>(given[i]);
        // C1 controls (U+0080..U+009F) are two bytes: C2 80..C2 9F.
        const bool c1 =
            utf8 && u == 0xC2 && i + 1 < given.size() && static_cast<unsigned char>(given[i + 1]) <= 0x9F;
        if (c1) ++i;
        if (c1 || u < 0x20 || u == 0x7f || (!utf8 && u >= 0x80)) {
            name += '_';
        } else {
            name += given[i];
        }
    }
    if (name.size() > kMaxFilenameBytes) {
        std::size_t cut = kMaxFilenameBytes;
        while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // a whole character
        name.resize(cut);
    }
    if (name.empty() || name == "." || name == "..") name = "upload";
    return name;
}

std::span<const std::byte> Bytes(std::string_view data) {
    return {reinterpret_cast<const std::byte*>(data.data()), data.size()};
}

class Handlers {
  public:
    explicit Handlers(const GatewayDeps& deps) : d_(deps) {}

    // Before the body: who, and with which options (400/401 without reading it).
    std::optional<Response> Precheck(const Request& req, bool raw_needs_filename) const {
        Authenticate(req, d_.verify);
        OptionsFromQuery(req);
        const std::string_view type = req.Header("Content-Type");
        const bool multipart = type.substr(0, 19) == "multipart/form-data";
        if (raw_needs_filename && !multipart && !req.Query("filename")) {
            throw ClientError(
                400, "bad_request",
                "send the video as multipart form data (-F 'file=@song.mp4'), or as the raw body "
                "with ?filename=song.mp4");
        }
        if (!raw_needs_filename && !multipart) {
            throw ClientError(400, "bad_request",
                              "send the video as multipart form data with one file: -F 'file=@song.mp4'");
        }
        return std::nullopt;
    }

    Response Upload(const Request& req, http::BodyReader& body) const {
        const Caller caller = Authenticate(req, d_.verify);
        domain::ConvertOptions options = OptionsFromQuery(req);
        std::unique_ptr<blob::BlobWriter> writer;
        std::string filename;
        std::exception_ptr failure;
        // Writes into the blob; an exception must not unwind through the HTTP library.
        auto write = [&](std::string_view data) {
            try {
                writer->Write(Bytes(data));
                return true;
            } catch (...) {
                failure = std::current_exception();
                return false;
            }
        };
        if (body.IsMultipart()) {
            int files = 0;
            bool in_file = false;
            bool field_too_large = false;
            std::string field;
            std::map<std::string, std::string> fields;
            const bool ok = body.ReadParts(
                [&](const http::FormPart& part) {
                    if (!part.filename.empty()) {
                        if (++files > 1) return false;
                        try {
                            writer = d_.blobs.Create();
                        } catch (...) {
                            failure = std::current_exception();
                            return false;
                        }
                        filename = part.filename;
                        in_file = true;
                    } else {
                        in_file = false;
                        field = part.name;
                        if (fields.size() > 32) return false;
                        fields[field];
                    }
                    return true;
                },
                [&](std::string_view data) {
                    if (in_file) return write(data);
                    std::string& value = fields[field];
                    if (value.size() + data.size() > kMaxFieldBytes) {
                        field_too_large = true;
                        return false;
                    }
                    value.append(data);
                    return true;
                });
            if (failure) std::rethrow_exception(failure);
            if (files > 1) {
                throw ClientError(400, "bad_request",
                                  "send exactly one file per upload; this one has several");
            }
            if (field_too_large) throw ClientError(400, "bad_request", "a form field is too long");
            if (!ok) throw ClientError(400, "bad_request", "the multipart body is malformed or was cut off");
            if (files == 0) {
                throw ClientError(
                    400, "bad_request",
                    "the upload has no file: send one as multipart form data, -F 'file=@song.mp4'");
            }
            // Form fields are accepted too; the query wins where both are given.
            for (const auto& [name, value] : fields) {
                if (IsOptionName(name) && !req.Query(name)) SetOption(options, name, value);
            }
            CheckOptions(options);
        } else {
            filename = req.Query("filename").value_or("");
            writer = d_.blobs.Create();
            const bool ok = body.Read(write);
            if (failure) std::rethrow_exception(failure);
            if (!ok) throw ClientError(400, "bad_request", "the request body was cut off");
        }
        if (writer->Size() == 0) throw ClientError(400, "bad_request", "the file is empty");
        const blob::BlobInfo info = writer->Commit();
        return CreateJob(caller, CleanFilename(filename), options, info);
    }

    Response CreateJob(const Caller& caller, const std::string& filename,
                       const domain::ConvertOptions& options, const blob::BlobInfo& info) const {
        const std::int64_t now = d_.now_ms();
        domain::Job job;
        job.id = util::RandomId();
        job.owner_id = caller.id;
        job.username = caller.email;
        job.filename = filename;
        job.options = options;
        job.video_fid = info.id;
        job.trace_id = util::RandomId();
        job.created_at = now;
        job.next_attempt_at = now;
        const domain::QueueMessage message{.job_id = job.id,
                                           .video_fid = job.video_fid,
                                           .mp3_fid = "",
                                           .username = job.username,
                                           .trace_id = job.trace_id,
                                           .event = "convert"};
        try {
            d_.jobs.CreateJob(job, {info.id, caller.id, "video", info.size, info.sha256, now},
                              store::MakeOutboxMessage(d_.video_queue, message, now, now));
        } catch (...) {
            // No row names the blob: it must not stay behind — unless the
            // commit happened all the same (the connection broke after it).
            try {
                if (!d_.jobs.FindJob(job.id)) d_.blobs.Remove(info.id);
            } catch (const std::exception&) {
                // Cannot tell: keep the blob (space) rather than risk a job's video.
            }
            throw;
        }
        d_.broker.Nudge();
        {
            const obs::ScopedTrace trace(job.trace_id, job.id);
            spdlog::info("gateway: job accepted: {} bytes of video for user {}", info.size, caller.id);
        }
        Response r = Response::Json(202, JobJson(job));
        r.headers.emplace_back("Location", "/v1/jobs/" + job.id);
        return r;
    }

    // The job if the caller may see it; else 404 (no hint that it exists).
    domain::Job OwnedJob(const Caller& caller, std::optional<domain::Job> job) const {
        if (!job || (job->owner_id != caller.id && !caller.admin))
            throw ClientError(404, "not_found", "no such job");
        return *job;
    }

    Response GetJob(const Request& req) const {
        const Caller caller = Authenticate(req, d_.verify);
        return Response::Json(200, JobJson(OwnedJob(caller, d_.jobs.FindJob(req.path_params.at(0)))));
    }

    Response ListJobs(const Request& req) const {
        const Caller caller = Authenticate(req, d_.verify);
        int limit = 20;
        if (auto text = req.Query("limit")) {
            auto value = StrictInt(*text);
            if (!value || *value < 1 || *value > 100)
                throw ClientError(400, "bad_request", "limit must be a whole number from 1 to 100");
            limit = *value;
        }
        std::optional<store::JobCursor> after;
        if (auto text = req.Query("cursor"); text && !text->empty()) after = ParseCursor(*text);
        // One more than asked tells whether there is a next page.
        std::vector<domain::Job> jobs = d_.jobs.ListJobs(caller.id, limit + 1, after);
        nlohmann::json next = nullptr;
        if (static_cast<int>(jobs.size()) > limit) {
            jobs.resize(static_cast<std::size_t>(limit));
            next = std::to_string(jobs.back().created_at) + "_" + jobs.back().id;
        }
        nlohmann::json list = nlohmann::json::array();
        for (const domain::Job& j : jobs) list.push_back(JobJson(j));
        return Response::Json(200, {{"jobs", list}, {"next_cursor", next}});
    }

    static store::JobCursor ParseCursor(const std::string& text) {
        const auto sep = text.find('_');
        const auto bad = [] {
            return ClientError(400, "bad_request", "the cursor is not one this API gave out");
        };
        if (sep == std::string::npos) throw bad();
        long long created = 0;
        const std::string_view digits(text.data(), sep);
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), created);
        if (ec != std::errc() || ptr != digits.data() + digits.size()) throw bad();
        store::JobCursor c{created, text.substr(sep + 1)};
        if (!blob::IsBlobId(c.id)) throw bad();
        return c;
    }

    Response DeleteJob(const Request& req) const {
        const Caller caller = Authenticate(req, d_.verify);
        const domain::Job job = OwnedJob(caller, d_.jobs.FindJob(req.path_params.at(0)));
        const auto deleted = d_.jobs.DeleteJob(job.id);
        if (!deleted) throw ClientError(404, "not_found", "no such job");
        for (const std::string& id : {deleted->video_fid, deleted->mp3_fid}) {
            if (id.empty()) continue;
            try {
                d_.blobs.Remove(id);
            } catch (const std::exception&) {
                // The rows are gone; a leftover file is only space.
            }
        }
        Response r;
        r.status = 204;
        r.content_type = "text/plain";
        return r;
    }

    Response JobAudio(const Request& req) const {
        const Caller caller = Authenticate(req, d_.verify);
        const domain::Job job = OwnedJob(caller, d_.jobs.FindJob(req.path_params.at(0)));
        if (job.state != domain::JobState::kDone) {
            throw ClientError(409, "not_ready",
                              "the MP3 is not ready: the job is " + std::string(domain::ToString(job.state)));
        }
        return Audio(req, job);
    }

    Response Download(const Request& req) const {
        const Caller caller = Authenticate(req, d_.verify);
        const auto fid = req.Query("fid");
        if (!fid || fid->empty())
            throw ClientError(400, "bad_request", "say which file: /download?fid=<mp3_fid>");
        auto job = d_.jobs.FindJobByMp3(*fid);
        if (!job || (job->owner_id != caller.id && !caller.admin) || job->state != domain::JobState::kDone)
            throw ClientError(404, "not_found", "no such file");
        return Audio(req, *job);
    }

    // The MP3 with ETag, Range and a download name.
    Response Audio(const Request& req, const domain::Job& job) const {
        Response r;
        r.content_type = "audio/mpeg";
        const std::string etag = "\"" + job.mp3_sha256 + "\"";
        r.headers = {{"ETag", etag},
                     {"Accept-Ranges", "bytes"},
                     {"Cache-Control", "private, no-cache"},
                     {"Content-Disposition", http::AttachmentDisposition(domain::Mp3NameFor(job.filename))}};
        if (NotModified(req, etag)) {
            r.status = 304;
            return r;
        }
        std::shared_ptr<blob::BlobReader> reader;
        try {
            reader = d_.blobs.Open(job.mp3_fid);
        } catch (const blob::BlobNotFound&) {
            throw ClientError(404, "not_found", "no such file");
        }
        const std::uint64_t size = reader->Size();
        const http::RangeResult range = http::ParseRange(req.Header("Range"), size);
        std::uint64_t first = 0;
        std::uint64_t length = size;
        if (range.kind == http::RangeKind::kUnsatisfiable) {
            Response e =
                Response::Error(416, "range_not_satisfiable",
                                "the range lies outside the file (" + std::to_string(size) + " bytes)");
            e.headers.emplace_back("Content-Range", http::UnsatisfiedRange(size));
            return e;
        }
        if (range.kind == http::RangeKind::kSatisfiable) {
            r.status = 206;
            first = range.range.first;
            length = range.range.last - range.range.first + 1;
            r.headers.emplace_back("Content-Range", http::ContentRange(range.range, size));
        }
        auto buffer = std::make_shared<std::vector<std::byte>>(64 * 1024);
        r.stream = http::BodyStream{
            length,
            [reader, buffer, first](std::uint64_t offset, std::uint64_t want, const http::WriteFn& out) {
                reader->Seek(first + offset);
                const std::size_t n = reader->Read(std::span(*buffer).first(
                    static_cast<std::size_t>(std::min<std::uint64_t>(want, buffer->size()))));
                // At the end (the blob shrank?) stop rather than spin.
                if (n == 0) return false;
                return out(std::string_view(reinterpret_cast<const char*>(buffer->data()), n));
            }};
        return r;
    }

    // POST /v1/session: auth checks the password and issues the token; the
    // browser gets it only as an HttpOnly cookie.
    Response SignIn(const Request& req) const {
        // A form of another site can post text/plain that parses as JSON (and
        // sign the browser into the attacker's account); it cannot post
        // application/json without a preflight we never grant.
        if (!req.Header("Content-Type").starts_with("application/json"))
            throw ClientError(415, "unsupported_media_type", "send the credentials as application/json");
        if (!d_.issue_token) throw ClientError(404, "not_found", "no browser sign-in here");
        Response answer = d_.issue_token(req);
        if (answer.status != 200) return answer;
        const auto body = nlohmann::json::parse(answer.body, nullptr, false);
        const auto token = body.is_object() ? body.find("access_token") : body.end();
        if (body.is_discarded() || !body.is_object() || token == body.end() || !token->is_string())
            throw domain::Unavailable("the sign-in service answered without a token");
        const std::string text = token->get<std::string>();
        const Caller caller = CallerFor(text, d_.verify);
        const std::int64_t max_age = std::max<std::int64_t>(0, (caller.expires_at_ms - d_.now_ms()) / 1000);
        Response r = Response::Json(200, SessionJson(caller, text));
        r.headers.emplace_back("Set-Cookie", SessionCookie(text, max_age, OverHttps(req)));
        return r;
    }

    // GET /v1/session: who the cookie signs in, and the page's CSRF token.
    Response Session(const Request& req) const {
        const std::string_view token = CookieValue(req.Header("Cookie"), kSessionCookie);
        if (token.empty()) throw ClientError(401, "missing_token", "not signed in");
        return Response::Json(200, SessionJson(CallerFor(token, d_.verify), token));
    }

    // DELETE /v1/session: the cookie goes (a token is valid until it expires:
    // keep their lifetime short).
    Response SignOut(const Request& req) const {
        const std::string_view token = CookieValue(req.Header("Cookie"), kSessionCookie);
        if (!token.empty()) CheckCsrf(req, token);
        Response r;
        r.status = 204;
        r.content_type = "text/plain";
        r.headers.emplace_back("Set-Cookie", ClearedSessionCookie(OverHttps(req)));
        return r;
    }

    Response Events(const Request& req) const {
        const Caller caller = Authenticate(req, d_.verify);
        if (d_.events == nullptr) throw ClientError(404, "not_found", "no live events here");
        return d_.events->Open(caller.id, ParseLastEventId(req.Header("Last-Event-ID")));
    }

  private:
    const GatewayDeps& d_;
};

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// The files of web/, built into the binary: revalidated by ETag, framed by nobody.
void AddWebAssets(http::Server& server) {
    for (const WebAsset& asset : WebAssets()) {
        blob::Sha256 sha;
        sha.Update(std::as_bytes(std::span(asset.body.data(), asset.body.size())));
        const std::string etag = "\"" + sha.FinishHex().substr(0, 32) + "\"";
        auto serve = [asset, etag](const Request& req) {
            Response r;
            r.content_type = std::string(asset.content_type);
            r.headers = {{"ETag", etag},
                         {"Cache-Control", "no-cache"},
                         {"Content-Security-Policy", std::string(kContentSecurityPolicy)},
                         {"Referrer-Policy", "no-referrer"}};
            if (NotModified(req, etag)) {
                r.status = 304;
                return r;
            }
            r.body = std::string(asset.body);
            return r;
        };
        std::string pattern = "/";
        for (const char c : asset.name) {
            if (c == '.') pattern += '\\';
            pattern += c;
        }
        server.Route("GET", pattern, serve);
        if (asset.name == "index.html") server.Route("GET", "/", serve);
    }
}

}  // namespace

nlohmann::json JobJson(const domain::Job& job) {
    nlohmann::json j;
    j["job_id"] = job.id;
    j["state"] = domain::ToString(job.state);
    j["progress"] = job.state == domain::JobState::kDone ? 1.0 : std::clamp(job.progress, 0.0, 1.0);
    j["filename"] = job.filename;
    j["video_fid"] = job.video_fid;
    j["mp3_fid"] = job.mp3_fid.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.mp3_fid);
    j["options"] = nlohmann::json::parse(domain::EncodeOptions(job.options));
    j["error"] = job.state == domain::JobState::kFailed
                     ? nlohmann::json{{"code", job.error_code}, {"message", job.error_message}}
                     : nlohmann::json(nullptr);
    j["duration_s"] = job.duration_s ? nlohmann::json(*job.duration_s) : nlohmann::json(nullptr);
    j["mp3_bytes"] = job.mp3_bytes ? nlohmann::json(*job.mp3_bytes) : nlohmann::json(nullptr);
    j["created_at"] = domain::FormatRfc3339(job.created_at);
    j["started_at"] = OrNull(TimeOrNull(job.started_at));
    j["finished_at"] = OrNull(TimeOrNull(job.finished_at));
    return j;
}

void AddGatewayRoutes(http::Server& server, const GatewayDeps& deps) {
    auto h = std::make_shared<Handlers>(deps);
    server.RouteStreaming(
        "POST", "/upload", [h](const Request& r) { return h->Precheck(r, false); },
        [h](const Request& r, http::BodyReader& b) { return h->Upload(r, b); });
    server.RouteStreaming(
        "POST", "/v1/jobs", [h](const Request& r) { return h->Precheck(r, true); },
        [h](const Request& r, http::BodyReader& b) { return h->Upload(r, b); });
    server.Route("GET", "/v1/jobs", [h](const Request& r) { return h->ListJobs(r); });
    server.Route("GET", "/v1/jobs/([^/]+)", [h](const Request& r) { return h->GetJob(r); });
    server.Route("DELETE", "/v1/jobs/([^/]+)", [h](const Request& r) { return h->DeleteJob(r); });
    server.Route("GET", "/v1/jobs/([^/]+)/audio", [h](const Request& r) { return h->JobAudio(r); });
    server.Route("GET", "/download", [h](const Request& r) { return h->Download(r); });
    server.Route("POST", "/v1/session", [h](const Request& r) { return h->SignIn(r); });
    server.Route("GET", "/v1/session", [h](const Request& r) { return h->Session(r); });
    server.Route("DELETE", "/v1/session", [h](const Request& r) { return h->SignOut(r); });
    server.Route("GET", "/v1/events", [h](const Request& r) { return h->Events(r); });
    AddWebAssets(server);
    const std::string openapi = deps.openapi_yaml;
    server.Route("GET", "/openapi.yaml", [openapi](const Request&) {
        Response r = Response::Text(200, openapi);
        r.content_type = "application/yaml";
        r.headers.emplace_back("Cache-Control", "public, max-age=300");
        return r;
    });
}

}  // namespace v2m::gateway
