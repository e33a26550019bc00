#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/convert_options.hpp"

namespace v2m::domain {

/// Where a job is in its life: `queued` → `processing` → `done` | `failed`
/// (a transient failure or a released lease goes back to `queued`).
enum class JobState { kQueued, kProcessing, kDone, kFailed };

std::string_view ToString(JobState state);
std::optional<JobState> ParseJobState(std::string_view text);
/// True when the state machine allows `from` → `to`.
bool CanTransition(JobState from, JobState to);
bool IsFinal(JobState state);

/// Where a job's email is: none yet (not finished), `pending` (to be sent),
/// `sending` (a notifier holds it), `sent`, or `gave_up` (the mailer kept
/// failing past the retry limit).
enum class NotifyState { kNone, kPending, kSending, kSent, kGaveUp };

std::string_view ToString(NotifyState state);
std::optional<NotifyState> ParseNotifyState(std::string_view text);

/// A conversion job as the database holds it. Times are Unix milliseconds.
struct Job {
    std::string id;
    std::string owner_id;  ///< the user's id (the token's `sub`)
    std::string username;  ///< the user's email when they uploaded (the original's `username`)
    std::string filename;  ///< the upload's name as the user gave it
    ConvertOptions options;
    std::string video_fid;
    std::string mp3_fid;  ///< empty until done
    JobState state = JobState::kQueued;
    double progress = 0;
    std::string lease_owner;
    std::int64_t lease_expires_at = 0;
    int attempts = 0;  ///< conversions started
    std::int64_t next_attempt_at = 0;
    std::string error_code;  ///< empty unless failed (or retried after a transient error)
    std::string error_message;
    std::optional<double> duration_s;
    std::optional<std::int64_t> mp3_bytes;
    std::string mp3_sha256;
    std::string trace_id;
    std::int64_t created_at = 0;
    std::int64_t started_at = 0;   ///< 0: not yet
    std::int64_t finished_at = 0;  ///< 0: not yet
    NotifyState notify_state = NotifyState::kNone;
    int notify_attempts = 0;
    std::int64_t notified_at = 0;
    std::string notify_lease_owner;
};

/// How often and how late work is tried again.
struct RetryPolicy {
    int max_attempts = 5;                 ///< then the job fails
    std::int64_t base_delay_ms = 2'000;   ///< first retry after this
    std::int64_t max_delay_ms = 300'000;  ///< never longer than this
};

/// When attempt number `attempts + 1` may start after a transient failure
/// of attempt `attempts` (1-based) at `now_ms`: exponential backoff
/// (base · 2^(attempts-1), capped) with up to +25 % jitter from
/// `jitter01` ∈ [0, 1) so that retries of many jobs spread out.
std::int64_t NextAttemptAt(const RetryPolicy& policy, int attempts, std::int64_t now_ms, double jitter01);

/// True when a job that has made `attempts` attempts may be tried again.
bool MayRetry(const RetryPolicy& policy, int attempts);

/// The options as the job JSON and the database hold them
/// (`{"quality": 2}`, `{"bitrate_kbps": 192, "start_s": 1.5}`), and back.
/// `DecodeOptions` throws `OptionError` for text that is not such an object.
std::string EncodeOptions(const ConvertOptions& options);
ConvertOptions DecodeOptions(std::string_view json);

/// The name of the MP3 made from an upload called `upload_name`: its last path
/// component (after `/` or `\`), leading dots dropped, its extension replaced
/// by `.mp3` ("song.mp4" → "song.mp3", "archive.tar.gz" → "archive.tar.mp3",
/// "noext" → "noext.mp3", ".hidden" → "hidden.mp3"); "audio.mp3" when nothing
/// is left. Not sanitised for headers: pass it to `AttachmentDisposition`.
std::string Mp3NameFor(std::string_view upload_name);

/// RFC 3339 UTC with milliseconds ("2026-11-28T04:44:13.123Z").
std::string FormatRfc3339(std::int64_t unix_ms);

}  // namespace v2m::domain
