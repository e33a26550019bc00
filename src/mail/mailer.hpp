#pragma once

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

/// Builds the mailer a `V2M_SMTP_URL` names: `file://DIR` (`file:///abs`
/// or `file://rel/dir`) is a `FileMailer`. Throws `std::invalid_argument`
/// for `smtp://` and `smtps://` (not supported yet) and for anything else,
/// with a message that never repeats the URL (it may hold a password);
/// `MailUnavailable` when the directory cannot be created.
std::unique_ptr<Mailer> OpenMailer(const std::string& url);

}  // namespace v2m::mail
