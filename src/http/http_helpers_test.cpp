#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include "domain/job.hpp"
#include "http/content_disposition.hpp"
#include "http/range.hpp"

namespace v2m::http {
namespace {

using namespace std::string_literals;

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

void ExpectRange(std::string_view header, std::uint64_t size, std::uint64_t first, std::uint64_t last) {
    const RangeResult r = ParseRange(header, size);
    EXPECT_EQ(r.kind, RangeKind::kSatisfiable) << header << " of " << size;
    EXPECT_EQ(r.range.first, first) << header << " of " << size;
    EXPECT_EQ(r.range.last, last) << header << " of " << size;
}

void ExpectKind(std::string_view header, std::uint64_t size, RangeKind kind) {
    EXPECT_EQ(ParseRange(header, size).kind, kind) << header << " of " << size;
}

TEST(ParseRange, ClosedRange) {
    ExpectRange("bytes=0-0", 10, 0, 0);
    ExpectRange("bytes=0-9", 10, 0, 9);
    ExpectRange("bytes=2-5", 10, 2, 5);
    ExpectRange("bytes=9-9", 10, 9, 9);
    ExpectRange("bytes=007-008", 10, 7, 8);
}

TEST(ParseRange, OpenRange) {
    ExpectRange("bytes=0-", 10, 0, 9);
    ExpectRange("bytes=4-", 10, 4, 9);
    ExpectRange("bytes=9-", 10, 9, 9);
}

TEST(ParseRange, Suffix) {
    ExpectRange("bytes=-1", 10, 9, 9);
    ExpectRange("bytes=-3", 10, 7, 9);
    ExpectRange("bytes=-10", 10, 0, 9);
    ExpectRange("bytes=-11", 10, 0, 9);  // longer than the file: all of it
    ExpectRange("bytes=-18446744073709551615", 10, 0, 9);
}

TEST(ParseRange, LastPastEndIsClamped) {
    ExpectRange("bytes=0-10", 10, 0, 9);
    ExpectRange("bytes=5-1000000", 10, 5, 9);
    ExpectRange("bytes=0-18446744073709551615", 10, 0, 9);
}

TEST(ParseRange, Whitespace) {
    ExpectRange("  bytes=1-2  ", 10, 1, 2);
    ExpectRange("bytes = 1-2", 10, 1, 2);
    ExpectRange("bytes=\t1 - 2\t", 10, 1, 2);
    ExpectRange("bytes= -3", 10, 7, 9);
    ExpectRange("bytes=4- ", 10, 4, 9);
}

TEST(ParseRange, UnitIsCaseInsensitive) {
    ExpectRange("Bytes=1-2", 10, 1, 2);
    ExpectRange("BYTES=1-2", 10, 1, 2);
}

TEST(ParseRange, EmptyListElementsAreIgnored) {
    ExpectRange("bytes=1-2,", 10, 1, 2);
    ExpectRange("bytes=, 1-2", 10, 1, 2);
    ExpectRange("bytes=,,1-2, ,", 10, 1, 2);
}

TEST(ParseRange, Unsatisfiable) {
    ExpectKind("bytes=10-", 10, RangeKind::kUnsatisfiable);
    ExpectKind("bytes=10-20", 10, RangeKind::kUnsatisfiable);
    ExpectKind("bytes=11-11", 10, RangeKind::kUnsatisfiable);
    ExpectKind("bytes=18446744073709551615-", 10, RangeKind::kUnsatisfiable);
    ExpectKind("bytes=-0", 10, RangeKind::kUnsatisfiable);
    ExpectKind("bytes=-000", 10, RangeKind::kUnsatisfiable);
}

TEST(ParseRange, EmptyRepresentationSatisfiesNoRange) {
    for (const char* header : {"bytes=0-", "bytes=0-0", "bytes=0-100", "bytes=-1", "bytes=-0", "bytes=5-"}) {
        ExpectKind(header, 0, RangeKind::kUnsatisfiable);
    }
    ExpectKind("bytes=0-1,3-4", 0, RangeKind::kNone);  // several: ignored, as for any size
    ExpectKind("", 0, RangeKind::kNone);
}

TEST(ParseRange, SeveralRangesServeTheWhole) {
    ExpectKind("bytes=0-1,5-6", 10, RangeKind::kNone);
    ExpectKind("bytes=0-1, 5-6", 10, RangeKind::kNone);
    ExpectKind("bytes=-1,-2", 10, RangeKind::kNone);
    ExpectKind("bytes=0-1,20-30", 10, RangeKind::kNone);
    ExpectKind("bytes=20-30,40-50", 10, RangeKind::kNone);
}

TEST(ParseRange, MalformedIsIgnored) {
    for (const char* header : {
             "",
             "   ",
             "bytes",
             "bytes=",
             "bytes= ",
             "bytes=,",
             "bytes=-",
             "bytes=5",
             "bytes=a-b",
             "bytes=1-b",
             "bytes=a-1",
             "bytes=0x1-2",
             "bytes=1.5-2",
             "bytes=+1-2",
             "bytes=1-+2",
             "bytes=-5-10",
             "bytes=--5",
             "bytes=1--2",
             "bytes=1-2-3",
             "bytes=5-4",                     // first > last
             "bytes=18446744073709551616-",   // 2^64
             "bytes=0-18446744073709551616",  // 2^64
             "bytes=-18446744073709551616",   // 2^64
             "bytes=99999999999999999999999999-",
             "bits=0-1",
             "items=0-1",
             "bytesx=0-1",
             "xbytes=0-1",
             "=0-1",
             "0-1",
             "bytes 0-1",
             "bytes=1 2-3",
         }) {
        ExpectKind(header, 10, RangeKind::kNone);
    }
    ExpectKind("bytes=0-1\0"s, 10, RangeKind::kNone);
}

TEST(ParseRange, LargeSizes) {
    ExpectRange("bytes=0-", kMax, 0, kMax - 1);
    ExpectRange("bytes=-1", kMax, kMax - 1, kMax - 1);
    ExpectRange("bytes=18446744073709551613-", kMax, kMax - 2, kMax - 1);
    ExpectKind("bytes=18446744073709551614-", kMax - 1, RangeKind::kUnsatisfiable);
}

TEST(ContentRange, Formats) {
    EXPECT_EQ(ContentRange({0, 0}, 1), "bytes 0-0/1");
    EXPECT_EQ(ContentRange({2, 5}, 10), "bytes 2-5/10");
    EXPECT_EQ(ContentRange({0, kMax - 1}, kMax), "bytes 0-18446744073709551614/18446744073709551615");
    EXPECT_EQ(UnsatisfiedRange(0), "bytes */0");
    EXPECT_EQ(UnsatisfiedRange(5123456), "bytes */5123456");
}

// The parameter value inside `filename*=UTF-8''…`, decoded; empty without one.
std::string DecodedExtended(const std::string& disposition) {
    const std::string marker = "; filename*=UTF-8''";
    const std::size_t at = disposition.find(marker);
    if (at == std::string::npos) return {};
    const std::string encoded = disposition.substr(at + marker.size());
    std::string out;
    for (std::size_t i = 0; i < encoded.size(); ++i) {
        if (encoded[i] == '%' && i + 2 < encoded.size()) {
            out += static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += encoded[i];
        }
    }
    return out;
}

// The value of `filename="…"`.
std::string Fallback(const std::string& disposition) {
    const std::string marker = "attachment; filename=\"";
    if (disposition.rfind(marker, 0) != 0) return "<no filename>";
    const std::size_t end = disposition.find('"', marker.size());
    return disposition.substr(marker.size(), end - marker.size());
}

bool IsPrintableAscii(std::string_view s) {
    for (const char c : s) {
        if (c < 0x20 || c > 0x7E) return false;
    }
    return true;
}

bool IsValidUtf8(std::string_view s) {
    // Good enough for a check of our own output: lead/continuation structure.
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        if (b < 0x80) {
            n = 1;
        } else if ((b & 0xE0U) == 0xC0U) {
            n = 2;
        } else if ((b & 0xF0U) == 0xE0U) {
            n = 3;
        } else if ((b & 0xF8U) == 0xF0U) {
            n = 4;
        } else {
            return false;
        }
        if (i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0U) != 0x80U) return false;
        }
        i += n;
    }
    return true;
}

TEST(AttachmentDisposition, PlainAsciiHasNoExtendedParameter) {
    EXPECT_EQ(AttachmentDisposition("song.mp3"), "attachment; filename=\"song.mp3\"");
    EXPECT_EQ(AttachmentDisposition("My Song (live) [2020].mp3"),
              "attachment; filename=\"My Song (live) [2020].mp3\"");
    EXPECT_EQ(AttachmentDisposition("a'b,c=d.mp3"), "attachment; filename=\"a'b,c=d.mp3\"");
}

TEST(AttachmentDisposition, NonAsciiGetsAnRfc8187Name) {
    EXPECT_EQ(AttachmentDisposition("été.mp3"),
              "attachment; filename=\"_t_.mp3\"; filename*=UTF-8''%C3%A9t%C3%A9.mp3");
    EXPECT_EQ(AttachmentDisposition("🎵 x.mp3"),
              "attachment; filename=\"_ x.mp3\"; filename*=UTF-8''%F0%9F%8E%B5%20x.mp3");
    EXPECT_EQ(AttachmentDisposition("日本.mp3"),
              "attachment; filename=\"__.mp3\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.mp3");
}

TEST(AttachmentDisposition, AsciiThatNeedsQuotingGetsBoth) {
    EXPECT_EQ(AttachmentDisposition("a\"b;c%41.mp3"),
              "attachment; filename=\"a_b_c_41.mp3\"; filename*=UTF-8''a%22b%3Bc%2541.mp3");
}

TEST(AttachmentDisposition, PathSeparatorsAreReplacedEverywhere) {
    EXPECT_EQ(AttachmentDisposition("../etc/passwd"), "attachment; filename=\".._etc_passwd\"");
    EXPECT_EQ(AttachmentDisposition("..\\win.ini"), "attachment; filename=\".._win.ini\"");
}

TEST(AttachmentDisposition, HeaderInjectionIsImpossible) {
    EXPECT_EQ(AttachmentDisposition("a\r\nSet-Cookie: x=y.mp3"),
              "attachment; filename=\"a__Set-Cookie: x=y.mp3\"");
    EXPECT_EQ(AttachmentDisposition(domain::Mp3NameFor("a\r\nSet-Cookie: x=y.mp4")),
              "attachment; filename=\"a__Set-Cookie: x=y.mp3\"");
    EXPECT_EQ(AttachmentDisposition("a\0b.mp3"s), "attachment; filename=\"a_b.mp3\"");
    const std::string quoted = AttachmentDisposition("x\"; filename=\"evil.exe");
    EXPECT_EQ(Fallback(quoted), "x__ filename=_evil.exe");
    EXPECT_EQ(DecodedExtended(quoted), "x\"; filename=\"evil.exe");
    // C1 controls (NEL, U+0085) and line separators, encoded as UTF-8.
    EXPECT_EQ(AttachmentDisposition("a\xC2\x85"
                                    "b\xE2\x80\xA8"
                                    "c.mp3"),
              "attachment; filename=\"a_b_c.mp3\"");
}

TEST(AttachmentDisposition, BidiOverridesCannotDisguiseTheExtension) {
    EXPECT_EQ(AttachmentDisposition("evil\xE2\x80\xAEgpj.mp3"), "attachment; filename=\"evil_gpj.mp3\"");
    // LRM, RLM, ALM, an isolate and a byte-order mark.
    EXPECT_EQ(AttachmentDisposition("a\u200E"
                                    "b\u200F"
                                    "c\u061C"
                                    "d\u2067"
                                    "e\uFEFF"
                                    "f.mp3"),
              "attachment; filename=\"a_b_c_d_e_f.mp3\"");
    EXPECT_EQ(AttachmentDisposition("a\u2060b.mp3"),
              "attachment; filename=\"a_b.mp3\"; filename*=UTF-8''a%E2%81%A0b.mp3");
}

TEST(AttachmentDisposition, InvalidUtf8IsReplaced) {
    EXPECT_EQ(AttachmentDisposition("\xFF\xFE.mp3"), "attachment; filename=\"__.mp3\"");
    EXPECT_EQ(AttachmentDisposition("a\xC3.mp3"), "attachment; filename=\"a_.mp3\"");          // truncated
    EXPECT_EQ(AttachmentDisposition("\xC0\xAF.mp3"), "attachment; filename=\"__.mp3\"");       // overlong '/'
    EXPECT_EQ(AttachmentDisposition("\xED\xA0\x80.mp3"), "attachment; filename=\"___.mp3\"");  // surrogate
    EXPECT_EQ(AttachmentDisposition("\xF4\x90\x80\x80.mp3"), "attachment; filename=\"____.mp3\"");
}

TEST(AttachmentDisposition, EmptyOrDotsBecomeTheDefault) {
    for (const char* name : {"", " ", "   ", ".", "..", "...", " .. "}) {
        EXPECT_EQ(AttachmentDisposition(name), "attachment; filename=\"audio.mp3\"") << '"' << name << '"';
    }
    EXPECT_EQ(AttachmentDisposition("  x.mp3 "), "attachment; filename=\"x.mp3\"");
}

TEST(AttachmentDisposition, LongNamesAreCutAndKeepTheirExtension) {
    const std::string ascii = AttachmentDisposition(std::string(300, 'a') + ".mp3");
    EXPECT_EQ(Fallback(ascii), std::string(196, 'a') + ".mp3");
    EXPECT_EQ(DecodedExtended(ascii), "");

    std::string accented;
    for (int i = 0; i < 150; ++i) accented += "é";
    const std::string wide = AttachmentDisposition(accented + ".mp3");
    const std::string decoded = DecodedExtended(wide);
    EXPECT_LE(decoded.size(), 200U);
    EXPECT_GE(decoded.size(), 195U);
    EXPECT_TRUE(IsValidUtf8(decoded));
    EXPECT_EQ(decoded.substr(decoded.size() - 4), ".mp3");
    EXPECT_EQ(Fallback(wide), std::string((decoded.size() - 4) / 2, '_') + ".mp3");

    // No extension worth keeping: cut at a character boundary.
    std::string emoji;
    for (int i = 0; i < 60; ++i) emoji += "🎵";
    const std::string cut = DecodedExtended(AttachmentDisposition(emoji));
    EXPECT_EQ(cut.size(), 200U);
    EXPECT_TRUE(IsValidUtf8(cut));
}

TEST(AttachmentDisposition, OutputIsAlwaysPrintableAscii) {
    std::mt19937 random(20240501);  // fixed: a failure reproduces
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> length(0, 300);
    for (int round = 0; round < 2000; ++round) {
        std::string name(static_cast<std::size_t>(length(random)), '\0');
        for (char& c : name) c = static_cast<char>(byte(random));
        const std::string out = AttachmentDisposition(name);
        ASSERT_TRUE(IsPrintableAscii(out)) << out;
        ASSERT_EQ(out.find('\r'), std::string::npos);
        ASSERT_EQ(out.find('\n'), std::string::npos);
        // Exactly two quotes: the fallback's delimiters.
        ASSERT_EQ(std::count(out.begin(), out.end(), '"'), 2) << out;
        const std::string fallback = Fallback(out);
        ASSERT_LE(fallback.size(), 200U);
        ASSERT_FALSE(fallback.empty());
        const std::string extended = DecodedExtended(out);
        ASSERT_LE(extended.size(), 200U);
        ASSERT_TRUE(IsValidUtf8(extended)) << out;
    }
}

}  // namespace
}  // namespace v2m::http
