#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "domain/errors.hpp"

namespace v2m::broker {

/// The broker cannot be reached right now.
class BrokerUnavailable final : public domain::Unavailable {
  public:
    using domain::Unavailable::Unavailable;
};

/// A message handed to a consumer; settle it with `Ack` or `Reject`.
struct Delivery {
    std::string queue;
    std::string body;
    std::string tag;     ///< the adapter's handle for Ack/Reject
    int deliveries = 1;  ///< 1 on the first delivery
};

/// Wakes workers up; never the source of truth (the database is: DESIGN.md
/// §3). Messages reach it through the outbox. Thread-safe.
class Broker {
  public:
    virtual ~Broker() = default;
    /// Publishes a persistent message and returns once the broker has it.
    /// Throws `BrokerUnavailable`.
    virtual void Publish(const std::string& queue, std::string_view body) = 0;
    /// Waits up to `wait` for a message of `queue`; empty on timeout or when
    /// `stop` is requested. Throws `BrokerUnavailable`.
    virtual std::optional<Delivery> Receive(const std::string& queue, std::chrono::milliseconds wait,
                                            const std::stop_token& stop) = 0;
    /// Done with it: it will not come back.
    virtual void Ack(const Delivery& delivery) = 0;
    /// It can never be handled (unparseable, names no job): to the
    /// dead-letter queue `<queue>.dead`, never redelivered.
    virtual void Reject(const Delivery& delivery) = 0;
    /// True when outbox rows must be relayed to this broker; false when the
    /// outbox is itself the queue.
    virtual bool NeedsRelay() const = 0;
    /// Tells the broker that outbox rows were just committed in this process,
    /// so that a waiting consumer need not wait for its next poll.
    virtual void Nudge() = 0;
    /// Throws `BrokerUnavailable` while the broker cannot be reached (for
    /// /readyz); may use the call to reconnect.
    virtual void Ping() = 0;
};

}  // namespace v2m::broker
