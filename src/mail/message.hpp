#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace v2m::mail {

/// One email, as the notifier means it. The builder, not the caller, deals
/// with encodings, line lengths and line endings.
struct Message {
    std::string from;        ///< sender, a bare address `local@domain`
    std::string to;          ///< recipient, a bare address `local@domain`
    std::string subject;     ///< UTF-8, any length; line breaks become spaces
    std::string text;        ///< the plain-text part, UTF-8, lines end in `\n` (or `\r\n`)
    std::string html;        ///< the HTML part, UTF-8; empty: a text-only message
    std::string message_id;  ///< without `<>`, e.g. `job-<id>.done@video2mp3`
};

/// True for a bare address `local@domain` that is safe to put in a header
/// and an SMTP command: a dot-atom local part of at most 64 characters, a
/// domain of letters, digits, hyphens and dots, at most 254 in all, ASCII
/// only (no SMTPUTF8), no display name, no comments, no quoting.
bool IsMailAddress(std::string_view address);

/// True for a Message-ID without its `<>`: `left@right`, both dot-atoms,
/// at most 200 characters.
bool IsMessageId(std::string_view message_id);

/// Throws `std::invalid_argument` unless `from` and `to` are `IsMailAddress`
/// and `message_id` is `IsMessageId`; the first thing every adapter does,
/// since these values reach headers and SMTP commands (CR, LF and NUL
/// would inject lines).
void CheckEnvelope(std::string_view from, std::string_view to, std::string_view message_id);

/// The whole RFC 5322 message, ready to hand to any `Mailer`: CRLF line
/// endings, no line longer than 78 characters except From, To and
/// Message-ID (which cannot be folded; ≤ 270). Headers: Date (`date` in
/// UTC, `+0000`), From, To, Subject (RFC 2047 `=?UTF-8?B?…?=` words when it
/// is not plain printable ASCII, folded), Message-ID, MIME-Version,
/// Auto-Submitted. The body is `multipart/alternative` (text/plain, then
/// text/html) with a fresh random boundary that cannot occur in the parts,
/// or a single text/plain part when `html` is empty; each part is UTF-8,
/// quoted-printable. Invalid UTF-8 becomes U+FFFD. Throws
/// `std::invalid_argument` as `CheckEnvelope` does. Thread-safe.
std::string BuildMessage(const Message& message, std::chrono::system_clock::time_point date);

}  // namespace v2m::mail
