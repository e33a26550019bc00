#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mail/file_mailer.hpp"
#include "mail/job_mail.hpp"
#include "mail/mailer.hpp"
#include "mail/message.hpp"

namespace v2m::mail {
namespace {

namespace fs = std::filesystem;
using std::chrono::system_clock;

// ---- An independent reader of what the builder writes ----------------------

struct Part {
    std::map<std::string, std::string> headers;  // lower-case names, unfolded values
    std::string raw_body;
    std::string body;  // decoded, line breaks as "\n"
};

struct Parsed {
    std::vector<std::string> header_lines;       // physical lines, before unfolding
    std::map<std::string, std::string> headers;  // lower-case names, unfolded values
    std::string raw_body;
    std::string boundary;
    std::vector<Part> parts;  // one for a text-only message
};

std::vector<std::string> SplitCrlf(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find("\r\n", start);
        if (end == std::string::npos) {
            lines.push_back(text.substr(start));
            return lines;
        }
        lines.push_back(text.substr(start, end - start));
        start = end + 2;
    }
}

std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw std::runtime_error("bad hex digit");
}

std::string DecodeBase64(const std::string& in) {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::uint32_t bits = 0;
    int count = 0;
    for (const char c : in) {
        if (c == '=' || c == '\r' || c == '\n') continue;
        const std::size_t v = kAlphabet.find(c);
        if (v == std::string::npos) throw std::runtime_error("bad base64");
        bits = (bits << 6) | static_cast<std::uint32_t>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xFF);
        }
    }
    return out;
}

std::string DecodeQuotedPrintable(const std::string& in) {
    std::string out;
    const std::vector<std::string> lines = SplitCrlf(in);
    for (std::size_t n = 0; n < lines.size(); ++n) {
        const std::string& line = lines[n];
        EXPECT_LE(line.size(), 76u) << line;
        bool soft = false;
        for (std::size_t i = 0; i < line.size(); ++i) {
            const char c = line[i];
            if (c == '=') {
                if (i + 1 == line.size()) {
                    soft = true;
                    break;
                }
                out += static_cast<char>(HexValue(line[i + 1]) * 16 + HexValue(line[i + 2]));
                i += 2;
            } else {
                EXPECT_TRUE(c == ' ' || c == '\t' || (c > 32 && c < 127)) << "raw byte in QP: " << int(c);
                out += c;
            }
        }
        if (!soft && !line.empty()) {
            EXPECT_NE(line.back(), ' ') << "trailing space in QP";
            EXPECT_NE(line.back(), '\t') << "trailing tab in QP";
        }
        if (!soft && n + 1 < lines.size()) out += '\n';
    }
    return out;
}

// RFC 2047: encoded words, the whitespace between two of them dropped.
std::string DecodeHeader(const std::string& value) {
    std::string out;
    std::size_t i = 0;
    bool after_word = false;
    while (i < value.size()) {
        if (value.compare(i, 2, "=?") == 0) {
            const std::size_t q1 = value.find('?', i + 2);
            const std::size_t q2 = value.find('?', q1 + 1);
            const std::size_t end = value.find("?=", q2 + 1);
            if (q1 == std::string::npos || q2 == std::string::npos || end == std::string::npos) {
                throw std::runtime_error("broken encoded word");
            }
            EXPECT_LE(end + 2 - i, 75u) << "encoded word longer than 75";
            EXPECT_EQ(Lower(value.substr(i + 2, q1 - i - 2)), "utf-8");
            EXPECT_EQ(Lower(value.substr(q1 + 1, q2 - q1 - 1)), "b");
            out += DecodeBase64(value.substr(q2 + 1, end - q2 - 1));
            i = end + 2;
            after_word = true;
            continue;
        }
        if (after_word) {
            std::size_t j = i;
            while (j < value.size() && (value[j] == ' ' || value[j] == '\t')) ++j;
            if (value.compare(j, 2, "=?") == 0) {
                i = j;
                continue;
            }
        }
        after_word = false;
        out += value[i++];
    }
    return out;
}

std::string Param(const std::string& header, const std::string& name) {
    const std::size_t at = Lower(header).find(name + "=");
    if (at == std::string::npos) return {};
    std::size_t start = at + name.size() + 1;
    if (header[start] == '"') {
        return header.substr(start + 1, header.find('"', start + 1) - start - 1);
    }
    return header.substr(start, header.find_first_of("; ", start) - start);
}

// Headers from the start of `text` up to the empty line; returns the rest.
std::string ParseHeaders(const std::string& text, std::vector<std::string>& lines,
                         std::map<std::string, std::string>& headers) {
    const std::size_t end = text.find("\r\n\r\n");
    if (end == std::string::npos) throw std::runtime_error("no end of headers");
    lines = SplitCrlf(text.substr(0, end));
    std::string name;
    for (const std::string& line : lines) {
        if (line.empty()) throw std::runtime_error("empty header line");
        if (line[0] == ' ' || line[0] == '\t') {
            if (name.empty()) throw std::runtime_error("continuation first");
            EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos) << "whitespace-only folded line";
            headers[name] += line;  // unfolding: drop the CRLF only
            continue;
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) throw std::runtime_error("header without colon: " + line);
        name = Lower(line.substr(0, colon));
        EXPECT_EQ(headers.count(name), 0u) << "duplicate header " << name;
        std::size_t value = colon + 1;
        if (value < line.size() && line[value] == ' ') ++value;
        headers[name] = line.substr(value);
    }
    return text.substr(end + 4);
}

Part ParsePart(const std::string& text) {
    Part part;
    std::vector<std::string> lines;
    part.raw_body = ParseHeaders(text, lines, part.headers);
    EXPECT_EQ(Lower(Param(part.headers["content-type"], "charset")), "utf-8");
    const std::string encoding = Lower(part.headers["content-transfer-encoding"]);
    if (encoding == "quoted-printable") {
        part.body = DecodeQuotedPrintable(part.raw_body);
    } else if (encoding == "base64") {
        part.body = DecodeBase64(part.raw_body);
    } else {
        ADD_FAILURE() << "unexpected encoding " << encoding;
    }
    return part;
}

Parsed Parse(const std::string& raw) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\n') {
            EXPECT_TRUE(i > 0 && raw[i - 1] == '\r') << "bare LF at " << i;
        }
        if (raw[i] == '\r') {
            EXPECT_TRUE(i + 1 < raw.size() && raw[i + 1] == '\n') << "bare CR at " << i;
        }
        EXPECT_NE(raw[i], '\0');
        EXPECT_LT(static_cast<unsigned char>(raw[i]), 0x80) << "8-bit byte at " << i;
    }
    EXPECT_TRUE(raw.ends_with("\r\n"));
    for (const std::string& line : SplitCrlf(raw)) EXPECT_LE(line.size(), 998u);

    Parsed parsed;
    parsed.raw_body = ParseHeaders(raw, parsed.header_lines, parsed.headers);
    for (const std::string& line : parsed.header_lines) {
        const bool unfoldable =
            line.starts_with("From:") || line.starts_with("To:") || line.starts_with("Message-ID:");
        if (!unfoldable) {
            EXPECT_LE(line.size(), 78u) << line;
        }
    }
    const std::string type = parsed.headers["content-type"];
    if (Lower(type).starts_with("multipart/alternative")) {
        parsed.boundary = Param(type, "boundary");
        EXPECT_FALSE(parsed.boundary.empty());
        const std::string delimiter = "\r\n--" + parsed.boundary;
        const std::string body = "\r\n" + parsed.raw_body;
        std::size_t at = body.find(delimiter);
        while (at != std::string::npos) {
            const std::size_t start = at + delimiter.size();
            if (body.compare(start, 2, "--") == 0) {
                EXPECT_EQ(body.substr(start + 2), "\r\n") << "text after the closing delimiter";
                break;
            }
            EXPECT_EQ(body.compare(start, 2, "\r\n"), 0);
            const std::size_t next = body.find(delimiter, start);
            if (next == std::string::npos) throw std::runtime_error("no closing delimiter");
            parsed.parts.push_back(ParsePart(body.substr(start + 2, next - start - 2)));
            at = next;
        }
    } else {
        parsed.parts.push_back(ParsePart("Content-Type: " + type + "\r\nContent-Transfer-Encoding: " +
                                         parsed.headers["content-transfer-encoding"] + "\r\n\r\n" +
                                         parsed.raw_body.substr(0, parsed.raw_body.size() - 2)));
    }
    return parsed;
}

std::size_t Count(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
        ++n;
    return n;
}

system_clock::time_point At(std::int64_t unix_seconds) {
    return system_clock::time_point{std::chrono::seconds{unix_seconds}};
}

Message Sample() {
    return Message{.from = "video2mp3@localhost",
                   .to = "user@example.com",
                   .subject = "MP3 Download",
                   .text = "mp3 file_id: abc is now ready!\n\nBye.\n",
                   .html = "<p>mp3 file_id: <code>abc</code> is now ready!</p>\n",
                   .message_id = "job-1234.done@video2mp3"};
}

class TempDir {
  public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "mail_test.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ignored);
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

std::vector<fs::path> Entries(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename());
    return out;
}

std::string ReadFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

// ---- BuildMessage -------------------------------------------------------------

TEST(BuildMessage, RoundTripsHeadersAndBothParts) {
    const Message m = Sample();
    const Parsed p = Parse(BuildMessage(m, At(1'751'373'296)));  // 2025-07-01 12:34:56 UTC
    EXPECT_EQ(p.headers.at("date"), "Tue, 01 Jul 2025 12:34:56 +0000");
    EXPECT_EQ(p.headers.at("from"), m.from);
    EXPECT_EQ(p.headers.at("to"), m.to);
    EXPECT_EQ(p.headers.at("subject"), "MP3 Download");  // plain ASCII stays readable
    EXPECT_EQ(p.headers.at("message-id"), "<job-1234.done@video2mp3>");
    EXPECT_EQ(p.headers.at("mime-version"), "1.0");
    ASSERT_EQ(p.parts.size(), 2u);
    EXPECT_TRUE(Lower(p.parts[0].headers.at("content-type")).starts_with("text/plain"));
    EXPECT_TRUE(Lower(p.parts[1].headers.at("content-type")).starts_with("text/html"));
    EXPECT_EQ(p.parts[0].body, m.text);
    EXPECT_EQ(p.parts[1].body, m.html);
}

TEST(BuildMessage, DateIsRfc5322InUtc) {
    auto date = [](system_clock::time_point t) {
        return Parse(BuildMessage(Sample(), t)).headers.at("date");
    };
    EXPECT_EQ(date(At(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
    EXPECT_EQ(date(At(1'709'251'199) + std::chrono::milliseconds(999)), "Thu, 29 Feb 2024 23:59:59 +0000");
    EXPECT_EQ(date(At(4'102'444'800)), "Fri, 01 Jan 2100 00:00:00 +0000");
}

TEST(BuildMessage, NonAsciiSubjectBecomesEncodedWords) {
    Message m = Sample();
    m.subject = "Résumé — 日本語.mp4";
    const Parsed p = Parse(BuildMessage(m, At(0)));
    EXPECT_TRUE(p.headers.at("subject").starts_with("=?UTF-8?B?"));
    EXPECT_EQ(DecodeHeader(p.headers.at("subject")), m.subject);
}

TEST(BuildMessage, LongSubjectsAreFoldedWithin78Columns) {
    Message m = Sample();
    std::string words;
    for (int i = 0; i < 40; ++i) words += "word" + std::to_string(i) + "  ";
    words += "end";
    const std::string unbreakable(300, 'x');
    std::string japanese;
    for (int i = 0; i < 60; ++i) japanese += "日本語 é ";
    japanese += "🎵";
    for (const std::string& subject :
         {words, unbreakable, japanese, std::string(40, 'a') + " =?not-a-word?="}) {
        m.subject = subject;
        const Parsed p = Parse(BuildMessage(m, At(0)));  // checks each header line ≤ 78
        std::size_t subject_lines = 0;
        bool in_subject = false;
        for (const std::string& line : p.header_lines) {
            in_subject = line.starts_with("Subject:") || (in_subject && line[0] == ' ');
            subject_lines += in_subject ? 1 : 0;
        }
        EXPECT_GT(subject_lines, subject.size() > 78 ? 1u : 0u) << subject;
        EXPECT_EQ(DecodeHeader(p.headers.at("subject")), subject);
    }
    m.subject = words;  // foldable ASCII is folded, not encoded
    EXPECT_EQ(Parse(BuildMessage(m, At(0))).headers.at("subject"), words);
}

TEST(BuildMessage, SubjectLineBreaksCannotAddHeaders) {
    Message m = Sample();
    m.subject = "hello\r\nBcc: victim@example.com\n";
    const Parsed p = Parse(BuildMessage(m, At(0)));
    EXPECT_EQ(p.headers.count("bcc"), 0u);
    EXPECT_EQ(DecodeHeader(p.headers.at("subject")), "hello  Bcc: victim@example.com");
}

TEST(BuildMessage, BodiesSurviveQuotedPrintable) {
    Message m = Sample();
    m.text = std::string(1000, 'a') + "\n" + "trailing space \ntrailing tab\t\n.leading dot\nFrom here\n" +
             "a=b =41 ==\n\tindented\nnon-ASCII: Résumé — 日本語 🎵\n\n\nlast line without break";
    m.html = "<p>" + std::string(500, 'h') + "</p>\r\n<p>crlf input</p>\r\n";
    const std::string raw = BuildMessage(m, At(0));
    const Parsed p = Parse(raw);  // checks QP lines ≤ 76 and no trailing whitespace
    ASSERT_EQ(p.parts.size(), 2u);
    EXPECT_EQ(p.parts[0].body, m.text);
    EXPECT_EQ(p.parts[1].body, "<p>" + std::string(500, 'h') + "</p>\n<p>crlf input</p>\n");
    for (const std::string& line : SplitCrlf(raw)) {
        EXPECT_FALSE(line.starts_with(".")) << "SMTP would dot-stuff: " << line;
        EXPECT_FALSE(line.starts_with("From ")) << "mbox would quote: " << line;
    }
}

TEST(BuildMessage, BoundaryNeverOccursInsideParts) {
    Message m = Sample();
    // What a boundary looks like, and the builder's own prefix, in both parts.
    m.text = "--=_v2m_0123456789abcdef0123456789abcdef\n--=_v2m_\n=_\n--\n";
    m.html = m.text;
    const std::string raw = BuildMessage(m, At(0));
    const Parsed p = Parse(raw);
    ASSERT_EQ(p.parts.size(), 2u);
    EXPECT_EQ(p.parts[0].body, m.text);
    EXPECT_EQ(p.parts[1].body, m.html);
    EXPECT_EQ(Count(raw, p.boundary), 4u);  // the parameter, two delimiters, the close
    for (const Part& part : p.parts) EXPECT_EQ(part.raw_body.find(p.boundary), std::string::npos);
    EXPECT_NE(Parse(BuildMessage(m, At(0))).boundary, p.boundary) << "the boundary must be random";
}

TEST(BuildMessage, TextOnlyWithoutHtml) {
    Message m = Sample();
    m.html.clear();
    const Parsed p = Parse(BuildMessage(m, At(0)));
    EXPECT_TRUE(Lower(p.headers.at("content-type")).starts_with("text/plain"));
    ASSERT_EQ(p.parts.size(), 1u);
    EXPECT_EQ(p.parts[0].body, m.text);
}

TEST(BuildMessage, InvalidUtf8BecomesReplacementCharacters) {
    Message m = Sample();
    m.subject = "bad \xFF\xC0\xAF end";
    m.text = "bad \xED\xA0\x80 \xF4\x90\x80\x80 end\n";
    const Parsed p = Parse(BuildMessage(m, At(0)));
    EXPECT_EQ(DecodeHeader(p.headers.at("subject")), "bad \uFFFD\uFFFD\uFFFD end");
    EXPECT_EQ(p.parts[0].body, "bad \uFFFD\uFFFD\uFFFD \uFFFD\uFFFD\uFFFD\uFFFD end\n");
}

TEST(BuildMessage, RejectsHeaderInjectionAndNonAddresses) {
    const std::vector<std::string> bad_addresses = {"a@b.c\r\nBcc: x@y.z",
                                                    "a@b.c\nBcc: x@y.z",
                                                    "a@b.c\rX",
                                                    std::string("a@b.c\0x", 7),
                                                    "",
                                                    "no-at-sign",
                                                    "@b.c",
                                                    "a@",
                                                    "Name <a@b.c>",
                                                    "a b@c.d",
                                                    "a@b c.d",
                                                    "a,b@c.d",
                                                    "a@b.c,d@e.f",
                                                    ".a@b.c",
                                                    "a..b@c.d",
                                                    "a@-b.c",
                                                    "a@b..c",
                                                    "\"q\"@b.c",
                                                    "ré@b.c",
                                                    std::string(65, 'a') + "@b.c"};
    for (const std::string& bad : bad_addresses) {
        EXPECT_FALSE(IsMailAddress(bad)) << bad;
        Message m = Sample();
        m.to = bad;
        EXPECT_THROW(BuildMessage(m, At(0)), std::invalid_argument) << bad;
        m = Sample();
        m.from = bad;
        EXPECT_THROW(BuildMessage(m, At(0)), std::invalid_argument) << bad;
    }
    const std::vector<std::string> bad_ids = {
        "id@host\r\nBcc: x@y.z", "id@host\n", std::string("id@h\0", 5), "<id@host>", "id", "id @host", "id@"};
    for (const std::string& bad : bad_ids) {
        Message m = Sample();
        m.message_id = bad;
        EXPECT_THROW(BuildMessage(m, At(0)), std::invalid_argument) << bad;
    }
    for (const char* good : {"user@example.com", "video2mp3@localhost", "a.b+tag@sub.example-1.org",
                             "o'brien@example.ie", "x@127.0.0.1"}) {
        EXPECT_TRUE(IsMailAddress(good)) << good;
    }
}

// ---- The two job emails ---------------------------------------------------------

JobDone SampleDone() {
    return JobDone{.to = "user@example.com",
                   .job_id = "0123456789abcdef0123456789abcdef",
                   .mp3_id = "fedcba9876543210fedcba9876543210",
                   .filename = "song.mp4",
                   .duration_s = 205.4,
                   .mp3_bytes = 4'718'592,
                   .download_url = "http://127.0.0.1:8080/download?fid=fedcba9876543210fedcba9876543210"};
}

TEST(JobMail, DoneMailSaysWhatTheOriginalSaidAndMore) {
    const JobDone job = SampleDone();
    const Message m = DoneMail(job, "video2mp3@localhost");
    EXPECT_EQ(m.subject, "MP3 Download");
    EXPECT_EQ(m.message_id, "job-0123456789abcdef0123456789abcdef.done@video2mp3");
    EXPECT_EQ(m.from, "video2mp3@localhost");
    EXPECT_EQ(m.to, job.to);
    const Parsed p = Parse(BuildMessage(m, At(0)));
    ASSERT_EQ(p.parts.size(), 2u);
    for (const std::string& body : {p.parts[0].body, p.parts[1].body}) {
        EXPECT_NE(body.find("mp3 file_id: fedcba9876543210fedcba9876543210 is now ready!"),
                  std::string::npos);
        EXPECT_NE(body.find("song.mp3"), std::string::npos);
        EXPECT_NE(body.find("3:25"), std::string::npos);
        EXPECT_NE(body.find("4.72 MB"), std::string::npos);
        EXPECT_NE(body.find(job.download_url), std::string::npos);
    }
    EXPECT_NE(p.parts[0].body.find("curl --fail --output 'song.mp3' -H \"Authorization: Bearer $TOKEN\" '" +
                                   job.download_url + "'"),
              std::string::npos);
    EXPECT_NE(p.parts[1].body.find("<a href=\"" + job.download_url + "\">"), std::string::npos);
}

TEST(JobMail, DoneMailFormatsDurationAndSize) {
    JobDone job = SampleDone();
    job.duration_s = 3725.2;
    job.mp3_bytes = 123'456'789;
    Message m = DoneMail(job, "a@b.c");
    EXPECT_NE(m.text.find("Duration: 1:02:05\n"), std::string::npos) << m.text;
    EXPECT_NE(m.text.find("Size:     123.5 MB\n"), std::string::npos) << m.text;
    job.duration_s = 59.6;
    job.mp3_bytes = 0;
    m = DoneMail(job, "a@b.c");
    EXPECT_NE(m.text.find("Duration: 1:00\n"), std::string::npos) << m.text;
    EXPECT_NE(m.text.find("Size:     0.00 MB\n"), std::string::npos) << m.text;
    job.duration_s = -1;
    EXPECT_EQ(DoneMail(job, "a@b.c").text.find("Duration"), std::string::npos);
}

TEST(JobMail, InterpolatedValuesAreHtmlEscaped) {
    JobDone job = SampleDone();
    job.filename = "<script>alert('x')&\".mp4";
    job.download_url = "http://h/download?fid=1&x=<y>";
    const Message m = DoneMail(job, "a@b.c");
    EXPECT_EQ(m.html.find("<script>"), std::string::npos) << m.html;
    EXPECT_NE(m.html.find("&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;.mp3"), std::string::npos) << m.html;
    EXPECT_NE(m.html.find("href=\"http://h/download?fid=1&amp;x=&lt;y&gt;\""), std::string::npos) << m.html;
    // The plain part shows the name as it is, and the curl command keeps it one shell word.
    EXPECT_NE(m.text.find("--output '<script>alert('\\''x'\\'')&\".mp3'"), std::string::npos) << m.text;

    JobFailed failed{
        .to = "a@b.c", .job_id = "j1", .filename = "<script>.mp4", .reason = "Not <b>media</b>."};
    const Message f = FailedMail(failed, "a@b.c");
    EXPECT_EQ(f.html.find("<script>"), std::string::npos);
    EXPECT_EQ(f.html.find("<b>media"), std::string::npos);
    EXPECT_NE(f.html.find("Not &lt;b&gt;media&lt;/b&gt;."), std::string::npos) << f.html;
}

TEST(JobMail, FailedMailCarriesFileNameAndReason) {
    const JobFailed job{.to = "user@example.com",
                        .job_id = "0123456789abcdef0123456789abcdef",
                        .filename = "Résumé — 日本語.mp4",
                        .reason = "The file has no audio stream."};
    const Message m = FailedMail(job, "video2mp3@localhost");
    EXPECT_EQ(m.message_id, "job-0123456789abcdef0123456789abcdef.failed@video2mp3");
    const Parsed p = Parse(BuildMessage(m, At(0)));
    EXPECT_EQ(DecodeHeader(p.headers.at("subject")), "MP3 conversion failed: Résumé — 日本語.mp4");
    ASSERT_EQ(p.parts.size(), 2u);
    for (const Part& part : p.parts) {
        EXPECT_NE(part.body.find("Résumé — 日本語.mp4"), std::string::npos);
        EXPECT_NE(part.body.find(job.reason), std::string::npos);
    }
}

// ---- FileMailer -------------------------------------------------------------------

TEST(FileMailer, WritesExactlyTheBytesInOneFile) {
    TempDir dir;
    FileMailer mailer(dir.path() / "mail");
    const Message m = Sample();
    const std::string bytes = BuildMessage(m, At(0));
    mailer.Send(m.from, m.to, m.message_id, bytes);
    ASSERT_EQ(Entries(dir.path() / "mail"), std::vector<fs::path>{"job-1234.done@video2mp3.eml"});
    EXPECT_EQ(ReadFile(mailer.PathFor(m.message_id)), bytes);
    EXPECT_EQ(mailer.PathFor(m.message_id), dir.path() / "mail" / "job-1234.done@video2mp3.eml");
}

TEST(FileMailer, SameMessageIdTwiceLeavesOneFile) {
    TempDir dir;
    FileMailer mailer(dir.path());
    mailer.Send("a@b.c", "d@e.f", "job-1.done@video2mp3", "first\r\n");
    mailer.Send("a@b.c", "d@e.f", "job-1.done@video2mp3", "second\r\n");
    ASSERT_EQ(Entries(dir.path()).size(), 1u);
    EXPECT_EQ(ReadFile(mailer.PathFor("job-1.done@video2mp3")), "second\r\n");
    mailer.Send("a@b.c", "d@e.f", "job-1.failed@video2mp3", "other\r\n");
    EXPECT_EQ(Entries(dir.path()).size(), 2u);
}

TEST(FileMailer, UnsafeIdsAreHashedIntoTheDirectory) {
    TempDir dir;
    FileMailer mailer(dir.path());
    const std::string id = "x/y=z@host";  // a valid Message-ID, not a safe file name
    ASSERT_TRUE(IsMessageId(id));
    mailer.Send("a@b.c", "d@e.f", id, "bytes");
    const std::vector<fs::path> entries = Entries(dir.path());
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].string().size(), 64u + 4u) << entries[0];
    EXPECT_TRUE(entries[0].string().ends_with(".eml"));
    EXPECT_EQ(mailer.PathFor(id).parent_path(), dir.path());
    EXPECT_EQ(mailer.PathFor("../../etc/passwd@h").parent_path(), dir.path());
    EXPECT_EQ(mailer.PathFor("..@h").parent_path(), dir.path());
}

TEST(FileMailer, RejectsInjectionWithoutWriting) {
    TempDir dir;
    FileMailer mailer(dir.path());
    EXPECT_THROW(mailer.Send("a@b.c", "d@e.f\r\nBcc: x@y.z", "id@h", "x"), std::invalid_argument);
    EXPECT_THROW(mailer.Send("a@b.c\n", "d@e.f", "id@h", "x"), std::invalid_argument);
    EXPECT_THROW(mailer.Send("a@b.c", "d@e.f", "id@h\r\n", "x"), std::invalid_argument);
    EXPECT_TRUE(Entries(dir.path()).empty());
}

TEST(FileMailer, IoErrorsAreUnavailable) {
    TempDir dir;
    std::ofstream(dir.path() / "file") << "not a directory";
    EXPECT_THROW(FileMailer(dir.path() / "file" / "mail"), MailUnavailable);

    FileMailer mailer(dir.path() / "mail");
    fs::remove(dir.path() / "mail");
    std::ofstream(dir.path() / "mail") << "the directory is gone";  // works as root too
    EXPECT_THROW(mailer.Send("a@b.c", "d@e.f", "id@h", "x"), MailUnavailable);
    try {
        mailer.Send("a@b.c", "d@e.f", "id@h", "x");
    } catch (const domain::Unavailable& e) {  // what the workers catch to retry
        EXPECT_NE(std::string(e.what()).find("mail"), std::string::npos);
    }
}

TEST(FileMailer, ReadersSeeWholeMessagesOnly) {
    TempDir dir;
    FileMailer mailer(dir.path());
    const std::string id = "job-race.done@video2mp3";
    const std::vector<std::string> payloads = {std::string(1 << 20, 'a'), std::string(1 << 19, 'b'),
                                               std::string(3 << 18, 'c')};
    const fs::path target = mailer.PathFor(id);
    std::atomic<bool> done{false};
    std::atomic<int> reads{0};
    std::thread reader([&] {
        while (!done) {
            std::ifstream in(target, std::ios::binary);
            if (!in) continue;
            std::ostringstream content;
            content << in.rdbuf();
            const std::string s = content.str();
            EXPECT_TRUE(s == payloads[0] || s == payloads[1] || s == payloads[2])
                << "partial file, " << s.size();
            ++reads;
        }
    });
    std::vector<std::thread> writers;
    writers.reserve(3);
    for (int w = 0; w < 3; ++w) {
        writers.emplace_back([&, w] {
            for (int i = 0; i < 10; ++i) mailer.Send("a@b.c", "d@e.f", id, payloads[(w + i) % 3]);
        });
    }
    for (std::thread& t : writers) t.join();
    done = true;
    reader.join();
    EXPECT_GT(reads.load(), 0);
    EXPECT_EQ(Entries(dir.path()), std::vector<fs::path>{target.filename()}) << "temp files left behind";
}

// ---- OpenMailer -------------------------------------------------------------------

TEST(OpenMailer, FileUrlsAbsoluteAndRelative) {
    TempDir dir;
    auto absolute = OpenMailer("file://" + (dir.path() / "abs").string());
    ASSERT_NE(dynamic_cast<FileMailer*>(absolute.get()), nullptr);
    absolute->Send("a@b.c", "d@e.f", "id@h", "x");
    EXPECT_TRUE(fs::exists(dir.path() / "abs" / "id@h.eml"));

    const fs::path cwd = fs::current_path();
    fs::current_path(dir.path());
    auto relative = OpenMailer("FILE://rel/mail");
    fs::current_path(cwd);
    ASSERT_NE(dynamic_cast<FileMailer*>(relative.get()), nullptr);
    EXPECT_TRUE(fs::is_directory(dir.path() / "rel" / "mail"));
}

TEST(OpenMailer, OtherUrlsAreClearErrors) {
    auto message = [](const std::string& url) -> std::string {
        try {
            OpenMailer(url);
        } catch (const std::invalid_argument& e) {
            return e.what();
        }
        return "no exception";
    };
    // smtp:// and smtps:// build an SmtpMailer (tests/integration/smtp_mailer_test.cpp); a malformed one is
    // an error like the rest.
    EXPECT_EQ(message("smtp://user:s3cret@mail.example.com:587"), "no exception");
    EXPECT_EQ(message("smtps://user:s3cret@mail.example.com"), "no exception");
    for (const char* url :
         {"", "file://", "/var/mail", "http://example.com", "sendmail:/usr/sbin/sendmail",
          "user:s3cret@host://x", "smtp://user:s3cret@mail.example.com/?insecure=1", "smtp://user:s3cret@"}) {
        const std::string what = message(url);
        EXPECT_NE(what.find("mail URL"), std::string::npos) << url << ": " << what;
        EXPECT_EQ(what.find("s3cret"), std::string::npos) << "the password leaked: " << what;
    }
}

// ---- A standard parser reads the same message -----------------------------------

std::string ShellQuote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

nlohmann::json ReadWithPython(const fs::path& eml) {
    static constexpr const char* kScript = R"(
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
text = m.get_body(preferencelist=("plain",))
html = m.get_body(preferencelist=("html",))
print(json.dumps({
    "subject": str(m["subject"]), "from": str(m["from"]), "to": str(m["to"]),
    "message_id": str(m["message-id"]), "date": m["date"].datetime.isoformat(),
    "type": m.get_content_type(),
    "text": text.get_content() if text else None, "html": html.get_content() if html else None,
    "defects": [type(d).__name__ for part in m.walk() for d in part.defects],
}))
)";
    const std::string command = "/usr/bin/python3 -c " + ShellQuote(kScript) + " " + ShellQuote(eml.string());
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("popen failed");
    std::string out;
    char buffer[4096];
    while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    const int status = ::pclose(pipe);
    if (status != 0) throw std::runtime_error("python3 failed: " + out);
    return nlohmann::json::parse(out);
}

TEST(StandardParser, PythonEmailDecodesTheSameMessage) {
    // scripts/install-deps.sh installs it: its absence is a broken setup, not a reason to skip.
    ASSERT_EQ(::access("/usr/bin/python3", X_OK), 0) << "/usr/bin/python3 is missing: run make deps";
    TempDir dir;
    FileMailer mailer(dir.path());

    JobFailed failed{.to = "user@example.com",
                     .job_id = "0123456789abcdef0123456789abcdef",
                     .filename = "Résumé — 日本語 " + std::string(120, 'x') + " 🎵.mp4",
                     .reason = "The file has no audio stream."};
    JobDone done = SampleDone();
    done.filename = "<script>Résumé — 日本語.mp4";
    Message long_lines = Sample();
    long_lines.text = std::string(300, 'l') + "\n.dot\nFrom x\ntrailing \n=_ =3D\n";
    long_lines.subject = std::string(200, 's');
    long_lines.message_id = "long@video2mp3";

    for (const Message& m :
         {FailedMail(failed, "video2mp3@localhost"), DoneMail(done, "video2mp3@localhost"), long_lines}) {
        mailer.Send(m.from, m.to, m.message_id, BuildMessage(m, At(1'751'373'296)));
        const nlohmann::json got = ReadWithPython(mailer.PathFor(m.message_id));
        EXPECT_EQ(got["defects"], nlohmann::json::array()) << got.dump();
        EXPECT_EQ(got["type"], "multipart/alternative");
        EXPECT_EQ(got["subject"], m.subject);
        EXPECT_EQ(got["from"], m.from);
        EXPECT_EQ(got["to"], m.to);
        EXPECT_EQ(got["message_id"], "<" + m.message_id + ">");
        EXPECT_EQ(got["date"], "2025-07-01T12:34:56+00:00");
        EXPECT_EQ(got["text"], m.text);
        EXPECT_EQ(got["html"], m.html);
    }
}

}  // namespace
}  // namespace v2m::mail
