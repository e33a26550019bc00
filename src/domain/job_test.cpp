#include "domain/job.hpp"

#include <gtest/gtest.h>

namespace v2m::domain {
namespace {

constexpr JobState kAll[] = {JobState::kQueued, JobState::kProcessing, JobState::kDone, JobState::kFailed};

TEST(JobState, NamesRoundTrip) {
    for (JobState s : kAll) EXPECT_EQ(ParseJobState(ToString(s)), s);
    EXPECT_FALSE(ParseJobState("finished"));
    EXPECT_FALSE(ParseJobState(""));
}

TEST(JobState, OnlyTheDesignedTransitions) {
    int allowed = 0;
    for (JobState from : kAll) {
        for (JobState to : kAll) allowed += CanTransition(from, to) ? 1 : 0;
    }
    EXPECT_EQ(allowed, 5);
    EXPECT_TRUE(CanTransition(JobState::kQueued, JobState::kProcessing));
    EXPECT_TRUE(CanTransition(JobState::kProcessing, JobState::kDone));
    EXPECT_TRUE(CanTransition(JobState::kProcessing, JobState::kFailed));
    EXPECT_TRUE(CanTransition(JobState::kProcessing, JobState::kQueued));
    EXPECT_TRUE(CanTransition(JobState::kQueued, JobState::kFailed));
    EXPECT_FALSE(CanTransition(JobState::kDone, JobState::kQueued));
    EXPECT_FALSE(CanTransition(JobState::kFailed, JobState::kProcessing));
    EXPECT_FALSE(CanTransition(JobState::kQueued, JobState::kDone));
    EXPECT_TRUE(IsFinal(JobState::kDone));
    EXPECT_TRUE(IsFinal(JobState::kFailed));
    EXPECT_FALSE(IsFinal(JobState::kProcessing));
}

TEST(NotifyState, NamesRoundTrip) {
    for (NotifyState s : {NotifyState::kNone, NotifyState::kPending, NotifyState::kSending,
                          NotifyState::kSent, NotifyState::kGaveUp}) {
        EXPECT_EQ(ParseNotifyState(ToString(s)), s);
    }
    EXPECT_FALSE(ParseNotifyState("queued"));
}

TEST(Retry, BackoffDoublesUpToTheCap) {
    const RetryPolicy p{.max_attempts = 5, .base_delay_ms = 1000, .max_delay_ms = 10'000};
    EXPECT_EQ(NextAttemptAt(p, 1, 100, 0.0), 1100);
    EXPECT_EQ(NextAttemptAt(p, 2, 100, 0.0), 2100);
    EXPECT_EQ(NextAttemptAt(p, 3, 100, 0.0), 4100);
    EXPECT_EQ(NextAttemptAt(p, 4, 100, 0.0), 8100);
    EXPECT_EQ(NextAttemptAt(p, 5, 100, 0.0), 10'100);
    EXPECT_EQ(NextAttemptAt(p, 60, 100, 0.0), 10'100);  // no overflow far out
    EXPECT_EQ(NextAttemptAt(p, 0, 100, 0.0), 1100);     // nonsense input stays sane
}

TEST(Retry, JitterAddsAtMostAQuarterAndNeverPassesTheCap) {
    const RetryPolicy p{.max_attempts = 5, .base_delay_ms = 1000, .max_delay_ms = 10'000};
    EXPECT_EQ(NextAttemptAt(p, 1, 0, 0.5), 1125);
    EXPECT_EQ(NextAttemptAt(p, 1, 0, 0.999999), 1249);
    EXPECT_EQ(NextAttemptAt(p, 1, 0, 7.0), 1250);  // clamped
    EXPECT_EQ(NextAttemptAt(p, 5, 0, 0.99), 10'000);
}

TEST(Retry, AttemptLimit) {
    const RetryPolicy p{.max_attempts = 3};
    EXPECT_TRUE(MayRetry(p, 1));
    EXPECT_TRUE(MayRetry(p, 2));
    EXPECT_FALSE(MayRetry(p, 3));
    EXPECT_FALSE(MayRetry(p, 4));
}

TEST(Options, RoundTripThroughJson) {
    ConvertOptions o;
    o.bitrate_kbps = 192;
    o.sample_rate = 44100;
    o.channels = 1;
    o.start_s = 1.5;
    o.end_s = 30;
    const std::string text = EncodeOptions(o);
    EXPECT_EQ(text, R"({"bitrate_kbps":192,"channels":1,"end_s":30.0,"sample_rate":44100,"start_s":1.5})");
    const ConvertOptions back = DecodeOptions(text);
    EXPECT_EQ(back.bitrate_kbps, 192);
    EXPECT_FALSE(back.quality);
    EXPECT_EQ(back.sample_rate, 44100);
    EXPECT_EQ(back.channels, 1);
    EXPECT_EQ(back.start_s, 1.5);
    EXPECT_EQ(back.end_s, 30.0);
}

TEST(Options, DefaultIsQualityTwo) {
    EXPECT_EQ(EncodeOptions({}), R"({"quality":2})");
    EXPECT_EQ(DecodeOptions(R"({"quality":2})").quality, 2);
}

TEST(Options, RejectsWhatIsNotAnOptionsObject) {
    EXPECT_THROW(DecodeOptions("[1]"), OptionError);
    EXPECT_THROW(DecodeOptions("not json"), OptionError);
    EXPECT_THROW(DecodeOptions(R"({"quality":"high"})"), OptionError);
    EXPECT_THROW(DecodeOptions(R"({"start_s":"1"})"), OptionError);
}

TEST(Time, Rfc3339InUtcWithMilliseconds) {
    EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(FormatRfc3339(1'795'841'053'123LL), "2026-11-28T04:44:13.123Z");
}

TEST(Mp3NameFor, ReplacesTheExtension) {
    EXPECT_EQ(Mp3NameFor("song.mp4"), "song.mp3");
    EXPECT_EQ(Mp3NameFor("song.MKV"), "song.mp3");
    EXPECT_EQ(Mp3NameFor("song.mp3"), "song.mp3");
    EXPECT_EQ(Mp3NameFor("archive.tar.gz"), "archive.tar.mp3");
    EXPECT_EQ(Mp3NameFor("noext"), "noext.mp3");
    EXPECT_EQ(Mp3NameFor("My Song (live).webm"), "My Song (live).mp3");
    EXPECT_EQ(Mp3NameFor("été.mov"), "été.mp3");
    EXPECT_EQ(Mp3NameFor("song.mp4 "), "song.mp3");
    EXPECT_EQ(Mp3NameFor("song..mp4"), "song.mp3");
}

TEST(Mp3NameFor, LeadingDotsAreDropped) {
    EXPECT_EQ(Mp3NameFor(".hidden"), "hidden.mp3");
    EXPECT_EQ(Mp3NameFor(".hidden.mp4"), "hidden.mp3");
    EXPECT_EQ(Mp3NameFor("...x.mp4"), "x.mp3");
    EXPECT_EQ(Mp3NameFor(".mp4"), "mp4.mp3");  // a name, not an extension
}

TEST(Mp3NameFor, KeepsOnlyTheLastPathComponent) {
    EXPECT_EQ(Mp3NameFor("dir/evil\\..\\x.mp4"), "x.mp3");
    EXPECT_EQ(Mp3NameFor("/etc/passwd"), "passwd.mp3");
    EXPECT_EQ(Mp3NameFor("C:\\Users\\me\\Videos\\clip.avi"), "clip.mp3");
    EXPECT_EQ(Mp3NameFor("../../song.mp4"), "song.mp3");
}

TEST(Mp3NameFor, NothingLeftGivesTheDefault) {
    for (const char* name : {"", ".", "..", "...", "dir/", "dir\\", "a/..", " ", ". . ."}) {
        EXPECT_EQ(Mp3NameFor(name), "audio.mp3") << '"' << name << '"';
    }
}

}  // namespace
}  // namespace v2m::domain
