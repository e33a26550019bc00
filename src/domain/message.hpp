#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace v2m::domain {

/// A queue message. The original system's keys (`video_fid`, `mp3_fid`,
/// `username`) stay so that its tools still read ours; `job_id` names the
/// database row that holds the truth, `trace_id` follows the job through logs.
struct QueueMessage {
    std::string job_id;
    std::string video_fid;
    std::string mp3_fid;   ///< empty on `video` messages and failures
    std::string username;  ///< the owner's email
    std::string trace_id;
    std::string event;  ///< "convert" on `video`; "done" or "failed" on `mp3`
};

/// The JSON body: `{"video_fid", "mp3_fid" (null when empty), "username",
/// "job_id", "trace_id", "event"}`.
std::string EncodeMessage(const QueueMessage& message);

/// Parses a body; empty when it is not JSON or names no job (such a message is
/// dead-lettered, never retried).
std::optional<QueueMessage> DecodeMessage(std::string_view body);

}  // namespace v2m::domain
