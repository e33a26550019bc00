#include "mail/smtp_mailer.hpp"

#include <curl/curl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

#include "mail/message.hpp"

namespace v2m::mail {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kMaxConnectTimeout{10'000};
constexpr long kLowSpeedSeconds = 10;

struct UrlDeleter {
    void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;

struct EasyDeleter {
    void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

struct ListDeleter {
    void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using List = std::unique_ptr<curl_slist, ListDeleter>;

struct CurlString {
    char* text = nullptr;
    CurlString() = default;
    CurlString(const CurlString&) = delete;
    CurlString& operator=(const CurlString&) = delete;
    ~CurlString() { curl_free(text); }
};

// libcurl ≥ 7.84 makes curl_global_init itself thread-safe; the static keeps it
// to one call per process. No curl_global_cleanup: other threads (and other
// adapters) may use libcurl until the process ends.
void StartCurl() {
    static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        throw MailUnavailable(std::string("smtp: libcurl cannot start: ") + curl_easy_strerror(code));
    }
}

[[noreturn]] void BadUrl(const std::string& why) {
    throw std::invalid_argument("mail URL: " + why +
                                " (expected smtp://[user:password@]host[:port] or smtps://…)");
}

// A URL part, percent-decoded when asked; false (and empty) when the URL has none.
bool GetPart(CURLU* url, CURLUPart part, unsigned flags, std::string& out) {
    CurlString value;
    const CURLUcode code = curl_url_get(url, part, &value.text, flags);
    if (code != CURLUE_OK) {
        out.clear();
        return false;
    }
    out = value.text;
    return true;
}

// What EHLO may name: a host name, or an address literal such as [127.0.0.1].
bool IsEhloName(std::string_view name) {
    if (name.empty() || name.size() > 255) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '-' || c == '[' || c == ']' || c == ':';
    });
}

std::string LocalHostName() {
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) != 0) return "localhost";
    const std::string host(name.data());
    return IsEhloName(host) ? host : "localhost";
}

void Replace(std::string& text, const std::string& from, const std::string& to) {
    if (from.empty()) return;
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

// How far an SMTP session got: a 5xx means "never" only from MAIL FROM on.
enum class Stage { kSession, kEnvelope, kBody };

// What one Send needs from libcurl's callbacks; outlives the easy handle,
// which still calls back while it says QUIT in curl_easy_cleanup.
struct Transfer {
    std::string_view body;
    Stage stage = Stage::kSession;
    bool quitting = false;   // libcurl says QUIT after a failure too: keep the reply before it
    std::string last_reply;  // the server's last reply line, printable ASCII only
    std::array<char, CURL_ERROR_SIZE> error{};
};

std::size_t ReadBody(char* buffer, std::size_t size, std::size_t count, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::size_t n = std::min(size * count, transfer->body.size());
    std::memcpy(buffer, transfer->body.data(), n);
    transfer->body.remove_prefix(n);
    return n;
}

// Watches the session (commands out, replies in) to tell what a failure means;
// keeps only command verbs, never what follows them (AUTH carries credentials).
int Watch(CURL* /*easy*/, curl_infotype type, char* data, std::size_t size, void* user) {
    auto* transfer = static_cast<Transfer*>(user);
    const std::string_view text(data, size);
    if (type == CURLINFO_HEADER_OUT) {
        if (transfer->stage == Stage::kSession && text.substr(0, 5) == "MAIL ") {
            transfer->stage = Stage::kEnvelope;
        }
        if (text.substr(0, 4) == "QUIT") transfer->quitting = true;
    } else if (type == CURLINFO_DATA_OUT) {
        transfer->stage = Stage::kBody;
    } else if (type == CURLINFO_HEADER_IN && !transfer->quitting) {
        std::string line;
        for (const char c : text.substr(0, 300)) {
            if (c == '\r' || c == '\n') break;
            line += (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        if (!line.empty()) transfer->last_reply = std::move(line);
    }
    return 0;
}

class Options {
  public:
    explicit Options(CURL* easy) : easy_(easy) {}
    template <typename T>
    void Set(CURLoption option, T value) {
        const CURLcode code = curl_easy_setopt(easy_, option, value);
        if (code != CURLE_OK) {
            throw MailUnavailable(std::string("smtp: libcurl refused an option: ") +
                                  curl_easy_strerror(code));
        }
    }

  private:
    CURL* easy_;
};

long Seconds(milliseconds ms) { return std::max(1L, static_cast<long>((ms.count() + 999) / 1000)); }

// 530 (authentication or STARTTLS required), 534 (mechanism too weak), 535
// (credentials invalid), 538 (encryption required for the mechanism): about
// this client's configuration, not the message.
bool IsConfigurationReply(long reply) { return reply == 530 || reply == 534 || reply == 535 || reply == 538; }

}  // namespace

SmtpMailer::SmtpMailer(const std::string& url, SmtpOptions options) : options_(std::move(options)) {
    if (options_.timeout <= milliseconds::zero())
        throw std::invalid_argument("smtp: the timeout must be positive");
    StartCurl();
    const Url parsed(curl_url());
    if (!parsed) throw MailUnavailable("smtp: out of memory");
    if (const CURLUcode code = curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0); code != CURLUE_OK) {
        BadUrl(std::string("not a valid URL: ") + curl_url_strerror(code));
    }
    std::string scheme;
    GetPart(parsed.get(), CURLUPART_SCHEME, 0, scheme);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme != "smtp" && scheme != "smtps") BadUrl("not an smtp:// or smtps:// URL");
    implicit_tls_ = scheme == "smtps";

    std::string ignored;
    if (GetPart(parsed.get(), CURLUPART_QUERY, 0, ignored)) BadUrl("no query part is allowed");
    if (GetPart(parsed.get(), CURLUPART_FRAGMENT, 0, ignored)) BadUrl("no fragment is allowed");
    if (!GetPart(parsed.get(), CURLUPART_HOST, 0, ignored) || ignored.empty()) BadUrl("no host");

    const bool has_user = GetPart(parsed.get(), CURLUPART_USER, CURLU_URLDECODE, user_);
    const bool has_password = GetPart(parsed.get(), CURLUPART_PASSWORD, CURLU_URLDECODE, password_);
    GetPart(parsed.get(), CURLUPART_OPTIONS, CURLU_URLDECODE, login_options_);
    has_login_ = has_user || has_password;

    // Taken as written: an EHLO name needs no percent-escapes, and libcurl decodes the path again.
    std::string path;
    GetPart(parsed.get(), CURLUPART_PATH, 0, path);
    if (!path.empty() && path.front() == '/') path.erase(0, 1);
    if (path.empty()) {
        path = LocalHostName();
    } else if (!IsEhloName(path)) {
        BadUrl("the path, if any, is the name to give in EHLO: a host name or an address literal");
    }

    // The redacted form keeps what the URL said (no EHLO name added), minus the password.
    if (has_password) curl_url_set(parsed.get(), CURLUPART_PASSWORD, "***", 0);
    std::string redacted;
    if (!GetPart(parsed.get(), CURLUPART_URL, 0, redacted)) BadUrl("cannot be read back");
    redacted_url_ = redacted;

    // libcurl gets the credentials as options, not in the URL, and the EHLO name as the path.
    curl_url_set(parsed.get(), CURLUPART_USER, nullptr, 0);
    curl_url_set(parsed.get(), CURLUPART_PASSWORD, nullptr, 0);
    curl_url_set(parsed.get(), CURLUPART_OPTIONS, nullptr, 0);
    if (curl_url_set(parsed.get(), CURLUPART_PATH, ("/" + path).c_str(), 0) != CURLUE_OK ||
        !GetPart(parsed.get(), CURLUPART_URL, 0, url_)) {
        BadUrl("cannot be read back");
    }
}

void SmtpMailer::Send(const std::string& from, const std::string& to, const std::string& message_id,
                      std::string_view bytes) {
    CheckEnvelope(from, to, message_id);
    // Declared before the handle and the list: curl_easy_cleanup still calls back.
    Transfer transfer{.body = bytes};
    const List recipients(curl_slist_append(nullptr, to.c_str()));
    const Easy easy(curl_easy_init());
    if (!recipients || !easy) throw MailUnavailable("smtp: out of memory");

    Options set(easy.get());
    set.Set(CURLOPT_URL, url_.c_str());
    set.Set(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    set.Set(CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for timeouts
    set.Set(CURLOPT_USE_SSL, static_cast<long>(implicit_tls_ ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    set.Set(CURLOPT_SSL_VERIFYPEER, 1L);
    set.Set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) set.Set(CURLOPT_CAINFO, options_.ca_file.c_str());
    if (has_login_) {
        set.Set(CURLOPT_USERNAME, user_.c_str());
        set.Set(CURLOPT_PASSWORD, password_.c_str());
        if (!login_options_.empty()) set.Set(CURLOPT_LOGIN_OPTIONS, login_options_.c_str());
    }
    set.Set(CURLOPT_MAIL_FROM, from.c_str());
    set.Set(CURLOPT_MAIL_RCPT, recipients.get());
    set.Set(CURLOPT_UPLOAD, 1L);
    set.Set(CURLOPT_READFUNCTION, &ReadBody);
    set.Set(CURLOPT_READDATA, &transfer);
    set.Set(CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(bytes.size()));

    const milliseconds timeout = options_.timeout;
    set.Set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(timeout, kMaxConnectTimeout).count()));
    set.Set(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    // Each wait for a reply; it alone bounds the QUIT libcurl says while it
    // closes the connection, which CURLOPT_TIMEOUT_MS does not cover (libcurl's
    // default there is 120 s).
    set.Set(CURLOPT_SERVER_RESPONSE_TIMEOUT, Seconds(timeout));
    set.Set(CURLOPT_LOW_SPEED_LIMIT, 1L);
    set.Set(CURLOPT_LOW_SPEED_TIME, std::min(kLowSpeedSeconds, Seconds(timeout)));

    set.Set(CURLOPT_ERRORBUFFER, transfer.error.data());
    set.Set(CURLOPT_DEBUGFUNCTION, &Watch);
    set.Set(CURLOPT_DEBUGDATA, &transfer);
    set.Set(CURLOPT_VERBOSE, 1L);  // what makes libcurl call Watch

    const CURLcode code = curl_easy_perform(easy.get());
    // libcurl may keep the connection after a failure and say QUIT to it in
    // curl_easy_cleanup, waiting for the reply up to the response timeout
    // again: a server that stalled would hold this thread for twice the
    // timeout. After a failure, cut the connection so that QUIT fails at once;
    // after a success, wait at most a second for the goodbye.
    if (code != CURLE_OK) {
        curl_socket_t socket = CURL_SOCKET_BAD;
        if (curl_easy_getinfo(easy.get(), CURLINFO_ACTIVESOCKET, &socket) == CURLE_OK &&
            socket != CURL_SOCKET_BAD) {
            ::shutdown(socket, SHUT_RDWR);
        }
    }
    curl_easy_setopt(easy.get(), CURLOPT_SERVER_RESPONSE_TIMEOUT, 1L);
    if (code == CURLE_OK) return;
    long reply = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &reply);

    std::string what =
        redacted_url_ + ": " +
        (transfer.error[0] != '\0' ? std::string(transfer.error.data()) : curl_easy_strerror(code));
    if (reply >= 400 && !transfer.last_reply.empty()) what += " (server: " + transfer.last_reply + ")";
    if (transfer.stage == Stage::kBody && reply < 400)
        what += " (after the message was sent: it may have arrived)";
    Replace(what, password_, "***");

    const bool permanent =
        reply >= 500 && reply < 600 && transfer.stage != Stage::kSession && !IsConfigurationReply(reply);
    if (permanent) throw MailRejected("mail refused: " + what);
    throw MailUnavailable("mail not delivered, try again later: " + what);
}

}  // namespace v2m::mail
