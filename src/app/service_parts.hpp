#pragma once

// Pieces every long-running role assembles the same way: the broker and the
// relay that feeds it, the blob store (waited for like the database), the
// readiness check, and worker ids.
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "app/roles.hpp"
#include "blob/blob_store.hpp"
#include "broker/broker.hpp"
#include "broker/relay.hpp"
#include "http/health.hpp"
#include "store/job_store.hpp"

namespace v2m::store {
class SociStore;
}
namespace v2m::workers {
struct ConverterSettings;
struct NotifierSettings;
}  // namespace v2m::workers

namespace v2m::app {

/// "<role>@<host>:<pid>:<random>", short enough for the lease columns.
std::string WorkerId(const char* role);

/// The broker `config.url` names, and — when it is not the database itself —
/// the outbox relay that publishes to it from this process (DESIGN.md §3
/// step 4), for `queues`.
class Messaging final {
  public:
    /// Throws `std::invalid_argument` for a URL it does not know.
    Messaging(const BrokerConfig& config, store::JobStore& jobs, obs::Metrics& metrics,
              const std::string& owner, std::vector<std::string> queues);
    ~Messaging();
    Messaging(const Messaging&) = delete;
    Messaging& operator=(const Messaging&) = delete;

    broker::Broker& broker() { return *broker_; }
    /// Starts the relay's thread (when there is a relay); it runs until
    /// `Stop` or destruction.
    void Start();
    void Stop();

  private:
    std::unique_ptr<broker::Broker> broker_;
    std::unique_ptr<broker::Relay> relay_;
    std::jthread relaying_;
};

/// Opens the store `url` names, retrying for `wait` while its server is
/// unreachable (it may be starting too). Throws `blob::BlobUnavailable` after
/// that, `std::invalid_argument` at once.
std::unique_ptr<blob::BlobStore> OpenBlobStoreWaiting(const std::string& url, std::chrono::seconds wait,
                                                      const std::stop_token& stop);

/// /readyz: every dependency given (null ones are skipped) answers.
http::ReadinessCheck ReadyWhen(store::SociStore* db, blob::BlobStore* blobs, broker::Broker* broker);

/// The workers' settings from the configuration (`all` and the roles).
workers::ConverterSettings ConverterSettingsFor(const ConversionConfig& c, const QueueConfig& queues);
workers::NotifierSettings NotifierSettingsFor(const MailConfig& mail, const QueueConfig& queues,
                                              int concurrency);

}  // namespace v2m::app
