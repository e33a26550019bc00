// The SMTP mailer against real SMTP servers (label smtp): the shared catcher
// scripts/testenv started (aiosmtpd with scripts/testenv_smtp.py, which writes
// every message it accepts to a maildir with its envelope), catchers of the
// tests' own for AUTH, TLS and a server going down, and a listener that never
// answers. Tests may run in parallel against the shared catcher: each uses
// recipients of its own and finds its messages by them.
#include "mail/smtp_mailer.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mail/job_mail.hpp"
#include "mail/mailer.hpp"
#include "mail/message.hpp"
#include "services.hpp"
#include "test_support.hpp"

namespace v2m::mail {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kScript = std::string(V2M_SOURCE_DIR) + "/scripts/testenv_smtp.py";
const std::string kTestenv = std::string(V2M_SOURCE_DIR) + "/scripts/testenv";

std::string Need(const std::map<std::string, std::string>& env, const std::string& key) {
    const auto it = env.find(key);
    if (it == env.end())
        throw std::runtime_error(key + " not set: is scripts/testenv running (V2M_TESTENV)?");
    return it->second;
}

// The shared catcher: its URL and maildir.
struct Catcher {
    std::string url;
    fs::path maildir;
};

Catcher Shared() {
    const auto env = test::TestEnv();
    return {Need(env, "V2M_TEST_SMTP_URL"), Need(env, "V2M_TEST_SMTP_MAILDIR")};
}

// A recipient no other test (or run) uses: "<prefix>-<pid>-<n>-<time>@example.com".
std::string UniqueAddress(const std::string& prefix) {
    static std::atomic<int> counter{0};
    return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(Clock::now().time_since_epoch().count()) + "@example.com";
}

// One message the catcher wrote: its envelope lines and the bytes it received.
struct Received {
    std::string path;
    std::map<std::string, std::vector<std::string>> envelope;  // "From", "To", "Helo", "TLS", "Auth"
    std::string bytes;

    std::string One(const std::string& key) const {
        const auto it = envelope.find(key);
        if (it == envelope.end() || it->second.size() != 1) return "<not exactly one X-Envelope-" + key + ">";
        return it->second.front();
    }
};

Received ParseEml(const fs::path& path) {
    Received r{.path = path.string(), .envelope = {}, .bytes = test::ReadFile(path.string())};
    const std::string prefix = "X-Envelope-";
    while (r.bytes.starts_with(prefix)) {
        const std::size_t end = r.bytes.find("\r\n");
        const std::string line = r.bytes.substr(prefix.size(), end - prefix.size());
        const std::size_t colon = line.find(": ");
        r.envelope[line.substr(0, colon)].push_back(line.substr(colon + 2));
        r.bytes.erase(0, end + 2);
    }
    return r;
}

// The messages in `maildir` sent to `recipient` (it writes them before it says 250).
std::vector<Received> ReceivedBy(const fs::path& maildir, const std::string& recipient) {
    std::vector<Received> found;
    if (!fs::is_directory(maildir)) return found;
    for (const auto& entry : fs::directory_iterator(maildir)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with(".") || !name.ends_with(".eml")) continue;
        Received r = ParseEml(entry.path());
        const auto to = r.envelope.find("To");
        if (to != r.envelope.end() &&
            std::find(to->second.begin(), to->second.end(), recipient) != to->second.end()) {
            found.push_back(std::move(r));
        }
    }
    return found;
}

nlohmann::json ReadWithPython(const std::string& eml) {
    static constexpr const char* kParse = R"(
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
text = m.get_body(preferencelist=("plain",))
html = m.get_body(preferencelist=("html",))
print(json.dumps({
    "subject": str(m["subject"]), "from": str(m["from"]), "to": str(m["to"]),
    "message_id": str(m["message-id"]), "type": m.get_content_type(),
    "text": text.get_content() if text else None, "html": html.get_content() if html else None,
    "defects": [type(d).__name__ for part in m.walk() for d in part.defects],
}))
)";
    const test::ProcessResult r = test::Run({"/usr/bin/python3", "-c", kParse, eml});
    if (r.exit_code != 0) throw std::runtime_error("python3 failed: " + r.Describe());
    return nlohmann::json::parse(r.out);
}

std::string HostName() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

Message Simple(const std::string& to, const std::string& tag) {
    return Message{.from = "video2mp3@localhost",
                   .to = to,
                   .subject = "Test " + tag,
                   .text = "Hello " + tag + "\n",
                   .html = "<p>Hello " + tag + "</p>",
                   .message_id = "smtp-test-" + tag + "@video2mp3"};
}

std::string Tag(const std::string& address) { return address.substr(0, address.find('@')); }

// Sends one message and returns what arrived for its recipient.
Received SendAndReceive(Mailer& mailer, const fs::path& maildir, const Message& m) {
    const std::string bytes = BuildMessage(m, std::chrono::system_clock::now());
    mailer.Send(m.from, m.to, m.message_id, bytes);
    const std::vector<Received> got = ReceivedBy(maildir, m.to);
    if (got.size() != 1)
        throw std::runtime_error(std::to_string(got.size()) + " messages arrived for " + m.to);
    EXPECT_EQ(got.front().bytes, bytes) << "not the bytes sent: " << got.front().path;
    return got.front();
}

// What a Send threw: "rejected: …", "unavailable: …", "invalid: …" or "sent".
std::string Outcome(Mailer& mailer, const Message& m) {
    try {
        mailer.Send(m.from, m.to, m.message_id, BuildMessage(m, std::chrono::system_clock::now()));
    } catch (const MailRejected& e) {
        return std::string("rejected: ") + e.what();
    } catch (const MailUnavailable& e) {
        return std::string("unavailable: ") + e.what();
    } catch (const std::invalid_argument& e) {
        return std::string("invalid: ") + e.what();
    }
    return "sent";
}

// ---- The shared catcher --------------------------------------------------------

TEST(SmtpMailer, DeliversTheBuiltMessageIntact) {
    const Catcher catcher = Shared();
    auto mailer = OpenMailer(catcher.url);
    ASSERT_NE(dynamic_cast<SmtpMailer*>(mailer.get()), nullptr);

    JobDone done{.to = UniqueAddress("done"),
                 .job_id = "0123456789abcdef0123456789abcdef",
                 .mp3_id = "fedcba9876543210fedcba9876543210",
                 .filename = "Résumé — 日本語 " + std::string(90, 'x') + " 🎵.mp4",
                 .duration_s = 3725,
                 .mp3_bytes = 5'432'100,
                 .download_url = "http://127.0.0.1:8080/download?fid=fedcba9876543210fedcba9876543210"};
    Message dots = Simple(UniqueAddress("dots"), "dots");
    // Lines SMTP gives a meaning to: a lone dot ends DATA unless the client escapes it.
    dots.text = ".\n.leading dot\n..two dots\nFrom the start\n" + std::string(300, 'l') + "\n.\n";
    dots.subject = "Ünïcödé ✓ " + std::string(100, 's');

    for (const Message& m : {DoneMail(done, "video2mp3@localhost"), dots}) {
        SCOPED_TRACE(m.to);
        const Received got = SendAndReceive(*mailer, catcher.maildir, m);
        EXPECT_EQ(got.One("From"), m.from);
        EXPECT_EQ(got.One("To"), m.to);
        EXPECT_EQ(got.One("Helo"), HostName()) << "EHLO names the local host when the URL has no path";
        EXPECT_EQ(got.One("TLS"), "no") << "the shared catcher offers no STARTTLS";

        const nlohmann::json parsed = ReadWithPython(got.path);
        EXPECT_EQ(parsed["defects"], nlohmann::json::array()) << parsed.dump();
        EXPECT_EQ(parsed["type"], "multipart/alternative");
        EXPECT_EQ(parsed["subject"], m.subject);
        EXPECT_EQ(parsed["from"], m.from);
        EXPECT_EQ(parsed["to"], m.to);
        EXPECT_EQ(parsed["message_id"], "<" + m.message_id + ">");
        EXPECT_EQ(parsed["text"], m.text);
        EXPECT_EQ(parsed["html"], m.html);
    }
}

TEST(SmtpMailer, EhloNamesTheUrlPath) {
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url + "/notifier.example.org", {});
    const Received got = SendAndReceive(mailer, catcher.maildir, Simple(UniqueAddress("helo"), "helo"));
    EXPECT_EQ(got.One("Helo"), "notifier.example.org");
}

TEST(SmtpMailer, ConcurrentSendsAllArrive) {
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url, {.timeout = 60s, .ca_file = ""});
    constexpr std::size_t kThreads = 8;
    constexpr std::size_t kEach = 5;
    struct Work {
        Message message;
        std::string bytes;  // as built by its thread
    };
    std::vector<std::vector<Work>> work(kThreads);
    for (auto& list : work) {
        for (std::size_t i = 0; i < kEach; ++i) {
            const std::string to = UniqueAddress("many");
            list.push_back({Simple(to, Tag(to)), ""});
        }
    }
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (std::vector<Work>& list : work) {
        threads.emplace_back([&mailer, &failures, &list] {
            for (Work& w : list) {
                const Message& m = w.message;
                w.bytes = BuildMessage(m, std::chrono::system_clock::now());
                try {
                    mailer.Send(m.from, m.to, m.message_id, w.bytes);
                } catch (const std::exception& e) {
                    ++failures;
                    ADD_FAILURE() << m.to << ": " << e.what();
                }
            }
        });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    for (const std::vector<Work>& list : work) {
        for (const Work& w : list) {
            const std::vector<Received> got = ReceivedBy(catcher.maildir, w.message.to);
            ASSERT_EQ(got.size(), 1U) << w.message.to;
            EXPECT_EQ(got.front().bytes, w.bytes);
        }
    }
}

TEST(SmtpMailer, RecipientRefusedWith550IsRejected) {
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url, {});
    const std::string to = UniqueAddress("reject");
    const std::string outcome = Outcome(mailer, Simple(to, Tag(to)));
    EXPECT_TRUE(outcome.starts_with("rejected: ")) << outcome;
    EXPECT_NE(outcome.find("550"), std::string::npos) << outcome;
    EXPECT_NE(outcome.find("Recipient refused"), std::string::npos) << "the server's words: " << outcome;
    EXPECT_TRUE(ReceivedBy(catcher.maildir, to).empty());
}

TEST(SmtpMailer, RecipientRefusedWith451IsUnavailable) {
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url, {});
    const std::string to = UniqueAddress("tempfail");
    const std::string outcome = Outcome(mailer, Simple(to, Tag(to)));
    EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;
    EXPECT_NE(outcome.find("451"), std::string::npos) << outcome;
    EXPECT_NE(outcome.find("Try again later"), std::string::npos) << "the server's words: " << outcome;
    EXPECT_TRUE(ReceivedBy(catcher.maildir, to).empty());
}

TEST(SmtpMailer, MessageRefusedWith554AfterDataIsRejected) {
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url, {});
    const std::string to = UniqueAddress("refuse");
    const std::string outcome = Outcome(mailer, Simple(to, Tag(to)));
    EXPECT_TRUE(outcome.starts_with("rejected: ")) << outcome;
    EXPECT_NE(outcome.find("554"), std::string::npos) << outcome;
    EXPECT_NE(outcome.find("Message refused"), std::string::npos) << "the server's words: " << outcome;
    EXPECT_TRUE(ReceivedBy(catcher.maildir, to).empty());
}

TEST(SmtpMailer, BadEnvelopeIsInvalidArgumentAndSendsNothing) {
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url, {});
    const std::string to = UniqueAddress("env");
    EXPECT_THROW(mailer.Send("video2mp3@localhost", to + ">\r\nRCPT TO:<x@example.com", "id@h", "x"),
                 std::invalid_argument);
    EXPECT_THROW(mailer.Send("video2mp3@localhost", to, "no-at-sign", "x"), std::invalid_argument);
    EXPECT_THROW(mailer.Send("", to, "id@h", "x"), std::invalid_argument);
    EXPECT_TRUE(ReceivedBy(catcher.maildir, to).empty());
}

// ---- No server, or one that never answers ------------------------------------------

TEST(SmtpMailer, NothingListeningIsUnavailableQuickly) {
    SmtpMailer mailer("smtp://127.0.0.1:" + std::to_string(test::FreePort()), {});
    const auto start = Clock::now();
    const std::string outcome = Outcome(mailer, Simple(UniqueAddress("nobody"), "nobody"));
    EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;
    EXPECT_LT(Clock::now() - start, 3s);
}

// A TCP listener that accepts connections and never says a word.
class SilentServer {
  public:
    SilentServer() {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 16) != 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
            throw std::runtime_error("cannot listen");
        }
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] {
            while (true) {
                const int client = ::accept(fd_, nullptr, nullptr);
                if (client < 0) return;  // shut down
                ++accepted_;
                clients_.push_back(client);
            }
        });
    }
    ~SilentServer() {
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
        for (const int client : clients_) ::close(client);
    }
    SilentServer(const SilentServer&) = delete;
    SilentServer& operator=(const SilentServer&) = delete;

    int port() const { return port_; }
    int accepted() const { return accepted_; }

  private:
    int fd_ = -1;
    int port_ = 0;
    std::atomic<int> accepted_{0};
    std::vector<int> clients_;  // held open: the client sees a connection, then silence
    std::thread thread_;
};

TEST(SmtpMailer, ServerThatNeverAnswersIsUnavailableWithinTheTimeout) {
    SilentServer silent;
    for (const char* scheme : {"smtp", "smtps"}) {
        SCOPED_TRACE(scheme);
        SmtpMailer mailer(std::string(scheme) + "://127.0.0.1:" + std::to_string(silent.port()),
                          {.timeout = 2s, .ca_file = ""});
        const auto start = Clock::now();
        const std::string outcome = Outcome(mailer, Simple(UniqueAddress("silent"), "silent"));
        const auto took = Clock::now() - start;
        EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;
        EXPECT_GE(took, 1500ms) << outcome;
        EXPECT_LT(took, 6s) << outcome;
    }
    EXPECT_EQ(silent.accepted(), 2);
}

TEST(SmtpMailer, ServerStallingAfterTheMessageIsUnavailableWithinTheTimeout) {
    // The reply to the message never comes: the outcome is unknown, so a retry
    // (MailUnavailable); and libcurl's goodbye must not wait the timeout again.
    const Catcher catcher = Shared();
    SmtpMailer mailer(catcher.url, {.timeout = 2s, .ca_file = ""});
    const std::string to = UniqueAddress("stall");
    const auto start = Clock::now();
    const std::string outcome = Outcome(mailer, Simple(to, Tag(to)));
    const auto took = Clock::now() - start;
    EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;
    EXPECT_NE(outcome.find("may have arrived"), std::string::npos) << outcome;
    EXPECT_GE(took, 1500ms) << outcome;
    EXPECT_LT(took, 3500ms) << outcome;
}

// ---- URLs -----------------------------------------------------------------------------

std::string OpenError(const std::string& url) {
    try {
        OpenMailer(url);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "no exception";
}

TEST(SmtpMailerUrl, AcceptedForms) {
    for (const char* url :
         {"smtp://mail.example.com", "smtp://mail.example.com:587", "SMTP://Mail.Example.com:25/",
          "smtps://user:s3cret@mail.example.com", "smtp://u%40x:p%3As3cret@[::1]:2525/helo.example",
          "smtp://user;AUTH=PLAIN:s3cret@127.0.0.1:25/[127.0.0.1]"}) {
        SCOPED_TRACE(url);
        std::unique_ptr<Mailer> mailer;
        ASSERT_NO_THROW(mailer = OpenMailer(url));
        const auto* smtp = dynamic_cast<SmtpMailer*>(mailer.get());
        ASSERT_NE(smtp, nullptr);
        EXPECT_EQ(smtp->redacted_url().find("s3cret"), std::string::npos) << smtp->redacted_url();
    }
    EXPECT_EQ(SmtpMailer("smtps://user:s3cret@mail.example.com:465", {}).redacted_url(),
              "smtps://user:***@mail.example.com:465/");
}

TEST(SmtpMailerUrl, MistakesAreClearErrorsWithoutThePassword) {
    for (const char* url : {"smtp://user:s3cret@mail.example.com:587/?insecure=1",
                            "smtp://user:s3cret@mail.example.com:587/#frag", "smtp://user:s3cret@",
                            "smtp://user:s3cret@host:99999", "smtp://user:s3cret@host/bad%20name",
                            "smtp://user:s3cret@host/a/b", "smtp://user:s3cret@host/%0d%0aRCPT"}) {
        const std::string what = OpenError(url);
        EXPECT_TRUE(what.starts_with("mail URL: ")) << url << ": " << what;
        EXPECT_EQ(what.find("s3cret"), std::string::npos) << "the password leaked: " << what;
    }
    EXPECT_THROW(SmtpMailer("smtp://host", {.timeout = 0ms, .ca_file = ""}), std::invalid_argument);
}

// ---- Catchers of our own: AUTH and TLS ----------------------------------------------

// scripts/testenv_smtp.py run as a script on a free port, with `args`; writes to maildir().
class OwnCatcher {
  public:
    explicit OwnCatcher(const std::vector<std::string>& args) : port_(test::FreePort()) {
        std::vector<std::string> argv = {"/usr/bin/python3", kScript, "--listen",
                                         "127.0.0.1:" + std::to_string(port_)};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.push_back(maildir().string());
        process_ =
            std::make_unique<test::Process>(argv, test::RunOptions{.timeout = 600s, .stdout_path = ""});
        const auto deadline = Clock::now() + 20s;
        while (!Listening()) {
            if (process_->HasExited())
                throw std::runtime_error("the catcher exited: " + process_->Wait().Describe());
            if (Clock::now() > deadline) throw std::runtime_error("the catcher did not listen within 20 s");
            std::this_thread::sleep_for(50ms);
        }
    }
    int port() const { return port_; }
    fs::path maildir() const { return dir_.path() / "mail"; }

  private:
    bool Listening() const {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port_));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok;
    }

    test::TempDir dir_;
    int port_;
    std::unique_ptr<test::Process> process_;  // killed and reaped at the end
};

// The user and password the AUTH catchers want, with characters a URL must escape.
const std::string kUser = "notifier@example.org";
const std::string kPassword = "p@ss:w/rd% #1";
const std::string kUrlCredentials = "notifier%40example.org:p%40ss%3Aw%2Frd%25%20%231";

TEST(SmtpMailerAuth, CredentialsFromTheUrlAreUsed) {
    OwnCatcher catcher({"--auth", kUser + ":" + kPassword});
    SmtpMailer mailer("smtp://" + kUrlCredentials + "@127.0.0.1:" + std::to_string(catcher.port()), {});
    const Received got = SendAndReceive(mailer, catcher.maildir(), Simple(UniqueAddress("auth"), "auth"));
    EXPECT_EQ(got.One("Auth"), kUser);
}

TEST(SmtpMailerAuth, WrongOrMissingCredentialsAreUnavailableNotAHang) {
    // Credentials are configuration: once fixed, the same message goes out. So
    // the notifier retries (with backoff) rather than dropping the email.
    OwnCatcher catcher({"--auth", kUser + ":" + kPassword});
    const std::string at = "@127.0.0.1:" + std::to_string(catcher.port());
    for (const std::string& url :
         {"smtp://notifier%40example.org:wr0ng-s3cret" + at, "smtp://" + at.substr(1)}) {
        SCOPED_TRACE(url);
        SmtpMailer mailer(url, {});
        const auto start = Clock::now();
        const std::string outcome = Outcome(mailer, Simple(UniqueAddress("auth"), "auth"));
        EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;
        EXPECT_TRUE(outcome.find("535") != std::string::npos || outcome.find("530") != std::string::npos)
            << outcome;
        EXPECT_EQ(outcome.find("wr0ng-s3cret"), std::string::npos) << "the password leaked: " << outcome;
        EXPECT_EQ(outcome.find(kPassword), std::string::npos) << outcome;
        EXPECT_LT(Clock::now() - start, 5s);
    }
    EXPECT_TRUE(fs::is_empty(catcher.maildir()));
}

// A test CA, and server certificates it signed.
class TestPki {
  public:
    TestPki() {
        Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 dir_ / "ca.key", "-out", ca(), "-days", "2", "-subj", "/CN=video2mp3 test CA"});
        Server("localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
        Server("other", "subjectAltName=DNS:mail.example.org");
    }
    std::string ca() const { return dir_ / "ca.pem"; }
    std::string cert(const std::string& name) const { return dir_ / (name + ".pem"); }
    std::string key(const std::string& name) const { return dir_ / (name + ".key"); }

  private:
    void Server(const std::string& name, const std::string& san) {
        test::WriteFile(dir_ / (name + ".ext"),
                        std::string(san + "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"));
        Openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 key(name), "-out", dir_ / (name + ".csr"), "-subj", "/CN=" + name});
        Openssl({"x509", "-req", "-in", dir_ / (name + ".csr"), "-CA", ca(), "-CAkey", dir_ / "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", dir_ / (name + ".ext"), "-out", cert(name)});
    }
    static void Openssl(std::vector<std::string> args) {
        args.insert(args.begin(), "openssl");
        const test::ProcessResult r = test::Run(args);
        if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.Describe());
    }
    test::TempDir dir_;
};

TEST(SmtpMailerTls, StartTlsIsUsedWhenOfferedAndAuthGoesInside) {
    TestPki pki;
    OwnCatcher catcher(
        {"--starttls", pki.cert("localhost"), pki.key("localhost"), "--auth", kUser + ":" + kPassword});
    const std::string port = std::to_string(catcher.port());
    // The catcher refuses MAIL before STARTTLS, and AUTH outside TLS: arriving proves both.
    SmtpMailer mailer("smtp://" + kUrlCredentials + "@127.0.0.1:" + port,
                      {.timeout = 30s, .ca_file = pki.ca()});
    const Received got =
        SendAndReceive(mailer, catcher.maildir(), Simple(UniqueAddress("starttls"), "starttls"));
    EXPECT_EQ(got.One("TLS"), "yes");
    EXPECT_EQ(got.One("Auth"), kUser);
}

TEST(SmtpMailerTls, CertificatesAreVerified) {
    TestPki pki;
    for (const char* mode : {"--starttls", "--smtps"}) {
        SCOPED_TRACE(mode);
        const std::string scheme = std::string(mode) == "--smtps" ? "smtps" : "smtp";
        OwnCatcher trusted({mode, pki.cert("localhost"), pki.key("localhost")});
        OwnCatcher misnamed({mode, pki.cert("other"), pki.key("other")});
        const std::string to_trusted = scheme + "://127.0.0.1:" + std::to_string(trusted.port());
        const std::string to_misnamed = scheme + "://127.0.0.1:" + std::to_string(misnamed.port());

        // Trusted CA, matching name: delivered over TLS.
        SmtpMailer good(to_trusted, {.timeout = 30s, .ca_file = pki.ca()});
        const Received got = SendAndReceive(good, trusted.maildir(), Simple(UniqueAddress("tls"), "tls"));
        EXPECT_EQ(got.One("TLS"), "yes");

        // The system's CAs do not know ours; no falling back to plain text either.
        SmtpMailer unknown_ca(to_trusted, {});
        std::string outcome = Outcome(unknown_ca, Simple(UniqueAddress("tls"), "tls"));
        EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;

        // Our CA, but a certificate for another name.
        SmtpMailer wrong_name(to_misnamed, {.timeout = 30s, .ca_file = pki.ca()});
        outcome = Outcome(wrong_name, Simple(UniqueAddress("tls"), "tls"));
        EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;

        EXPECT_EQ(std::distance(fs::directory_iterator(trusted.maildir()), fs::directory_iterator()), 1);
        EXPECT_TRUE(fs::is_empty(misnamed.maildir()));
    }
}

// ---- A catcher that goes down and comes back ----------------------------------------

// `scripts/testenv start DIR smtp`, stopped (and its data removed) at the end.
class OwnServer {
  public:
    OwnServer() {
        Testenv({"start", state(), "smtp"});
        const std::string env = test::ReadFile(state() + "/env");
        for (const std::string& line : test::Lines(env)) {
            const std::string url = "export V2M_TEST_SMTP_URL=";
            const std::string dir = "export V2M_TEST_SMTP_MAILDIR=";
            if (line.starts_with(url)) url_ = line.substr(url.size());
            if (line.starts_with(dir)) maildir_ = line.substr(dir.size());
        }
        if (url_.empty() || maildir_.empty()) throw std::runtime_error("no smtp in " + state() + "/env");
    }
    ~OwnServer() {
        try {
            Testenv({"stop", state()});
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
        }
    }
    OwnServer(const OwnServer&) = delete;
    OwnServer& operator=(const OwnServer&) = delete;

    const std::string& url() const { return url_; }
    const std::string& maildir() const { return maildir_; }
    void Stop() { Testenv({"stop-service", state(), "smtp"}); }
    void Start() { Testenv({"start-service", state(), "smtp"}); }

  private:
    std::string state() const { return dir_ / "env"; }
    static void Testenv(std::vector<std::string> args) {
        args.insert(args.begin(), {"bash", kTestenv});
        const test::ProcessResult r = test::Run(args, {.timeout = 90s, .stdout_path = ""});
        if (r.exit_code != 0) throw std::runtime_error("scripts/testenv failed: " + r.Describe());
    }
    test::TempDir dir_;
    std::string url_;
    std::string maildir_;
};

TEST(SmtpMailerOwnServer, DownIsUnavailableAndUpAgainDelivers) {
    OwnServer server;
    SmtpMailer mailer(server.url(), {.timeout = 10s, .ca_file = ""});
    SendAndReceive(mailer, server.maildir(), Simple(UniqueAddress("up"), "up"));

    server.Stop();
    const std::string to = UniqueAddress("down");
    const auto start = Clock::now();
    const std::string outcome = Outcome(mailer, Simple(to, Tag(to)));
    EXPECT_TRUE(outcome.starts_with("unavailable: ")) << outcome;
    EXPECT_LT(Clock::now() - start, 3s);

    server.Start();
    // The retry the notifier would make: the same message now arrives, once.
    SendAndReceive(mailer, server.maildir(), Simple(to, Tag(to)));
}

}  // namespace
}  // namespace v2m::mail
