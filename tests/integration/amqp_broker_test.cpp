// The RabbitMQ adapter of Broker against a real RabbitMQ (label amqp): the
// node scripts/testenv started for the run ($V2M_TESTENV), or, for the
// OwnServer test that stops and restarts it, a node of its own.
#include "broker/amqp/amqp_broker.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services.hpp"
#include "test_support.hpp"

namespace v2m::broker {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kTestenv = std::string(V2M_SOURCE_DIR) + "/scripts/testenv";

std::string FromTestEnv(const std::string& name) {
    const auto env = test::TestEnv();
    const auto it = env.find(name);
    if (it == env.end()) {
        throw std::runtime_error("no " + name + " in $V2M_TESTENV/env (run under ctest, or set V2M_TESTENV " +
                                 "to a `scripts/testenv start DIR rabbitmq` directory)");
    }
    return it->second;
}

// A queue name no other test (or earlier run) uses.
std::string UniqueQueue(const std::string& what) {
    static std::mt19937_64 random{std::random_device{}()};
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    return "test." + what + "." + std::to_string(random() % 1'000'000'000);
}

AmqpSettings Settings(const std::string& url) {
    AmqpSettings settings;
    settings.url = url;
    settings.confirm_timeout = 10s;
    return settings;
}

std::string Body(const std::string& text) { return R"({"job_id":")" + text + R"(","video_fid":"v"})"; }

// rabbitmqctl against the node of a testenv state directory.
std::string Rabbitmqctl(const std::string& state_dir, const std::vector<std::string>& args) {
    std::vector<std::string> argv{"bash", kTestenv, "rabbitmqctl", state_dir};
    argv.insert(argv.end(), args.begin(), args.end());
    const test::ProcessResult r = test::Run(argv, {.timeout = 60s});
    if (r.exit_code != 0) throw std::runtime_error("rabbitmqctl failed: " + r.Describe());
    return r.out;
}

// A list_* command's rows as JSON objects.
nlohmann::json RabbitmqctlJson(const std::string& state_dir, std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--quiet", "--formatter", "json"});
    const std::string out = Rabbitmqctl(state_dir, args);
    nlohmann::json rows = nlohmann::json::parse(out, nullptr, false);
    if (!rows.is_array()) throw std::runtime_error(args[0] + " printed no JSON array: " + out);
    return rows;
}

// `list_queues` as JSON: name → that queue's row.
std::map<std::string, nlohmann::json> ListQueues(const std::string& state_dir,
                                                 const std::vector<std::string>& columns) {
    std::vector<std::string> args{"list_queues", "name"};
    args.insert(args.end(), columns.begin(), columns.end());
    const nlohmann::json rows = RabbitmqctlJson(state_dir, args);
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& row : rows) by_name[row.at("name").get<std::string>()] = row;
    return by_name;
}

// list_queues prints arguments as [name, type, value] triples: name → [type, value].
std::map<std::string, nlohmann::json> Arguments(const nlohmann::json& row) {
    std::map<std::string, nlohmann::json> args;
    for (const auto& triple : row.at("arguments")) {
        args[triple.at(0).get<std::string>()] = nlohmann::json::array({triple.at(1), triple.at(2)});
    }
    return args;
}

// What RabbitMQ logs when a client's heartbeats stop.
int MissedHeartbeats(const std::string& state_dir) {
    int count = 0;
    for (const auto& entry : std::filesystem::directory_iterator(state_dir + "/rabbitmq/log")) {
        std::ifstream in(entry.path());
        std::string line;
        while (std::getline(in, line)) count += line.find("missed heartbeats") != std::string::npos ? 1 : 0;
    }
    return count;
}

class AmqpBrokerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        url_ = FromTestEnv("V2M_TEST_AMQP_URL");
        state_dir_ = FromTestEnv("V2M_TEST_STATE_DIR");
    }

    std::unique_ptr<AmqpBroker> NewBroker(AmqpSettings settings) const {
        return std::make_unique<AmqpBroker>(std::move(settings));
    }
    std::unique_ptr<AmqpBroker> NewBroker() const { return NewBroker(Settings(url_)); }

    std::string url_;
    std::string state_dir_;
    std::stop_source stop_;
};

TEST_F(AmqpBrokerTest, DeclaresQuorumQueuesWithADeadLetterQueueOnFirstUse) {
    const std::string q = UniqueQueue("topology");
    AmqpSettings settings = Settings(url_);
    settings.delivery_limit = 7;
    auto broker = NewBroker(settings);
    broker->Publish(q, Body("1"));

    const auto queues = ListQueues(state_dir_, {"type", "durable", "arguments"});
    ASSERT_TRUE(queues.contains(q)) << "queues: " << nlohmann::json(queues).dump();
    const nlohmann::json& main = queues.at(q);
    EXPECT_EQ(main.at("type"), "quorum");
    EXPECT_EQ(main.at("durable"), true);
    const auto args = Arguments(main);
    EXPECT_EQ(args.size(), 3U) << main.dump();
    EXPECT_EQ(args.at("x-queue-type"), nlohmann::json::array({"longstr", "quorum"})) << main.dump();
    EXPECT_EQ(args.at("x-delivery-limit"), nlohmann::json::array({"signedint", 7})) << main.dump();
    EXPECT_EQ(args.at("x-dead-letter-exchange"), nlohmann::json::array({"longstr", q + ".dead"}))
        << main.dump();
    ASSERT_TRUE(queues.contains(q + ".dead"));
    const nlohmann::json& dead = queues.at(q + ".dead");
    EXPECT_EQ(dead.at("durable"), true);
    EXPECT_EQ(dead.at("type"), "quorum");
    EXPECT_FALSE(Arguments(dead).contains("x-dead-letter-exchange")) << dead.dump();

    const std::string exchanges =
        Rabbitmqctl(state_dir_, {"list_exchanges", "--quiet", "name", "type", "durable"});
    EXPECT_NE(exchanges.find(q + ".dead\tfanout\ttrue"), std::string::npos) << exchanges;
    const std::string bindings =
        Rabbitmqctl(state_dir_, {"list_bindings", "--quiet", "source_name", "destination_name"});
    EXPECT_NE(bindings.find(q + ".dead\t" + q + ".dead"), std::string::npos) << bindings;

    // Declaring is idempotent: a second broker with the same settings is fine.
    auto again = NewBroker(settings);
    again->Publish(q, Body("2"));
    for (const char* text : {"1", "2"}) {
        const auto d = again->Receive(q, 5s, stop_.get_token());
        ASSERT_TRUE(d.has_value()) << text;
        EXPECT_EQ(d->body, Body(text));
        again->Ack(*d);
    }
}

TEST_F(AmqpBrokerTest, AQueueWithOtherArgumentsIsAClearError) {
    const std::string q = UniqueQueue("mismatch");
    NewBroker()->Publish(q, Body("1"));
    AmqpSettings other = Settings(url_);
    other.delivery_limit = 9;
    auto broker = NewBroker(other);
    try {
        broker->Publish(q, Body("2"));
        FAIL() << "declaring a queue with another delivery limit succeeded";
    } catch (const BrokerUnavailable& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("'" + q + "'"), std::string::npos) << what;
        EXPECT_NE(what.find("x-delivery-limit"), std::string::npos) << what;
        EXPECT_EQ(what.find("guest:guest"), std::string::npos) << what;
    }
    // The same broker still works for a queue that matches.
    const std::string fine = UniqueQueue("fine");
    broker->Publish(fine, Body("3"));
}

TEST_F(AmqpBrokerTest, AQueueDeletedBehindItsBackIsDeclaredAgain) {
    const std::string q = UniqueQueue("deleted");
    auto broker = NewBroker();
    broker->Publish(q, Body("1"));
    const auto one = broker->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(one.has_value());
    broker->Ack(*one);
    Rabbitmqctl(state_dir_, {"delete_queue", q});

    // Unroutable now: returned by RabbitMQ, so not confirmed as published.
    try {
        broker->Publish(q, Body("lost"));
        FAIL() << "a message to a deleted queue counted as published";
    } catch (const BrokerUnavailable& e) {
        EXPECT_NE(std::string(e.what()).find("unroutable"), std::string::npos) << e.what();
    }
    broker->Publish(q, Body("2"));  // declared again
    const auto two = broker->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(two.has_value());
    EXPECT_EQ(two->body, Body("2"));
    broker->Ack(*two);
}

TEST_F(AmqpBrokerTest, PublishedBodyIsReceivedOnceAndGoneAfterAck) {
    const std::string q = UniqueQueue("roundtrip");
    auto broker = NewBroker();
    const std::string body = Body("r\xc3\xa9sum\xc3\xa9");
    broker->Publish(q, body);

    const auto d = broker->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->body, body);
    EXPECT_EQ(d->queue, q);
    EXPECT_EQ(d->deliveries, 1);
    broker->Ack(*d);

    const auto t0 = Clock::now();
    EXPECT_FALSE(broker->Receive(q, 1s, stop_.get_token()).has_value());
    EXPECT_GE(Clock::now() - t0, 900ms) << "Receive returned before its wait was over";
    // Not merely held by this process: another client does not get it either.
    EXPECT_FALSE(NewBroker()->Receive(q, 1s, stop_.get_token()).has_value());
}

TEST_F(AmqpBrokerTest, ReceiveHonoursStopPromptly) {
    const std::string q = UniqueQueue("stop");
    auto broker = NewBroker();
    std::stop_source stop;
    auto waiting = std::async(std::launch::async, [&] { return broker->Receive(q, 30s, stop.get_token()); });
    std::this_thread::sleep_for(1s);
    const auto t0 = Clock::now();
    stop.request_stop();
    ASSERT_EQ(waiting.wait_for(2s), std::future_status::ready);
    EXPECT_FALSE(waiting.get().has_value());
    EXPECT_LT(Clock::now() - t0, 1s);
    // Stopped already: returns at once.
    EXPECT_FALSE(broker->Receive(q, 30s, stop.get_token()).has_value());
}

TEST_F(AmqpBrokerTest, AnUnackedDeliveryComesBackWhenItsConnectionCloses) {
    const std::string q = UniqueQueue("redeliver");
    {
        auto first = NewBroker();
        first->Publish(q, Body("again"));
        const auto d = first->Receive(q, 5s, stop_.get_token());
        ASSERT_TRUE(d.has_value());
        EXPECT_EQ(d->deliveries, 1);
    }  // closes its connections without settling
    auto second = NewBroker();
    const auto d = second->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->body, Body("again"));
    EXPECT_EQ(d->deliveries, 2);
    second->Ack(*d);
}

TEST_F(AmqpBrokerTest, RejectedMessagesAreReadableFromTheDeadQueue) {
    const std::string q = UniqueQueue("reject");
    auto broker = NewBroker();
    broker->Publish(q, Body("bad"));
    const auto d = broker->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(d.has_value());
    broker->Reject(*d);
    EXPECT_FALSE(broker->Receive(q, 1s, stop_.get_token()).has_value());

    const auto dead = broker->Receive(q + ".dead", 5s, stop_.get_token());
    ASSERT_TRUE(dead.has_value());
    EXPECT_EQ(dead->body, Body("bad"));
    EXPECT_EQ(dead->queue, q + ".dead");
    broker->Ack(*dead);
    EXPECT_FALSE(broker->Receive(q + ".dead", 500ms, stop_.get_token()).has_value());
}

TEST_F(AmqpBrokerTest, TheDeliveryLimitDeadLettersAfterLimitPlusOneDeliveries) {
    const std::string q = UniqueQueue("limit");
    AmqpSettings settings = Settings(url_);
    settings.delivery_limit = 2;
    NewBroker(settings)->Publish(q, Body("poison"));
    for (int n = 1; n <= 3; ++n) {
        auto broker = NewBroker(settings);
        const auto d = broker->Receive(q, 5s, stop_.get_token());
        ASSERT_TRUE(d.has_value()) << "delivery " << n;
        EXPECT_EQ(d->deliveries, n);
    }  // each time the consumer goes away without settling
    auto broker = NewBroker(settings);
    EXPECT_FALSE(broker->Receive(q, 1s, stop_.get_token()).has_value());
    const auto dead = broker->Receive(q + ".dead", 5s, stop_.get_token());
    ASSERT_TRUE(dead.has_value());
    EXPECT_EQ(dead->body, Body("poison"));
    broker->Ack(*dead);
}

TEST_F(AmqpBrokerTest, ADeliveryCanBeSettledFromAnotherThread) {
    const std::string q = UniqueQueue("threads");
    auto broker = NewBroker();
    broker->Publish(q, Body("a"));
    broker->Publish(q, Body("b"));

    // Received by a thread that has ended since.
    std::optional<Delivery> a;
    std::thread([&] { a = broker->Receive(q, 5s, stop_.get_token()); }).join();
    ASSERT_TRUE(a.has_value());
    broker->Ack(*a);

    // Settled while the receiving thread waits inside another Receive.
    std::promise<Delivery> received;
    std::stop_source stop_receiver;
    std::thread receiver([&] {
        auto b = broker->Receive(q, 5s, stop_.get_token());
        if (!b) {
            received.set_exception(std::make_exception_ptr(std::runtime_error("no second message")));
            return;
        }
        received.set_value(*b);
        // Waits on (until stopped below) while the ack is sent from here, in a slice.
        EXPECT_FALSE(broker->Receive(q, 60s, stop_receiver.get_token()).has_value());
    });
    const Delivery b = received.get_future().get();
    std::this_thread::sleep_for(300ms);  // the receiver is in its second Receive by now
    const auto t0 = Clock::now();
    broker->Ack(b);
    EXPECT_LT(Clock::now() - t0, 500ms) << "Ack waited for the other thread's Receive";
    std::this_thread::sleep_for(500ms);
    // The channel of the receiver's active consumer holds nothing unacknowledged
    // any more: the ack went out while that Receive still waits.
    const nlohmann::json consumers =
        RabbitmqctlJson(state_dir_, {"list_consumers", "queue_name", "channel_pid"});
    const nlohmann::json channels =
        RabbitmqctlJson(state_dir_, {"list_channels", "pid", "consumer_count", "messages_unacknowledged"});
    stop_receiver.request_stop();
    receiver.join();
    std::string channel;
    for (const auto& c : consumers) {
        if (c.at("queue_name") == q) channel = c.at("channel_pid").get<std::string>();
    }
    ASSERT_FALSE(channel.empty()) << "no consumer on " << q << ": " << consumers.dump();
    bool found = false;
    for (const auto& c : channels) {
        if (c.at("pid") != channel) continue;
        found = true;
        EXPECT_EQ(c.at("consumer_count"), 1) << c.dump();
        EXPECT_EQ(c.at("messages_unacknowledged"), 0) << c.dump();
    }
    EXPECT_TRUE(found) << channels.dump();
    // Settling twice is harmless.
    broker->Ack(b);
    EXPECT_FALSE(NewBroker()->Receive(q, 500ms, stop_.get_token()).has_value());
}

TEST_F(AmqpBrokerTest, NoMessageIsHeldWhileNobodyReceives) {
    const std::string q = UniqueQueue("held");
    auto first = NewBroker();
    for (const char* text : {"1", "2", "3"}) first->Publish(q, Body(text));
    const auto one = first->Receive(q, 5s, stop_.get_token());  // kept unsettled
    ASSERT_TRUE(one.has_value());
    const auto two = first->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(two.has_value());
    first->Ack(*two);  // a consumer still active would now be sent the third
    std::this_thread::sleep_for(300ms);

    auto second = NewBroker();
    const auto three = second->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(three.has_value()) << "the third message is held by the first broker";
    EXPECT_EQ(three->body, Body("3"));
    second->Ack(*three);
    first->Ack(*one);
}

TEST_F(AmqpBrokerTest, AnIdleConnectionOutlivesSeveralHeartbeats) {
    const std::string q = UniqueQueue("heartbeat");
    AmqpSettings settings = Settings(url_);
    settings.heartbeat = 1s;
    auto broker = NewBroker(settings);
    const int missed_before = MissedHeartbeats(state_dir_);
    broker->Publish(q, Body("held"));
    const auto held = broker->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(held.has_value());

    std::this_thread::sleep_for(4500ms);  // no call at all: the keeper answers heartbeats

    broker->Ack(*held);  // on the same connection: not redelivered below
    broker->Publish(q, Body("next"));
    const auto next = broker->Receive(q, 5s, stop_.get_token());
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(next->body, Body("next")) << "the held message came back: its connection was closed";
    EXPECT_EQ(next->deliveries, 1);
    broker->Ack(*next);
    EXPECT_FALSE(broker->Receive(q, 500ms, stop_.get_token()).has_value());
    EXPECT_EQ(MissedHeartbeats(state_dir_), missed_before)
        << "RabbitMQ closed a connection for missed heartbeats";
}

TEST_F(AmqpBrokerTest, NudgeCallsItsHookAndTheOutboxIsRelayed) {
    int nudges = 0;
    AmqpSettings settings = Settings(url_);
    settings.on_nudge = [&] { ++nudges; };
    auto broker = NewBroker(settings);
    broker->Nudge();
    EXPECT_EQ(nudges, 1);
    EXPECT_TRUE(broker->NeedsRelay());
    broker->Ping();
    NewBroker()->Nudge();  // no hook: nothing happens
}

TEST_F(AmqpBrokerTest, AClosedPortIsUnavailableQuicklyAndABadUrlIsInvalid) {
    const std::string closed = "amqp://guest:guest@127.0.0.1:" + std::to_string(test::FreePort()) + "/%2f";
    auto broker = NewBroker(Settings(closed));  // does not throw while RabbitMQ is down
    const auto t0 = Clock::now();
    EXPECT_THROW(broker->Ping(), BrokerUnavailable);
    EXPECT_THROW(broker->Publish("q", Body("x")), BrokerUnavailable);
    EXPECT_THROW(broker->Receive("q", 1s, stop_.get_token()), BrokerUnavailable);
    EXPECT_LT(Clock::now() - t0, 2s);
    try {
        broker->Ping();
    } catch (const BrokerUnavailable& e) {
        EXPECT_EQ(std::string(e.what()).find("guest:guest"), std::string::npos) << e.what();
    }

    for (const std::string bad : {"amqp://user:s3cr3t-pw@host:notaport/vhost", "http://user:s3cr3t-pw@host/",
                                  "amqps://user:s3cr3t-pw@host/", "amqp://user:s3cr3t-pw@host:99999/"}) {
        try {
            AmqpBroker b(Settings(bad));
            ADD_FAILURE() << "accepted " << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find("s3cr3t"), std::string::npos) << e.what();
        }
    }
}

TEST_F(AmqpBrokerTest, WrongCredentialsAreUnavailableWithoutThePassword) {
    std::string url = url_;
    url.replace(url.find("guest:guest"), 11, "guest:not-the-pw");
    auto broker = NewBroker(Settings(url));
    try {
        broker->Ping();
        FAIL() << "logged in with a wrong password";
    } catch (const BrokerUnavailable& e) {
        EXPECT_EQ(std::string(e.what()).find("not-the-pw"), std::string::npos) << e.what();
    }
}

// A RabbitMQ of this test's own, stopped and started again while a broker
// object lives: the others share theirs and must not see it go.
class OwnRabbit {
  public:
    OwnRabbit() {
        const test::ProcessResult r =
            test::Run({"bash", kTestenv, "start", dir(), "rabbitmq"}, {.timeout = std::chrono::seconds(120)});
        if (r.exit_code != 0) throw std::runtime_error("testenv start: " + r.Describe());
        env_ = dir() + "/env";
    }
    ~OwnRabbit() { test::Run({"bash", kTestenv, "stop", dir()}, {.timeout = std::chrono::seconds(120)}); }
    OwnRabbit(const OwnRabbit&) = delete;
    OwnRabbit& operator=(const OwnRabbit&) = delete;

    std::string dir() const { return dir_.path().string(); }
    std::string Url() const {
        std::ifstream in(env_);
        std::string line;
        const std::string key = "export V2M_TEST_AMQP_URL=";
        while (std::getline(in, line)) {
            if (line.starts_with(key)) return line.substr(key.size());
        }
        throw std::runtime_error("no V2M_TEST_AMQP_URL in " + env_);
    }
    void Service(const std::string& command) const {
        const test::ProcessResult r =
            test::Run({"bash", kTestenv, command, dir(), "rabbitmq"}, {.timeout = std::chrono::seconds(120)});
        if (r.exit_code != 0) throw std::runtime_error("testenv " + command + ": " + r.Describe());
    }

  private:
    test::TempDir dir_;
    std::string env_;
};

// Runs `call` and returns how long it took to throw BrokerUnavailable (or fails).
template <typename F>
std::chrono::milliseconds TimeToThrow(F&& call) {
    const auto t0 = Clock::now();
    try {
        call();
        ADD_FAILURE() << "did not throw with RabbitMQ stopped";
    } catch (const BrokerUnavailable&) {
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

TEST(AmqpBrokerOwnServerTest, RecoversByItselfWhenRabbitMqComesBack) {
    OwnRabbit rabbit;
    AmqpSettings settings = Settings(rabbit.Url());
    settings.heartbeat = 2s;
    AmqpBroker broker(settings);
    std::stop_source stop;
    const std::string q = UniqueQueue("restart");
    broker.Publish(q, Body("before"));
    const auto held = broker.Receive(q, 5s, stop.get_token());  // unsettled when RabbitMQ goes
    ASSERT_TRUE(held.has_value());

    rabbit.Service("stop-service");
    EXPECT_LT(TimeToThrow([&] { broker.Publish(q, Body("during")); }), 5s);
    EXPECT_LT(TimeToThrow([&] { broker.Receive(q, 1s, stop.get_token()); }), 5s);
    EXPECT_LT(TimeToThrow([&] { broker.Ping(); }), 5s);
    EXPECT_LT(TimeToThrow([&] { broker.Ping(); }), 1s) << "a retry within the backoff must not wait";

    rabbit.Service("start-service");
    const auto deadline = Clock::now() + 60s;
    for (;;) {
        try {
            broker.Ping();
            broker.Publish(q, Body("after"));
            break;
        } catch (const BrokerUnavailable& e) {
            ASSERT_LT(Clock::now(), deadline) << "still unavailable a minute after the restart: " << e.what();
            std::this_thread::sleep_for(200ms);
        }
    }
    broker.Ack(*held);  // its connection is gone: nothing to do, it comes back
    std::vector<std::string> bodies;
    std::vector<int> deliveries;
    for (int i = 0; i < 2; ++i) {
        std::optional<Delivery> d;
        // The first Receive on a connection opened before the restart may find it gone.
        for (int attempt = 0; attempt < 20 && !d; ++attempt) {
            try {
                d = broker.Receive(q, 5s, stop.get_token());
                if (!d) break;
            } catch (const BrokerUnavailable&) {
                std::this_thread::sleep_for(200ms);
            }
        }
        ASSERT_TRUE(d.has_value()) << "message " << i;
        bodies.push_back(d->body);
        deliveries.push_back(d->deliveries);
        broker.Ack(*d);
    }
    EXPECT_EQ(bodies, (std::vector<std::string>{Body("before"), Body("after")}))
        << "the message published before the stop did not survive it";
    EXPECT_EQ(deliveries, (std::vector<int>{2, 1}));
    EXPECT_FALSE(broker.Receive(q, 500ms, stop.get_token()).has_value());
}

}  // namespace
}  // namespace v2m::broker
