#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/job.hpp"
#include "domain/message.hpp"

namespace v2m::store {

/// A committed blob that a job refers to (the bytes are in the blob store).
struct BlobRecord {
    std::string id;
    std::string owner_id;
    std::string kind;  ///< "video" or "mp3"
    std::uint64_t size = 0;
    std::string sha256;
    std::int64_t created_at = 0;
};

/// A message written in the same transaction as the change it announces.
struct OutboxMessage {
    std::string id;  ///< 128-bit random
    std::string queue;
    std::string body;  ///< see `domain::EncodeMessage`
    std::string job_id;
    std::int64_t created_at = 0;
    std::int64_t available_at = 0;  ///< not delivered before (retry backoff)
    int deliveries = 0;             ///< times handed to a consumer (db broker)
};

/// The outbox row carrying `message` on `queue`, due at `available_at`.
OutboxMessage MakeOutboxMessage(std::string_view queue, const domain::QueueMessage& message, std::int64_t now,
                                std::int64_t available_at);

/// Names a job lease held by `owner`. With `expired_before` set, the call
/// only acts while that lease's expiry lies before it (the reaper taking
/// over a dead worker's job must not take it from a live, slow one).
struct LeaseGuard {
    std::string job_id;
    std::string owner;
    std::int64_t expired_before = 0;  ///< 0: the owner itself acts
};

/// A position in "my jobs, newest first": the last job of the previous page.
struct JobCursor {
    std::int64_t created_at = 0;
    std::string id;
};

/// Jobs, their blobs' metadata, and the outbox. The row is the truth: every
/// change is a conditional update, so at-least-once messages, crashed
/// workers and concurrent reapers cannot move a job twice. Thread-safe;
/// blocking; throws `StoreUnavailable` when the database cannot be reached.
class JobStore {
  public:
    virtual ~JobStore() = default;

    // --- the gateway ---

    /// One transaction: the video's blob row, the job (`queued`), and the
    /// message announcing it.
    virtual void CreateJob(const domain::Job& job, const BlobRecord& video, const OutboxMessage& message) = 0;
    virtual std::optional<domain::Job> FindJob(std::string_view id) = 0;
    virtual std::optional<domain::Job> FindJobByMp3(std::string_view mp3_fid) = 0;
    /// The owner's jobs, newest first, at most `limit`, after `after`.
    virtual std::vector<domain::Job> ListJobs(std::string_view owner_id, int limit,
                                              const std::optional<JobCursor>& after) = 0;
    /// Deletes the job, its blob rows and its pending messages; returns the job
    /// as it was (its blobs are the caller's to remove), or empty when there
    /// was none. A converter holding it finds its lease gone and stops.
    virtual std::optional<domain::Job> DeleteJob(std::string_view id) = 0;

    // --- the converter ---

    /// `queued` → `processing` with a lease for `owner` until `lease_until`,
    /// counting the attempt; empty when the job is not queued (taken, done,
    /// deleted) or its next attempt is not due.
    virtual std::optional<domain::Job> ClaimJob(std::string_view id, std::string_view owner, std::int64_t now,
                                                std::int64_t lease_until) = 0;
    /// Extends the lease and records progress; false when the lease is lost
    /// (deleted, or taken over): the conversion must stop.
    virtual bool RenewJobLease(const LeaseGuard& lease, double progress, std::int64_t lease_until) = 0;
    /// One transaction: the MP3's blob row, the job `done` with `done`'s
    /// mp3_fid, duration_s, mp3_bytes, mp3_sha256 and finished_at, and the
    /// `mp3` message. False when the lease was lost (nothing written).
    virtual bool CompleteJob(const LeaseGuard& lease, const domain::Job& done, const BlobRecord& mp3,
                             const OutboxMessage& message) = 0;
    /// `processing` → `failed` with the reason, and the failure
    /// message for the notifier. False when the lease was lost.
    virtual bool FailJob(const LeaseGuard& lease, std::string_view code, std::string_view reason,
                         std::int64_t now, const OutboxMessage& message) = 0;
    /// `processing` → `queued`, due at `message.available_at`, with the
    /// transient error that caused it (empty when the job is just released).
    virtual bool RequeueJob(const LeaseGuard& lease, std::string_view code, std::string_view reason,
                            std::int64_t now, const OutboxMessage& message) = 0;
    /// Jobs in `processing` whose lease expired before `now` (at most `limit`).
    virtual std::vector<domain::Job> ExpiredJobs(std::int64_t now, int limit) = 0;

    // --- the notifier ---

    /// The job's email `pending` (or `sending` with an expired lease) →
    /// `sending` for `owner`; empty when it is not pending.
    virtual std::optional<domain::Job> ClaimNotification(std::string_view job_id, std::string_view owner,
                                                         std::int64_t now, std::int64_t lease_until) = 0;
    /// `sending` → `sent` (or `gave_up`), recording `notified_at`.
    virtual bool FinishNotification(const LeaseGuard& lease, bool sent, std::int64_t now) = 0;
    /// `sending` → `pending` with the message that will try again later.
    virtual bool RetryNotification(const LeaseGuard& lease, const OutboxMessage& message) = 0;
    /// Jobs whose email is `sending` with a lease expired before `now`.
    virtual std::vector<domain::Job> ExpiredNotifications(std::int64_t now, int limit) = 0;

    // --- the outbox ---

    /// Hands the oldest due message of `queue` to `owner` until `lease_until`
    /// (a consumer that dies lets it come back then); empty when none is due.
    /// Two consumers never get the same message at once.
    virtual std::optional<OutboxMessage> ClaimMessage(std::string_view queue, std::string_view owner,
                                                      std::int64_t now, std::int64_t lease_until) = 0;
    /// Removes a message (acknowledged, or published to the broker).
    virtual void DeleteMessage(std::string_view id) = 0;
    /// Due messages of any queue, oldest first (for the relay to a broker).
    virtual std::vector<OutboxMessage> DueMessages(std::int64_t now, int limit) = 0;
    /// Moves a message to another queue (the dead-letter queue) in one step,
    /// free for a consumer of that queue.
    virtual void MoveMessage(std::string_view id, std::string_view queue) = 0;
    /// Writes a message on its own (a re-announcement by the reaper).
    virtual void AddMessage(const OutboxMessage& message) = 0;
};

}  // namespace v2m::store
