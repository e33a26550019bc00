#include "app/config.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace v2m::app {

namespace {

// Marks a variable whose value may instead come from a file: NAME_FILE, listed
// right after it, names the file.
constexpr bool kFromFile = true;

constexpr Variable kVariables[] = {
    {"V2M_DATA_DIR", "./data", "where the embedded defaults live (SQLite file, keys)",
     "all roles, user, migrate"},
    {"V2M_LISTEN", "",
     "HTTP address host:port; default 127.0.0.1:8081 for auth, 127.0.0.1:8080 for gateway/all",
     "gateway, auth, all"},
    {"V2M_HTTP_THREADS", "32", "HTTP connections served at once", "gateway, auth, all"},
    {"V2M_DATABASE_URL", "",
     "sqlite:///abs/path, sqlite://rel/path, postgresql://user:pass@host:port/db or "
     "mysql://user:pass@host:port/db; "
     "default sqlite://$V2M_DATA_DIR/video2mp3.db",
     "all roles, user, migrate", kFromFile},
    {"V2M_DB_POOL_SIZE", "8", "database connections held open", "all roles"},
    {"V2M_DB_WAIT", "30s", "how long to wait for the database at start before giving up", "all roles"},
    {"V2M_JWT_PRIVATE_KEY_FILE", "",
     "the ES256 signing key (PEM); required by auth (make one: video2mp3 keygen FILE); all keeps one in "
     "$V2M_DATA_DIR when unset",
     "auth, all"},
    {"V2M_JWT_ISSUER", "video2mp3", "the tokens' iss claim", "gateway, auth, all"},
    {"V2M_JWT_AUDIENCE", "video2mp3", "the tokens' aud claim", "gateway, auth, all"},
    {"V2M_TOKEN_TTL", "1h", "token lifetime (e.g. 15m, 1h)", "auth, all"},
    {"V2M_OPEN_REGISTRATION", "false",
     "anyone may register with POST /v1/users (admins always may); default true in all", "auth, all"},
    {"V2M_ARGON2_OPS", "2", "Argon2id passes per password hash", "auth, all, user"},
    {"V2M_ARGON2_MEMORY_KIB", "65536", "Argon2id memory per password hash, in KiB", "auth, all, user"},
    {"V2M_ARGON2_CONCURRENCY", "2", "password hashes computed at once (bounds memory)", "auth, all"},
    {"V2M_LOGIN_MAX_FAILURES", "5", "failed sign-ins per account within the window before 429", "auth, all"},
    {"V2M_LOGIN_MAX_FAILURES_PER_ADDRESS", "20",
     "failed sign-ins per client address within the window before 429", "auth, all"},
    {"V2M_LOGIN_WINDOW", "15m", "the window failed sign-ins are counted in", "auth, all"},
    {"V2M_BLOB_STORE", "",
     "where video and MP3 bytes live: file://DIR or postgresql://user:pass@host:port/db; default "
     "file://$V2M_DATA_DIR/blobs",
     "gateway, converter, all", kFromFile},
    {"V2M_BROKER_URL", "db",
     "the queue: db (the database's outbox table) or amqp://user:pass@host:port/vhost (RabbitMQ)",
     "gateway, converter, notifier, all", kFromFile},
    {"V2M_AMQP_HEARTBEAT", "30s", "AMQP heartbeat interval (RabbitMQ closes a silent connection after two)",
     "gateway, converter, notifier, all"},
    {"V2M_AMQP_DELIVERY_LIMIT", "5",
     "deliveries of one message before RabbitMQ dead-letters it (quorum queues' x-delivery-limit)",
     "gateway, converter, notifier, all"},
    {"V2M_SMTP_URL", "",
     "where emails go: smtp://[user:pass@]host:port (STARTTLS when offered), smtps://…, or "
     "file://DIR (one "
     ".eml each); default file://$V2M_DATA_DIR/mail",
     "notifier, all", kFromFile},
    {"V2M_SMTP_TIMEOUT", "30s", "how long one SMTP delivery may take", "notifier, all"},
    {"V2M_MAIL_FROM", "video2mp3@localhost", "the emails' sender address", "notifier, all"},
    {"V2M_PUBLIC_URL", "http://127.0.0.1:8080", "the base of links in emails", "notifier, all"},
    {"V2M_AUTH_URL", "http://127.0.0.1:8081",
     "where the gateway finds auth (sign-in and registration are forwarded there, keys fetched "
     "from its "
     "JWKS)",
     "gateway"},
    {"V2M_AUTH_TIMEOUT", "10s", "how long the gateway waits for auth", "gateway"},
    {"V2M_TRUSTED_PROXIES", "127.0.0.1/8,::1/128",
     "addresses (CIDR, comma-separated; none: nobody) whose X-Forwarded-For is believed: the "
     "gateway's, so that sign-in throttling sees the real client",
     "auth, all"},
    {"V2M_ADMIN_LISTEN", "",
     "health and metrics address of a worker; default converter 127.0.0.1:9091, notifier "
     "127.0.0.1:9092",
     "converter, notifier"},
    {"V2M_MAX_UPLOAD_BYTES", "2147483648", "the largest upload accepted, in bytes (larger: 413)",
     "gateway, all"},
    {"V2M_MAX_DURATION", "6h", "the longest media accepted (longer: the job fails as too_long)",
     "converter, all"},
    {"V2M_CONCURRENCY", "", "conversions (or emails) at once; default the number of cores",
     "converter, notifier, all"},
    {"V2M_JOB_LEASE", "30s",
     "how long a converter's claim on a job lasts without renewal (renewed every second); after "
     "it the "
     "reaper requeues the job",
     "converter, all"},
    {"V2M_REAPER_INTERVAL", "5s", "how often the reaper looks for expired leases", "converter, all"},
    {"V2M_MAX_ATTEMPTS", "5", "conversion attempts of a job before it fails (transient errors, crashes)",
     "converter, all"},
    {"V2M_QUEUE_VIDEO", "video", "the queue of videos to convert", "gateway, converter, notifier, all"},
    {"V2M_QUEUE_MP3", "mp3", "the queue of finished (or failed) jobs to notify about",
     "gateway, converter, notifier, all"},
    {"V2M_LOG_FORMAT", "", "json or text; default text on a terminal, else json", "all roles"},
    {"V2M_LOG_LEVEL", "info", "trace, debug, info, warn, error", "all roles"},
};

// kVariables with each NAME_FILE entry after its variable, made once.
class Listing final {
  public:
    Listing() {
        for (const Variable& v : kVariables) {
            variables_.push_back(v);
            if (!v.from_file) continue;
            const std::string& name = text_.emplace_back(std::string(v.name) + "_FILE");
            const std::string& meaning =
                text_.emplace_back("a file holding " + std::string(v.name) + " (for secrets)");
            variables_.push_back({.name = name, .default_value = "", .meaning = meaning, .roles = v.roles});
        }
    }
    Listing(const Listing&) = delete;
    Listing& operator=(const Listing&) = delete;

    std::span<const Variable> variables() const { return variables_; }

  private:
    std::deque<std::string> text_;  // the NAME_FILE entries' names and meanings; a deque does not move them
    std::vector<Variable> variables_;
};

}  // namespace

std::span<const Variable> Variables() {
    static const Listing listing;
    return listing.variables();
}

const Variable& FindVariable(std::string_view name) {
    for (const Variable& v : Variables()) {
        if (v.name == name) return v;
    }
    throw std::out_of_range("unknown configuration variable " + std::string(name));
}

std::string FlagFor(std::string_view name) {
    std::string flag = "--";
    for (char c : name.substr(4))
        flag += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return flag;
}

std::string ReadSecretFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream content;
    content << in.rdbuf();
    std::string value = content.str();
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    return value;
}

std::string ValueOrSecretFile(std::string_view name, const std::string& value, const std::string& file) {
    // The file wins over the default only: V2M_BROKER_URL's is "db", not empty.
    return value == FindVariable(name).default_value && !file.empty() ? ReadSecretFile(file) : value;
}

}  // namespace v2m::app
