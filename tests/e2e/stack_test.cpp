// The microservice mode end to end (DESIGN.md §1, §3): auth, gateway, two
// converters and a notifier, each its own process, on real PostgreSQL (store
// and blob store), RabbitMQ and an SMTP server — servers of this test's own,
// since the fault tests stop and kill them. Driven with curl as the
// original's users drive it; RabbitMQ is also read with a foreign AMQP client
// (Debian's python3-pika). Every fault ends with every job done exactly once,
// one MP3 per job, one email per job.
//
// One process for the whole suite (the servers take ~15 s to start), tests in
// the order written: each leaves the stack running and healthy.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e_client.hpp"
#include "services.hpp"
#include "test_support.hpp"

namespace v2m::test {
namespace {

namespace fs = std::filesystem;

std::string Script() { return std::string(V2M_SOURCE_DIR) + "/scripts/testenv"; }

// "export NAME=value" lines, as scripts/testenv writes them.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
    std::map<std::string, std::string> env;
    for (const std::string& line : Lines(ReadFile(path))) {
        const std::string body = line.starts_with("export ") ? line.substr(7) : line;
        const auto eq = body.find('=');
        if (eq == std::string::npos) continue;
        std::string value = body.substr(eq + 1);
        if (value.size() >= 2 && (value.front() == '\'' || value.front() == '"')) {
            value = value.substr(1, value.size() - 2);
        }
        env[body.substr(0, eq)] = value;
    }
    return env;
}

// PostgreSQL, RabbitMQ and the SMTP catcher, started for this suite alone.
class Servers {
  public:
    Servers() {
        const ProcessResult r =
            test::Run({"bash", Script(), "start", dir_.path().string(), "postgres", "rabbitmq", "smtp"},
                      {.timeout = std::chrono::minutes(4)});
        if (r.exit_code != 0) throw std::runtime_error("testenv start failed: " + r.Describe());
        env_ = ReadEnvFile(dir_ / "env");
    }
    ~Servers() {
        test::Run({"bash", Script(), "stop", dir_.path().string()}, {.timeout = std::chrono::minutes(2)});
    }

    const std::string& Get(const std::string& name) const { return env_.at(name); }
    std::string postgres() const { return Get("V2M_TEST_POSTGRES_URL"); }
    std::string amqp() const { return Get("V2M_TEST_AMQP_URL"); }
    std::string smtp() const { return Get("V2M_TEST_SMTP_URL"); }
    std::string maildir() const { return Get("V2M_TEST_SMTP_MAILDIR"); }

    void StopService(const std::string& name) {
        const ProcessResult r = test::Run({"bash", Script(), "stop-service", dir_.path().string(), name},
                                          {.timeout = std::chrono::minutes(2)});
        if (r.exit_code != 0) throw std::runtime_error("cannot stop " + name + ": " + r.Describe());
    }
    void StartService(const std::string& name) {
        const ProcessResult r = test::Run({"bash", Script(), "start-service", dir_.path().string(), name},
                                          {.timeout = std::chrono::minutes(2)});
        if (r.exit_code != 0) throw std::runtime_error("cannot start " + name + ": " + r.Describe());
    }

    // One value through psql.
    std::string Sql(const std::string& sql) const {
        const ProcessResult r =
            test::Run({"psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", postgres(), "-c", sql});
        if (r.exit_code != 0) throw std::runtime_error("psql failed: " + r.Describe());
        std::string out = r.out;
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        return out;
    }

    // A Python program with Debian's pika, given the AMQP URL as argv[1].
    ProcessResult Pika(const std::string& program) const {
        return test::Run({"/usr/bin/python3", "-c", program, amqp()}, {.timeout = std::chrono::seconds(60)});
    }

  private:
    TempDir dir_;
    std::map<std::string, std::string> env_;
};

// The four roles as processes on those servers.
class Stack {
  public:
    explicit Stack(const Servers& servers) : servers_(servers), gateway_port_(FreePort()) {
        const ProcessResult key = test::Run({Binary(), "keygen", key_dir_ / "jwt.pem"});
        if (key.exit_code != 0) throw std::runtime_error("keygen failed: " + key.Describe());
        auth_ = std::make_unique<ServiceProcess>(
            "auth", Env({"V2M_JWT_PRIVATE_KEY_FILE=" + key_dir_ / "jwt.pem", "V2M_OPEN_REGISTRATION=true"}));
        gateway_ = std::make_unique<ServiceProcess>(
            "gateway", Env({"V2M_AUTH_URL=http://127.0.0.1:" + std::to_string(auth_->port())}),
            gateway_port_);
        for (int i = 0; i < 2; ++i) converters_.push_back(StartConverter());
        notifier_ = StartNotifier();
    }

    std::string Url(const std::string& path) const { return gateway_->Url(path); }
    ServiceProcess& gateway() { return *gateway_; }
    ServiceProcess& auth() { return *auth_; }
    std::vector<std::unique_ptr<ServiceProcess>>& converters() { return converters_; }
    std::unique_ptr<ServiceProcess>& notifier() { return notifier_; }

    std::unique_ptr<ServiceProcess> StartConverter() {
        // One conversion each, short leases and a busy reaper: a killed
        // converter's job comes back within seconds.
        return std::make_unique<ServiceProcess>(
            "converter", Env({"V2M_CONCURRENCY=1", "V2M_JOB_LEASE=3s", "V2M_REAPER_INTERVAL=1s"}));
    }
    std::unique_ptr<ServiceProcess> StartNotifier() {
        return std::make_unique<ServiceProcess>("notifier", Env({"V2M_SMTP_URL=" + servers_.smtp()}));
    }

    // Every log line of every role that mentions `text`.
    std::string LogsWith(const std::string& text) const {
        std::string out;
        auto scan = [&](const char* name, const ServiceProcess& p) {
            for (const std::string& line : Lines(p.Log())) {
                if (line.find(text) != std::string::npos) out += std::string(name) + ": " + line + "\n";
            }
        };
        scan("auth", *auth_);
        scan("gateway", *gateway_);
        for (const auto& c : converters_) scan("converter", *c);
        scan("notifier", *notifier_);
        return out;
    }

  private:
    std::vector<std::string> Env(std::vector<std::string> extra) const {
        std::vector<std::string> env = {"V2M_DATABASE_URL=" + servers_.postgres(),
                                        "V2M_BLOB_STORE=" + servers_.postgres(),
                                        "V2M_BROKER_URL=" + servers_.amqp(),
                                        "V2M_PUBLIC_URL=http://127.0.0.1:" + std::to_string(gateway_port_),
                                        "V2M_ARGON2_OPS=1",
                                        "V2M_ARGON2_MEMORY_KIB=1024",
                                        "V2M_LOG_FORMAT=json",
                                        "V2M_DB_WAIT=60s"};
        env.insert(env.end(), extra.begin(), extra.end());
        return env;
    }

    const Servers& servers_;
    TempDir key_dir_;
    int gateway_port_;
    std::unique_ptr<ServiceProcess> auth_;
    std::unique_ptr<ServiceProcess> gateway_;
    std::vector<std::unique_ptr<ServiceProcess>> converters_;
    std::unique_ptr<ServiceProcess> notifier_;
};

// Stops a server for a while; starts it again at End() or, should the test
// end first, on the way out (later tests need it).
class Outage {
  public:
    Outage(Servers& servers, std::string name) : servers_(servers), name_(std::move(name)) {
        servers_.StopService(name_);
    }
    ~Outage() {
        if (ended_) return;
        try {
            servers_.StartService(name_);
        } catch (const std::exception& e) {
            ADD_FAILURE() << e.what();
        }
    }
    Outage(const Outage&) = delete;
    Outage& operator=(const Outage&) = delete;
    void End() {
        ended_ = true;
        servers_.StartService(name_);
    }

  private:
    Servers& servers_;
    std::string name_;
    bool ended_ = false;
};

class StackTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        servers_ = new Servers();
        stack_ = new Stack(*servers_);
    }
    static void TearDownTestSuite() {
        delete stack_;
        delete servers_;
    }
    void SetUp() override { ASSERT_TRUE(stack_ != nullptr); }

    Stack& stack() { return *stack_; }
    Servers& servers() { return *servers_; }

    // A user of this test's own, signed in through the gateway.
    std::string NewUser(const std::string& name) {
        const std::string email = name + "." + std::to_string(++users_) + "@example.com";
        emails_[name] = email;
        return SignUp(stack(), email);
    }

    // The fixture song in this test's directory; safe from many threads.
    std::string Song() {
        std::string path = work_ / "song.mp4";
        const std::lock_guard lock(song_mutex_);
        if (!fs::exists(path)) fs::copy_file(Fixture("h264_aac.mp4"), path);
        return path;
    }

    // The messages the SMTP server received that mention `text`.
    std::vector<std::string> MailsWith(const std::string& text) const {
        std::vector<std::string> found;
        const fs::path dir = servers_->maildir();
        if (!fs::exists(dir)) return found;
        for (const auto& entry : fs::recursive_directory_iterator(dir)) {
            if (!entry.is_regular_file() || entry.path().extension() != ".eml") continue;
            const std::string mail = DecodeQuotedPrintable(ReadFile(entry.path().string()));
            if (mail.find(text) != std::string::npos) found.push_back(mail);
        }
        return found;
    }

    // Waits until the job's email is recorded as sent and at least one
    // message names it; then all of them (the caller checks there is one).
    std::vector<std::string> WaitForMailOf(const std::string& job_id, std::chrono::seconds limit = 60s) {
        const auto deadline = Clock::now() + limit;
        while (Clock::now() < deadline) {
            if (servers().Sql("SELECT notify_state FROM jobs WHERE id = '" + job_id + "'") == "sent" &&
                !MailsWith("job-" + job_id).empty()) {
                break;
            }
            std::this_thread::sleep_for(100ms);
        }
        // A second (wrong) email would come right after the first: give it the chance.
        std::this_thread::sleep_for(300ms);
        return MailsWith("job-" + job_id);
    }

    // Every job of `owner_email` is done once: one MP3 blob each, one email each.
    void ExpectDoneOnceWithOneEmail(const std::vector<std::string>& job_ids) {
        for (const std::string& id : job_ids) {
            EXPECT_EQ(servers().Sql("SELECT state FROM jobs WHERE id = '" + id + "'"), "done") << id;
            EXPECT_EQ(
                servers().Sql("SELECT count(*) FROM blobs b JOIN jobs j ON b.id = j.mp3_fid WHERE j.id = '" +
                              id + "'"),
                "1")
                << id;
            EXPECT_EQ(WaitForMailOf(id).size(), 1u) << id;
        }
    }

    static inline Servers* servers_ = nullptr;
    static inline Stack* stack_ = nullptr;
    static inline int users_ = 0;
    std::map<std::string, std::string> emails_;
    std::mutex song_mutex_;
    TempDir work_;
};

// 1. The original's commands against the gateway; the email through SMTP;
//    the trace of the job through every process's log.
TEST_F(StackTest, TheOriginalsCommandsWorkAcrossProcesses) {
    const std::string token = NewUser("alice");
    const json job = Submit(stack(), token, Song());
    const std::string job_id = job.at("job_id");
    const JobWatch watch = Watch(stack(), token, job_id, Finished);
    ASSERT_EQ(watch.state(), "done") << watch.History() << stack().LogsWith("error");
    EXPECT_TRUE(MovesForward(watch));
    const std::string mp3_fid = watch.job.value("mp3_fid", "");

    const std::vector<std::string> mails = WaitForMailOf(job_id);
    ASSERT_EQ(mails.size(), 1u);
    const std::string link = stack().Url("/download?fid=" + mp3_fid);
    const std::string& mail = mails[0];
    EXPECT_NE(mail.find("Subject: MP3 Download"), std::string::npos) << mail;
    EXPECT_NE(mail.find("To: " + emails_["alice"]), std::string::npos) << mail;
    EXPECT_NE(mail.find("mp3 file_id: " + mp3_fid + " is now ready!"), std::string::npos) << mail;
    EXPECT_NE(mail.find(link), std::string::npos) << mail;

    const std::string mp3 = work_ / "song.mp3";
    const ProcessResult fetched =
        test::Run({"curl", "-sS", "--fail", "--output", mp3, "-H", Bearer(token), link});
    ASSERT_EQ(fetched.exit_code, 0) << fetched.Describe();
    ExpectTone(mp3, DecodeMono(Song()).seconds());
    EXPECT_EQ(Curl({"-I", "-H", Bearer(token), link}).Header("ETag"), "\"" + Sha256Sum(mp3) + "\"");

    // The trace follows the job: gateway (upload), converter, notifier.
    const std::string trace_id = servers().Sql("SELECT trace_id FROM jobs WHERE id = '" + job_id + "'");
    ASSERT_EQ(trace_id.size(), 32u);
    const std::string traced = stack().LogsWith("\"trace_id\":\"" + trace_id + "\"");
    EXPECT_NE(traced.find("gateway: "), std::string::npos) << traced;
    EXPECT_NE(traced.find("converter: "), std::string::npos) << traced;
    EXPECT_NE(traced.find("notifier: "), std::string::npos) << traced;
    for (const std::string& line : Lines(traced)) {
        const json parsed = json::parse(line.substr(line.find(": ") + 2), nullptr, false);
        EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
        EXPECT_EQ(parsed.value("job_id", ""), job_id) << line;
    }

    // Every role answers its health, readiness and metrics.
    for (ServiceProcess* p : {&stack().gateway(), &stack().auth(), stack().converters()[0].get(),
                              stack().converters()[1].get(), stack().notifier().get()}) {
        EXPECT_EQ(Curl({p->Url("/healthz")}).status, 200);
        EXPECT_EQ(Curl({p->Url("/readyz")}).status, 200);
        EXPECT_NE(Curl({p->Url("/metrics")}).body.find("# TYPE"), std::string::npos);
    }
}

// 2. A foreign AMQP client reads our messages: the original's keys.
TEST_F(StackTest, PikaReadsAnMp3MessageWithTheOriginalsKeys) {
    // Without a notifier the mp3 message stays in its queue.
    ASSERT_EQ(stack().notifier()->Stop().exit_code, 0);
    const std::string token = NewUser("pika");
    const json job = Submit(stack(), token, Song());
    const std::string job_id = job.at("job_id");
    const JobWatch watch = Watch(stack(), token, job_id, Finished);
    ASSERT_EQ(watch.state(), "done") << watch.History();

    // basic_get until our message shows up (others may be ahead of it), then
    // put everything back.
    const ProcessResult r = servers().Pika(R"(
import json, sys, time, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = conn.channel()
deadline = time.time() + 30
while time.time() < deadline:
    method, props, body = ch.basic_get('mp3')
    if method is None:
        time.sleep(0.1)
        continue
    ch.basic_nack(method.delivery_tag, requeue=True)
    m = json.loads(body)
    if m.get('job_id') == ')" + job_id + R"(':
        print(json.dumps({'body': m, 'content_type': props.content_type, 'delivery_mode': props.delivery_mode}))
        break
conn.close()
)");
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    const json got = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(got.is_object()) << r.out;
    const json& body = got["body"];
    EXPECT_EQ(body.value("video_fid", ""), watch.job.value("video_fid", "x")) << body.dump();
    EXPECT_EQ(body.value("mp3_fid", ""), watch.job.value("mp3_fid", "x")) << body.dump();
    EXPECT_EQ(body.value("username", ""), emails_["pika"]) << body.dump();
    EXPECT_EQ(got.value("content_type", ""), "application/json");
    EXPECT_EQ(got.value("delivery_mode", 0), 2);  // persistent

    // The notifier back: the email goes out once.
    stack().notifier() = stack().StartNotifier();
    EXPECT_EQ(WaitForMailOf(job_id).size(), 1u);
}

// 3. Poison messages go to the dead-letter queue at once; nothing crashes or loops.
TEST_F(StackTest, PoisonMessagesAreDeadLettered) {
    const std::string unknown_job = std::string(32, 'f');
    const ProcessResult sent =
        servers().Pika(R"(
import sys, json, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = conn.channel()
props = pika.BasicProperties(delivery_mode=2, content_type='application/json')
ch.basic_publish('', 'video', b'{not json', props)
ch.basic_publish('', 'video', json.dumps({'job_id': ')" +
                       unknown_job + R"(', 'video_fid': 'x', 'mp3_fid': '', 'username': 'nobody'}), props)
ch.basic_publish('', 'mp3', b'[]', props)
conn.close()
)");
    ASSERT_EQ(sent.exit_code, 0) << sent.Describe();
    const ProcessResult dead = servers().Pika(R"(
import sys, time, pika
conn = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
ch = conn.channel()
seen = []
deadline = time.time() + 30
while time.time() < deadline and len(seen) < 3:
    for q in ('video.dead', 'mp3.dead'):
        method, props, body = ch.basic_get(q, auto_ack=True)
        if method is not None:
            seen.append(q + ' ' + body.decode())
    time.sleep(0.1)
print('\n'.join(sorted(seen)))
conn.close()
)");
    ASSERT_EQ(dead.exit_code, 0) << dead.Describe();
    EXPECT_NE(dead.out.find("video.dead {not json"), std::string::npos) << dead.out;
    EXPECT_NE(dead.out.find("video.dead {\"job_id\": \"" + unknown_job), std::string::npos) << dead.out;
    EXPECT_NE(dead.out.find("mp3.dead []"), std::string::npos) << dead.out;
    for (auto& c : stack().converters()) EXPECT_TRUE(c->Alive()) << c->Log();
    EXPECT_TRUE(stack().notifier()->Alive());

    // And real work still flows.
    const std::string token = NewUser("after.poison");
    const json done = ConvertOne(stack(), token, Song());
    ExpectDoneOnceWithOneEmail({done.at("job_id")});
}

// 4. Twenty uploads at once by three users: all converted, each user gets
//    exactly their emails, and the links work for them (and only them).
TEST_F(StackTest, TwentyConcurrentUploadsByThreeUsers) {
    const std::vector<std::string> names = {"ann", "bob", "cid"};
    std::map<std::string, std::string> tokens;
    for (const auto& n : names) tokens[n] = NewUser(n);
    std::mutex mutex;
    std::map<std::string, std::vector<std::string>> jobs_of;  // name → job ids
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    threads.reserve(20);
    for (int i = 0; i < 20; ++i) {
        threads.emplace_back([&, i] {
            const std::string& name = names[i % names.size()];
            try {
                const json job = Submit(stack(), tokens[name], Song());
                const std::lock_guard lock(mutex);
                jobs_of[name].push_back(job.at("job_id"));
            } catch (const std::exception& e) {
                const std::lock_guard lock(mutex);
                errors.push_back(e.what());
            }
        });
    }
    for (auto& t : threads) t.join();
    ASSERT_TRUE(errors.empty()) << errors.front();
    for (const auto& n : names) {
        for (const std::string& id : jobs_of[n]) {
            const JobWatch watch = Watch(stack(), tokens[n], id, Finished, 180s);
            ASSERT_EQ(watch.state(), "done") << watch.History();
            const std::string link = stack().Url("/download?fid=" + watch.job.value("mp3_fid", ""));
            const HttpResult mine = Curl({"-H", Bearer(tokens[n]), link});
            EXPECT_EQ(mine.status, 200);
            const std::string other =
                names[(std::find(names.begin(), names.end(), n) - names.begin() + 1) % 3];
            EXPECT_EQ(Curl({"-H", Bearer(tokens[other]), link}).status, 404);
            const std::vector<std::string> mails = WaitForMailOf(id);
            ASSERT_EQ(mails.size(), 1u) << id;
            EXPECT_NE(mails[0].find("To: " + emails_[n]), std::string::npos) << mails[0];
            EXPECT_NE(mails[0].find(link), std::string::npos);
        }
        // Exactly their emails: as many as their jobs, no more.
        EXPECT_EQ(MailsWith("To: " + emails_[n]).size(), jobs_of[n].size()) << n;
    }
}

// 5. kill -9 of the converter holding a job, with a second converter running.
TEST_F(StackTest, AKilledConverterIsJobIsFinishedOnceByTheOther) {
    const std::string token = NewUser("kill");
    const json job = Submit(stack(), token, LongInput(work_));
    const std::string job_id = job.at("job_id");
    const JobWatch converting = Watch(stack(), token, job_id, ConvertingWithProgress);
    ASSERT_EQ(converting.state(), "processing") << converting.History();
    const std::string owner = servers().Sql("SELECT lease_owner FROM jobs WHERE id = '" + job_id + "'");
    auto& converters = stack().converters();
    auto holder = std::find_if(converters.begin(), converters.end(), [&](const auto& c) {
        return owner.find(":" + std::to_string(c->pid()) + ":") != std::string::npos;
    });
    ASSERT_NE(holder, converters.end()) << "lease owner " << owner;
    (*holder)->Kill();

    const JobWatch watch = Watch(stack(), token, job_id, Finished, 120s);
    ASSERT_EQ(watch.state(), "done") << watch.History();
    EXPECT_EQ(servers().Sql("SELECT attempts FROM jobs WHERE id = '" + job_id + "'"), "2");
    ExpectDoneOnceWithOneEmail({job_id});
    *holder = stack().StartConverter();
}

// 6. RabbitMQ stops while uploads go on: they are accepted, and converted once it is back.
TEST_F(StackTest, UploadsSurviveRabbitMqStopping) {
    const std::string token = NewUser("rabbit");
    Outage outage(servers(), "rabbitmq");
    std::vector<std::string> ids;
    ids.reserve(3);
    for (int i = 0; i < 3; ++i) ids.push_back(Submit(stack(), token, Song()).at("job_id"));
    // Not ready while the broker is away — but serving.
    EXPECT_EQ(Curl({stack().Url("/readyz")}).status, 503);
    outage.End();
    for (const std::string& id : ids) {
        const JobWatch watch = Watch(stack(), token, id, Finished, 120s);
        ASSERT_EQ(watch.state(), "done") << watch.History() << stack().LogsWith("\"level\":\"warn");
    }
    ExpectDoneOnceWithOneEmail(ids);
    EXPECT_EQ(Curl({stack().Url("/readyz")}).status, 200);
}

// 7. PostgreSQL stops briefly: 503 JSON, not 500, not a hang; then recovery
//    without a restart.
TEST_F(StackTest, ADatabaseOutageIs503AndRecovers) {
    const std::string token = NewUser("pg");
    Outage outage(servers(), "postgres");
    const auto started = Clock::now();
    const HttpResult list = Curl({"-m", "20", "-H", Bearer(token), stack().Url("/v1/jobs")});
    EXPECT_EQ(list.status, 503) << list.body;
    EXPECT_EQ(list.Json()["error"].value("code", ""), "unavailable") << list.body;
    const HttpResult upload = Curl(
        {"-m", "20", "-X", "POST", "-F", "file=@" + Song(), "-H", Bearer(token), stack().Url("/upload")});
    EXPECT_EQ(upload.status, 503) << upload.body;
    EXPECT_LT(Clock::now() - started, 30s);
    EXPECT_EQ(Curl({stack().Url("/readyz")}).status, 503);
    outage.End();
    const auto deadline = Clock::now() + 60s;
    int status = 0;
    while (Clock::now() < deadline &&
           (status = Curl({"-H", Bearer(token), stack().Url("/v1/jobs")}).status) != 200) {
        std::this_thread::sleep_for(200ms);
    }
    ASSERT_EQ(status, 200);
    const json done = ConvertOne(stack(), token, Song());
    ExpectDoneOnceWithOneEmail({done.at("job_id")});
    for (auto& c : stack().converters()) EXPECT_TRUE(c->Alive());
}

// 8. The SMTP server is down for a while: the email goes out once it is back.
TEST_F(StackTest, EmailsWaitForTheSmtpServer) {
    const std::string token = NewUser("smtp");
    Outage outage(servers(), "smtp");
    const json done = ConvertOne(stack(), token, Song());
    const std::string job_id = done.at("job_id");
    // Tried, failed, waiting for its retry.
    const auto deadline = Clock::now() + 30s;
    while (Clock::now() < deadline &&
           servers().Sql("SELECT notify_attempts FROM jobs WHERE id = '" + job_id + "'") == "0") {
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_NE(servers().Sql("SELECT notify_state FROM jobs WHERE id = '" + job_id + "'"), "sent");
    outage.End();
    EXPECT_EQ(WaitForMailOf(job_id, 90s).size(), 1u);
}

// 9. Live events through the gateway: a converter process's progress, written
//    to the database, reaches the stream of the browser's gateway.
TEST_F(StackTest, EventsCarryAConverterProcessesProgressThroughTheGateway) {
    const std::string token = NewUser("events");
    const std::string events = work_ / "events.txt";
    test::Process curl({"curl", "-s", "-N", "--max-time", "170", "-o", events, "-H", Bearer(token),
                        stack().Url("/v1/events")},
                       {.timeout = 180s});
    const auto text = [&] { return fs::exists(events) ? ReadFile(events) : std::string(); };
    const auto deadline = Clock::now() + 20s;
    while (text().find("retry: ") == std::string::npos && Clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    ASSERT_NE(text().find("retry: "), std::string::npos) << "the stream did not start";

    const json job = Submit(stack(), token, LongInput(work_));
    const std::string job_id = job.at("job_id");
    const JobWatch watch = Watch(stack(), token, job_id, Finished, 120s);
    ASSERT_EQ(watch.state(), "done") << watch.History();
    const auto done_by = Clock::now() + 10s;
    while (text().find("\"state\":\"done\"") == std::string::npos && Clock::now() < done_by)
        std::this_thread::sleep_for(50ms);
    ::kill(curl.pid(), SIGTERM);
    curl.Wait();

    // This job's events, in order: progress while converting only goes up, then done.
    std::vector<json> mine;
    for (const std::string& line : Lines(text())) {
        if (line.rfind("data: ", 0) != 0) continue;
        const json data = json::parse(line.substr(6), nullptr, false);
        if (data.is_object() && data.value("job_id", "") == job_id) mine.push_back(data);
    }
    ASSERT_FALSE(mine.empty()) << text();
    EXPECT_EQ(mine.back().value("state", ""), "done") << text();
    double last = -1;
    int converting = 0;
    for (const json& e : mine) {
        const double progress = e.value("progress", -1.0);
        EXPECT_GE(progress, last) << "progress went back: " << text();
        last = progress;
        if (e.value("state", "") == "processing" && progress > 0 && progress < 1) ++converting;
    }
    EXPECT_GE(converting, 2) << "no progress while converting reached the stream: " << text();
}

}  // namespace
}  // namespace v2m::test
