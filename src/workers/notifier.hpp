#pragma once

#include <chrono>
#include <memory>
#include <stop_token>
#include <string>

#include "broker/broker.hpp"
#include "domain/job.hpp"
#include "mail/mailer.hpp"
#include "store/job_store.hpp"
#include "workers/converter.hpp"

namespace v2m::obs {
class Metrics;
}

namespace v2m::workers {

struct NotifierSettings {
    std::string worker_id;
    int concurrency = 2;
    std::string mp3_queue = "mp3";
    std::string public_url = "http://127.0.0.1:8080";  ///< base of the download links
    std::string mail_from = "video2mp3@localhost";
    std::chrono::milliseconds lease{60'000};
    domain::RetryPolicy retry{.max_attempts = 8, .base_delay_ms = 5'000, .max_delay_ms = 600'000};
};

/// The notifier role's work (DESIGN.md §3 step 9): takes an `mp3` message,
/// claims the job's email in the database (so a message that arrives twice
/// sends once), acknowledges, sends the "MP3 Download" or failure email, and
/// records `notified_at`. A mailer that is down is retried with backoff from
/// the database; a recipient it refuses is given up on.
class Notifier final {
  public:
    Notifier(store::JobStore& jobs, mail::Mailer& mailer, broker::Broker& broker, obs::Metrics& metrics,
             NotifierSettings settings, Clock now_ms);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    /// Works until `stop`.
    void Run(const std::stop_token& stop);

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace v2m::workers
