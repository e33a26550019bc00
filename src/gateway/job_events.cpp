#include "gateway/job_events.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <exception>
#include <memory>
#include <set>
#include <utility>

#include "domain/errors.hpp"
#include "gateway/gateway_http.hpp"

namespace v2m::gateway {

namespace {

// Clocks of different processes write a job's times: a reconnecting client
// gets what changed a little before its last event too (events are whole
// jobs, so a repeat does no harm).
constexpr std::int64_t kReconnectMarginMs = 5'000;

bool MayHaveChangedSince(const domain::Job& job, std::int64_t since_ms) {
    if (job.state == domain::JobState::kQueued || job.state == domain::JobState::kProcessing) return true;
    const std::int64_t latest = std::max({job.created_at, job.started_at, job.finished_at});
    return latest >= since_ms - kReconnectMarginMs;
}

void AppendEvent(std::string& out, std::string_view event, std::int64_t id, const std::string& data) {
    out.append("event: ").append(event).append("\nid: ").append(std::to_string(id));
    out.append("\ndata: ").append(data).append("\n\n");
}

}  // namespace

class EventStreams::Stream {
  public:
    Stream(EventStreams& owner, std::string user_id, std::optional<std::int64_t> last_event_id)
        : owner_(owner), user_id_(std::move(user_id)), since_(last_event_id) {}
    ~Stream() { owner_.Release(user_id_, this); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    void Evict() { evicted_ = true; }
    bool evicted() const { return evicted_; }

    // One step of the body: the first sends the reconnect delay and the
    // starting state, each later one waits a poll interval and sends what
    // changed (or a heartbeat).
    bool Next(const http::WriteFn& write) {
        std::string out;
        if (first_) {
            first_ = false;
            out = "retry: 3000\n\n";
        } else {
            std::unique_lock lock(owner_.mutex_);
            owner_.stopped_cv_.wait_for(lock, owner_.settings_.poll,
                                        [this] { return owner_.stopping_ || evicted_; });
            if (owner_.stopping_ || evicted_) return false;
        }
        Poll(out);
        const auto now = std::chrono::steady_clock::now();
        if (out.empty() && now - last_write_ >= owner_.settings_.heartbeat) out = ": keep-alive\n\n";
        if (out.empty()) return true;
        last_write_ = now;
        return write(out);
    }

  private:
    struct Known {
        std::string json;
        std::int64_t created_at = 0;
    };

    void Poll(std::string& out) {
        std::vector<domain::Job> jobs;
        try {
            jobs = owner_.jobs_.ListJobs(user_id_, owner_.settings_.window, std::nullopt);
        } catch (const std::exception& e) {
            // The database is away: nothing to tell this round; heartbeats go on.
            spdlog::debug("events: listing jobs failed: {}", e.what());
            return;
        }
        const std::int64_t now = owner_.now_ms_();
        std::set<std::string> seen;
        for (const domain::Job& job : jobs) {
            seen.insert(job.id);
            std::string json = JobJson(job).dump();
            auto it = known_.find(job.id);
            if (it != known_.end() && it->second.json == json) continue;
            if (it != known_.end() || !since_ || MayHaveChangedSince(job, *since_))
                AppendEvent(out, "job", now, json);
            known_[job.id] = {std::move(json), job.created_at};
        }
        since_.reset();
        // Gone from the window: deleted, unless it only slid out of it
        // behind newer jobs.
        const bool full = static_cast<int>(jobs.size()) >= owner_.settings_.window;
        const std::int64_t oldest = jobs.empty() ? 0 : jobs.back().created_at;
        for (auto it = known_.begin(); it != known_.end();) {
            if (seen.count(it->first) != 0) {
                ++it;
                continue;
            }
            if (!full || it->second.created_at >= oldest)
                AppendEvent(out, "job_deleted", now, nlohmann::json{{"job_id", it->first}}.dump());
            it = known_.erase(it);
        }
    }

    EventStreams& owner_;
    const std::string user_id_;
    std::optional<std::int64_t> since_;
    bool first_ = true;
    std::atomic<bool> evicted_{false};
    std::map<std::string, Known> known_;
    std::chrono::steady_clock::time_point last_write_ = std::chrono::steady_clock::now();
};

EventStreams::EventStreams(store::JobStore& jobs, EventStreamSettings settings,
                           std::function<std::int64_t()> now_ms)
    : jobs_(jobs), settings_(settings), now_ms_(std::move(now_ms)) {}

http::Response EventStreams::Open(const std::string& user_id, std::optional<std::int64_t> last_event_id) {
    std::shared_ptr<Stream> stream;
    {
        const std::lock_guard lock(mutex_);
        if (stopping_ || open_ >= settings_.max_streams) {
            throw domain::ClientError(503, "too_many_streams",
                                      "the server has as many live connections as it allows; try again "
                                      "shortly")
                .WithRetryAfter(5);
        }
        std::vector<Stream*>& mine = per_user_[user_id];
        const auto live = [](const Stream* s) { return !s->evicted(); };
        if (std::count_if(mine.begin(), mine.end(), live) >= settings_.max_per_user) {
            (*std::find_if(mine.begin(), mine.end(), live))->Evict();
            stopped_cv_.notify_all();
        }
        stream = std::make_shared<Stream>(*this, user_id, last_event_id);
        mine.push_back(stream.get());
        ++open_;
    }
    http::Response r;
    r.content_type = "text/event-stream";
    r.headers = {{"Cache-Control", "no-store"}, {"X-Accel-Buffering", "no"}};
    r.chunked = http::ChunkedStream{[stream](const http::WriteFn& write) { return stream->Next(write); }};
    return r;
}

void EventStreams::Release(const std::string& user_id, const Stream* stream) {
    const std::lock_guard lock(mutex_);
    --open_;
    auto it = per_user_.find(user_id);
    if (it == per_user_.end()) return;
    std::erase(it->second, stream);
    if (it->second.empty()) per_user_.erase(it);
}

void EventStreams::Stop() {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    stopped_cv_.notify_all();
}

int EventStreams::open() const {
    const std::lock_guard lock(mutex_);
    return open_;
}

std::optional<std::int64_t> ParseLastEventId(std::string_view header) {
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), value);
    if (header.empty() || ec != std::errc() || ptr != header.data() + header.size() || value < 0)
        return std::nullopt;
    return value;
}

}  // namespace v2m::gateway
