#include "broker/amqp/amqp_broker.hpp"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace v2m::broker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr amqp_channel_t kChannel = 1;
constexpr std::string_view kDeadSuffix = ".dead";
constexpr milliseconds kSlice{200};
constexpr milliseconds kConnectTimeout{5'000};
constexpr milliseconds kRpcTimeout{10'000};
constexpr milliseconds kCloseTimeout{2'000};
constexpr milliseconds kMinBackoff{100};
constexpr milliseconds kMaxBackoff{5'000};
constexpr int kFrameMax = 131'072;
constexpr int kMaxFramesPerPump = 64;

timeval ToTimeval(milliseconds d) {
    d = std::max(d, milliseconds(0));
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(d.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(d.count() % 1000 * 1000);
    return tv;
}

// rabbitmq-c takes non-const pointers for what it only reads.
amqp_bytes_t Bytes(std::string_view s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }

std::string ToString(amqp_bytes_t b) {
    return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

struct ConnectionDeleter {
    void operator()(amqp_connection_state_t state) const { amqp_destroy_connection(state); }
};
using Connection = std::unique_ptr<amqp_connection_state_t_, ConnectionDeleter>;

struct Endpoint {
    std::string user;
    std::string password;
    std::string host;
    std::string vhost;
    int port = 0;
};

Endpoint ParseUrl(const std::string& url) {
    constexpr std::string_view kForm = "expected amqp://user:password@host:port/vhost";
    if (url.starts_with("amqps://")) {
        throw std::invalid_argument(fmt::format("broker URL: amqps:// (TLS) is not supported; {}", kForm));
    }
    // Never quote the URL itself: it holds the password.
    if (!url.starts_with("amqp://")) throw std::invalid_argument(fmt::format("broker URL: {}", kForm));
    std::vector<char> buffer(url.begin(), url.end());
    buffer.push_back('\0');
    amqp_connection_info info{};
    amqp_default_connection_info(&info);
    if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK || info.host == nullptr ||
        *info.host == '\0' || info.port <= 0 || info.port > 65535) {
        throw std::invalid_argument(fmt::format("broker URL: not a valid AMQP URL; {}", kForm));
    }
    return Endpoint{info.user, info.password, info.host, info.vhost, info.port};
}

std::string DescribeMethod(const amqp_method_t& method) {
    if (method.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_connection_close_t*>(method.decoded);
        return fmt::format("RabbitMQ closed the connection: {}", ToString(close->reply_text));
    }
    if (method.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* close = static_cast<const amqp_channel_close_t*>(method.decoded);
        return fmt::format("RabbitMQ closed the channel: {}", ToString(close->reply_text));
    }
    return fmt::format("unexpected AMQP method {:#x}", method.id);
}

std::string Describe(const amqp_rpc_reply_t& reply) {
    switch (reply.reply_type) {
        case AMQP_RESPONSE_NORMAL:
            return "no error";
        case AMQP_RESPONSE_NONE:
            return "no reply";
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return amqp_error_string2(reply.library_error);
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            return DescribeMethod(reply.reply);
    }
    return "unknown reply";
}

// Only a channel-level refusal (a declaration that does not match, say)
// leaves the broker and the connection as they were.
bool ConnectionLost(const amqp_rpc_reply_t& reply) {
    return !(reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
             reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD);
}

bool PreconditionFailed(const amqp_rpc_reply_t& reply) {
    return reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
           reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD &&
           static_cast<const amqp_channel_close_t*>(reply.reply.decoded)->reply_code ==
               AMQP_PRECONDITION_FAILED;
}

// Quorum queues count earlier deliveries in this header (absent the first time).
int DeliveryCount(const amqp_basic_properties_t& properties) {
    if ((properties._flags & AMQP_BASIC_HEADERS_FLAG) == 0) return 0;
    for (int i = 0; i < properties.headers.num_entries; ++i) {
        const amqp_table_entry_t& entry = properties.headers.entries[i];
        if (ToString(entry.key) != "x-delivery-count") continue;
        const amqp_field_value_t& v = entry.value;
        switch (v.kind) {
            case AMQP_FIELD_KIND_I8:
                return v.value.i8;
            case AMQP_FIELD_KIND_U8:
                return v.value.u8;
            case AMQP_FIELD_KIND_I16:
                return v.value.i16;
            case AMQP_FIELD_KIND_U16:
                return v.value.u16;
            case AMQP_FIELD_KIND_I32:
                return v.value.i32;
            case AMQP_FIELD_KIND_U32:
                return static_cast<int>(std::min<std::uint32_t>(v.value.u32, INT32_MAX));
            case AMQP_FIELD_KIND_I64:
                return static_cast<int>(std::clamp<std::int64_t>(v.value.i64, 0, INT32_MAX));
            case AMQP_FIELD_KIND_U64:
                return static_cast<int>(std::min<std::uint64_t>(v.value.u64, INT32_MAX));
            default:
                return 0;
        }
    }
    return 0;
}

// Delivery::tag: which connection, which opening of it, and RabbitMQ's tag.
struct Tag {
    std::uint64_t link = 0;
    std::uint64_t generation = 0;
    std::uint64_t delivery = 0;
};

std::string EncodeTag(const Tag& tag) {
    return fmt::format("{}.{}.{}", tag.link, tag.generation, tag.delivery);
}

std::optional<Tag> DecodeTag(std::string_view text) {
    Tag tag;
    std::uint64_t* parts[] = {&tag.link, &tag.generation, &tag.delivery};
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (std::size_t i = 0; i < 3; ++i) {
        const auto [next, ec] = std::from_chars(p, end, *parts[i]);
        if (ec != std::errc() || next == p) return std::nullopt;
        p = next;
        if (i < 2) {
            if (p == end || *p != '.') return std::nullopt;
            ++p;
        }
    }
    if (p != end) return std::nullopt;
    return tag;
}

// Lives as long as the thread that calls it: a connection whose consuming
// thread has ended can be closed.
std::shared_ptr<const char> ThreadToken() {
    thread_local const auto token = std::make_shared<const char>('\0');
    return token;
}

// An Ack or Reject from another thread, left for the thread using the connection.
struct Settlement {
    std::uint64_t generation = 0;
    std::uint64_t delivery_tag = 0;
    bool ack = true;
    std::string queue;
};

// One AMQP connection and its channel 1. rabbitmq-c handles are not
// thread-safe: whoever touches `conn` and the fields after it holds `mutex`.
struct Link {
    Link(std::uint64_t link_id, bool is_publisher) : id(link_id), publisher(is_publisher) {}
    const std::uint64_t id;
    const bool publisher;

    std::mutex mutex;
    Connection conn;                  ///< null while down
    std::uint64_t generation = 0;     ///< changes at every opening
    std::uint64_t published = 0;      ///< publish sequence number (confirm mode)
    std::set<std::string> declared;   ///< queues declared on this opening
    std::set<std::uint64_t> unacked;  ///< deliveries handed out and not settled

    std::mutex pending_mutex;
    std::vector<Settlement> pending;

    std::weak_ptr<const char> owner;  ///< the consuming thread (AmqpBroker::Impl::links_mutex_)
};

}  // namespace

class AmqpBroker::Impl {
  public:
    explicit Impl(AmqpSettings settings)
        : settings_(std::move(settings)),
          endpoint_(ParseUrl(settings_.url)),
          name_(fmt::format("RabbitMQ at {}:{}", endpoint_.host, endpoint_.port)),
          publisher_(std::make_shared<Link>(0, true)),
          generations_(static_cast<std::uint64_t>(std::random_device{}()) << 24U),
          random_(std::random_device{}()),
          keeper_([this](const std::stop_token& stop) { Keep(stop); }) {}

    ~Impl() {
        keeper_.request_stop();
        keeper_.join();
        std::vector<std::shared_ptr<Link>> links{publisher_};
        {
            std::lock_guard lock(links_mutex_);
            for (auto& entry : by_thread_) links.push_back(entry.second);
        }
        for (auto& link : links) {
            std::lock_guard use(link->mutex);
            {
                std::lock_guard pending(link->pending_mutex);
                FlushLocked(*link);
            }
            Close(link->conn, true);
        }
    }

    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void Publish(const std::string& queue, std::string_view body) {
        Link& link = *publisher_;
        Use use(*this, link);
        Ensure(link);
        Declare(link, queue);
        amqp_basic_properties_t properties{};
        properties._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
        properties.content_type = Bytes("application/json");
        properties.delivery_mode = AMQP_DELIVERY_PERSISTENT;
        const int status = amqp_basic_publish(link.conn.get(), kChannel, amqp_empty_bytes, Bytes(queue),
                                              /*mandatory=*/1, /*immediate=*/0, &properties, Bytes(body));
        if (status != AMQP_STATUS_OK) {
            Fail(link, fmt::format("publishing to '{}': {}", queue, amqp_error_string2(status)), true);
        }
        AwaitConfirm(link, queue, ++link.published);
    }

    std::optional<Delivery> Receive(const std::string& queue, milliseconds wait,
                                    const std::stop_token& stop) {
        if (stop.stop_requested()) return std::nullopt;
        const auto deadline = Clock::now() + wait;
        const std::shared_ptr<Link> shared = ThisThreadsLink();
        Link& link = *shared;
        Use use(*this, link);
        Ensure(link);
        Declare(link, queue);
        // Consume only while asked: with prefetch 1 and a cancel as soon as
        // one message came, none waits unacknowledged in this process.
        const auto* ok = amqp_basic_consume(link.conn.get(), kChannel, Bytes(queue), amqp_empty_bytes,
                                            /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
        CheckRpc(link, fmt::format("consuming from '{}'", queue));
        const std::string consumer = ToString(ok->consumer_tag);

        std::optional<Delivery> got;
        while (!got && !stop.stop_requested()) {
            {
                std::lock_guard pending(link.pending_mutex);
                FlushLocked(link);
            }
            if (!link.conn) throw BrokerUnavailable(fmt::format("{}: the connection failed", name_));
            const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
            if (left <= milliseconds(0)) break;
            const timeval slice = ToTimeval(std::min(kSlice, left));
            amqp_frame_t frame{};
            const int status = amqp_simple_wait_frame_noblock(link.conn.get(), &frame, &slice);
            if (status == AMQP_STATUS_TIMEOUT) continue;
            if (status != AMQP_STATUS_OK) {
                Fail(link,
                     fmt::format("waiting for a message on '{}': {}", queue, amqp_error_string2(status)),
                     true);
            }
            got = OnFrame(link, queue, frame);
        }

        amqp_basic_cancel(link.conn.get(), kChannel, Bytes(consumer));
        CheckRpc(link, fmt::format("cancelling the consumer of '{}'", queue));
        // A delivery that came before cancel-ok was queued by the library:
        // the caller gets it if it has none, RabbitMQ gets it back otherwise.
        while (link.conn && amqp_frames_enqueued(link.conn.get())) {
            amqp_frame_t frame{};
            const timeval now{};
            const int status = amqp_simple_wait_frame_noblock(link.conn.get(), &frame, &now);
            if (status != AMQP_STATUS_OK) {
                Fail(link, fmt::format("reading from '{}': {}", queue, amqp_error_string2(status)), true);
            }
            std::optional<Delivery> late = OnFrame(link, queue, frame);
            if (!late) continue;
            if (!got && !stop.stop_requested()) {
                got = std::move(late);
            } else {
                GiveBack(link, *late);
            }
        }
        return got;
    }

    void Settle(const Delivery& delivery, bool ack) {
        const std::optional<Tag> tag = DecodeTag(delivery.tag);
        if (!tag) throw std::invalid_argument(fmt::format("amqp: '{}' is not a delivery tag", delivery.tag));
        std::shared_ptr<Link> link;
        {
            std::lock_guard lock(links_mutex_);
            if (const auto it = by_id_.find(tag->link); it != by_id_.end()) link = it->second;
        }
        Settlement settlement{tag->generation, tag->delivery, ack, delivery.queue};
        if (!link) {
            LogStale(settlement);
            return;
        }
        std::unique_lock pending(link->pending_mutex);
        Use use(*this, *link, std::try_to_lock);
        if (!use) {
            // Its thread is inside Receive (or the keeper is pumping it): the
            // holder sends this within one slice, before letting go.
            link->pending.push_back(std::move(settlement));
            return;
        }
        pending.unlock();
        SettleNow(*link, settlement);
    }

    void Ping() {
        Use use(*this, *publisher_);
        Ensure(*publisher_);
    }

    void Nudge() const {
        if (settings_.on_nudge) settings_.on_nudge();
    }

  private:
    // Holds a link's mutex; on release, first sends the settlements other
    // threads left meanwhile (under pending_mutex, so none is left behind).
    class Use {
      public:
        Use(Impl& impl, Link& link) : impl_(impl), link_(link), lock_(link.mutex) {}
        Use(Impl& impl, Link& link, std::try_to_lock_t t) : impl_(impl), link_(link), lock_(link.mutex, t) {}
        ~Use() {
            if (!lock_.owns_lock()) return;
            std::lock_guard pending(link_.pending_mutex);
            impl_.FlushLocked(link_);
            if (link_.conn) amqp_maybe_release_buffers(link_.conn.get());
            lock_.unlock();
        }
        Use(const Use&) = delete;
        Use& operator=(const Use&) = delete;
        explicit operator bool() const { return lock_.owns_lock(); }

      private:
        Impl& impl_;
        Link& link_;
        std::unique_lock<std::mutex> lock_;
    };

    enum class Health { kUnknown, kUp, kDown };

    // --- connections -----------------------------------------------------------

    std::shared_ptr<Link> ThisThreadsLink() {
        std::lock_guard lock(links_mutex_);
        std::shared_ptr<Link>& link = by_thread_[std::this_thread::get_id()];
        if (!link) {
            link = std::make_shared<Link>(next_link_id_++, false);
            by_id_.emplace(link->id, link);
        }
        if (link->owner.expired()) link->owner = ThreadToken();
        return link;
    }

    // Under link.mutex. Notices a connection RabbitMQ has closed since its
    // last use, then (re)opens it if needed.
    void Ensure(Link& link) {
        if (link.conn) Pump(link);
        if (!link.conn) Open(link);
    }

    void Open(Link& link) {
        {
            std::lock_guard lock(health_mutex_);
            const auto now = Clock::now();
            if (now < next_attempt_) {
                throw BrokerUnavailable(
                    fmt::format("{}: cannot connect ({}); next attempt in {} ms", name_, last_error_,
                                std::chrono::ceil<milliseconds>(next_attempt_ - now).count()));
            }
        }
        std::string error;
        Connection conn = Connect(link.publisher, error);
        if (!conn) {
            ConnectFailed(error);
            throw BrokerUnavailable(fmt::format("{}: cannot connect: {}", name_, error));
        }
        Connected();
        link.conn = std::move(conn);
        link.generation = ++generations_;
        link.published = 0;
        link.declared.clear();
        link.unacked.clear();
    }

    Connection Connect(bool publisher, std::string& error) const {
        Connection conn(amqp_new_connection());
        amqp_socket_t* socket = conn ? amqp_tcp_socket_new(conn.get()) : nullptr;
        if (socket == nullptr) {
            error = "out of memory";
            return nullptr;
        }
        const timeval connect_timeout = ToTimeval(kConnectTimeout);
        const int status =
            amqp_socket_open_noblock(socket, endpoint_.host.c_str(), endpoint_.port, &connect_timeout);
        if (status != AMQP_STATUS_OK) {
            error = fmt::format("no TCP connection ({})", amqp_error_string2(status));
            return nullptr;
        }
        // A broker that accepts but does not answer must not hang a caller.
        const timeval rpc_timeout = ToTimeval(kRpcTimeout);
        amqp_set_handshake_timeout(conn.get(), &rpc_timeout);
        amqp_set_rpc_timeout(conn.get(), &rpc_timeout);
        const auto heartbeat =
            static_cast<int>(std::max<std::chrono::seconds::rep>(settings_.heartbeat.count(), 0));
        amqp_rpc_reply_t reply =
            amqp_login(conn.get(), endpoint_.vhost.c_str(), 0, kFrameMax, heartbeat, AMQP_SASL_METHOD_PLAIN,
                       endpoint_.user.c_str(), endpoint_.password.c_str());
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            error = fmt::format("login as '{}' to vhost '{}': {}", endpoint_.user, endpoint_.vhost,
                                Describe(reply));
            return nullptr;
        }
        amqp_channel_open(conn.get(), kChannel);
        reply = amqp_get_rpc_reply(conn.get());
        if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
            if (publisher) {
                amqp_confirm_select(conn.get(), kChannel);
            } else {
                amqp_basic_qos(conn.get(), kChannel, 0, /*prefetch_count=*/1, /*global=*/0);
            }
            reply = amqp_get_rpc_reply(conn.get());
        }
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            error = fmt::format("opening a channel: {}", Describe(reply));
            return nullptr;
        }
        return conn;
    }

    static void Close(Connection& conn, bool graceful) {
        if (!conn) return;
        if (graceful) {
            const timeval timeout = ToTimeval(kCloseTimeout);
            amqp_set_rpc_timeout(conn.get(), &timeout);
            amqp_connection_close(conn.get(), AMQP_REPLY_SUCCESS);
        }
        conn.reset();
    }

    // Under link.mutex. Unsettled deliveries go back to their queues.
    void Drop(Link& link, const std::string& why, bool lost) {
        Close(link.conn, !lost);
        link.declared.clear();
        link.unacked.clear();
        if (lost) {
            std::lock_guard lock(health_mutex_);
            if (health_ == Health::kUp) spdlog::warn("amqp: connection to {} lost: {}", name_, why);
            health_ = Health::kDown;
        } else {
            spdlog::debug("amqp: closed a connection to {}: {}", name_, why);
        }
    }

    [[noreturn]] void Fail(Link& link, const std::string& what, bool lost) {
        Drop(link, what, lost);
        throw BrokerUnavailable(fmt::format("{}: {}", name_, what));
    }

    void CheckRpc(Link& link, const std::string& doing) {
        const amqp_rpc_reply_t reply = amqp_get_rpc_reply(link.conn.get());
        if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
        Fail(link, fmt::format("{}: {}", doing, Describe(reply)), ConnectionLost(reply));
    }

    void ConnectFailed(const std::string& error) {
        std::lock_guard lock(health_mutex_);
        backoff_ = std::clamp(backoff_ * 2, kMinBackoff, kMaxBackoff);
        std::uniform_int_distribution<milliseconds::rep> jitter(backoff_.count() / 2, backoff_.count());
        next_attempt_ = Clock::now() + milliseconds(jitter(random_));
        last_error_ = error;
        if (health_ != Health::kDown) {
            spdlog::warn("amqp: cannot connect to {}: {}; retrying with backoff", name_, error);
        }
        health_ = Health::kDown;
    }

    void Connected() {
        std::lock_guard lock(health_mutex_);
        backoff_ = milliseconds(0);
        next_attempt_ = {};
        if (health_ == Health::kDown) spdlog::info("amqp: connection to {} restored", name_);
        if (health_ == Health::kUnknown) spdlog::info("amqp: connected to {}", name_);
        health_ = Health::kUp;
    }

    // --- topology ----------------------------------------------------------------

    void Declare(Link& link, const std::string& queue) {
        if (link.declared.contains(queue)) return;
        const bool dead = queue.ends_with(kDeadSuffix) && queue.size() > kDeadSuffix.size();
        const std::string base = dead ? queue.substr(0, queue.size() - kDeadSuffix.size()) : queue;
        const std::string dead_name = base + std::string(kDeadSuffix);

        amqp_exchange_declare(link.conn.get(), kChannel, Bytes(dead_name), Bytes("fanout"), /*passive=*/0,
                              /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
        CheckDeclare(link, fmt::format("exchange '{}'", dead_name), "durable fanout");

        amqp_table_entry_t dead_args[] = {Entry("x-queue-type", "quorum")};
        DeclareQueue(link, dead_name, dead_args);
        amqp_queue_bind(link.conn.get(), kChannel, Bytes(dead_name), Bytes(dead_name), amqp_empty_bytes,
                        amqp_empty_table);
        CheckRpc(link, fmt::format("binding queue '{}' to exchange '{}'", dead_name, dead_name));

        if (!dead) {
            amqp_table_entry_t args[] = {Entry("x-queue-type", "quorum"),
                                         Entry("x-delivery-limit", settings_.delivery_limit),
                                         Entry("x-dead-letter-exchange", dead_name)};
            DeclareQueue(link, queue, args);
        }
        link.declared.insert(queue);
    }

    template <std::size_t N>
    void DeclareQueue(Link& link, const std::string& name, amqp_table_entry_t (&args)[N]) {
        amqp_queue_declare(link.conn.get(), kChannel, Bytes(name), /*passive=*/0, /*durable=*/1,
                           /*exclusive=*/0,
                           /*auto_delete=*/0, amqp_table_t{static_cast<int>(N), args});
        std::string wanted = "durable";
        for (const amqp_table_entry_t& entry : args) {
            wanted +=
                fmt::format(", {}={}", ToString(entry.key),
                            entry.value.kind == AMQP_FIELD_KIND_I32 ? std::to_string(entry.value.value.i32)
                                                                    : ToString(entry.value.value.bytes));
        }
        CheckDeclare(link, fmt::format("queue '{}'", name), wanted);
    }

    void CheckDeclare(Link& link, const std::string& what, const std::string& wanted) {
        const amqp_rpc_reply_t reply = amqp_get_rpc_reply(link.conn.get());
        if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
        if (PreconditionFailed(reply)) {
            Fail(link,
                 fmt::format(
                     "{} already exists with other arguments than this service declares ({}); delete it or "
                     "make them match: {}",
                     what, wanted, Describe(reply)),
                 false);
        }
        Fail(link, fmt::format("declaring {}: {}", what, Describe(reply)), ConnectionLost(reply));
    }

    static amqp_table_entry_t Entry(std::string_view key, std::string_view value) {
        amqp_table_entry_t entry{};
        entry.key = Bytes(key);
        entry.value.kind = AMQP_FIELD_KIND_UTF8;
        entry.value.value.bytes = Bytes(value);
        return entry;
    }

    static amqp_table_entry_t Entry(std::string_view key, int value) {
        amqp_table_entry_t entry{};
        entry.key = Bytes(key);
        entry.value.kind = AMQP_FIELD_KIND_I32;
        entry.value.value.i32 = value;
        return entry;
    }

    // --- publishing --------------------------------------------------------------

    void AwaitConfirm(Link& link, const std::string& queue, std::uint64_t sequence) {
        const auto deadline = Clock::now() + settings_.confirm_timeout;
        const auto covers = [sequence](const auto* m) {
            return m->delivery_tag == sequence || (m->multiple != 0 && m->delivery_tag > sequence);
        };
        std::optional<std::string> returned;
        for (;;) {
            const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
            if (left <= milliseconds(0)) {
                Fail(link,
                     fmt::format("no confirm for a message to '{}' within {} ms", queue,
                                 settings_.confirm_timeout.count()),
                     true);
            }
            const timeval timeout = ToTimeval(left);
            amqp_frame_t frame{};
            const int status = amqp_simple_wait_frame_noblock(link.conn.get(), &frame, &timeout);
            if (status == AMQP_STATUS_TIMEOUT) continue;
            if (status != AMQP_STATUS_OK) {
                Fail(link,
                     fmt::format("waiting for the confirm of a message to '{}': {}", queue,
                                 amqp_error_string2(status)),
                     true);
            }
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;  // a returned message's header and body
            const amqp_method_t& method = frame.payload.method;
            switch (method.id) {
                case AMQP_BASIC_RETURN_METHOD:
                    returned = ToString(static_cast<const amqp_basic_return_t*>(method.decoded)->reply_text);
                    break;
                case AMQP_BASIC_ACK_METHOD:
                    if (!covers(static_cast<const amqp_basic_ack_t*>(method.decoded))) break;
                    if (returned) {
                        link.declared.erase(queue);  // deleted behind our back? declared again next time
                        throw BrokerUnavailable(fmt::format(
                            "{}: a message to '{}' was returned unroutable: {}", name_, queue, *returned));
                    }
                    return;
                case AMQP_BASIC_NACK_METHOD:
                    if (!covers(static_cast<const amqp_basic_nack_t*>(method.decoded))) break;
                    throw BrokerUnavailable(
                        fmt::format("{}: RabbitMQ refused (nack) a message to '{}'", name_, queue));
                case AMQP_CONNECTION_CLOSE_METHOD:
                case AMQP_CHANNEL_CLOSE_METHOD:
                    Fail(link, DescribeMethod(method), method.id == AMQP_CONNECTION_CLOSE_METHOD);
                default:
                    break;
            }
        }
    }

    // --- consuming ---------------------------------------------------------------

    std::optional<Delivery> OnFrame(Link& link, const std::string& queue, const amqp_frame_t& frame) {
        if (frame.frame_type != AMQP_FRAME_METHOD) return std::nullopt;
        const amqp_method_t& method = frame.payload.method;
        switch (method.id) {
            case AMQP_BASIC_DELIVER_METHOD:
                return ReadDelivery(link, queue, frame);
            case AMQP_CONNECTION_CLOSE_METHOD:
            case AMQP_CHANNEL_CLOSE_METHOD:
                Fail(link, DescribeMethod(method), method.id == AMQP_CONNECTION_CLOSE_METHOD);
            case AMQP_BASIC_CANCEL_METHOD:
                Fail(link,
                     fmt::format("RabbitMQ cancelled the consumer of '{}' (was the queue deleted?)", queue),
                     false);
            default:
                return std::nullopt;
        }
    }

    Delivery ReadDelivery(Link& link, const std::string& queue, const amqp_frame_t& frame) {
        const std::uint64_t tag =
            static_cast<const amqp_basic_deliver_t*>(frame.payload.method.decoded)->delivery_tag;
        amqp_message_t message{};
        const amqp_rpc_reply_t reply = amqp_read_message(link.conn.get(), frame.channel, &message, 0);
        if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            Fail(link, fmt::format("reading a message from '{}': {}", queue, Describe(reply)),
                 ConnectionLost(reply));
        }
        Delivery delivery{queue, ToString(message.body), EncodeTag({link.id, link.generation, tag}),
                          1 + DeliveryCount(message.properties)};
        amqp_destroy_message(&message);
        link.unacked.insert(tag);
        return delivery;
    }

    void GiveBack(Link& link, const Delivery& delivery) {
        const std::optional<Tag> tag = DecodeTag(delivery.tag);
        if (!tag || link.unacked.erase(tag->delivery) == 0) return;
        const int status = amqp_basic_reject(link.conn.get(), kChannel, tag->delivery, /*requeue=*/1);
        if (status != AMQP_STATUS_OK) {
            Fail(link,
                 fmt::format("returning a message to '{}': {}", delivery.queue, amqp_error_string2(status)),
                 true);
        }
    }

    // --- settling ----------------------------------------------------------------

    static void LogStale(const Settlement& s) {
        spdlog::info(
            "amqp: {} of a message from '{}' not sent: its connection was reset since, so RabbitMQ "
            "delivers it again",
            s.ack ? "ack" : "reject", s.queue);
    }

    // Under link.mutex. Never throws BrokerUnavailable: see below.
    void SettleNow(Link& link, const Settlement& s) {
        if (!link.conn || link.generation != s.generation) {
            LogStale(s);
            return;
        }
        if (link.unacked.erase(s.delivery_tag) == 0) {
            spdlog::warn("amqp: {} of a message from '{}' not sent: it was settled already",
                         s.ack ? "ack" : "reject", s.queue);
            return;
        }
        const int status = s.ack
                               ? amqp_basic_ack(link.conn.get(), kChannel, s.delivery_tag, /*multiple=*/0)
                               : amqp_basic_reject(link.conn.get(), kChannel, s.delivery_tag, /*requeue=*/0);
        if (status != AMQP_STATUS_OK) {
            // Like a reset before the ack: the message comes back and is
            // handled again (idempotently). A throw would only make the caller
            // drop work it has already claimed.
            const std::string what = fmt::format("{} of a message from '{}': {}", s.ack ? "ack" : "reject",
                                                 s.queue, amqp_error_string2(status));
            Drop(link, what, true);
            spdlog::warn("amqp: {} failed; RabbitMQ delivers the message again", what);
        }
    }

    // Under link.mutex and link.pending_mutex.
    void FlushLocked(Link& link) noexcept {
        std::vector<Settlement> batch;
        batch.swap(link.pending);
        for (const Settlement& s : batch) {
            try {
                SettleNow(link, s);
            } catch (const std::exception& e) {
                spdlog::warn("amqp: {}", e.what());
            }
        }
    }

    // --- the keeper ----------------------------------------------------------------

    // rabbitmq-c sends and checks heartbeats only inside its calls: a
    // connection idle for minutes (its thread converting) would be closed
    // by RabbitMQ. Pump each idle one; a connection in use is pumped by its user.
    void Keep(const std::stop_token& stop) {
        const milliseconds period =
            settings_.heartbeat.count() > 0
                ? std::clamp(std::chrono::duration_cast<milliseconds>(settings_.heartbeat) / 4,
                             milliseconds(50), kMaxBackoff)
                : kMaxBackoff;
        std::mutex mutex;
        std::condition_variable_any sleep;
        std::unique_lock lock(mutex);
        for (;;) {
            sleep.wait_for(lock, stop, period, [] { return false; });
            if (stop.stop_requested()) return;
            try {
                KeepAlive();
            } catch (const std::exception& e) {
                spdlog::warn("amqp: keeping connections alive: {}", e.what());
            }
        }
    }

    void KeepAlive() {
        std::vector<std::shared_ptr<Link>> links{publisher_};
        std::vector<std::pair<std::shared_ptr<Link>, std::unique_lock<std::mutex>>> ended;
        {
            std::lock_guard lock(links_mutex_);
            for (auto it = by_thread_.begin(); it != by_thread_.end();) {
                const std::shared_ptr<Link> link = it->second;
                if (link->owner.expired()) {
                    // Its thread has ended: close it once nothing on it waits to be settled.
                    std::unique_lock use(link->mutex, std::try_to_lock);
                    std::unique_lock pending(link->pending_mutex, std::try_to_lock);
                    if (use && pending && link->unacked.empty() && link->pending.empty()) {
                        by_id_.erase(link->id);
                        it = by_thread_.erase(it);
                        pending.unlock();
                        ended.emplace_back(link, std::move(use));
                        continue;
                    }
                }
                links.push_back(link);
                ++it;
            }
        }
        for (auto& entry : ended) Close(entry.first->conn, true);
        for (const auto& link : links) {
            Use use(*this, *link, std::try_to_lock);
            if (use && link->conn) Pump(*link);
        }
    }

    // Under link.mutex, with no consumer active on it: reads what came
    // without waiting (heartbeats are answered inside), drops the
    // connection if RabbitMQ closed it.
    void Pump(Link& link) {
        for (int i = 0; i < kMaxFramesPerPump && link.conn; ++i) {
            amqp_frame_t frame{};
            const timeval now{};
            const int status = amqp_simple_wait_frame_noblock(link.conn.get(), &frame, &now);
            if (status == AMQP_STATUS_TIMEOUT) return;
            if (status != AMQP_STATUS_OK) {
                Drop(link, amqp_error_string2(status), true);
                return;
            }
            if (frame.frame_type != AMQP_FRAME_METHOD) continue;
            switch (frame.payload.method.id) {
                case AMQP_CONNECTION_CLOSE_METHOD:
                    Drop(link, DescribeMethod(frame.payload.method), true);
                    return;
                case AMQP_CHANNEL_CLOSE_METHOD:
                    Drop(link, DescribeMethod(frame.payload.method), false);
                    return;
                case AMQP_BASIC_DELIVER_METHOD:
                    // No consumer is active outside Receive; closing gives it back.
                    Drop(link, "a delivery arrived with no consumer active", false);
                    return;
                default:
                    break;
            }
        }
    }

    AmqpSettings settings_;
    const Endpoint endpoint_;
    const std::string name_;  ///< "RabbitMQ at host:port", for messages
    const std::shared_ptr<Link> publisher_;

    std::mutex links_mutex_;
    std::map<std::thread::id, std::shared_ptr<Link>> by_thread_;
    std::map<std::uint64_t, std::shared_ptr<Link>> by_id_;
    std::uint64_t next_link_id_ = 1;
    std::atomic<std::uint64_t> generations_;  ///< starts at random: another instance's tags do not match

    std::mutex health_mutex_;
    Health health_ = Health::kUnknown;
    milliseconds backoff_{0};
    Clock::time_point next_attempt_{};
    std::string last_error_;
    std::minstd_rand random_;

    std::jthread keeper_;  ///< last: starts once everything above exists
};

AmqpBroker::AmqpBroker(AmqpSettings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}

AmqpBroker::~AmqpBroker() = default;

void AmqpBroker::Publish(const std::string& queue, std::string_view body) { impl_->Publish(queue, body); }

std::optional<Delivery> AmqpBroker::Receive(const std::string& queue, std::chrono::milliseconds wait,
                                            const std::stop_token& stop) {
    return impl_->Receive(queue, wait, stop);
}

void AmqpBroker::Ack(const Delivery& delivery) { impl_->Settle(delivery, true); }

void AmqpBroker::Reject(const Delivery& delivery) { impl_->Settle(delivery, false); }

void AmqpBroker::Nudge() { impl_->Nudge(); }

void AmqpBroker::Ping() { impl_->Ping(); }

}  // namespace v2m::broker
