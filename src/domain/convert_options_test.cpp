#include "domain/convert_options.hpp"

#include <gtest/gtest.h>

namespace v2m::domain {
namespace {

TEST(ParseTime, AcceptsSecondsAndClockForms) {
    EXPECT_DOUBLE_EQ(*ParseTime("0"), 0.0);
    EXPECT_DOUBLE_EQ(*ParseTime("90"), 90.0);
    EXPECT_DOUBLE_EQ(*ParseTime("90.25"), 90.25);
    EXPECT_DOUBLE_EQ(*ParseTime(".5"), 0.5);
    EXPECT_DOUBLE_EQ(*ParseTime("1:30"), 90.0);
    EXPECT_DOUBLE_EQ(*ParseTime("01:02:03.456"), 3723.456);
    EXPECT_DOUBLE_EQ(*ParseTime("100:00:00"), 360000.0);
    EXPECT_DOUBLE_EQ(*ParseTime("0:59.999"), 59.999);
}

TEST(ParseTime, RejectsAnythingElse) {
    for (const char* bad : {"", "-1", "abc", "1:", ":1", "1::2", "1:60", "1:60:00", "1:2:3:4", "1.2.3", "1e3",
                            "inf", "nan", " 1", "1 ", "+1", "1:2.5:3", ".", "0x10"}) {
        EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
    }
}

TEST(ParseBitrate, KilobitsOrBits) {
    EXPECT_EQ(*ParseBitrateKbps("192"), 192);
    EXPECT_EQ(*ParseBitrateKbps("192k"), 192);
    EXPECT_EQ(*ParseBitrateKbps("192K"), 192);
    EXPECT_EQ(*ParseBitrateKbps("192000"), 192);
    for (const char* bad : {"", "k", "0", "-128", "12.5k", "192001", "192kb", "abc"}) {
        EXPECT_FALSE(ParseBitrateKbps(bad).has_value()) << bad;
    }
}

TEST(SampleRates, NearestMp3Rate) {
    EXPECT_EQ(NearestMp3SampleRate(96000), 48000);
    EXPECT_EQ(NearestMp3SampleRate(88200), 48000);
    EXPECT_EQ(NearestMp3SampleRate(44100), 44100);
    EXPECT_EQ(NearestMp3SampleRate(8000), 8000);
    EXPECT_EQ(NearestMp3SampleRate(4000), 8000);
    EXPECT_EQ(NearestMp3SampleRate(64000), 48000);
    EXPECT_EQ(NearestMp3SampleRate(37800), 32000);
    EXPECT_TRUE(IsMp3SampleRate(22050));
    EXPECT_FALSE(IsMp3SampleRate(96000));
}

TEST(Validate, AcceptsDefaultsAndGoodValues) {
    EXPECT_NO_THROW(Validate({}));
    ConvertOptions o;
    o.quality = 0;
    o.sample_rate = 44100;
    o.channels = 1;
    o.start_s = 1;
    o.end_s = 2;
    EXPECT_NO_THROW(Validate(o));
    ConvertOptions cbr;
    cbr.bitrate_kbps = 8;
    cbr.sample_rate = 8000;
    EXPECT_NO_THROW(Validate(cbr));
}

TEST(Validate, RejectsEachMistakeWithAMessage) {
    auto expect_error = [](ConvertOptions o, const std::string& fragment) {
        try {
            Validate(o);
            ADD_FAILURE() << "accepted; wanted an error mentioning " << fragment;
        } catch (const OptionError& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        }
    };
    expect_error({.quality = 10}, "quality");
    expect_error({.quality = -1}, "quality");
    expect_error({.quality = 2, .bitrate_kbps = 128}, "either");
    expect_error({.bitrate_kbps = 100}, "not an MP3 bitrate");
    expect_error({.bitrate_kbps = 320, .sample_rate = 22050}, "not possible at 22050");
    expect_error({.bitrate_kbps = 8, .sample_rate = 44100}, "not possible at 44100");
    expect_error({.sample_rate = 96000}, "not an MP3 rate");
    expect_error({.channels = 3}, "channels");
    expect_error({.start_s = -1}, "start");
    expect_error({.start_s = 5, .end_s = 5}, "must come after");
    expect_error({.stream_index = -2}, "stream");
}

TEST(ResolveOutputFormat, FollowsTheSourceWithinMp3Limits) {
    EXPECT_EQ(ResolveOutputFormat({}, 48000, 6).sample_rate, 48000);
    EXPECT_EQ(ResolveOutputFormat({}, 48000, 6).channels, 2);
    EXPECT_EQ(ResolveOutputFormat({}, 8000, 1).sample_rate, 8000);
    EXPECT_EQ(ResolveOutputFormat({}, 8000, 1).channels, 1);
    EXPECT_EQ(ResolveOutputFormat({}, 96000, 2).sample_rate, 48000);
    EXPECT_EQ(ResolveOutputFormat({.sample_rate = 22050, .channels = 1}, 48000, 2).sample_rate, 22050);
    EXPECT_EQ(ResolveOutputFormat({.channels = 2}, 8000, 1).channels, 2);
}

TEST(ResolveOutputFormat, CbrPicksARateThatCarriesTheBitrate) {
    // 320k exists only for MPEG-1 rates: an 8 kHz source goes up to 32 kHz.
    EXPECT_EQ(ResolveOutputFormat({.bitrate_kbps = 320}, 8000, 1).sample_rate, 32000);
    // 8k exists only for MPEG-2/2.5 rates: a 48 kHz source goes down to 24 kHz.
    EXPECT_EQ(ResolveOutputFormat({.bitrate_kbps = 8}, 48000, 2).sample_rate, 24000);
    EXPECT_EQ(ResolveOutputFormat({.bitrate_kbps = 192}, 44100, 2).sample_rate, 44100);
    EXPECT_THROW(ResolveOutputFormat({.bitrate_kbps = 320, .sample_rate = 16000}, 44100, 2), OptionError);
}

TEST(FormatTime, ClockForm) {
    EXPECT_EQ(FormatTime(0), "00:00:00.000");
    EXPECT_EQ(FormatTime(3723.456), "01:02:03.456");
    EXPECT_EQ(FormatTime(-5), "00:00:00.000");
}

}  // namespace
}  // namespace v2m::domain
