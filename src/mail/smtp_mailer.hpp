#pragma once

#include <string>
#include <string_view>

#include "mail/mailer.hpp"

namespace v2m::mail {

/// Delivers over SMTP with libcurl, one connection per message.
///
/// `smtp://[user[:password]@]host[:port][/ehlo-name]` (port 25 unless given)
/// switches to TLS with STARTTLS whenever the server offers it, and then
/// verifies the server's certificate and name like `smtps://` does; a server
/// that does not offer STARTTLS is spoken to in plain text. `smtps://…`
/// (port 465 unless given) is TLS from the first byte, certificate and name
/// verified. There is no way to turn verification off. The user and password,
/// percent-decoded, are used for AUTH when the server offers it (with `smtp://`
/// and no STARTTLS they travel in plain text). EHLO gives the URL's path (a
/// host name or an address literal), else this machine's host name. A query
/// or a fragment is an error.
///
/// What a failed `Send` throws:
///  - `MailRejected`: a 5xx reply to MAIL FROM, RCPT TO, DATA or the message
///    itself (550 unknown recipient, 552 too large, 554 refused): this
///    message will never be accepted.
///  - `MailUnavailable`: everything else: no connection (refused, unknown
///    host, the timeout), a failed TLS handshake or certificate check, any 4xx
///    reply, a 5xx reply to the greeting, EHLO/HELO or AUTH, and 530, 534, 535
///    and 538 at any point (credentials missing or wrong, TLS required: a
///    configuration to fix, after which the message goes out), and a
///    connection lost or timed out after the message was sent. In that last
///    case the server may have taken it: a retry may deliver a second copy
///    (same Message-ID, which lets mail clients hide it).
/// Messages name the URL with the password replaced by `***` and never
/// contain the password.
class SmtpMailer final : public Mailer {
  public:
    /// Parses `url` and starts libcurl (once per process); connects to
    /// nothing. Throws `std::invalid_argument` when `url` is not as above or
    /// `options.timeout` is not positive (the message never repeats the
    /// URL), `MailUnavailable` when libcurl cannot start.
    SmtpMailer(const std::string& url, SmtpOptions options);

    /// One SMTP session per call: blocks for about `options.timeout` at most
    /// (connecting takes at most 10 s of it; a transfer slower than 1 byte/s
    /// for 10 s is cut off; only a server that refuses the message at the
    /// last moment and then stalls on QUIT can hold it up to twice that).
    /// Thread-safe. Throws `std::invalid_argument` (`CheckEnvelope`),
    /// `MailRejected` or `MailUnavailable` as above.
    void Send(const std::string& from, const std::string& to, const std::string& message_id,
              std::string_view bytes) override;

    /// The URL for logs: the password (if any) replaced by `***`.
    const std::string& redacted_url() const { return redacted_url_; }

  private:
    std::string url_;  ///< what libcurl gets: no user info, the path names the EHLO host
    std::string redacted_url_;
    std::string user_;  ///< percent-decoded
    std::string password_;
    std::string login_options_;  ///< `;AUTH=…` after the user, percent-decoded
    bool has_login_ = false;
    bool implicit_tls_ = false;
    SmtpOptions options_;
};

}  // namespace v2m::mail
