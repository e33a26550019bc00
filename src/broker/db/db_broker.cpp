#include "broker/db/db_broker.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "domain/message.hpp"
#include "util/random_id.hpp"

namespace v2m::broker {

DbBroker::DbBroker(store::JobStore& store, DbBrokerSettings settings, std::function<std::int64_t()> now_ms)
    : store_(store), settings_(std::move(settings)), now_ms_(std::move(now_ms)) {}

void DbBroker::Publish(const std::string& queue, std::string_view body) {
    store::OutboxMessage m;
    m.id = util::RandomId();
    m.queue = queue;
    m.body = std::string(body);
    m.job_id = domain::DecodeMessage(body).value_or(domain::QueueMessage{}).job_id;
    m.created_at = m.available_at = now_ms_();
    store_.AddMessage(m);
    Nudge();
}

std::optional<Delivery> DbBroker::Receive(const std::string& queue, std::chrono::milliseconds wait,
                                          const std::stop_token& stop) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        std::uint64_t seen = 0;
        {
            std::lock_guard lock(mutex_);
            seen = nudges_;
        }
        const std::int64_t now = now_ms_();
        auto claimed =
            store_.ClaimMessage(queue, settings_.consumer_id, now, now + settings_.visibility.count());
        if (claimed) {
            Delivery d{queue, std::move(claimed->body), std::move(claimed->id), claimed->deliveries};
            if (d.deliveries > settings_.max_deliveries) {
                spdlog::error("message {} on {} was delivered {} times without being settled: dead-lettered",
                              d.tag, queue, d.deliveries - 1);
                Reject(d);
                continue;
            }
            return d;
        }
        const auto now_steady = std::chrono::steady_clock::now();
        if (now_steady >= deadline || stop.stop_requested()) return std::nullopt;
        std::unique_lock lock(mutex_);
        wake_.wait_until(lock, stop, std::min(deadline, now_steady + settings_.poll),
                         [&] { return nudges_ != seen; });
    }
}

void DbBroker::Ack(const Delivery& delivery) { store_.DeleteMessage(delivery.tag); }

void DbBroker::Reject(const Delivery& delivery) {
    // Kept, never delivered on its queue again, for a person to look at.
    store_.MoveMessage(delivery.tag, delivery.queue + ".dead");
}

void DbBroker::Nudge() {
    {
        std::lock_guard lock(mutex_);
        ++nudges_;
    }
    wake_.notify_all();
}

}  // namespace v2m::broker
