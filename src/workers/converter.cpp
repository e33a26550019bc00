#include "workers/converter.hpp"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "domain/message.hpp"
#include "engine/transcoder.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "workers/blob_io.hpp"

namespace v2m::workers {

namespace {

domain::QueueMessage MessageFor(const domain::Job& job, std::string event) {
    return {.job_id = job.id,
            .video_fid = job.video_fid,
            .mp3_fid = job.mp3_fid,
            .username = job.username,
            .trace_id = job.trace_id,
            .event = std::move(event)};
}

}  // namespace

struct Converter::Impl {
    store::JobStore& jobs;
    blob::BlobStore& blobs;
    broker::Broker& broker;
    ConverterSettings settings;
    Clock now_ms;
    prometheus::Family<prometheus::Counter>& outcomes;
    std::mutex random_mutex;
    std::mt19937_64 random{std::random_device{}()};

    Impl(store::JobStore& j, blob::BlobStore& b, broker::Broker& k, obs::Metrics& metrics,
         ConverterSettings s, Clock clock)
        : jobs(j),
          blobs(b),
          broker(k),
          settings(std::move(s)),
          now_ms(std::move(clock)),
          outcomes(prometheus::BuildCounter()
                       .Name("v2m_conversions_total")
                       .Help("Conversions by outcome (done, failed, retried, released, lost)")
                       .Register(metrics.registry())) {
        // Every series exists from the start, so that rates over them are 0, not "no data".
        for (const char* outcome : {"done", "failed", "retried", "released", "lost"})
            outcomes.Add({{"outcome", outcome}});
    }

    void Count(const std::string& outcome) { outcomes.Add({{"outcome", outcome}}).Increment(); }

    double Jitter() {
        std::lock_guard lock(random_mutex);
        return std::uniform_real_distribution<double>(0.0, 1.0)(random);
    }

    store::OutboxMessage VideoMessage(const domain::Job& job, std::int64_t now, std::int64_t due) const {
        return store::MakeOutboxMessage(settings.video_queue, MessageFor(job, "convert"), now, due);
    }
    store::OutboxMessage Mp3Message(const domain::Job& job, const char* event, std::int64_t now) const {
        return store::MakeOutboxMessage(settings.mp3_queue, MessageFor(job, event), now, now);
    }

    // A slot: waits for a message, claims, converts; until stop.
    void Slot(const std::stop_token& stop) {
        while (!stop.stop_requested()) {
            try {
                auto delivery = broker.Receive(settings.video_queue, std::chrono::seconds(1), stop);
                if (!delivery) continue;
                Take(*delivery, stop);
            } catch (const std::exception& e) {
                spdlog::warn("converter: {}", e.what());
                // The database or broker is away: do not spin.
                std::this_thread::sleep_for(std::chrono::seconds(1));
            }
        }
    }

    void Take(const broker::Delivery& delivery, const std::stop_token& stop) {
        const auto message = domain::DecodeMessage(delivery.body);
        if (!message) {
            spdlog::error("converter: a message on {} that names no job: dead-lettered", delivery.queue);
            broker.Reject(delivery);
            return;
        }
        const obs::ScopedTrace trace(message->trace_id, message->job_id);
        const std::int64_t now = now_ms();
        auto job = jobs.ClaimJob(message->job_id, settings.worker_id, now, now + settings.lease.count());
        if (!job && !jobs.FindJob(message->job_id)) {
            // Never was, or deleted since: nothing will ever handle it.
            spdlog::warn("converter: a message on {} names job {}, which does not exist: dead-lettered",
                         delivery.queue, message->job_id);
            broker.Reject(delivery);
            return;
        }
        // Acknowledged at once: the job row holds the truth from here on.
        broker.Ack(delivery);
        if (!job) {
            spdlog::debug("converter: job {} is not waiting (taken, finished or deleted)", message->job_id);
            return;
        }
        Convert(*job, stop);
    }

    void Convert(const domain::Job& job, const std::stop_token& shutdown) {
        const store::LeaseGuard guard{job.id, settings.worker_id, 0};
        std::stop_source cancel;
        const std::stop_callback on_shutdown(shutdown, [&cancel] { cancel.request_stop(); });
        std::atomic<bool> lease_lost{false};
        auto last_renewal = std::chrono::steady_clock::now();
        engine::Hooks hooks;
        hooks.stop = cancel.get_token();
        hooks.max_duration_s = settings.max_duration_s;
        hooks.on_progress = [&](double progress) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_renewal < settings.renew_every && progress < 1.0) return;
            last_renewal = now;
            try {
                if (!jobs.RenewJobLease(guard, progress, now_ms() + settings.lease.count())) {
                    lease_lost = true;
                    cancel.request_stop();
                }
            } catch (const std::exception& e) {
                // The lease outlives a short outage; the reaper handles a long one.
                spdlog::warn("converter: job {}: cannot renew the lease: {}", job.id, e.what());
            }
        };
        spdlog::info("converter: job {} started, attempt {}", job.id, job.attempts);
        try {
            auto reader = blobs.Open(job.video_fid);
            auto writer = blobs.Create();
            BlobSource source(*reader);
            BlobSink sink(*writer);
            const engine::Result result = engine::Convert({source, job.filename}, sink, job.options, hooks);
            const blob::BlobInfo info = writer->Commit();
            const std::int64_t now = now_ms();
            domain::Job done = job;
            done.mp3_fid = info.id;
            done.duration_s = result.duration_s;
            done.mp3_bytes = static_cast<std::int64_t>(info.size);
            done.mp3_sha256 = info.sha256;
            done.finished_at = now;
            const store::BlobRecord record{info.id, job.owner_id, "mp3", info.size, info.sha256, now};
            bool completed = false;
            try {
                completed = jobs.CompleteJob(guard, done, record, Mp3Message(done, "done", now));
            } catch (...) {
                // The commit may have happened all the same (the connection broke
                // after it): the MP3 goes only when the row surely does not name it.
                DiscardUnlessRecorded(job.id, info.id);
                throw;
            }
            if (!completed) {
                // Deleted while converting, or taken over: the MP3 belongs to no
                // one — unless a commit that seemed to fail was retried (the row
                // then names it already).
                DiscardUnlessRecorded(job.id, info.id);
                Count("lost");
                spdlog::info("converter: job {} was deleted or taken over; its MP3 is discarded", job.id);
                return;
            }
            Count("done");
            broker.Nudge();
            spdlog::info("converter: job {} done: {:.1f} s of audio, {} bytes", job.id, result.duration_s,
                         info.size);
        } catch (const engine::ConversionError& e) {
            if (e.code() == domain::ErrorCode::kCancelled) {
                if (lease_lost) {
                    Count("lost");
                    spdlog::info("converter: job {} was deleted or taken over: stopped", job.id);
                } else {
                    Release(job, guard);
                }
            } else if (domain::IsPermanent(e.code())) {
                Fail(job, guard, std::string(domain::ToString(e.code())), e.what());
            } else {
                Transient(job, guard, std::string(domain::ToString(e.code())), e.what());
            }
        } catch (const blob::BlobNotFound&) {
            Fail(job, guard, "input_missing", "the uploaded file is no longer stored");
        } catch (const std::exception& e) {
            Transient(job, guard, "unavailable", e.what());
        }
    }

    void DiscardUnlessRecorded(const std::string& job_id, const std::string& mp3_id) {
        try {
            const auto row = jobs.FindJob(job_id);
            if (!row || row->mp3_fid != mp3_id) blobs.Remove(mp3_id);
        } catch (const std::exception& e) {
            spdlog::warn("converter: job {}: MP3 {} kept, its row cannot be checked: {}", job_id, mp3_id,
                         e.what());
        }
    }

    void Fail(const domain::Job& job, const store::LeaseGuard& guard, const std::string& code,
              const std::string& reason) {
        const std::int64_t now = now_ms();
        try {
            if (jobs.FailJob(guard, code, reason, now, Mp3Message(job, "failed", now))) {
                Count("failed");
                broker.Nudge();
                spdlog::info("converter: job {} failed: {}: {}", job.id, code, reason);
            }
        } catch (const std::exception& e) {
            spdlog::warn("converter: job {}: cannot record the failure (the reaper will retry): {}", job.id,
                         e.what());
        }
    }

    void Transient(const domain::Job& job, const store::LeaseGuard& guard, const std::string& code,
                   const std::string& reason) {
        if (!domain::MayRetry(settings.retry, job.attempts)) {
            Fail(job, guard, code, "gave up after " + std::to_string(job.attempts) + " attempts: " + reason);
            return;
        }
        const std::int64_t now = now_ms();
        const std::int64_t due = domain::NextAttemptAt(settings.retry, job.attempts, now, Jitter());
        try {
            if (jobs.RequeueJob(guard, code, reason, now, VideoMessage(job, now, due))) {
                Count("retried");
                spdlog::warn("converter: job {} will be retried in {} ms: {}", job.id, due - now, reason);
            }
        } catch (const std::exception& e) {
            spdlog::warn("converter: job {}: cannot requeue (the reaper will): {}", job.id, e.what());
        }
    }

    // Shutting down: the job goes back to the queue at once for another
    // converter (or this one after a restart).
    void Release(const domain::Job& job, const store::LeaseGuard& guard) {
        const std::int64_t now = now_ms();
        try {
            if (jobs.RequeueJob(guard, "", "", now, VideoMessage(job, now, now))) {
                Count("released");
                spdlog::info("converter: job {} released (shutting down)", job.id);
            }
        } catch (const std::exception& e) {
            spdlog::warn("converter: job {}: cannot release it (its lease will expire): {}", job.id,
                         e.what());
        }
    }

    int Reap() {
        const std::int64_t now = now_ms();
        int moved = 0;
        for (const domain::Job& job : jobs.ExpiredJobs(now, 100)) {
            const obs::ScopedTrace trace(job.trace_id, job.id);
            const store::LeaseGuard guard{job.id, job.lease_owner, now};
            if (domain::MayRetry(settings.retry, job.attempts)) {
                if (jobs.RequeueJob(guard, "interrupted", "the converter stopped while converting", now,
                                    VideoMessage(job, now, now))) {
                    ++moved;
                    spdlog::warn("reaper: job {} had an expired lease: requeued", job.id);
                }
            } else if (jobs.FailJob(guard, "internal",
                                    "the conversion was interrupted " + std::to_string(job.attempts) +
                                        " times; giving up",
                                    now, Mp3Message(job, "failed", now))) {
                ++moved;
                spdlog::error("reaper: job {} failed after {} interrupted attempts", job.id, job.attempts);
            }
        }
        for (const domain::Job& job : jobs.ExpiredNotifications(now, 100)) {
            const obs::ScopedTrace trace(job.trace_id, job.id);
            const store::LeaseGuard guard{job.id, job.notify_lease_owner, now};
            if (jobs.RetryNotification(
                    guard, Mp3Message(job, job.state == domain::JobState::kDone ? "done" : "failed", now))) {
                ++moved;
                spdlog::warn("reaper: the email of job {} had an expired lease: re-announced", job.id);
            }
        }
        if (moved > 0) broker.Nudge();
        return moved;
    }

    void Reaper(const std::stop_token& stop) {
        std::mutex mutex;
        std::condition_variable_any cv;
        while (!stop.stop_requested()) {
            try {
                Reap();
            } catch (const std::exception& e) {
                spdlog::warn("reaper: {}", e.what());
            }
            std::unique_lock lock(mutex);
            cv.wait_for(lock, stop, settings.reap_every, [] { return false; });
        }
    }
};

Converter::Converter(store::JobStore& jobs, blob::BlobStore& blobs, broker::Broker& broker,
                     obs::Metrics& metrics, ConverterSettings settings, Clock now_ms)
    : impl_(std::make_unique<Impl>(jobs, blobs, broker, metrics, std::move(settings), std::move(now_ms))) {}

Converter::~Converter() = default;

void Converter::Run(const std::stop_token& stop) {
    std::vector<std::jthread> threads;
    for (int i = 0; i < std::max(1, impl_->settings.concurrency); ++i) {
        threads.emplace_back([this, stop] { impl_->Slot(stop); });
    }
    threads.emplace_back([this, stop] { impl_->Reaper(stop); });
    // The jthreads join here, once stop has reached every slot.
}

int Converter::ReapOnce() { return impl_->Reap(); }

}  // namespace v2m::workers
