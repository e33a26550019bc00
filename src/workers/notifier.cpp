#include "workers/notifier.hpp"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "domain/message.hpp"
#include "mail/job_mail.hpp"
#include "mail/message.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"

namespace v2m::workers {

struct Notifier::Impl {
    store::JobStore& jobs;
    mail::Mailer& mailer;
    broker::Broker& broker;
    NotifierSettings settings;
    Clock now_ms;
    prometheus::Family<prometheus::Counter>& outcomes;

    Impl(store::JobStore& j, mail::Mailer& m, broker::Broker& b, obs::Metrics& metrics, NotifierSettings s,
         Clock clock)
        : jobs(j),
          mailer(m),
          broker(b),
          settings(std::move(s)),
          now_ms(std::move(clock)),
          outcomes(prometheus::BuildCounter()
                       .Name("v2m_emails_total")
                       .Help("Job emails by outcome (sent, retried, gave_up)")
                       .Register(metrics.registry())) {
        // Every series exists from the start, so that rates over them are 0, not "no data".
        for (const char* outcome : {"sent", "retried", "gave_up"}) outcomes.Add({{"outcome", outcome}});
    }

    void Count(const std::string& outcome) { outcomes.Add({{"outcome", outcome}}).Increment(); }

    void Slot(const std::stop_token& stop) {
        while (!stop.stop_requested()) {
            try {
                auto delivery = broker.Receive(settings.mp3_queue, std::chrono::seconds(1), stop);
                if (delivery) Take(*delivery);
            } catch (const std::exception& e) {
                spdlog::warn("notifier: {}", e.what());
                std::this_thread::sleep_for(std::chrono::seconds(1));
            }
        }
    }

    mail::Message Compose(const domain::Job& job) const {
        if (job.state == domain::JobState::kDone) {
            std::string base = settings.public_url;
            while (!base.empty() && base.back() == '/') base.pop_back();
            return mail::DoneMail({.to = job.username,
                                   .job_id = job.id,
                                   .mp3_id = job.mp3_fid,
                                   .filename = job.filename,
                                   .duration_s = job.duration_s.value_or(-1),
                                   .mp3_bytes = static_cast<std::uint64_t>(job.mp3_bytes.value_or(0)),
                                   .download_url = base + "/download?fid=" + job.mp3_fid},
                                  settings.mail_from);
        }
        return mail::FailedMail(
            {.to = job.username,
             .job_id = job.id,
             .filename = job.filename,
             .reason = job.error_message.empty() ? "the conversion failed" : job.error_message},
            settings.mail_from);
    }

    void Take(const broker::Delivery& delivery) {
        const auto message = domain::DecodeMessage(delivery.body);
        if (!message) {
            spdlog::error("notifier: a message on {} that names no job: dead-lettered", delivery.queue);
            broker.Reject(delivery);
            return;
        }
        const obs::ScopedTrace trace(message->trace_id, message->job_id);
        const std::int64_t now = now_ms();
        auto job =
            jobs.ClaimNotification(message->job_id, settings.worker_id, now, now + settings.lease.count());
        if (!job && !jobs.FindJob(message->job_id)) {
            spdlog::warn("notifier: a message on {} names job {}, which does not exist: dead-lettered",
                         delivery.queue, message->job_id);
            broker.Reject(delivery);
            return;
        }
        broker.Ack(delivery);
        if (!job) return;  // sent already, or being sent
        const store::LeaseGuard guard{job->id, settings.worker_id, 0};
        const mail::Message mail = Compose(*job);
        try {
            mailer.Send(mail.from, mail.to, mail.message_id,
                        mail::BuildMessage(mail, std::chrono::system_clock::time_point(
                                                     std::chrono::milliseconds(now_ms()))));
        } catch (const mail::MailRejected& e) {
            GiveUp(*job, guard, e.what());
            return;
        } catch (const std::invalid_argument& e) {
            GiveUp(*job, guard, e.what());
            return;
        } catch (const std::exception& e) {
            Retry(*job, guard, e.what());
            return;
        }
        jobs.FinishNotification(guard, true, now_ms());
        Count("sent");
        spdlog::info("notifier: job {} email sent to its owner", job->id);
    }

    void GiveUp(const domain::Job& job, const store::LeaseGuard& guard, const std::string& why) {
        jobs.FinishNotification(guard, false, now_ms());
        Count("gave_up");
        spdlog::error("notifier: job {}: the email cannot be sent: {}", job.id, why);
    }

    void Retry(const domain::Job& job, const store::LeaseGuard& guard, const std::string& why) {
        if (!domain::MayRetry(settings.retry, job.notify_attempts)) {
            GiveUp(job, guard, "gave up after " + std::to_string(job.notify_attempts) + " attempts: " + why);
            return;
        }
        const std::int64_t now = now_ms();
        const std::int64_t due = domain::NextAttemptAt(settings.retry, job.notify_attempts, now, 0.5);
        domain::QueueMessage m{.job_id = job.id,
                               .video_fid = job.video_fid,
                               .mp3_fid = job.mp3_fid,
                               .username = job.username,
                               .trace_id = job.trace_id,
                               .event = job.state == domain::JobState::kDone ? "done" : "failed"};
        if (jobs.RetryNotification(guard, store::MakeOutboxMessage(settings.mp3_queue, m, now, due))) {
            Count("retried");
            spdlog::warn("notifier: job {}: the mailer failed, retry in {} ms: {}", job.id, due - now, why);
        }
    }
};

Notifier::Notifier(store::JobStore& jobs, mail::Mailer& mailer, broker::Broker& broker, obs::Metrics& metrics,
                   NotifierSettings settings, Clock now_ms)
    : impl_(std::make_unique<Impl>(jobs, mailer, broker, metrics, std::move(settings), std::move(now_ms))) {}

Notifier::~Notifier() = default;

void Notifier::Run(const std::stop_token& stop) {
    std::vector<std::jthread> threads;
    for (int i = 0; i < std::max(1, impl_->settings.concurrency); ++i) {
        threads.emplace_back([this, stop] { impl_->Slot(stop); });
    }
}

}  // namespace v2m::workers
