// `video2mp3 convert` end to end: the real binary ($V2M_BIN) on media files
// that tests/fixtures/generate.sh made with ffmpeg ($V2M_FIXTURES), its MP3s
// read back with ffprobe and decoded with ffmpeg. Each test works in its own
// temporary directory, so tests can run in parallel.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <ostream>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace v2m::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::AssertionFailure;
using ::testing::AssertionResult;
using ::testing::AssertionSuccess;

// The CLI's exit statuses (README, src/app/exit_codes.hpp), spelled out here:
// scripts depend on the numbers, so renumbering must break a test.
constexpr int kExitUsage = 2;
constexpr int kExitInputUnreadable = 3;
constexpr int kExitOutputUnwritable = 4;
constexpr int kExitNotMedia = 5;
constexpr int kExitNoAudio = 6;
constexpr int kExitCorrupt = 7;
constexpr int kExitUnsupportedCodec = 8;
constexpr int kExitStartPastEnd = 9;
constexpr int kExitInterrupted = 130;

// Every source tone is a sine at 1/8 of full scale (RMS 0.088).
constexpr double kToneHz = 440;
constexpr double kMinToneShare = 0.8;
constexpr double kMinRms = 0.02;

// Allowed difference between two durations: one MP3 frame.
double OneFrame(int sample_rate) { return static_cast<double>(Mp3FrameSamples(sample_rate)) / sample_rate; }

std::uint64_t FileSize(const std::string& path) { return fs::file_size(path); }

// "Xing" (VBR) or "Info" (CBR): the tag in the first MP3 frame, after the ID3v2 tag.
std::string XingTag(const std::string& mp3) {
    std::size_t start = 0;
    if (mp3.size() >= 10 && mp3.compare(0, 3, "ID3") == 0) {
        std::size_t size = 0;
        for (int i = 6; i < 10; ++i) size = size << 7 | (static_cast<unsigned char>(mp3[i]) & 0x7f);
        start = 10 + size;
    }
    // The tag follows the 4-byte header and 9 to 32 bytes of side information.
    const std::string head = mp3.substr(start, 64);
    for (const char* tag : {"Xing", "Info"}) {
        if (head.find(tag) != std::string::npos) return tag;
    }
    return "";
}

// Exit 0, no crash, no timeout.
AssertionResult Succeeded(const ProcessResult& r) {
    if (r.timed_out || r.term_signal != 0 || r.exit_code != 0) return AssertionFailure() << r.Describe();
    return AssertionSuccess();
}

// The failure contract: the exit status `code`, exactly one readable line on
// stderr ("video2mp3: error: …" matching `pattern`), nothing on stdout.
AssertionResult FailedCleanly(const ProcessResult& r, int code, const std::string& pattern) {
    if (r.timed_out || r.term_signal != 0 || r.exit_code != code) {
        return AssertionFailure() << "expected exit " << code << ", got " << r.Describe();
    }
    if (!r.out.empty()) return AssertionFailure() << "stdout is not empty: " << r.out.substr(0, 200);
    const auto lines = Lines(r.err);
    if (lines.size() != 1 || r.err.back() != '\n') {
        return AssertionFailure() << "expected one line on stderr, got:\n" << r.err;
    }
    const std::string& line = lines[0];
    const bool readable = std::all_of(
        line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f; });
    if (!readable) return AssertionFailure() << "control characters on stderr: " << line;
    if (line.rfind("video2mp3: error: ", 0) != 0) return AssertionFailure() << "not an error line: " << line;
    if (!std::regex_search(line, std::regex(pattern))) {
        return AssertionFailure() << "error line does not match /" << pattern << "/: " << line;
    }
    return AssertionSuccess();
}

json ParseSummary(const std::string& text) {
    const auto lines = Lines(text);
    if (lines.size() != 1) throw std::runtime_error("expected one line of JSON, got:\n" + text);
    return json::parse(lines[0]);
}

class ConvertTest : public ::testing::Test {
  protected:
    // Runs `video2mp3 convert ARGS…`.
    static ProcessResult Convert(std::vector<std::string> args, RunOptions options = {}) {
        args.insert(args.begin(), {Binary(), "convert"});
        return test::Run(args, std::move(options));
    }

    std::string Out(const std::string& name = "out.mp3") const { return dir_ / name; }

    // The MP3 at `path` has the given format, lasts `seconds` (within one
    // frame) and carries a clear tone at `tone_hz`. Returns its tags.
    static json ExpectMp3(const std::string& path, int sample_rate, int channels, double seconds,
                          double tone_hz = kToneHz) {
        SCOPED_TRACE(path);
        const json probe = Probe(path);
        EXPECT_EQ(probe.at("format").at("format_name"), "mp3");
        const json& streams = probe.at("streams");
        EXPECT_EQ(streams.size(), 1u);
        if (!streams.empty()) {
            EXPECT_EQ(streams[0].at("codec_name"), "mp3");
            EXPECT_EQ(streams[0].at("sample_rate"), std::to_string(sample_rate));
            EXPECT_EQ(streams[0].at("channels"), channels);
        }

        const MonoAudio audio = DecodeMono(path);
        EXPECT_EQ(audio.sample_rate, sample_rate);
        EXPECT_NEAR(audio.seconds(), seconds, OneFrame(sample_rate));
        EXPECT_GT(ToneShare(audio, tone_hz), kMinToneShare)
            << "the " << tone_hz << " Hz tone did not come out";
        EXPECT_GT(Rms(audio), kMinRms) << "(nearly) silent";
        return probe.at("format").value("tags", json::object());
    }

    static json Tags(const std::string& path) {
        return Probe(path).at("format").value("tags", json::object());
    }

    TempDir dir_;
};

// --- Every container and codec ----------------------------------------------

struct FormatCase {
    const char* fixture;
    int stream;         // the audio stream converted by default (numbered as ffprobe does)
    const char* codec;  // its codec, as --json names it
    int sample_rate;    // of the MP3
    int channels;       // of the MP3
    bool tagged;        // the source has title, artist, album, date and comment
};

std::ostream& operator<<(std::ostream& os, const FormatCase& c) { return os << c.fixture; }

class ConvertsFormat : public ConvertTest, public ::testing::WithParamInterface<FormatCase> {};

TEST_P(ConvertsFormat, ToTheSameToneWithFormatDurationAndTags) {
    const FormatCase& c = GetParam();
    const std::string source = Fixture(c.fixture);
    const ProcessResult r = Convert({"--json", "-o", Out(), source});
    ASSERT_TRUE(Succeeded(r));
    EXPECT_EQ(r.err, "");

    const json summary = ParseSummary(r.out);
    EXPECT_EQ(summary.at("stream"), c.stream);
    EXPECT_EQ(summary.at("source_codec"), c.codec);
    EXPECT_EQ(summary.at("sample_rate"), c.sample_rate);
    EXPECT_EQ(summary.at("channels"), c.channels);
    EXPECT_EQ(summary.at("warnings"), json::array());
    EXPECT_EQ(summary.at("output_bytes"), FileSize(Out()));

    // As long as the source's audio as ffmpeg decodes it (both honour encoder
    // delay and padding: AAC edit lists, Opus pre-skip, the MP3's LAME header).
    const MonoAudio original = DecodeMono(source, std::to_string(c.stream));
    const json tags = ExpectMp3(Out(), c.sample_rate, c.channels, original.seconds());
    if (c.tagged) {
        EXPECT_EQ(tags.value("title", ""), "Test Tone");
        EXPECT_EQ(tags.value("artist", ""), "The Oscillators");
        EXPECT_EQ(tags.value("album", ""), "Lavfi Sessions");
        EXPECT_EQ(tags.value("date", ""), "2021");
        EXPECT_EQ(tags.value("comment", ""), "generated by generate.sh");
    } else {
        EXPECT_EQ(tags.value("title", ""), fs::path(c.fixture).stem().string()) << tags.dump();
    }
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"out.mp3"});
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConvertsFormat,
                         ::testing::Values(FormatCase{"h264_aac.mp4", 1, "aac", 44100, 2, true},
                                           FormatCase{"moov_at_end.mp4", 1, "aac", 44100, 1, false},
                                           FormatCase{"vp9_opus.mkv", 1, "opus", 48000, 2, true},
                                           FormatCase{"vp8_vorbis.webm", 1, "vorbis", 44100, 1, false},
                                           FormatCase{"mpeg4_mp3.avi", 1, "mp3", 44100, 2, false},
                                           FormatCase{"h264_pcm.mov", 1, "pcm_s16le", 44100, 1, false},
                                           FormatCase{"flv1_mp3.flv", 0, "mp3", 44100, 1, false},
                                           FormatCase{"mono_8k.mp4", 1, "aac", 8000, 1, false},
                                           FormatCase{"surround_5_1_48k.mp4", 1, "aac", 48000, 2, false},
                                           FormatCase{"flac_96k.mkv", 1, "flac", 48000, 1, false},
                                           FormatCase{"two_tracks.mkv", 1, "aac", 44100, 1, false},
                                           FormatCase{"short_0_2s.mp4", 1, "aac", 44100, 1, false},
                                           FormatCase{"audio_only.m4a", 0, "aac", 44100, 1, true}),
                         [](const ::testing::TestParamInfo<FormatCase>& param_info) {
                             std::string name = param_info.param.fixture;
                             std::replace_if(
                                 name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); }, '_');
                             return name;
                         });

// --- Encoding options ---------------------------------------------------------

TEST_F(ConvertTest, VbrFrameSizesFollowTheContent) {
    // Tone with noise bursts: a real VBR encoder spends very different sizes on them.
    const ProcessResult r = Convert({"--json", "-o", Out(), Fixture("tone_and_noise.wav")});
    ASSERT_TRUE(Succeeded(r));
    const json summary = ParseSummary(r.out);
    EXPECT_EQ(summary.at("mode"), "vbr");
    EXPECT_EQ(summary.at("quality"), 2);
    EXPECT_FALSE(summary.contains("bitrate"));

    const std::vector<int> sizes = PacketSizes(Out());
    ASSERT_GT(sizes.size(), 100u);
    const auto [min, max] = std::minmax_element(sizes.begin(), sizes.end());
    EXPECT_GT(*max - *min, 100) << "frame sizes hardly vary: not VBR";
    EXPECT_EQ(XingTag(ReadFile(Out())), "Xing");
}

TEST_F(ConvertTest, VbrQualityChangesTheSize) {
    const std::string source = Fixture("tone_and_noise.wav");
    ASSERT_TRUE(Succeeded(Convert({"-q", "0", "-o", Out("q0.mp3"), source})));
    ASSERT_TRUE(Succeeded(Convert({"--quality", "9", "-o", Out("q9.mp3"), source})));
    EXPECT_GT(FileSize(Out("q0.mp3")), FileSize(Out("q9.mp3")) * 3 / 2);
    EXPECT_EQ(XingTag(ReadFile(Out("q0.mp3"))), "Xing");
    EXPECT_EQ(XingTag(ReadFile(Out("q9.mp3"))), "Xing");
}

TEST_F(ConvertTest, CbrKeepsEveryFrameAtTheBitrate) {
    const ProcessResult r = Convert({"--json", "-b", "128k", "-o", Out(), Fixture("tone_and_noise.wav")});
    ASSERT_TRUE(Succeeded(r));
    const json summary = ParseSummary(r.out);
    EXPECT_EQ(summary.at("mode"), "cbr");
    EXPECT_EQ(summary.at("bitrate"), 128);
    EXPECT_FALSE(summary.contains("quality"));
    EXPECT_NEAR(summary.at("bitrate_kbps").get<double>(), 128, 128 * 0.05);

    // 128 kbit/s at 44.1 kHz: 417 or 418 bytes a frame (the padding bit).
    const std::vector<int> sizes = PacketSizes(Out());
    ASSERT_GT(sizes.size(), 100u);
    const auto [min, max] = std::minmax_element(sizes.begin(), sizes.end());
    EXPECT_LE(*max - *min, 1) << "frame sizes vary: not CBR";
    const double mean = std::accumulate(sizes.begin(), sizes.end(), 0.0) / static_cast<double>(sizes.size());
    EXPECT_NEAR(mean * 8 * 44100 / 1152, 128000, 128000 * 0.01);
    EXPECT_EQ(XingTag(ReadFile(Out())), "Info");
}

TEST_F(ConvertTest, SampleRateAndChannelsAsAskedDownmixed) {
    const std::string source = Fixture("h264_aac.mp4");  // stereo, 44.1 kHz
    const ProcessResult r = Convert({"--sample-rate", "22050", "--channels", "1", "-o", Out(), source});
    ASSERT_TRUE(Succeeded(r));
    ExpectMp3(Out(), 22050, 1, DecodeMono(source, "1").seconds());
}

TEST_F(ConvertTest, SampleRateAndChannelsAsAskedUpmixed) {
    const std::string source = Fixture("moov_at_end.mp4");  // mono, 44.1 kHz
    const ProcessResult r = Convert({"-r", "48000", "-c", "2", "-o", Out(), source});
    ASSERT_TRUE(Succeeded(r));
    ExpectMp3(Out(), 48000, 2, DecodeMono(source, "1").seconds());
}

TEST_F(ConvertTest, CbrAtALowSampleRate) {
    const ProcessResult r = Convert({"-b", "32k", "-r", "16000", "-o", Out(), Fixture("h264_aac.mp4")});
    ASSERT_TRUE(Succeeded(r));
    ExpectMp3(Out(), 16000, 2, DecodeMono(Fixture("h264_aac.mp4"), "1").seconds());
    // MPEG-2 at 16 kHz: 576 samples a frame, 32 kbit/s → 144 bytes.
    const std::vector<int> sizes = PacketSizes(Out());
    ASSERT_FALSE(sizes.empty());
    const auto [min, max] = std::minmax_element(sizes.begin(), sizes.end());
    EXPECT_EQ(*min, 144);
    EXPECT_EQ(*max, 144);
}

// --- Trimming -------------------------------------------------------------------

struct TrimCase {
    const char* name;
    std::vector<std::string> args;
    double start_s;  // where the kept audio starts
    double end_s;    // where it ends; 0: the source's end
    double tone_hz;  // two_tones.mp4: 440 Hz before 1.5 s, 880 Hz after
};

std::ostream& operator<<(std::ostream& os, const TrimCase& c) { return os << c.name; }

class Trims : public ConvertTest, public ::testing::WithParamInterface<TrimCase> {};

TEST_P(Trims, KeepsExactlyTheWindow) {
    const TrimCase& c = GetParam();
    const std::string source = Fixture("two_tones.mp4");
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--json", "-o", Out(), source});
    const ProcessResult r = Convert(args);
    ASSERT_TRUE(Succeeded(r));
    EXPECT_EQ(r.err, "");
    const double end = c.end_s > 0 ? c.end_s : DecodeMono(source, "1").seconds();
    ExpectMp3(Out(), 44100, 1, end - c.start_s, c.tone_hz);
    EXPECT_EQ(ParseSummary(r.out).at("warnings"), json::array()) << "trimming is no damage";
}

INSTANTIATE_TEST_SUITE_P(
    TwoTones, Trims,
    ::testing::Values(TrimCase{"StartAndEnd", {"--start", "0.5", "--end", "1.25"}, 0.5, 1.25, 440},
                      TrimCase{"StartOnlyAfterASeek", {"--start", "2"}, 2, 0, 880},
                      TrimCase{"EndOnly", {"--end", "1.2"}, 0, 1.2, 440},
                      TrimCase{"ClockTimes", {"-s", "00:00:01.750", "-e", "0:02.75"}, 1.75, 2.75, 880}),
    [](const ::testing::TestParamInfo<TrimCase>& param_info) { return std::string(param_info.param.name); });

// --- Output: stdout, JSON, names, tags, streams -------------------------------------

TEST_F(ConvertTest, StdoutGetsTheMp3AndStderrTheSummary) {
    const std::string source = Fixture("h264_aac.mp4");
    const ProcessResult r = Convert({"--json", "-o", "-", source});
    ASSERT_TRUE(Succeeded(r));
    ASSERT_GT(r.out.size(), 1000u);
    EXPECT_EQ(r.out.substr(0, 3), "ID3");
    EXPECT_EQ(r.out.find("\"output_bytes\""), std::string::npos) << "the JSON summary went into the MP3";

    const json summary = ParseSummary(r.err);
    EXPECT_EQ(summary.at("output"), "-");
    EXPECT_EQ(summary.at("output_bytes"), r.out.size());
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{}) << "nothing is written beside";

    WriteFile(Out("stdout.mp3"), r.out);
    ExpectMp3(Out("stdout.mp3"), 44100, 2, DecodeMono(source, "1").seconds());
}

TEST_F(ConvertTest, JsonSummaryDescribesTheConversion) {
    const std::string source = Fixture("h264_aac.mp4");
    const ProcessResult r = Convert({"--json", "-q", "4", "-o", Out(), source});
    ASSERT_TRUE(Succeeded(r));
    EXPECT_EQ(r.err, "");
    const json s = ParseSummary(r.out);
    for (const char* key : {"input", "output", "duration_s", "source_duration_s", "bitrate_kbps", "mode",
                            "sample_rate", "channels", "source_codec", "stream", "input_bytes",
                            "output_bytes", "seconds", "lost_s", "warnings", "quality"}) {
        EXPECT_TRUE(s.contains(key)) << key << " missing from " << s.dump();
    }
    EXPECT_EQ(s.at("input"), source);
    EXPECT_EQ(s.at("output"), Out());
    EXPECT_EQ(s.at("mode"), "vbr");
    EXPECT_EQ(s.at("quality"), 4);
    EXPECT_EQ(s.at("sample_rate"), 44100);
    EXPECT_EQ(s.at("channels"), 2);
    EXPECT_EQ(s.at("source_codec"), "aac");
    EXPECT_EQ(s.at("stream"), 1);
    EXPECT_EQ(s.at("input_bytes"), FileSize(source));
    EXPECT_EQ(s.at("output_bytes"), FileSize(Out()));
    EXPECT_EQ(s.at("lost_s"), 0.0);
    EXPECT_EQ(s.at("warnings"), json::array());
    EXPECT_GE(s.at("seconds").get<double>(), 0.0);

    const MonoAudio original = DecodeMono(source, "1");
    const MonoAudio mp3 = DecodeMono(Out());
    const double frame = OneFrame(44100);
    EXPECT_NEAR(s.at("duration_s").get<double>(), mp3.seconds(), frame);
    EXPECT_NEAR(s.at("source_duration_s").get<double>(), original.seconds(), frame);
    const double kbps = static_cast<double>(FileSize(Out())) * 8 / mp3.seconds() / 1000;
    EXPECT_NEAR(s.at("bitrate_kbps").get<double>(), kbps, kbps * 0.02);
}

TEST_F(ConvertTest, DefaultOutputIsTheInputNameWithMp3) {
    fs::copy_file(Fixture("h264_aac.mp4"), Out("clip.v1.mp4"));
    const ProcessResult r = Convert({Out("clip.v1.mp4")});
    ASSERT_TRUE(Succeeded(r));
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "");
    EXPECT_EQ(dir_.Entries(), (std::vector<std::string>{"clip.v1.mp3", "clip.v1.mp4"}));
    ExpectMp3(Out("clip.v1.mp3"), 44100, 2, DecodeMono(Out("clip.v1.mp4"), "1").seconds());
}

TEST_F(ConvertTest, TitleFallsBackToTheFileName) {
    fs::copy_file(Fixture("vp8_vorbis.webm"), Out("My Holiday 2019.webm"));  // no tags at all
    ASSERT_TRUE(Succeeded(Convert({"-o", Out(), Out("My Holiday 2019.webm")})));
    const json tags = Tags(Out());
    EXPECT_EQ(tags.value("title", ""), "My Holiday 2019");
    EXPECT_FALSE(tags.contains("artist")) << tags.dump();
    EXPECT_FALSE(tags.contains("album")) << tags.dump();
}

TEST_F(ConvertTest, StreamSelectsTheSecondAudioTrack) {
    const std::string source = Fixture("two_tracks.mkv");  // stream 1: 440 Hz, stream 2: 880 Hz
    const ProcessResult r = Convert({"--json", "--stream", "2", "-o", Out(), source});
    ASSERT_TRUE(Succeeded(r));
    EXPECT_EQ(ParseSummary(r.out).at("stream"), 2);
    ExpectMp3(Out(), 44100, 1, DecodeMono(source, "2").seconds(), 880);
    EXPECT_LT(ToneShare(DecodeMono(Out()), 440), 0.05) << "the first track's tone is in the output";
}

// --- Damage, interruption --------------------------------------------------------

TEST_F(ConvertTest, DamagedNearTheEndIsConvertedAsFarAsItDecodes) {
    // damaged_tail.mp4 is h264_aac.mp4 without the last quarter of its bytes.
    const ProcessResult r = Convert({"--json", "-o", Out(), Fixture("damaged_tail.mp4")});
    ASSERT_TRUE(Succeeded(r));
    const auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_EQ(lines[0].rfind("video2mp3: warning: ", 0), 0u) << lines[0];
    std::smatch lost_text;
    ASSERT_TRUE(std::regex_search(lines[0], lost_text, std::regex(R"(([0-9]+(?:\.[0-9]+)?) s\b)")))
        << "the warning does not say how much was lost: " << lines[0];

    const double whole = DecodeMono(Fixture("h264_aac.mp4"), "1").seconds();
    const double decodable = DecodeMono(Fixture("damaged_tail.mp4"), "1").seconds();
    ASSERT_LT(decodable, whole - 0.3) << "the fixture is not damaged enough to tell";
    ExpectMp3(Out(), 44100, 2, decodable);

    const double lost = whole - decodable;
    EXPECT_NEAR(std::stod(lost_text[1]), lost, 0.1 + OneFrame(44100));
    const json summary = ParseSummary(r.out);
    EXPECT_NEAR(summary.at("lost_s").get<double>(), lost, 0.1 + OneFrame(44100));
    EXPECT_EQ(summary.at("warnings").size(), 1u);
}

class Interrupted : public ConvertTest, public ::testing::WithParamInterface<int> {};

TEST_P(Interrupted, StopsWithExit130AndLeavesNothing) {
    Process process({Binary(), "convert", "-o", Out(), Fixture("long_60s.wav")});
    // The temporary output appears once the signals are handled and the
    // conversion has begun; a minute of audio takes far longer to encode than
    // this poll.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (dir_.Entries().empty() && !process.HasExited() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_FALSE(process.HasExited())
        << "ended before it could be interrupted: " << process.Wait().Describe();
    ASSERT_FALSE(dir_.Entries().empty()) << "no temporary output appeared within 30 s";
    ASSERT_EQ(::kill(process.pid(), GetParam()), 0);

    const ProcessResult r = process.Wait();
    EXPECT_EQ(r.exit_code, kExitInterrupted) << r.Describe();
    const auto lines = Lines(r.err);
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find("interrupted"), std::string::npos) << lines[0];
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{}) << "a partial or temporary output was left";
}

INSTANTIATE_TEST_SUITE_P(Signals, Interrupted, ::testing::Values(SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                             return std::string(param_info.param == SIGINT ? "SIGINT" : "SIGTERM");
                         });

// --- Bad input: one line, its own exit status, no output ----------------------------

struct BadInputCase {
    const char* name;
    const char* fixture;
    std::vector<std::string> args;
    int exit_code;
    const char* message;  // a regular expression the error line matches
};

std::ostream& operator<<(std::ostream& os, const BadInputCase& c) { return os << c.name; }

class RejectsBadInput : public ConvertTest, public ::testing::WithParamInterface<BadInputCase> {};

TEST_P(RejectsBadInput, WithItsExitStatusAndOneLine) {
    const BadInputCase& c = GetParam();
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"-o", Out(), Fixture(c.fixture)});
    EXPECT_TRUE(FailedCleanly(Convert(args), c.exit_code, c.message));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{}) << "a partial or temporary output was left";
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, RejectsBadInput,
    ::testing::Values(
        BadInputCase{"Text", "notes.txt", {}, kExitNotMedia, "not a video or audio file"},
        BadInputCase{"Image", "image.png", {}, kExitNotMedia, "not a video or audio file"},
        BadInputCase{"VideoWithoutAudio", "no_audio.mp4", {}, kExitNoAudio, "no audio"},
        BadInputCase{"CorruptMediaData", "corrupt_payload.mp4", {}, kExitCorrupt, "damaged"},
        BadInputCase{
            "CorruptHeader", "corrupt_moov.mp4", {}, kExitCorrupt, "damaged|cannot be (opened|read)"},
        BadInputCase{"TruncatedAfterTheHeader", "truncated_early.mp4", {}, kExitCorrupt, "damaged"},
        BadInputCase{
            "TruncatedBeforeTheHeader", "truncated_no_header.mp4", {}, kExitCorrupt, "cannot be opened"},
        BadInputCase{"UnsupportedCodec",
                     "unsupported_codec.wav",
                     {},
                     kExitUnsupportedCodec,
                     "codec is not supported.*0x9999"},
        BadInputCase{"StartPastTheEnd", "h264_aac.mp4", {"--start", "10"}, kExitStartPastEnd, "past the end"},
        BadInputCase{"StartPastTheEndAsClockTime",
                     "audio_only.m4a",
                     {"--start", "00:00:03.5"},
                     kExitStartPastEnd,
                     "past the end"}),
    [](const ::testing::TestParamInfo<BadInputCase>& param_info) {
        return std::string(param_info.param.name);
    });

TEST_F(ConvertTest, RandomBytesAreNotMedia) {
    std::mt19937 random(20240611);  // fixed: the same bytes every run
    std::vector<char> bytes(std::size_t{64} * 1024);
    for (char& b : bytes) b = static_cast<char>(random() & 0xff);
    WriteFile(Out("random.bin"), bytes);
    EXPECT_TRUE(
        FailedCleanly(Convert({"-o", Out(), Out("random.bin")}), kExitNotMedia, "not a video or audio"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"random.bin"});
}

TEST_F(ConvertTest, EmptyFileIsNotMedia) {
    WriteFile(Out("empty.mp4"), std::vector<char>{});
    EXPECT_TRUE(FailedCleanly(Convert({"-o", Out(), Out("empty.mp4")}), kExitNotMedia, "empty"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"empty.mp4"});
}

TEST_F(ConvertTest, NoOutputLeftBesideAFailedInputUnderTheDefaultName) {
    fs::copy_file(Fixture("no_audio.mp4"), Out("silent film.mp4"));
    EXPECT_TRUE(FailedCleanly(Convert({Out("silent film.mp4")}), kExitNoAudio, "no audio"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"silent film.mp4"});
}

// --- Unreadable input, unwritable output ---------------------------------------------

TEST_F(ConvertTest, MissingInputIsUnreadable) {
    EXPECT_TRUE(FailedCleanly(Convert({"-o", Out(), Out("nothing-here.mp4")}), kExitInputUnreadable,
                              "nothing-here.mp4"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{});
}

TEST_F(ConvertTest, DirectoryInputIsUnreadable) {
    fs::create_directory(Out("videos.mp4"));
    EXPECT_TRUE(FailedCleanly(Convert({"-o", Out(), Out("videos.mp4")}), kExitInputUnreadable, "directory"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"videos.mp4"});
}

TEST_F(ConvertTest, InputFailingToReadIsUnreadable) {
    // Opens fine, then every read fails with EIO (address 0 of the reader's
    // own memory); works as root too, unlike a chmod 000 file.
    EXPECT_TRUE(FailedCleanly(Convert({"-o", Out(), "/proc/self/mem"}), kExitInputUnreadable, "read"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{});
}

TEST_F(ConvertTest, OutputInAMissingDirectoryIsUnwritable) {
    EXPECT_TRUE(FailedCleanly(Convert({"-o", Out("no/such/dir/out.mp3"), Fixture("h264_aac.mp4")}),
                              kExitOutputUnwritable, "cannot create"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{});
}

TEST_F(ConvertTest, OutputThatIsADirectoryIsUnwritable) {
    fs::create_directory(Out("song.mp3"));
    EXPECT_TRUE(FailedCleanly(Convert({"-o", Out("song.mp3"), Fixture("h264_aac.mp4")}),
                              kExitOutputUnwritable, "directory"));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"song.mp3"});
    EXPECT_TRUE(fs::is_empty(Out("song.mp3")));
}

TEST_F(ConvertTest, FullStdoutIsUnwritable) {
    RunOptions options;
    options.stdout_path = "/dev/full";
    EXPECT_TRUE(FailedCleanly(Convert({"-o", "-", Fixture("h264_aac.mp4")}, options), kExitOutputUnwritable,
                              "standard output"));
}

// --- Invalid options -------------------------------------------------------------------

struct OptionsCase {
    const char* name;
    std::vector<std::string> args;
    const char* message;  // a regular expression the error line matches
};

std::ostream& operator<<(std::ostream& os, const OptionsCase& c) { return os << c.name; }

class RejectsOptions : public ConvertTest, public ::testing::WithParamInterface<OptionsCase> {};

TEST_P(RejectsOptions, WithExit2AndOneLine) {
    const OptionsCase& c = GetParam();
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"-o", Out(), Fixture("h264_aac.mp4")});
    EXPECT_TRUE(FailedCleanly(Convert(args), kExitUsage, c.message));
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{});
}

INSTANTIATE_TEST_SUITE_P(
    Options, RejectsOptions,
    ::testing::Values(OptionsCase{"QualityOutOfRange", {"-q", "12"}, "quality"},
                      OptionsCase{"BitrateNotANumber", {"-b", "abc"}, "bitrate"},
                      OptionsCase{"BitrateNotAnMp3Bitrate", {"-b", "999k"}, "999"},
                      OptionsCase{"BitrateImpossibleAtTheRate", {"-b", "320k", "-r", "8000"}, "320"},
                      OptionsCase{"QualityAndBitrate", {"-q", "2", "-b", "128k"}, "quality|bitrate"},
                      OptionsCase{"ThreeChannels", {"--channels", "3"}, "channels"},
                      OptionsCase{"SampleRateNotAnMp3Rate", {"--sample-rate", "12345"}, "12345"},
                      OptionsCase{"StartNotATime", {"--start", "abc"}, "start"},
                      OptionsCase{"EndBeforeStart", {"--start", "2", "--end", "1"}, "end|start"},
                      OptionsCase{"StreamIsVideo", {"--stream", "0"}, "stream 0"},
                      OptionsCase{"StreamDoesNotExist", {"--stream", "7"}, "stream 7"},
                      OptionsCase{"StreamNegative", {"--stream", "-1"}, "stream"},
                      OptionsCase{"UnknownOption", {"--frobnicate"}, "frobnicate"}),
    [](const ::testing::TestParamInfo<OptionsCase>& param_info) {
        return std::string(param_info.param.name);
    });

TEST_F(ConvertTest, NoInputIsAUsageError) { EXPECT_TRUE(FailedCleanly(Convert({}), kExitUsage, "input")); }

TEST_F(ConvertTest, DefaultOutputWouldReplaceAnMp3Input) {
    ASSERT_TRUE(Succeeded(Convert({"-o", Out("song.mp3"), Fixture("audio_only.m4a")})));
    const std::string before = ReadFile(Out("song.mp3"));
    EXPECT_TRUE(FailedCleanly(Convert({Out("song.mp3")}), kExitUsage, "replace the input"));
    EXPECT_EQ(ReadFile(Out("song.mp3")), before);
    EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"song.mp3"});
}

}  // namespace
}  // namespace v2m::test
