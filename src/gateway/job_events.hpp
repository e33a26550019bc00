#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http/server.hpp"
#include "store/job_store.hpp"

namespace v2m::gateway {

struct EventStreamSettings {
    /// Streams open at once in this process: each holds one of the HTTP
    /// server's threads, so keep it well below their number.
    int max_streams = 16;
    /// Streams open at once per user (tabs, devices).
    int max_per_user = 4;
    /// How often a stream looks at the user's jobs. The database is the
    /// truth, so a change made by any process (a converter's progress, another
    /// gateway's delete) shows within this.
    std::chrono::milliseconds poll{500};
    /// A comment line this often keeps proxies from closing an idle stream.
    std::chrono::milliseconds heartbeat{15'000};
    /// The user's newest jobs a stream follows.
    int window = 50;
};

/// `GET /v1/events`: Server-Sent Events of the signed-in user's job changes
/// (DESIGN.md §4). Each stream polls the user's newest jobs and sends
/// `event: job` (the job JSON) for every job that is new or changed and
/// `event: job_deleted` (`{"job_id"}`) for one that is gone; the `id:` of an
/// event is the gateway's clock in ms when it was sent. A client that
/// reconnects with `Last-Event-ID` gets the jobs that may have changed since
/// (queued and converting ones, and those created, started or finished
/// within a margin of that time); without it, all of the window. Bounded in
/// all (503); a user's stream over their limit ends their oldest one instead
/// of being refused (a closed tab is only noticed at the next write, and a
/// reload must not be refused for it). `Stop` ends every stream (call it
/// before the server stops: they hold its threads).
class EventStreams final {
  public:
    EventStreams(store::JobStore& jobs, EventStreamSettings settings, std::function<std::int64_t()> now_ms);
    EventStreams(const EventStreams&) = delete;
    EventStreams& operator=(const EventStreams&) = delete;

    /// The streaming response for `user_id`. Throws a 503 `ClientError` when
    /// the process has as many streams as it allows.
    http::Response Open(const std::string& user_id, std::optional<std::int64_t> last_event_id);

    /// Ends every stream within a poll interval; new ones get 503.
    void Stop();

    /// Streams open now.
    int open() const;

  private:
    class Stream;
    friend class Stream;
    void Release(const std::string& user_id, const Stream* stream);

    store::JobStore& jobs_;
    const EventStreamSettings settings_;
    std::function<std::int64_t()> now_ms_;
    mutable std::mutex mutex_;
    std::condition_variable stopped_cv_;
    bool stopping_ = false;
    int open_ = 0;
    std::map<std::string, std::vector<Stream*>> per_user_;  ///< oldest first
};

/// `Last-Event-ID` as the number our events carry; empty when absent or not one.
std::optional<std::int64_t> ParseLastEventId(std::string_view header);

}  // namespace v2m::gateway
