#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "broker/broker.hpp"

namespace v2m::broker {

struct AmqpSettings {
    /// amqp://user:pass@host:port/vhost (the vhost URL-encoded: %2f is "/").
    std::string url;
    /// Asked of RabbitMQ at login (it may choose a shorter one); 0 turns heartbeats off.
    std::chrono::seconds heartbeat{30};
    /// The quorum queues' `x-delivery-limit`: a message delivered this many
    /// times more without being settled goes to `<queue>.dead`.
    int delivery_limit = 5;
    /// How long Publish waits for the broker's confirm.
    std::chrono::milliseconds confirm_timeout{10'000};
    /// Called by Nudge() (wakes the outbox relay); may be empty.
    std::function<void()> on_nudge;
};

/// RabbitMQ through rabbitmq-c. Each queue `q` is a durable quorum queue
/// with a delivery limit whose dead letters go to the fanout exchange and
/// durable queue `q.dead`; this class declares them (idempotently) on first
/// use. Publishing uses a connection of its own in confirm mode; every thread
/// that calls Receive gets a connection of its own, on which no message waits
/// unacknowledged unless a Receive returned it. A keeper thread answers
/// heartbeats on connections that sit idle. A connection that fails is closed
/// and reopened by the next call (with backoff between attempts), so the
/// service recovers by itself when RabbitMQ returns. Thread-safe.
class AmqpBroker final : public Broker {
  public:
    /// Connects lazily: does not throw when RabbitMQ is down. Throws
    /// std::invalid_argument for a URL that is not amqp://… (the message
    /// never repeats the password).
    explicit AmqpBroker(AmqpSettings settings);
    /// Stops the keeper and closes every connection (unsettled deliveries go
    /// back to their queue). No other thread may be inside a call.
    ~AmqpBroker() override;
    AmqpBroker(const AmqpBroker&) = delete;
    AmqpBroker& operator=(const AmqpBroker&) = delete;

    /// Persistent, mandatory, to the default exchange; returns once RabbitMQ
    /// confirmed it. Throws `BrokerUnavailable` when it cannot be reached, or
    /// the message was refused, unroutable or not confirmed in time.
    void Publish(const std::string& queue, std::string_view body) override;
    /// Consumes at most one message, only while waiting (in slices of at most
    /// 200 ms, so `stop` is honoured promptly); `deliveries` counts RabbitMQ's
    /// `x-delivery-count`. Also reads `q.dead`. Throws `BrokerUnavailable`.
    std::optional<Delivery> Receive(const std::string& queue, std::chrono::milliseconds wait,
                                    const std::stop_token& stop) override;
    /// Any thread may settle a delivery. While the receiving thread is inside
    /// Receive, the ack is handed to it and sent within one slice. A delivery
    /// whose connection was reset since, or whose ack cannot be sent (the
    /// connection is then closed), is not settled and logged: RabbitMQ
    /// delivers it again, so handling must be idempotent. Does not throw
    /// `BrokerUnavailable`; throws std::invalid_argument for a tag this class
    /// did not make.
    void Ack(const Delivery& delivery) override;
    /// basic.reject without requeue: RabbitMQ dead-letters it to `q.dead`.
    /// Otherwise as Ack.
    void Reject(const Delivery& delivery) override;
    bool NeedsRelay() const override { return true; }
    /// Calls `on_nudge`, if set.
    void Nudge() override;
    /// Checks (and if needed reopens, respecting the backoff) the publishing
    /// connection; throws `BrokerUnavailable` while RabbitMQ cannot be reached.
    void Ping() override;

  private:
    class Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace v2m::broker
