#pragma once

// Hand-written fakes of the interfaces to outside systems, for unit tests
// (STYLE.md habit 7). Each keeps its state in memory, is thread-safe, follows
// the contract of its interface (the job store's changes are conditional
// exactly as the SQL ones are), and records what was asked of it so that a
// test can check the order and the arguments of the calls. Header-only: a
// test includes it by path ("testing/fakes.hpp").

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "blob/blob_store.hpp"
#include "broker/broker.hpp"
#include "domain/job.hpp"
#include "mail/mailer.hpp"
#include "store/job_store.hpp"
#include "store/store.hpp"

namespace v2m::fakes {

/// `n` as an id the way the services write them: 32 lowercase hex digits.
inline std::string HexId(std::uint64_t n) {
    char text[33];
    std::snprintf(text, sizeof text, "%016llx%016llx", 0xfa4eULL, static_cast<unsigned long long>(n));
    return text;
}

/// The calls made on the fakes that share it, in order, by name
/// ("ClaimJob", "Ack", "Open", ...). Thread-safe.
class CallLog final {
  public:
    void Add(std::string call) {
        const std::lock_guard lock(mutex_);
        calls_.push_back(std::move(call));
    }
    std::vector<std::string> Calls() const {
        const std::lock_guard lock(mutex_);
        return calls_;
    }
    /// The position of the first call named `call`, or -1.
    int IndexOf(std::string_view call) const {
        const std::lock_guard lock(mutex_);
        const auto it = std::find(calls_.begin(), calls_.end(), call);
        return it == calls_.end() ? -1 : static_cast<int>(it - calls_.begin());
    }
    int Count(std::string_view call) const {
        const std::lock_guard lock(mutex_);
        return static_cast<int>(std::count(calls_.begin(), calls_.end(), call));
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> calls_;
};

/// A stand-in for a content hash: 64 hex digits that depend on every byte
/// (FNV-1a, four rounds). Not SHA-256; the fakes need no more.
inline std::string FakeSha256(std::string_view bytes) {
    std::string out;
    for (std::uint64_t round = 0; round < 4; ++round) {
        std::uint64_t h = 14695981039346656037ULL ^ round;
        for (const char c : bytes) {
            h ^= static_cast<unsigned char>(c);
            h *= 1099511628211ULL;
        }
        char part[17];
        std::snprintf(part, sizeof part, "%016llx", static_cast<unsigned long long>(h));
        out += part;
    }
    return out;
}

/// Blobs in a map, id → bytes. Ids are `HexId(1)`, `HexId(2)`, ... in the
/// order writers are created (or blobs `Put`).
class FakeBlobStore final : public blob::BlobStore {
  public:
    explicit FakeBlobStore(CallLog* log = nullptr) : log_(log) {}

    /// `Create` throws `BlobUnavailable`.
    std::atomic<bool> fail_create{false};
    /// `Open` throws `BlobUnavailable`.
    std::atomic<bool> fail_open{false};
    /// Readers' `Read` throws `BlobUnavailable`.
    std::atomic<bool> fail_reads{false};

    std::unique_ptr<blob::BlobWriter> Create() override {
        Log("Create");
        if (fail_create) throw blob::BlobUnavailable("fake: the storage is unreachable");
        std::string id;
        {
            const std::lock_guard lock(mutex_);
            ++writers_created_;
            id = HexId(++next_id_);
        }
        return std::make_unique<Writer>(*this, std::move(id));
    }

    std::unique_ptr<blob::BlobReader> Open(std::string_view id) override {
        Log("Open");
        if (fail_open) throw blob::BlobUnavailable("fake: the storage is unreachable");
        const std::lock_guard lock(mutex_);
        const auto it = blobs_.find(std::string(id));
        if (it == blobs_.end()) throw blob::BlobNotFound("fake: no blob " + std::string(id));
        return std::make_unique<Reader>(it->second, fail_reads);
    }

    std::optional<std::uint64_t> Stat(std::string_view id) override {
        const std::lock_guard lock(mutex_);
        const auto it = blobs_.find(std::string(id));
        if (it == blobs_.end()) return std::nullopt;
        return it->second->size();
    }

    bool Remove(std::string_view id) override {
        Log("Remove");
        const std::lock_guard lock(mutex_);
        removed_.emplace_back(id);
        return blobs_.erase(std::string(id)) == 1;
    }

    void Ping() override {}

    // --- for the test ---

    /// Stores `bytes` as a committed blob; returns its id.
    std::string Put(std::string bytes) {
        const std::lock_guard lock(mutex_);
        std::string id = HexId(++next_id_);
        blobs_[id] = std::make_shared<const std::string>(std::move(bytes));
        return id;
    }
    /// The bytes of a committed blob.
    std::optional<std::string> Bytes(std::string_view id) const {
        const std::lock_guard lock(mutex_);
        const auto it = blobs_.find(std::string(id));
        if (it == blobs_.end()) return std::nullopt;
        return *it->second;
    }
    /// The ids of the committed blobs, sorted.
    std::vector<std::string> Ids() const {
        const std::lock_guard lock(mutex_);
        std::vector<std::string> ids;
        for (const auto& [id, bytes] : blobs_) ids.push_back(id);
        return ids;
    }
    int writers_created() const {
        const std::lock_guard lock(mutex_);
        return writers_created_;
    }
    /// Writers not yet destroyed.
    int writers_alive() const {
        const std::lock_guard lock(mutex_);
        return writers_alive_;
    }
    /// Every id passed to `Remove`, in order.
    std::vector<std::string> removed() const {
        const std::lock_guard lock(mutex_);
        return removed_;
    }

  private:
    class Writer final : public blob::BlobWriter {
      public:
        Writer(FakeBlobStore& store, std::string id) : store_(store), id_(std::move(id)) {
            const std::lock_guard lock(store_.mutex_);
            ++store_.writers_alive_;
        }
        ~Writer() override {
            const std::lock_guard lock(store_.mutex_);
            --store_.writers_alive_;
        }
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;

        const std::string& id() const override { return id_; }
        void Write(std::span<const std::byte> data) override {
            if (committed_) throw std::logic_error("fake: write after commit");
            bytes_.append(reinterpret_cast<const char*>(data.data()), data.size());
        }
        void Patch(std::uint64_t offset, std::span<const std::byte> data) override {
            if (committed_) throw std::logic_error("fake: patch after commit");
            if (offset > bytes_.size() || data.size() > bytes_.size() - offset)
                throw std::out_of_range("fake: patch outside what was written");
            bytes_.replace(static_cast<std::size_t>(offset), data.size(),
                           reinterpret_cast<const char*>(data.data()), data.size());
        }
        std::uint64_t Size() const override { return bytes_.size(); }
        blob::BlobInfo Commit() override {
            if (committed_) throw std::logic_error("fake: committed twice");
            committed_ = true;
            blob::BlobInfo info{id_, bytes_.size(), FakeSha256(bytes_)};
            store_.Log("Commit");
            const std::lock_guard lock(store_.mutex_);
            store_.blobs_[id_] = std::make_shared<const std::string>(std::move(bytes_));
            return info;
        }

      private:
        FakeBlobStore& store_;
        std::string id_;
        std::string bytes_;
        bool committed_ = false;
    };

    class Reader final : public blob::BlobReader {
      public:
        Reader(std::shared_ptr<const std::string> bytes, const std::atomic<bool>& fail)
            : bytes_(std::move(bytes)), fail_(fail) {}
        std::size_t Read(std::span<std::byte> buffer) override {
            if (fail_) throw blob::BlobUnavailable("fake: the storage is unreachable");
            if (position_ >= bytes_->size()) return 0;
            const std::size_t n =
                std::min<std::size_t>(buffer.size(), bytes_->size() - static_cast<std::size_t>(position_));
            std::copy_n(reinterpret_cast<const std::byte*>(bytes_->data()) + position_, n, buffer.data());
            position_ += n;
            return n;
        }
        void Seek(std::uint64_t offset) override { position_ = offset; }
        std::uint64_t Size() const override { return bytes_->size(); }

      private:
        std::shared_ptr<const std::string> bytes_;
        const std::atomic<bool>& fail_;
        std::uint64_t position_ = 0;
    };

    void Log(const char* call) const {
        if (log_) log_->Add(call);
    }

    CallLog* log_;
    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const std::string>> blobs_;
    std::uint64_t next_id_ = 0;
    int writers_created_ = 0;
    int writers_alive_ = 0;
    std::vector<std::string> removed_;
};

/// A `CompleteJob` call as the fake saw it, and whether it took effect.
struct CompleteCall {
    store::LeaseGuard lease;
    domain::Job done;
    store::BlobRecord mp3;
    store::OutboxMessage message;
    bool accepted = false;
};

/// A `FailJob` or `RequeueJob` call.
struct OutcomeCall {
    store::LeaseGuard lease;
    std::string code;
    std::string reason;
    std::int64_t now = 0;
    store::OutboxMessage message;
    bool accepted = false;
};

struct FinishCall {
    store::LeaseGuard lease;
    bool sent = false;
    std::int64_t now = 0;
    bool accepted = false;
};

struct RetryCall {
    store::LeaseGuard lease;
    store::OutboxMessage message;
    bool accepted = false;
};

/// Jobs, blob rows and the outbox in maps. Every change is conditional in
/// the same way as the SQL of the real store (state, lease owner, the
/// `expired_before` guard), so a worker tested against it meets the refusals
/// it would meet in production.
class FakeJobStore final : public store::JobStore {
  public:
    explicit FakeJobStore(CallLog* log = nullptr) : log_(log) {}

    /// `CreateJob` throws `StoreUnavailable`.
    std::atomic<bool> create_unavailable{false};
    /// Called at the start of `RenewJobLease`, outside the store's lock (so
    /// it may call the store, e.g. delete the job). Set before the workers run.
    std::function<void(const store::LeaseGuard&, double progress)> on_renew;

    void CreateJob(const domain::Job& job, const store::BlobRecord& video,
                   const store::OutboxMessage& message) override {
        Log("CreateJob");
        if (create_unavailable) throw store::StoreUnavailable("fake: the database is unreachable");
        const std::lock_guard lock(mutex_);
        if (jobs_.count(job.id) != 0) throw store::DuplicateError("fake: job " + job.id + " exists");
        domain::Job row = job;
        row.state = domain::JobState::kQueued;
        row.progress = 0;
        row.attempts = 0;
        row.notify_state = domain::NotifyState::kNone;
        jobs_[row.id] = row;
        blob_rows_[video.id] = video;
        outbox_.push_back(message);
    }

    std::optional<domain::Job> FindJob(std::string_view id) override {
        const std::lock_guard lock(mutex_);
        const auto it = jobs_.find(std::string(id));
        if (it == jobs_.end()) return std::nullopt;
        return it->second;
    }

    std::optional<domain::Job> FindJobByMp3(std::string_view mp3_fid) override {
        const std::lock_guard lock(mutex_);
        if (mp3_fid.empty()) return std::nullopt;
        for (const auto& [id, job] : jobs_) {
            if (job.mp3_fid == mp3_fid) return job;
        }
        return std::nullopt;
    }

    std::vector<domain::Job> ListJobs(std::string_view owner_id, int limit,
                                      const std::optional<store::JobCursor>& after) override {
        const std::lock_guard lock(mutex_);
        std::vector<domain::Job> out;
        for (const auto& [id, job] : jobs_) {
            if (job.owner_id != owner_id) continue;
            if (after && !(job.created_at < after->created_at ||
                           (job.created_at == after->created_at && job.id < after->id)))
                continue;
            out.push_back(job);
        }
        std::sort(out.begin(), out.end(), [](const domain::Job& a, const domain::Job& b) {
            return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(std::max(limit, 0)));
        return out;
    }

    std::optional<domain::Job> DeleteJob(std::string_view id) override {
        Log("DeleteJob");
        const std::lock_guard lock(mutex_);
        const auto it = jobs_.find(std::string(id));
        if (it == jobs_.end()) return std::nullopt;
        domain::Job job = it->second;
        jobs_.erase(it);
        blob_rows_.erase(job.video_fid);
        blob_rows_.erase(job.mp3_fid);
        std::erase_if(outbox_, [&](const store::OutboxMessage& m) { return m.job_id == job.id; });
        return job;
    }

    std::optional<domain::Job> ClaimJob(std::string_view id, std::string_view owner, std::int64_t now,
                                        std::int64_t lease_until) override {
        Log("ClaimJob");
        const std::lock_guard lock(mutex_);
        const auto it = jobs_.find(std::string(id));
        if (it == jobs_.end()) return std::nullopt;
        domain::Job& job = it->second;
        if (job.state != domain::JobState::kQueued || job.next_attempt_at > now) return std::nullopt;
        job.state = domain::JobState::kProcessing;
        job.lease_owner = std::string(owner);
        job.lease_expires_at = lease_until;
        ++job.attempts;
        if (job.started_at == 0) job.started_at = now;
        job.progress = 0;
        return job;
    }

    bool RenewJobLease(const store::LeaseGuard& lease, double progress, std::int64_t lease_until) override {
        Log("RenewJobLease");
        if (on_renew) on_renew(lease, progress);
        const std::lock_guard lock(mutex_);
        ++renewals_;
        domain::Job* job = Held(lease);
        if (!job) return false;
        job->progress = progress;
        job->lease_expires_at = lease_until;
        return true;
    }

    bool CompleteJob(const store::LeaseGuard& lease, const domain::Job& done, const store::BlobRecord& mp3,
                     const store::OutboxMessage& message) override {
        Log("CompleteJob");
        const std::lock_guard lock(mutex_);
        CompleteCall call{lease, done, mp3, message, false};
        if (domain::Job* job = Held(lease)) {
            job->state = domain::JobState::kDone;
            job->mp3_fid = done.mp3_fid;
            job->duration_s = done.duration_s;
            job->mp3_bytes = done.mp3_bytes;
            job->mp3_sha256 = done.mp3_sha256;
            job->progress = 1;
            job->finished_at = done.finished_at;
            job->lease_owner.clear();
            job->lease_expires_at = 0;
            job->error_code.clear();
            job->error_message.clear();
            job->notify_state = domain::NotifyState::kPending;
            blob_rows_[mp3.id] = mp3;
            outbox_.push_back(message);
            call.accepted = true;
        }
        completes_.push_back(call);
        return call.accepted;
    }

    bool FailJob(const store::LeaseGuard& lease, std::string_view code, std::string_view reason,
                 std::int64_t now, const store::OutboxMessage& message) override {
        Log("FailJob");
        const std::lock_guard lock(mutex_);
        OutcomeCall call{lease, std::string(code), std::string(reason), now, message, false};
        if (domain::Job* job = Held(lease)) {
            job->state = domain::JobState::kFailed;
            job->error_code = code;
            job->error_message = reason;
            job->finished_at = now;
            job->lease_owner.clear();
            job->lease_expires_at = 0;
            job->notify_state = domain::NotifyState::kPending;
            outbox_.push_back(message);
            call.accepted = true;
        }
        fails_.push_back(call);
        return call.accepted;
    }

    bool RequeueJob(const store::LeaseGuard& lease, std::string_view code, std::string_view reason,
                    std::int64_t now, const store::OutboxMessage& message) override {
        Log("RequeueJob");
        const std::lock_guard lock(mutex_);
        OutcomeCall call{lease, std::string(code), std::string(reason), now, message, false};
        if (domain::Job* job = Held(lease)) {
            job->state = domain::JobState::kQueued;
            job->lease_owner.clear();
            job->lease_expires_at = 0;
            job->progress = 0;
            job->next_attempt_at = message.available_at;
            job->error_code = code;
            job->error_message = reason;
            outbox_.push_back(message);
            call.accepted = true;
        }
        requeues_.push_back(call);
        return call.accepted;
    }

    std::vector<domain::Job> ExpiredJobs(std::int64_t now, int limit) override {
        const std::lock_guard lock(mutex_);
        std::vector<domain::Job> out;
        for (const auto& [id, job] : jobs_) {
            if (job.state == domain::JobState::kProcessing && job.lease_expires_at < now) out.push_back(job);
        }
        std::sort(out.begin(), out.end(), [](const domain::Job& a, const domain::Job& b) {
            return a.lease_expires_at < b.lease_expires_at;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(std::max(limit, 0)));
        return out;
    }

    std::optional<domain::Job> ClaimNotification(std::string_view job_id, std::string_view owner,
                                                 std::int64_t now, std::int64_t lease_until) override {
        Log("ClaimNotification");
        const std::lock_guard lock(mutex_);
        const auto it = jobs_.find(std::string(job_id));
        if (it == jobs_.end()) return std::nullopt;
        domain::Job& job = it->second;
        const bool pending = job.notify_state == domain::NotifyState::kPending;
        const bool abandoned =
            job.notify_state == domain::NotifyState::kSending && notify_lease_until_[job.id] < now;
        if (!pending && !abandoned) return std::nullopt;
        job.notify_state = domain::NotifyState::kSending;
        job.notify_lease_owner = std::string(owner);
        notify_lease_until_[job.id] = lease_until;
        ++job.notify_attempts;
        return job;
    }

    bool FinishNotification(const store::LeaseGuard& lease, bool sent, std::int64_t now) override {
        Log("FinishNotification");
        const std::lock_guard lock(mutex_);
        FinishCall call{lease, sent, now, false};
        if (domain::Job* job = NotifyHeld(lease)) {
            job->notify_state = sent ? domain::NotifyState::kSent : domain::NotifyState::kGaveUp;
            job->notified_at = now;
            job->notify_lease_owner.clear();
            notify_lease_until_.erase(job->id);
            call.accepted = true;
        }
        finishes_.push_back(call);
        return call.accepted;
    }

    bool RetryNotification(const store::LeaseGuard& lease, const store::OutboxMessage& message) override {
        Log("RetryNotification");
        const std::lock_guard lock(mutex_);
        RetryCall call{lease, message, false};
        if (domain::Job* job = NotifyHeld(lease)) {
            job->notify_state = domain::NotifyState::kPending;
            job->notify_lease_owner.clear();
            notify_lease_until_.erase(job->id);
            outbox_.push_back(message);
            call.accepted = true;
        }
        retries_.push_back(call);
        return call.accepted;
    }

    std::vector<domain::Job> ExpiredNotifications(std::int64_t now, int limit) override {
        const std::lock_guard lock(mutex_);
        std::vector<domain::Job> out;
        for (const auto& [id, job] : jobs_) {
            const auto until = notify_lease_until_.find(id);
            if (job.notify_state == domain::NotifyState::kSending && until != notify_lease_until_.end() &&
                until->second < now)
                out.push_back(job);
        }
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(std::max(limit, 0)));
        return out;
    }

    std::optional<store::OutboxMessage> ClaimMessage(std::string_view queue, std::string_view owner,
                                                     std::int64_t now, std::int64_t lease_until) override {
        const std::lock_guard lock(mutex_);
        store::OutboxMessage* best = nullptr;
        for (store::OutboxMessage& m : outbox_) {
            if (m.queue != queue || m.available_at > now || message_lease_until_[m.id] > now) continue;
            if (!best || m.available_at < best->available_at ||
                (m.available_at == best->available_at && m.id < best->id))
                best = &m;
        }
        if (!best) return std::nullopt;
        message_lease_until_[best->id] = lease_until;
        message_owner_[best->id] = std::string(owner);
        ++best->deliveries;
        return *best;
    }

    void DeleteMessage(std::string_view id) override {
        const std::lock_guard lock(mutex_);
        std::erase_if(outbox_, [&](const store::OutboxMessage& m) { return m.id == id; });
    }

    std::vector<store::OutboxMessage> DueMessages(std::int64_t now, int limit) override {
        const std::lock_guard lock(mutex_);
        std::vector<store::OutboxMessage> out;
        for (const store::OutboxMessage& m : outbox_) {
            if (m.available_at <= now && message_lease_until_[m.id] <= now) out.push_back(m);
        }
        std::sort(out.begin(), out.end(), [](const store::OutboxMessage& a, const store::OutboxMessage& b) {
            return a.available_at != b.available_at ? a.available_at < b.available_at : a.id < b.id;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(std::max(limit, 0)));
        return out;
    }

    void MoveMessage(std::string_view id, std::string_view queue) override {
        const std::lock_guard lock(mutex_);
        for (store::OutboxMessage& m : outbox_) {
            if (m.id != id) continue;
            m.queue = std::string(queue);
            message_lease_until_.erase(m.id);
            message_owner_.erase(m.id);
        }
    }

    void AddMessage(const store::OutboxMessage& message) override {
        const std::lock_guard lock(mutex_);
        outbox_.push_back(message);
    }

    // --- for the test ---

    /// Puts a job in as it is (any state, lease, attempts).
    void Put(const domain::Job& job) {
        const std::lock_guard lock(mutex_);
        jobs_[job.id] = job;
    }
    /// A `sending` email's lease (the job row keeps no expiry).
    void SetNotifyLease(const std::string& job_id, std::int64_t until) {
        const std::lock_guard lock(mutex_);
        notify_lease_until_[job_id] = until;
    }
    std::vector<store::OutboxMessage> Outbox() const {
        const std::lock_guard lock(mutex_);
        return outbox_;
    }
    std::map<std::string, store::BlobRecord> BlobRows() const {
        const std::lock_guard lock(mutex_);
        return blob_rows_;
    }
    std::vector<CompleteCall> completes() const {
        const std::lock_guard lock(mutex_);
        return completes_;
    }
    std::vector<OutcomeCall> fails() const {
        const std::lock_guard lock(mutex_);
        return fails_;
    }
    std::vector<OutcomeCall> requeues() const {
        const std::lock_guard lock(mutex_);
        return requeues_;
    }
    std::vector<FinishCall> finishes() const {
        const std::lock_guard lock(mutex_);
        return finishes_;
    }
    std::vector<RetryCall> retries() const {
        const std::lock_guard lock(mutex_);
        return retries_;
    }
    int renewals() const {
        const std::lock_guard lock(mutex_);
        return renewals_;
    }

  private:
    // The job if `lease` still holds it: processing, the same owner and, for
    // a guarded call, a lease that expired before `expired_before`.
    domain::Job* Held(const store::LeaseGuard& lease) {
        const auto it = jobs_.find(lease.job_id);
        if (it == jobs_.end()) return nullptr;
        domain::Job& job = it->second;
        if (job.state != domain::JobState::kProcessing || job.lease_owner != lease.owner) return nullptr;
        if (lease.expired_before != 0 && !(job.lease_expires_at < lease.expired_before)) return nullptr;
        return &job;
    }

    domain::Job* NotifyHeld(const store::LeaseGuard& lease) {
        const auto it = jobs_.find(lease.job_id);
        if (it == jobs_.end()) return nullptr;
        domain::Job& job = it->second;
        if (job.notify_state != domain::NotifyState::kSending || job.notify_lease_owner != lease.owner)
            return nullptr;
        if (lease.expired_before != 0 && !(notify_lease_until_[job.id] < lease.expired_before))
            return nullptr;
        return &job;
    }

    void Log(const char* call) const {
        if (log_) log_->Add(call);
    }

    CallLog* log_;
    mutable std::mutex mutex_;
    std::map<std::string, domain::Job> jobs_;
    std::map<std::string, std::int64_t> notify_lease_until_;
    std::map<std::string, store::BlobRecord> blob_rows_;
    std::vector<store::OutboxMessage> outbox_;
    std::map<std::string, std::int64_t> message_lease_until_;
    std::map<std::string, std::string> message_owner_;
    std::vector<CompleteCall> completes_;
    std::vector<OutcomeCall> fails_;
    std::vector<OutcomeCall> requeues_;
    std::vector<FinishCall> finishes_;
    std::vector<RetryCall> retries_;
    int renewals_ = 0;
};

/// Queues of deliveries the test pushes; records acks, rejects, publishes
/// and nudges.
class FakeBroker final : public broker::Broker {
  public:
    explicit FakeBroker(CallLog* log = nullptr) : log_(log) {}

    void Publish(const std::string& queue, std::string_view body) override {
        Log("Publish");
        const std::lock_guard lock(mutex_);
        published_.emplace_back(queue, std::string(body));
    }

    std::optional<broker::Delivery> Receive(const std::string& queue, std::chrono::milliseconds wait,
                                            const std::stop_token& stop) override {
        std::unique_lock lock(mutex_);
        std::deque<broker::Delivery>& waiting = queues_[queue];
        cv_.wait_for(lock, stop, wait, [&] { return !waiting.empty(); });
        if (waiting.empty()) return std::nullopt;
        broker::Delivery d = std::move(waiting.front());
        waiting.pop_front();
        lock.unlock();
        Log("Receive");
        return d;
    }

    void Ack(const broker::Delivery& delivery) override {
        Log("Ack");
        const std::lock_guard lock(mutex_);
        acked_.push_back(delivery.tag);
    }

    void Reject(const broker::Delivery& delivery) override {
        Log("Reject");
        const std::lock_guard lock(mutex_);
        rejected_.push_back(delivery.tag);
    }

    bool NeedsRelay() const override { return false; }
    void Nudge() override { ++nudges_; }
    void Ping() override {}

    // --- for the test ---

    /// Queues a delivery of `body` on `queue`; returns its tag.
    std::string Push(const std::string& queue, std::string body) {
        std::string tag;
        {
            const std::lock_guard lock(mutex_);
            tag = "tag-" + std::to_string(++next_tag_);
            queues_[queue].push_back(broker::Delivery{queue, std::move(body), tag, 1});
        }
        cv_.notify_all();
        return tag;
    }
    std::vector<std::string> acked() const {
        const std::lock_guard lock(mutex_);
        return acked_;
    }
    std::vector<std::string> rejected() const {
        const std::lock_guard lock(mutex_);
        return rejected_;
    }
    std::vector<std::pair<std::string, std::string>> published() const {
        const std::lock_guard lock(mutex_);
        return published_;
    }
    int nudges() const { return nudges_; }

  private:
    void Log(const char* call) const {
        if (log_) log_->Add(call);
    }

    CallLog* log_;
    mutable std::mutex mutex_;
    std::condition_variable_any cv_;
    std::map<std::string, std::deque<broker::Delivery>> queues_;
    std::vector<std::string> acked_;
    std::vector<std::string> rejected_;
    std::vector<std::pair<std::string, std::string>> published_;
    int next_tag_ = 0;
    std::atomic<int> nudges_{0};
};

/// One `Send` as the fake received it.
struct SentMail {
    std::string from;
    std::string to;
    std::string message_id;
    std::string bytes;
};

/// Keeps what it is asked to send; `fail`, when set, runs first and may
/// throw (`MailUnavailable`, `MailRejected`) to play a mail server's refusal.
class FakeMailer final : public mail::Mailer {
  public:
    explicit FakeMailer(CallLog* log = nullptr) : log_(log) {}

    /// Set before the workers run.
    std::function<void()> fail;

    void Send(const std::string& from, const std::string& to, const std::string& message_id,
              std::string_view bytes) override {
        if (log_) log_->Add("Send");
        {
            const std::lock_guard lock(mutex_);
            ++attempts_;
        }
        if (fail) fail();
        const std::lock_guard lock(mutex_);
        sent_.push_back({from, to, message_id, std::string(bytes)});
    }

    std::vector<SentMail> sent() const {
        const std::lock_guard lock(mutex_);
        return sent_;
    }
    int attempts() const {
        const std::lock_guard lock(mutex_);
        return attempts_;
    }

  private:
    CallLog* log_;
    mutable std::mutex mutex_;
    std::vector<SentMail> sent_;
    int attempts_ = 0;
};

/// Waits until `done` holds (polling), at most `timeout`; returns `done()`.
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace v2m::fakes
