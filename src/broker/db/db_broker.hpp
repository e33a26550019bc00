#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "broker/broker.hpp"
#include "store/job_store.hpp"

namespace v2m::broker {

struct DbBrokerSettings {
    std::string consumer_id;                       ///< names this process's leases
    std::chrono::milliseconds poll{500};           ///< how often an idle consumer looks
    std::chrono::milliseconds visibility{60'000};  ///< an unsettled message comes back after this
    int max_deliveries = 10;                       ///< then it is dead-lettered
};

/// The outbox table as the queue (like Oban, River, Solid Queue): a consumer
/// claims the oldest due row with a lease (`SKIP LOCKED` where the database
/// has it); Ack deletes it; a consumer that dies lets it come back after the
/// visibility timeout.
class DbBroker final : public Broker {
  public:
    DbBroker(store::JobStore& store, DbBrokerSettings settings, std::function<std::int64_t()> now_ms);

    void Publish(const std::string& queue, std::string_view body) override;
    std::optional<Delivery> Receive(const std::string& queue, std::chrono::milliseconds wait,
                                    const std::stop_token& stop) override;
    void Ack(const Delivery& delivery) override;
    void Reject(const Delivery& delivery) override;
    bool NeedsRelay() const override { return false; }
    void Nudge() override;
    /// The outbox lives in the database, which /readyz checks on its own.
    void Ping() override {}

  private:
    store::JobStore& store_;
    DbBrokerSettings settings_;
    std::function<std::int64_t()> now_ms_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::uint64_t nudges_ = 0;
};

}  // namespace v2m::broker
