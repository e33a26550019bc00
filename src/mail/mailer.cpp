#include "mail/mailer.hpp"

#include <algorithm>
#include <cctype>

#include "mail/file_mailer.hpp"
#include "mail/smtp_mailer.hpp"

namespace v2m::mail {

std::unique_ptr<Mailer> OpenMailer(const std::string& url, const SmtpOptions& smtp) {
    const std::size_t colon = url.find("://");
    std::string scheme = colon == std::string::npos ? std::string() : url.substr(0, colon);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const bool plausible =
        scheme.size() <= 16 && std::all_of(scheme.begin(), scheme.end(), [](unsigned char c) {
            return std::isalnum(c) != 0 || c == '+' || c == '-' || c == '.';
        });
    if (!plausible) scheme.clear();
    // Messages name the scheme only: an smtp URL may carry a password.
    if (scheme == "file") {
        const std::string dir = url.substr(colon + 3);
        if (dir.empty()) throw std::invalid_argument("mail URL: file:// needs a directory (file://DIR)");
        return std::make_unique<FileMailer>(dir);
    }
    if (scheme == "smtp" || scheme == "smtps") {
        return std::make_unique<SmtpMailer>(url, smtp);
    }
    if (scheme.empty()) {
        throw std::invalid_argument("mail URL: expected smtp://…, smtps://… or file://DIR");
    }
    throw std::invalid_argument("mail URL: unknown scheme '" + scheme +
                                "'; expected smtp://…, smtps://… or file://DIR");
}

}  // namespace v2m::mail
