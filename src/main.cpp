// Parses the subcommand and its options into plain config structs and hands
// over to app/. Nothing else happens here.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "app/admin_commands.hpp"
#include "app/config.hpp"
#include "app/convert_command.hpp"
#include "app/exit_codes.hpp"
#include "app/roles.hpp"
#include "domain/convert_options.hpp"
#include "domain/duration.hpp"
#include "engine/transcoder.hpp"

namespace {

using v2m::app::kExitUsage;

// SIGINT/SIGTERM become a stop request, seen by whatever runs; a signal-waiting
// thread keeps the handler free of async-signal-safety concerns.
std::stop_source WatchSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::stop_source source;
    std::thread([set, source]() mutable {
        int sig = 0;
        sigwait(&set, &sig);
        source.request_stop();
    }).detach();
    return source;
}

struct ConvertFlags {
    v2m::app::ConvertCommandConfig config;
    std::optional<int> quality;
    std::string bitrate;
    std::optional<int> sample_rate;
    std::optional<int> channels;
    std::string start;
    std::string end;
    std::optional<int> stream;
    bool verbose = false;
};

// Turns the flags' text into options; a mistake is a usage error.
bool FinishConvertFlags(ConvertFlags& f) {
    auto& o = f.config.options;
    o.quality = f.quality;
    o.sample_rate = f.sample_rate;
    o.channels = f.channels;
    o.stream_index = f.stream;
    auto fail = [](const std::string& message) {
        std::cerr << "video2mp3: error: " << message << '\n';
        return false;
    };
    if (!f.bitrate.empty()) {
        o.bitrate_kbps = v2m::domain::ParseBitrateKbps(f.bitrate);
        if (!o.bitrate_kbps) return fail("--bitrate: '" + f.bitrate + "' is not a bitrate (e.g. 192k)");
    }
    if (!f.start.empty()) {
        o.start_s = v2m::domain::ParseTime(f.start);
        if (!o.start_s) return fail("--start: '" + f.start + "' is not a time (seconds or hh:mm:ss.mmm)");
    }
    if (!f.end.empty()) {
        o.end_s = v2m::domain::ParseTime(f.end);
        if (!o.end_s) return fail("--end: '" + f.end + "' is not a time (seconds or hh:mm:ss.mmm)");
    }
    return true;
}

// Adds the option for configuration variable `name` (flag, help text and
// default from the one table in app/config.cpp; the variable overrides the
// default, the flag overrides both).
template <typename T>
CLI::Option* Configure(CLI::App* cmd, std::string_view name, T& target) {
    const v2m::app::Variable& v = v2m::app::FindVariable(name);
    std::string help(v.meaning);
    auto* opt = cmd->add_option(v2m::app::FlagFor(name), target, help)->envname(std::string(name));
    if (!v.default_value.empty()) opt->default_val(std::string(v.default_value));
    return opt;
}

// A setting that may instead come from a file (Kubernetes Secrets): the
// options for variable `name` and for NAME_FILE, which names the file.
struct SecretFlag {
    std::string name;
    std::string value;
    std::string file;
    void Add(CLI::App* cmd, std::string_view variable) {
        name = variable;
        Configure(cmd, name, value);
        Configure(cmd, name + "_FILE", file);
    }
    // Throws std::runtime_error when the file cannot be read.
    std::string Read() const { return v2m::app::ValueOrSecretFile(name, value, file); }
};

// The raw text of the configuration shared by the roles and commands that
// use the database and passwords; turned into config structs by `Finish`.
struct CommonFlags {
    std::string data_dir;
    SecretFlag database_url;
    int pool_size = 8;
    std::string db_wait;
    unsigned long long argon2_ops = 2;
    std::size_t argon2_memory_kib = 65536;
    unsigned argon2_concurrency = 2;
    std::string log_format;
    std::string log_level;

    void AddDatabase(CLI::App* cmd) {
        Configure(cmd, "V2M_DATA_DIR", data_dir);
        database_url.Add(cmd, "V2M_DATABASE_URL");
    }
    void AddPasswords(CLI::App* cmd) {
        Configure(cmd, "V2M_ARGON2_OPS", argon2_ops);
        Configure(cmd, "V2M_ARGON2_MEMORY_KIB", argon2_memory_kib);
    }
    void AddService(CLI::App* cmd) {
        Configure(cmd, "V2M_DB_POOL_SIZE", pool_size)->check(CLI::Range(1, 1000));
        Configure(cmd, "V2M_DB_WAIT", db_wait);
        Configure(cmd, "V2M_LOG_FORMAT", log_format)->check(CLI::IsMember({"", "json", "text"}));
        Configure(cmd, "V2M_LOG_LEVEL", log_level);
    }
    void AddPasswordLimits(CLI::App* cmd) {
        Configure(cmd, "V2M_ARGON2_CONCURRENCY", argon2_concurrency)->check(CLI::Range(1, 1024));
    }
    v2m::obs::LogSettings Log() const { return {log_format, log_level}; }

    // Throws std::invalid_argument with a message for the user.
    v2m::app::DatabaseConfig Database() const {
        v2m::app::DatabaseConfig db;
        db.url = database_url.Read();
        if (db.url.empty()) {
            std::filesystem::create_directories(data_dir);
            db.url = "sqlite://" + (std::filesystem::path(data_dir) / "video2mp3.db").string();
        }
        db.pool_size = pool_size;
        if (!db_wait.empty()) {
            auto wait = v2m::domain::ParseDuration(db_wait);
            if (!wait) throw std::invalid_argument("V2M_DB_WAIT: not a duration: " + db_wait);
            db.wait = *wait;
        }
        return db;
    }
    v2m::auth::PasswordSettings Passwords() const {
        return {.ops_limit = argon2_ops,
                .mem_limit = argon2_memory_kib * 1024,
                .max_concurrent = argon2_concurrency};
    }
};

std::chrono::seconds DurationFlag(std::string_view name, const std::string& text) {
    auto d = v2m::domain::ParseDuration(text);
    if (!d) throw std::invalid_argument(std::string(name) + ": not a duration: " + text);
    return *d;
}

// The auth service's settings, for `auth` and `all`.
struct AuthFlags {
    v2m::app::AuthConfig config;
    std::string ttl;
    std::string login_window;
    std::string trusted_proxies;

    void Add(CLI::App* cmd, bool in_all) {
        Configure(cmd, "V2M_HTTP_THREADS", config.http_threads)->check(CLI::Range(2, 10000));
        Configure(cmd, "V2M_JWT_PRIVATE_KEY_FILE", config.key_file);
        Configure(cmd, "V2M_JWT_ISSUER", config.issuer);
        Configure(cmd, "V2M_JWT_AUDIENCE", config.audience);
        Configure(cmd, "V2M_TOKEN_TTL", ttl);
        auto* open = Configure(cmd, "V2M_OPEN_REGISTRATION", config.open_registration);
        if (in_all) open->default_val("true");
        Configure(cmd, "V2M_LOGIN_MAX_FAILURES", config.throttle.max_failures_per_account)
            ->check(CLI::Range(1, 1000000));
        Configure(cmd, "V2M_LOGIN_MAX_FAILURES_PER_ADDRESS", config.throttle.max_failures_per_address)
            ->check(CLI::Range(1, 1000000));
        Configure(cmd, "V2M_LOGIN_WINDOW", login_window);
        Configure(cmd, "V2M_TRUSTED_PROXIES", trusted_proxies);
    }

    // Throws std::invalid_argument with a message for the user.
    v2m::app::AuthConfig Finish(const CommonFlags& common) {
        config.database = common.Database();
        config.password = common.Passwords();
        config.token_ttl = DurationFlag("V2M_TOKEN_TTL", ttl);
        config.throttle.window = DurationFlag("V2M_LOGIN_WINDOW", login_window);
        config.log = common.Log();
        try {
            config.trusted_proxies = v2m::auth::TrustedProxies::Parse(trusted_proxies);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(std::string("V2M_TRUSTED_PROXIES: ") + e.what());
        }
        return config;
    }
};

// Settings that return in several roles, as flag groups.
struct BlobFlags {
    SecretFlag url;
    void Add(CLI::App* cmd) { url.Add(cmd, "V2M_BLOB_STORE"); }
    std::string Finish(const CommonFlags& common) const {
        std::string u = url.Read();
        return u.empty() ? "file://" + (std::filesystem::path(common.data_dir) / "blobs").string() : u;
    }
};

struct BrokerFlags {
    v2m::app::BrokerConfig config;
    v2m::app::QueueConfig queues;
    SecretFlag url;
    std::string heartbeat;
    void Add(CLI::App* cmd) {
        url.Add(cmd, "V2M_BROKER_URL");
        Configure(cmd, "V2M_AMQP_HEARTBEAT", heartbeat);
        Configure(cmd, "V2M_AMQP_DELIVERY_LIMIT", config.delivery_limit)->check(CLI::Range(1, 1000));
        Configure(cmd, "V2M_QUEUE_VIDEO", queues.video);
        Configure(cmd, "V2M_QUEUE_MP3", queues.mp3);
    }
    v2m::app::BrokerConfig Finish() {
        config.url = url.Read();
        config.heartbeat = DurationFlag("V2M_AMQP_HEARTBEAT", heartbeat);
        if (config.url != "db" && !config.url.starts_with("amqp://") && !config.url.starts_with("amqps://"))
            throw std::invalid_argument("V2M_BROKER_URL: must be db or amqp://user:pass@host:port/vhost");
        return config;
    }
};

struct ConversionFlags {
    v2m::app::ConversionConfig config;
    std::string max_duration;
    std::string job_lease;
    std::string reaper_interval;
    int concurrency = 0;
    void Add(CLI::App* cmd) {
        Configure(cmd, "V2M_MAX_DURATION", max_duration);
        Configure(cmd, "V2M_CONCURRENCY", concurrency)->check(CLI::Range(0, 256));
        Configure(cmd, "V2M_JOB_LEASE", job_lease);
        Configure(cmd, "V2M_REAPER_INTERVAL", reaper_interval);
        Configure(cmd, "V2M_MAX_ATTEMPTS", config.max_attempts)->check(CLI::Range(1, 100));
    }
    v2m::app::ConversionConfig Finish() {
        config.max_duration_s = static_cast<double>(DurationFlag("V2M_MAX_DURATION", max_duration).count());
        config.job_lease = DurationFlag("V2M_JOB_LEASE", job_lease);
        config.reaper_interval = DurationFlag("V2M_REAPER_INTERVAL", reaper_interval);
        if (config.job_lease < std::chrono::seconds(2))
            throw std::invalid_argument("V2M_JOB_LEASE: at least 2s (the lease is renewed every second)");
        config.concurrency = Concurrency(concurrency);
        return config;
    }
    static int Concurrency(int flag) {
        return flag > 0 ? flag : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    }
};

struct MailFlags {
    v2m::app::MailConfig config;
    SecretFlag smtp_url;
    std::string timeout;
    void Add(CLI::App* cmd) {
        smtp_url.Add(cmd, "V2M_SMTP_URL");
        Configure(cmd, "V2M_SMTP_TIMEOUT", timeout);
        Configure(cmd, "V2M_MAIL_FROM", config.mail_from);
        Configure(cmd, "V2M_PUBLIC_URL", config.public_url);
    }
    v2m::app::MailConfig Finish(const CommonFlags& common) {
        config.smtp_url = smtp_url.Read();
        if (config.smtp_url.empty())
            config.smtp_url = "file://" + (std::filesystem::path(common.data_dir) / "mail").string();
        config.smtp_timeout = DurationFlag("V2M_SMTP_TIMEOUT", timeout);
        return config;
    }
};

void AddUploadLimit(CLI::App* cmd, std::uint64_t& target) {
    Configure(cmd, "V2M_MAX_UPLOAD_BYTES", target)
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 50));
}

// A service role's config and the flag groups it may share with other roles
// (each role adds those it has). FinishShared fills the parts of the config
// that come from them, each part the config has, in one order for every role;
// the role's own Finish sets the rest.
template <typename Config>
struct ServiceFlags {
    Config config;
    BlobFlags blob;
    BrokerFlags broker;
    MailFlags mail;
    ConversionFlags conversion;

    // Throws std::invalid_argument with a message for the user.
    void FinishShared(const CommonFlags& common) {
        if constexpr (requires { config.database; }) config.database = common.Database();
        if constexpr (requires { config.blob_store; }) config.blob_store = blob.Finish(common);
        config.broker = broker.Finish();
        config.queues = broker.queues;
        if constexpr (requires { config.mail; }) config.mail = mail.Finish(common);
        if constexpr (requires { config.conversion; }) config.conversion = conversion.Finish();
        if constexpr (requires { config.log; }) config.log = common.Log();
    }
};

// FinishShared skips a part a config does not have: these say which parts
// each role's config must have, so a renamed field fails to compile instead.
static_assert(requires(v2m::app::AllConfig c) {
    c.blob_store;
    c.mail;
    c.conversion;
});
static_assert(requires(v2m::app::GatewayConfig c) {
    c.database;
    c.blob_store;
    c.log;
});
static_assert(requires(v2m::app::ConverterConfig c) {
    c.database;
    c.blob_store;
    c.conversion;
    c.log;
});
static_assert(requires(v2m::app::NotifierConfig c) {
    c.database;
    c.mail;
    c.log;
});

// `all`: the gateway's and the workers' settings on top of auth's.
struct AllFlags : ServiceFlags<v2m::app::AllConfig> {
    AuthFlags auth;

    void Add(CLI::App* cmd) {
        blob.Add(cmd);
        broker.Add(cmd);
        mail.Add(cmd);
        AddUploadLimit(cmd, config.max_upload_bytes);
        conversion.Add(cmd);
    }

    v2m::app::AllConfig Finish(const CommonFlags& common) {
        config.auth = auth.Finish(common);
        config.auth.listen = config.listen;
        config.data_dir = common.data_dir;
        FinishShared(common);
        return config;
    }
};

struct GatewayFlags : ServiceFlags<v2m::app::GatewayConfig> {
    std::string auth_timeout;
    void Add(CLI::App* cmd) {
        Configure(cmd, "V2M_LISTEN", config.listen)->default_val("127.0.0.1:8080");
        Configure(cmd, "V2M_HTTP_THREADS", config.http_threads)->check(CLI::Range(2, 10000));
        blob.Add(cmd);
        broker.Add(cmd);
        Configure(cmd, "V2M_AUTH_URL", config.auth_url);
        Configure(cmd, "V2M_AUTH_TIMEOUT", auth_timeout);
        Configure(cmd, "V2M_JWT_ISSUER", config.issuer);
        Configure(cmd, "V2M_JWT_AUDIENCE", config.audience);
        AddUploadLimit(cmd, config.max_upload_bytes);
    }
    v2m::app::GatewayConfig Finish(const CommonFlags& common) {
        FinishShared(common);
        config.auth_timeout = DurationFlag("V2M_AUTH_TIMEOUT", auth_timeout);
        return config;
    }
};

struct ConverterFlags : ServiceFlags<v2m::app::ConverterConfig> {
    void Add(CLI::App* cmd) {
        Configure(cmd, "V2M_ADMIN_LISTEN", config.admin_listen)->default_val("127.0.0.1:9091");
        blob.Add(cmd);
        broker.Add(cmd);
        conversion.Add(cmd);
    }
    v2m::app::ConverterConfig Finish(const CommonFlags& common) {
        FinishShared(common);
        return config;
    }
};

struct NotifierFlags : ServiceFlags<v2m::app::NotifierConfig> {
    int concurrency = 0;
    void Add(CLI::App* cmd) {
        Configure(cmd, "V2M_ADMIN_LISTEN", config.admin_listen)->default_val("127.0.0.1:9092");
        broker.Add(cmd);
        mail.Add(cmd);
        Configure(cmd, "V2M_CONCURRENCY", concurrency)->check(CLI::Range(0, 256));
    }
    v2m::app::NotifierConfig Finish(const CommonFlags& common) {
        FinishShared(common);
        config.concurrency = ConversionFlags::Concurrency(concurrency);
        return config;
    }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"video2mp3: turns videos into MP3 files.", "video2mp3"};
    app.set_version_flag("-V,--version",
                         std::string("video2mp3 " V2M_VERSION "\n") + v2m::engine::LibraryVersions());
    app.require_subcommand(1);
    app.footer(
        "Exit status: 0 done, 1 internal error, 2 invalid options, 3 input unreadable, 4 output unwritable,\n"
        "5 not a media file, 6 no audio stream, 7 damaged beyond decoding, 8 unsupported codec,\n"
        "9 --start past the end, 130 interrupted.");

    ConvertFlags cf;
    auto* convert = app.add_subcommand("convert", "Convert a video (or audio) file to MP3");
    convert->add_option("input", cf.config.input, "Video or audio file to convert")->required();
    convert->add_option("-o,--output", cf.config.output,
                        "MP3 to write ('-' for standard output; default: the input's name with .mp3)");
    auto* quality =
        convert->add_option("-q,--quality", cf.quality, "VBR quality 0 (best) .. 9 (smallest); default 2")
            ->check(CLI::Range(0, 9));
    convert
        ->add_option("-b,--bitrate", cf.bitrate,
                     "CBR bitrate, e.g. 192k (32-320k at 32-48 kHz, 8-160k below)")
        ->excludes(quality);
    convert->add_option("-r,--sample-rate", cf.sample_rate,
                        "Output sample rate in Hz (an MP3 rate; default: the source's, or the nearest)");
    convert
        ->add_option("-c,--channels", cf.channels,
                     "Output channels, 1 or 2 (default: the source's, at most 2)")
        ->check(CLI::IsMember({1, 2}));
    convert->add_option("-s,--start", cf.start, "Start at this time (seconds or hh:mm:ss.mmm)");
    convert->add_option("-e,--end", cf.end, "End at this time (seconds or hh:mm:ss.mmm)");
    convert
        ->add_option("--stream", cf.stream,
                     "Convert this input stream (numbered as ffprobe does; default: the best audio)")
        ->check(CLI::NonNegativeNumber);
    convert->add_flag("--quiet", cf.config.quiet, "No progress bar");
    convert->add_flag("--json", cf.config.json,
                      "Print a JSON summary (on stdout; on stderr when the MP3 goes to stdout)");
    convert->add_flag("-v,--verbose", cf.verbose, "Show FFmpeg's own warnings");

    CommonFlags common;

    // auth, and all (which also answers auth's endpoints)
    AuthFlags auth_flags;
    auto* auth = app.add_subcommand("auth", "Run the auth service: users, sign-in, tokens (port 8081)");
    common.AddDatabase(auth);
    common.AddPasswords(auth);
    common.AddService(auth);
    common.AddPasswordLimits(auth);
    Configure(auth, "V2M_LISTEN", auth_flags.config.listen)->default_val("127.0.0.1:8081");
    auth_flags.Add(auth, false);

    AllFlags all_flags;
    auto* all = app.add_subcommand(
        "all", "Run everything in one process: gateway, auth, converter and notifier (port 8080)");
    common.AddDatabase(all);
    common.AddPasswords(all);
    common.AddService(all);
    common.AddPasswordLimits(all);
    Configure(all, "V2M_LISTEN", all_flags.config.listen)->default_val("127.0.0.1:8080");
    all_flags.auth.Add(all, true);
    all_flags.Add(all);

    // the other roles, each its own process (the microservice mode)
    GatewayFlags gateway_flags;
    auto* gateway = app.add_subcommand(
        "gateway", "Run the public API: uploads, jobs, downloads; sign-in forwarded to auth (port 8080)");
    common.AddDatabase(gateway);
    common.AddService(gateway);
    gateway_flags.Add(gateway);
    ConverterFlags converter_flags;
    auto* converter = app.add_subcommand("converter", "Run a converter: videos from the queue to MP3s");
    common.AddDatabase(converter);
    common.AddService(converter);
    converter_flags.Add(converter);
    NotifierFlags notifier_flags;
    auto* notifier =
        app.add_subcommand("notifier", "Run a notifier: an email when an MP3 is ready or failed");
    common.AddDatabase(notifier);
    common.AddService(notifier);
    notifier_flags.Add(notifier);

    // user administration
    auto* user = app.add_subcommand("user", "Manage users on the database V2M_DATABASE_URL names");
    user->require_subcommand(1);
    common.AddDatabase(user);
    common.AddPasswords(user);
    std::string user_email;
    bool user_admin = false;
    bool password_stdin = false;
    bool list_json = false;
    auto* user_add =
        user->add_subcommand("add", "Add a user (the password is asked for, or read from stdin)");
    user_add->add_option("email", user_email, "The user's email address")->required();
    user_add->add_flag("--admin", user_admin, "Make the user an administrator");
    user_add->add_flag("--password-stdin", password_stdin, "Read the password from standard input");
    auto* user_list = user->add_subcommand("list", "List the users");
    user_list->add_flag("--json", list_json, "As JSON");
    auto* user_passwd = user->add_subcommand("passwd", "Set a user's password");
    user_passwd->add_option("email", user_email, "The user's email address")->required();
    user_passwd->add_flag("--password-stdin", password_stdin, "Read the password from standard input");
    auto* user_disable = user->add_subcommand("disable", "Stop a user from signing in");
    user_disable->add_option("email", user_email, "The user's email address")->required();
    auto* user_enable = user->add_subcommand("enable", "Let a disabled user sign in again");
    user_enable->add_option("email", user_email, "The user's email address")->required();
    // `user add X --data-dir D` as well as `user --data-dir D add X`.
    for (auto* sub : {user_add, user_list, user_passwd, user_disable, user_enable}) sub->fallthrough();

    auto* migrate = app.add_subcommand("migrate", "Apply the database migrations and exit");
    common.AddDatabase(migrate);

    std::string key_path;
    auto* keygen = app.add_subcommand("keygen", "Write a new ES256 signing key (PEM, mode 0600) for auth");
    keygen->add_option("file", key_path, "Where to write it (must not exist)")->required();

    bool env_json = false;
    auto* env = app.add_subcommand("env", "List every V2M_* variable the program reads, with defaults");
    env->add_flag("--json", env_json, "As JSON");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "video2mp3: error: " << e.what() << " (see --help)\n";
        return kExitUsage;
    }

    const std::stop_source stop = WatchSignals();
    if (convert->parsed()) {
        if (!FinishConvertFlags(cf)) return kExitUsage;
        v2m::engine::SetLibraryLogging(cf.verbose);
        return v2m::app::RunConvert(cf.config, stop.get_token());
    }
    if (env->parsed()) return v2m::app::RunEnv(env_json);
    if (keygen->parsed()) return v2m::app::RunKeygen(key_path);
    try {
        if (auth->parsed()) {
            return v2m::app::RunAuth(auth_flags.Finish(common), stop.get_token());
        }
        if (all->parsed()) {
            return v2m::app::RunAll(all_flags.Finish(common), stop.get_token());
        }
        if (gateway->parsed()) return v2m::app::RunGateway(gateway_flags.Finish(common), stop.get_token());
        if (converter->parsed())
            return v2m::app::RunConverter(converter_flags.Finish(common), stop.get_token());
        if (notifier->parsed()) return v2m::app::RunNotifier(notifier_flags.Finish(common), stop.get_token());
        if (migrate->parsed()) return v2m::app::RunMigrate(common.Database());
        if (user->parsed()) {
            const v2m::app::AdminConfig admin{common.Database(), common.Passwords()};
            if (user_add->parsed())
                return v2m::app::RunUserAdd(admin, user_email, user_admin, password_stdin);
            if (user_list->parsed()) return v2m::app::RunUserList(admin, list_json);
            if (user_passwd->parsed()) return v2m::app::RunUserPasswd(admin, user_email, password_stdin);
            if (user_disable->parsed()) return v2m::app::RunUserSetDisabled(admin, user_email, true);
            if (user_enable->parsed()) return v2m::app::RunUserSetDisabled(admin, user_email, false);
        }
    } catch (const std::exception& e) {
        std::cerr << "video2mp3: error: " << e.what() << '\n';
        return kExitUsage;
    }
    return kExitUsage;
}
