#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>

#include "blob/blob_store.hpp"
#include "broker/broker.hpp"
#include "domain/job.hpp"
#include "store/job_store.hpp"

namespace v2m::obs {
class Metrics;
}

namespace v2m::workers {

struct ConverterSettings {
    std::string worker_id;  ///< names this process's leases (host, pid, random)
    int concurrency = 2;    ///< conversions at once
    std::string video_queue = "video";
    std::string mp3_queue = "mp3";
    std::chrono::milliseconds lease{30'000};  ///< a lease not renewed this long lets the reaper take the job
    std::chrono::milliseconds renew_every{1'000};
    std::chrono::milliseconds reap_every{5'000};
    domain::RetryPolicy retry;
    double max_duration_s = 0;  ///< longest media accepted; 0: no limit
};

using Clock = std::function<std::int64_t()>;  ///< Unix milliseconds

/// The converter role's work (DESIGN.md §3 steps 5-8): takes a `video`
/// message only when a slot is free, claims the job in the database and
/// acknowledges at once, converts blob → blob with the engine while renewing
/// its lease and writing progress about once a second, and finishes in one
/// transaction. Bad media fails the job for good; transient trouble retries
/// it with backoff. Also runs the reaper.
class Converter final {
  public:
    Converter(store::JobStore& jobs, blob::BlobStore& blobs, broker::Broker& broker, obs::Metrics& metrics,
              ConverterSettings settings, Clock now_ms);
    ~Converter();
    Converter(const Converter&) = delete;
    Converter& operator=(const Converter&) = delete;

    /// Works until `stop`; then takes nothing new, cancels the running
    /// conversions and puts their jobs back in the queue, and returns.
    void Run(const std::stop_token& stop);
    /// One reaper pass: jobs whose lease expired go back to the queue (or
    /// fail once out of attempts); emails whose sender vanished are
    /// re-announced. Returns how many it moved. Safe in several processes.
    int ReapOnce();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace v2m::workers
