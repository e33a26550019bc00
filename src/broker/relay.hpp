#pragma once

#include <prometheus/counter.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "broker/broker.hpp"
#include "store/job_store.hpp"

namespace v2m::obs {
class Metrics;
}

namespace v2m::broker {

struct RelaySettings {
    std::string owner;                        ///< names this relay's leases on outbox rows
    std::vector<std::string> queues;          ///< the outbox queues it publishes
    std::chrono::milliseconds poll{500};      ///< how often it looks without a nudge (due retries)
    std::chrono::milliseconds lease{10'000};  ///< a row a relay died holding is published again after this
};

/// DESIGN.md §3 step 4: moves outbox rows to a broker that is not the
/// database (RabbitMQ). Takes a due row with a lease (so several relays —
/// one in every process that writes the outbox — never publish the same row
/// at once), publishes it with a confirm, and only then deletes it. A relay
/// that dies between the confirm and the delete publishes that row again
/// after the lease: at-least-once, which the consumers' claims make
/// harmless. Broker down → rows wait in the table; uploads go on.
class Relay final {
  public:
    Relay(store::JobStore& store, Broker& broker, obs::Metrics& metrics, RelaySettings settings,
          std::function<std::int64_t()> now_ms);

    /// Publishes until `stop`.
    void Run(const std::stop_token& stop);
    /// Publishes every due row now; returns how many. Throws
    /// `BrokerUnavailable` or `store::StoreUnavailable`.
    int RelayDue();
    /// Rows were just committed: look now rather than at the next poll.
    void Nudge();

  private:
    store::JobStore& store_;
    Broker& broker_;
    RelaySettings settings_;
    std::function<std::int64_t()> now_ms_;
    prometheus::Counter& published_;
    prometheus::Counter& failures_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::uint64_t nudges_ = 0;
};

}  // namespace v2m::broker
