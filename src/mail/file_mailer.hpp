#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "mail/mailer.hpp"

namespace v2m::mail {

/// Delivers into a directory, one `.eml` file per message (for development,
/// tests and the embedded default). A file is named after its Message-ID:
/// the id itself plus `.eml` when it holds only `[A-Za-z0-9._@+-]`, else
/// the id's SHA-256 in hex plus `.eml`; so sending one message twice leaves
/// one file, the last one sent. Each file appears complete or not at all
/// (written to `.<name>.<random>.tmp` in the same directory, fsynced,
/// renamed, directory fsynced), and holds exactly the bytes sent.
class FileMailer final : public Mailer {
  public:
    /// Creates `dir` if missing; throws `MailUnavailable` when it cannot.
    explicit FileMailer(std::filesystem::path dir);

    /// Throws `std::invalid_argument` (`CheckEnvelope`) or `MailUnavailable`
    /// (any I/O error: no file is left behind).
    void Send(const std::string& from, const std::string& to, const std::string& message_id,
              std::string_view bytes) override;

    /// Where `Send` puts the message with this id.
    std::filesystem::path PathFor(std::string_view message_id) const;

  private:
    std::filesystem::path dir_;
};

}  // namespace v2m::mail
