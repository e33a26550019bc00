#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "domain/errors.hpp"

namespace v2m::mail {

/// The mail cannot be handed over right now (server down or refusing for a
/// while, disk full): a transient failure, worth a retry later.
class MailUnavailable final : public domain::Unavailable {
  public:
    using domain::Unavailable::Unavailable;
};

/// The mail will never be accepted as it is (unknown recipient, message
/// refused): a permanent failure, do not retry.
class MailRejected final : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// Hands finished RFC 5322 messages (`BuildMessage`) to whatever delivers
/// them. Thread-safe: any number of `Send`s at once.
class Mailer {
  public:
    virtual ~Mailer() = default;
    /// Delivers `bytes` to `to` on behalf of `from` (the envelope; the
    /// headers in `bytes` are not read). Blocks until the message is
    /// accepted. Sending the same `message_id` again is how a retry after
    /// an unknown outcome looks: adapters that can, keep a single copy.
    /// Throws `std::invalid_argument` when `CheckEnvelope` does (never
    /// retry), `MailRejected` (never retry), `MailUnavailable` (retry).
    virtual void Send(const std::string& from, const std::string& to, const std::string& message_id,
                      std::string_view bytes) = 0;
};

/// How an SMTP mailer delivers (`OpenMailer` ignores it for `file://`).
struct SmtpOptions {
    /// The longest one `Send` may take, connecting included (`V2M_SMTP_TIMEOUT`).
    std::chrono::milliseconds timeout{std::chrono::seconds(30)};
    /// A PEM file of the certificate authorities to trust instead of the
    /// system's; empty: the system's. Verification stays on either way.
    std::string ca_file;
};

/// Builds the mailer a `V2M_SMTP_URL` names: `smtp://[user[:password]@]host[:port][/ehlo-name]`
/// (STARTTLS when the server offers it) and `smtps://…` (implicit TLS) are an
/// `SmtpMailer` with `smtp` (see smtp_mailer.hpp; nothing is connected yet);
/// `file://DIR` (`file:///abs` or `file://rel/dir`) is a `FileMailer`.
/// Throws `std::invalid_argument` for anything else or a malformed URL, with
/// a message that never repeats the URL (it may hold a password);
/// `MailUnavailable` when the directory cannot be created or libcurl cannot
/// start.
std::unique_ptr<Mailer> OpenMailer(const std::string& url, const SmtpOptions& smtp = {});

}  // namespace v2m::mail
