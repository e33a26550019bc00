#include "mail/job_mail.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include "domain/job.hpp"

namespace v2m::mail {
namespace {

std::string HtmlEscape(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    for (const char c : in) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// The command is meant to be pasted: single quotes keep $, `, \ and spaces
// of a user's file name from meaning anything to the shell.
std::string ShellQuote(std::string_view in) {
    std::string out = "'";
    for (const char c : in) {
        if (c == '\'') {
            out += "'\\''";
        } else {
            out += c;
        }
    }
    return out + "'";
}

// A user's file name may hold line breaks and other controls; in a mail
// they would only break the layout.
std::string Printable(std::string_view in) {
    std::string out(in);
    for (char& c : out) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7F) c = '?';
    }
    return out;
}

std::string TwoDigits(long long v) {
    return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
}

// "3:05", "1:02:03"; empty when not known.
std::string FormatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return {};
    const long long total = std::llround(seconds);
    const long long h = total / 3600;
    const long long m = total / 60 % 60;
    const long long s = total % 60;
    if (h > 0) return std::to_string(h) + ":" + TwoDigits(m) + ":" + TwoDigits(s);
    return std::to_string(m) + ":" + TwoDigits(s);
}

// Decimal megabytes, as file managers and browsers show them; to_chars so
// that no locale turns the point into a comma.
std::string FormatMegabytes(std::uint64_t bytes) {
    const double mb = static_cast<double>(bytes) / 1e6;
    char buffer[32];
    const auto result =
        std::to_chars(buffer, buffer + sizeof buffer, mb, std::chars_format::fixed, mb < 10 ? 2 : 1);
    return std::string(buffer, result.ptr) + " MB";
}

constexpr std::string_view kHtmlHead =
    "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>video2mp3</title></head>\n"
    "<body style=\"font-family: sans-serif; line-height: 1.5\">\n";
constexpr std::string_view kHtmlTail = "</body>\n</html>\n";
constexpr std::string_view kSignature = "\n-- \nvideo2mp3\n";

}  // namespace

Message DoneMail(const JobDone& job, const std::string& from) {
    const std::string file = Printable(domain::Mp3NameFor(job.filename));
    const std::string duration = FormatDuration(job.duration_s);
    const std::string size = FormatMegabytes(job.mp3_bytes);
    const std::string curl = "curl --fail --output " + ShellQuote(file) +
                             " -H \"Authorization: Bearer $TOKEN\" " + ShellQuote(job.download_url);
    const std::string ready = "mp3 file_id: " + job.mp3_id + " is now ready!";

    std::string text = ready + "\n\n";
    text += "File:     " + file + "\n";
    if (!duration.empty()) text += "Duration: " + duration + "\n";
    text += "Size:     " + size + "\n";
    text += "Download: " + job.download_url + "\n\n";
    text += "With curl (TOKEN is what POST /login answered):\n\n  " + curl + "\n";
    text += kSignature;

    std::string html(kHtmlHead);
    html += "<p>" + HtmlEscape(ready) + "</p>\n<table>\n";
    html += "<tr><td>File</td><td>" + HtmlEscape(file) + "</td></tr>\n";
    if (!duration.empty()) html += "<tr><td>Duration</td><td>" + HtmlEscape(duration) + "</td></tr>\n";
    html += "<tr><td>Size</td><td>" + HtmlEscape(size) + "</td></tr>\n</table>\n";
    html += "<p><a href=\"" + HtmlEscape(job.download_url) + "\">Download " + HtmlEscape(file) + "</a></p>\n";
    html += "<p>With curl (<code>TOKEN</code> is what <code>POST /login</code> answered):</p>\n";
    html += "<pre>" + HtmlEscape(curl) + "</pre>\n";
    html += kHtmlTail;

    return Message{.from = from,
                   .to = job.to,
                   .subject = "MP3 Download",
                   .text = std::move(text),
                   .html = std::move(html),
                   .message_id = "job-" + job.job_id + ".done@video2mp3"};
}

Message FailedMail(const JobFailed& job, const std::string& from) {
    const std::string file = Printable(job.filename);
    std::string text = "The conversion of " + file + " to MP3 failed.\n\n";
    text += "Reason: " + job.reason + "\n\n";
    text += "Job: " + job.job_id + "\n";
    text += kSignature;

    std::string html(kHtmlHead);
    html += "<p>The conversion of <b>" + HtmlEscape(file) + "</b> to MP3 failed.</p>\n";
    html += "<p>Reason: " + HtmlEscape(job.reason) + "</p>\n";
    html += "<p>Job: <code>" + HtmlEscape(job.job_id) + "</code></p>\n";
    html += kHtmlTail;

    return Message{.from = from,
                   .to = job.to,
                   .subject = "MP3 conversion failed: " + job.filename,
                   .text = std::move(text),
                   .html = std::move(html),
                   .message_id = "job-" + job.job_id + ".failed@video2mp3"};
}

}  // namespace v2m::mail
