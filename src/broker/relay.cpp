#include "broker/relay.hpp"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <utility>

#include "domain/message.hpp"
#include "obs/metrics.hpp"

namespace v2m::broker {

namespace {

prometheus::Family<prometheus::Counter>& RelayCounter(obs::Metrics& metrics) {
    return prometheus::BuildCounter()
        .Name("v2m_outbox_relayed_total")
        .Help("Outbox rows handed to the broker (published), and relay passes that failed (failed)")
        .Register(metrics.registry());
}

}  // namespace

Relay::Relay(store::JobStore& store, Broker& broker, obs::Metrics& metrics, RelaySettings settings,
             std::function<std::int64_t()> now_ms)
    : store_(store),
      broker_(broker),
      settings_(std::move(settings)),
      now_ms_(std::move(now_ms)),
      published_(RelayCounter(metrics).Add({{"outcome", "published"}})),
      failures_(RelayCounter(metrics).Add({{"outcome", "failed"}})) {}

int Relay::RelayDue() {
    int count = 0;
    for (const std::string& queue : settings_.queues) {
        for (;;) {
            const std::int64_t now = now_ms_();
            auto row = store_.ClaimMessage(queue, settings_.owner, now, now + settings_.lease.count());
            if (!row) break;
            broker_.Publish(row->queue, row->body);
            // Confirmed by the broker: the row has done its work.
            store_.DeleteMessage(row->id);
            published_.Increment();
            ++count;
            if (auto m = domain::DecodeMessage(row->body)) {
                spdlog::debug("relayed {} message of job {} trace_id={}", row->queue, m->job_id, m->trace_id);
            }
        }
    }
    return count;
}

void Relay::Run(const std::stop_token& stop) {
    std::mt19937_64 random{std::random_device{}()};
    auto backoff = std::chrono::milliseconds(100);
    bool failing = false;
    while (!stop.stop_requested()) {
        std::uint64_t seen = 0;
        {
            const std::lock_guard lock(mutex_);
            seen = nudges_;
        }
        std::chrono::milliseconds pause = settings_.poll;
        try {
            RelayDue();
            if (failing) spdlog::info("outbox relay: publishing again");
            failing = false;
            backoff = std::chrono::milliseconds(100);
        } catch (const std::exception& e) {
            failures_.Increment();
            if (!failing) spdlog::warn("outbox relay: {} (rows wait in the outbox)", e.what());
            failing = true;
            // Jittered exponential backoff: a broker coming back is not stampeded.
            const auto jitter = std::uniform_int_distribution<long>(0, backoff.count() / 2)(random);
            pause = backoff + std::chrono::milliseconds(jitter);
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        }
        std::unique_lock lock(mutex_);
        // While failing, a nudge must not cut the backoff short.
        wake_.wait_for(lock, stop, pause, [&] { return !failing && nudges_ != seen; });
    }
}

void Relay::Nudge() {
    {
        const std::lock_guard lock(mutex_);
        ++nudges_;
    }
    wake_.notify_all();
}

}  // namespace v2m::broker
