#include "domain/message.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace v2m::domain {
namespace {

TEST(Message, KeepsTheOriginalKeys) {
    const QueueMessage m{.job_id = "j1",
                         .video_fid = "v1",
                         .mp3_fid = "",
                         .username = "a@b.c",
                         .trace_id = "t1",
                         .event = "convert"};
    const auto j = nlohmann::json::parse(EncodeMessage(m));
    EXPECT_EQ(j.at("video_fid"), "v1");
    EXPECT_TRUE(j.at("mp3_fid").is_null());
    EXPECT_EQ(j.at("username"), "a@b.c");
    EXPECT_EQ(j.at("job_id"), "j1");
    EXPECT_EQ(j.at("trace_id"), "t1");
    EXPECT_EQ(j.at("event"), "convert");
}

TEST(Message, RoundTrips) {
    const QueueMessage m{.job_id = "j1",
                         .video_fid = "v1",
                         .mp3_fid = "m1",
                         .username = "ü@b.c",
                         .trace_id = "t1",
                         .event = "done"};
    const auto back = DecodeMessage(EncodeMessage(m));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->job_id, "j1");
    EXPECT_EQ(back->video_fid, "v1");
    EXPECT_EQ(back->mp3_fid, "m1");
    EXPECT_EQ(back->username, "ü@b.c");
    EXPECT_EQ(back->event, "done");
}

TEST(Message, ForeignMessagesWithOnlyTheOriginalKeysNameNoJob) {
    // What the Python original published: no job id, so nothing to claim.
    EXPECT_FALSE(DecodeMessage(R"({"video_fid":"x","mp3_fid":null,"username":"u"})"));
}

TEST(Message, RejectsGarbage) {
    EXPECT_FALSE(DecodeMessage(""));
    EXPECT_FALSE(DecodeMessage("not json"));
    EXPECT_FALSE(DecodeMessage("[]"));
    EXPECT_FALSE(DecodeMessage(R"({"job_id":42})"));
    EXPECT_FALSE(DecodeMessage(R"({"job_id":"j","username":7})"));
    EXPECT_FALSE(DecodeMessage(R"({"job_id":""})"));
    EXPECT_FALSE(DecodeMessage(std::string(70'000, ' ')));
    EXPECT_TRUE(DecodeMessage(R"({"job_id":"j"})"));
}

}  // namespace
}  // namespace v2m::domain
