#include "app/service_parts.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <stdexcept>
#include <utility>

#include "app/roles.hpp"
#include "broker/amqp/amqp_broker.hpp"
#include "broker/db/db_broker.hpp"
#include "store/soci_store.hpp"
#include "util/random_id.hpp"

namespace v2m::app {

std::string WorkerId(const char* role) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    // Leases hold it in a VARCHAR(64): the host name is cut to fit.
    return std::string(role) + "@" + std::string(host).substr(0, 32) + ":" + std::to_string(getpid()) + ":" +
           util::RandomId().substr(0, 8);
}

Messaging::Messaging(const BrokerConfig& config, store::JobStore& jobs, obs::Metrics& metrics,
                     const std::string& owner, std::vector<std::string> queues) {
    if (config.url == "db") {
        broker_ =
            std::make_unique<broker::DbBroker>(jobs, broker::DbBrokerSettings{.consumer_id = owner}, NowMs);
        return;
    }
    if (config.url.starts_with("amqp://") || config.url.starts_with("amqps://")) {
        // The relay is built after the broker it feeds; a nudge reaches it
        // through this pointer once it exists.
        auto amqp =
            std::make_unique<broker::AmqpBroker>(broker::AmqpSettings{.url = config.url,
                                                                      .heartbeat = config.heartbeat,
                                                                      .delivery_limit = config.delivery_limit,
                                                                      .on_nudge = [this] {
                                                                          if (relay_) relay_->Nudge();
                                                                      }});
        broker_ = std::move(amqp);
        relay_ = std::make_unique<broker::Relay>(
            jobs, *broker_, metrics, broker::RelaySettings{.owner = owner, .queues = std::move(queues)},
            NowMs);
        return;
    }
    throw std::invalid_argument("V2M_BROKER_URL: must be db or amqp://user:pass@host:port/vhost");
}

Messaging::~Messaging() { Stop(); }

void Messaging::Start() {
    if (!relay_) return;
    relaying_ = std::jthread([this](const std::stop_token& stop) { relay_->Run(stop); });
}

void Messaging::Stop() {
    if (relaying_.joinable()) {
        relaying_.request_stop();
        relaying_.join();
    }
}

std::unique_ptr<blob::BlobStore> OpenBlobStoreWaiting(const std::string& url, std::chrono::seconds wait,
                                                      const std::stop_token& stop) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (int attempt = 0;; ++attempt) {
        try {
            return blob::OpenBlobStore(url);
        } catch (const blob::BlobUnavailable& e) {
            if (std::chrono::steady_clock::now() >= deadline || stop.stop_requested()) throw;
            if (attempt == 0) spdlog::warn("waiting for the blob store: {}", e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
    }
}

http::ReadinessCheck ReadyWhen(store::SociStore* db, blob::BlobStore* blobs, broker::Broker* broker) {
    return [db, blobs, broker]() -> std::optional<std::string> {
        try {
            if (db) db->Ping();
        } catch (const std::exception& e) {
            return std::string("database unreachable: ") + e.what();
        }
        try {
            if (blobs) blobs->Ping();
        } catch (const std::exception& e) {
            return std::string("blob store unusable: ") + e.what();
        }
        try {
            if (broker) broker->Ping();
        } catch (const std::exception& e) {
            return std::string("broker unreachable: ") + e.what();
        }
        return std::nullopt;
    };
}

}  // namespace v2m::app
