#include <gtest/gtest.h>
#include <stdlib.h>  // mkdtemp

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "domain/message.hpp"
#include "mail/mailer.hpp"
#include "obs/metrics.hpp"
#include "testing/fakes.hpp"
#include "workers/converter.hpp"
#include "workers/notifier.hpp"

// The converter and the notifier against in-memory fakes, with a clock the
// test sets. The converter runs the real engine on media that Debian's
// ffmpeg makes here, at test time.
namespace v2m::workers {
namespace {

using fakes::Eventually;
using fakes::HexId;

constexpr std::int64_t kNow = 1'750'000'000'000;

// A fresh directory under the system's temporary directory, removed with
// its contents at the end.
class TempDir final {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "v2m-workers-test-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot make a temporary directory");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

TempDir& Scratch() {
    static TempDir dir;
    return dir;
}

std::string ReadFile(const std::string& path) {
    std::string bytes(static_cast<std::size_t>(std::filesystem::file_size(path)), '\0');
    std::ifstream in(path, std::ios::binary);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!in) throw std::runtime_error("cannot read " + path);
    return bytes;
}

void WriteFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
}

// Runs Debian's ffmpeg; the paths are ours (mkdtemp), so the shell sees no
// quoting surprises.
int Ffmpeg(const std::string& args) {
    const std::string command = "ffmpeg -nostdin -hide_banner -loglevel error -y " + args;
    return std::system(command.c_str());
}

std::string Generate(const std::string& name, const std::string& args) {
    const std::string path = Scratch() / name;
    if (Ffmpeg(args + " '" + path + "'") != 0) throw std::runtime_error("ffmpeg could not make " + name);
    return ReadFile(path);
}

// Two seconds of a 440 Hz tone, AAC in MP4.
const std::string& ShortTone() {
    static const std::string bytes =
        Generate("tone.m4a", "-f lavfi -i sine=frequency=440:duration=2 -c:a aac");
    return bytes;
}

// Five minutes of a tone (cheap to make: 8 kHz PCM), so that a conversion is
// still running when its first progress report comes.
const std::string& LongTone() {
    static const std::string bytes = Generate(
        "long.wav", "-f lavfi -i sine=frequency=440:duration=300:sample_rate=8000 -ac 1 -c:a pcm_s16le");
    return bytes;
}

// The value of `v2m_<family>_total{outcome="…"}`, 0 when absent.
double Outcome(const obs::Metrics& metrics, const std::string& family, const std::string& outcome) {
    std::istringstream text(metrics.Serialize());
    const std::string prefix = family + "{outcome=\"" + outcome + "\"} ";
    for (std::string line; std::getline(text, line);) {
        if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
    }
    return 0;
}

std::string Announcement(const domain::Job& job, const std::string& event) {
    return domain::EncodeMessage({.job_id = job.id,
                                  .video_fid = job.video_fid,
                                  .mp3_fid = job.mp3_fid,
                                  .username = job.username,
                                  .trace_id = job.trace_id,
                                  .event = event});
}

// Pushes onto `queue` a message naming a job the store does not have, runs the
// worker (`start`, then `stop` once the message is rejected) and checks that
// the message was rejected (dead-lettered), not acknowledged. For the
// converter and the notifier alike.
void ExpectAnUnknownJobRejected(fakes::FakeBroker& broker, const std::string& queue,
                                const std::function<void()>& start, const std::function<void()>& stop) {
    const std::string tag = broker.Push(
        queue, R"({"job_id": "ffffffffffffffffffffffffffffffff", "video_fid": "abc", "username": "a@b.c"})");
    start();
    ASSERT_TRUE(Eventually([&] { return broker.rejected().size() == 1; }));
    stop();
    EXPECT_EQ(broker.rejected(), std::vector<std::string>{tag});
    EXPECT_TRUE(broker.acked().empty());
}

// --- the converter ---

class ConverterTest : public ::testing::Test {
  protected:
    ConverterTest() = default;
    ~ConverterTest() override { Stop(); }
    ConverterTest(const ConverterTest&) = delete;
    ConverterTest& operator=(const ConverterTest&) = delete;

    Converter& converter() {
        if (!converter_) {
            converter_ = std::make_unique<Converter>(jobs_, blobs_, broker_, metrics_, settings_,
                                                     [this] { return now_.load(); });
        }
        return *converter_;
    }

    void Start() {
        Converter& c = converter();
        running_ = std::thread([&c, stop = stop_.get_token()] { c.Run(stop); });
    }

    void Stop() {
        stop_.request_stop();
        if (running_.joinable()) running_.join();
    }

    domain::Job PutJob(const std::string& id, std::string video, int attempts = 0) {
        domain::Job job;
        job.id = id;
        job.owner_id = "user-alice";
        job.username = "alice@example.com";
        job.filename = "tone.m4a";
        job.video_fid = blobs_.Put(std::move(video));
        job.trace_id = "trace-" + id;
        job.attempts = attempts;
        job.created_at = kNow - 10'000;
        job.next_attempt_at = kNow - 10'000;
        jobs_.Put(job);
        return job;
    }

    std::string Announce(const domain::Job& job) {
        return broker_.Push("video", Announcement(job, "convert"));
    }

    domain::JobState StateOf(const std::string& id) {
        const auto job = jobs_.FindJob(id);
        return job ? job->state : domain::JobState::kQueued;
    }

    double Conversions(const std::string& outcome) const {
        return Outcome(metrics_, "v2m_conversions_total", outcome);
    }

    fakes::CallLog log_;
    fakes::FakeJobStore jobs_{&log_};
    fakes::FakeBlobStore blobs_{&log_};
    fakes::FakeBroker broker_{&log_};
    obs::Metrics metrics_;
    std::atomic<std::int64_t> now_{kNow};
    ConverterSettings settings_{
        .worker_id = "converter-test-1",
        .concurrency = 1,
        .lease = std::chrono::seconds(30),
        .renew_every = std::chrono::milliseconds(0),  // renew on every progress report
        .reap_every = std::chrono::seconds(60),
        .retry = {.max_attempts = 3, .base_delay_ms = 2'000, .max_delay_ms = 60'000}};
    std::stop_source stop_;
    std::unique_ptr<Converter> converter_;
    std::thread running_;
};

TEST_F(ConverterTest, ConvertsAJobAfterClaimingAndAcknowledgingIt) {
    const domain::Job job = PutJob(HexId(1), ShortTone());
    const std::string tag = Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return StateOf(job.id) == domain::JobState::kDone; }));
    Stop();

    EXPECT_EQ(broker_.acked(), std::vector<std::string>{tag});
    EXPECT_TRUE(broker_.rejected().empty());
    // Claimed, then acknowledged at once, before the conversion even starts.
    const int claim = log_.IndexOf("ClaimJob");
    const int ack = log_.IndexOf("Ack");
    ASSERT_GE(claim, 0);
    EXPECT_LT(claim, ack);
    EXPECT_LT(ack, log_.IndexOf("Open"));
    EXPECT_LT(ack, log_.IndexOf("Create"));
    EXPECT_LT(ack, log_.IndexOf("RenewJobLease"));
    EXPECT_LT(log_.IndexOf("RenewJobLease"), log_.IndexOf("Commit"));
    EXPECT_LT(log_.IndexOf("Commit"), log_.IndexOf("CompleteJob"));

    const auto completes = jobs_.completes();
    ASSERT_EQ(completes.size(), 1u);
    const fakes::CompleteCall& c = completes[0];
    EXPECT_TRUE(c.accepted);
    EXPECT_EQ(c.lease.job_id, job.id);
    EXPECT_EQ(c.lease.owner, "converter-test-1");
    EXPECT_EQ(c.lease.expired_before, 0);
    EXPECT_EQ(c.mp3.id, c.done.mp3_fid);
    EXPECT_EQ(c.mp3.kind, "mp3");
    EXPECT_EQ(c.mp3.owner_id, "user-alice");
    EXPECT_EQ(c.done.finished_at, kNow);
    ASSERT_TRUE(c.done.duration_s);
    EXPECT_NEAR(*c.done.duration_s, 2.0, 0.1);

    const auto mp3 = blobs_.Bytes(c.mp3.id);
    ASSERT_TRUE(mp3);
    EXPECT_EQ(c.mp3.size, mp3->size());
    EXPECT_EQ(c.done.mp3_bytes, static_cast<std::int64_t>(mp3->size()));
    EXPECT_EQ(c.mp3.sha256, fakes::FakeSha256(*mp3));  // the bytes as committed, header patch included
    // Two seconds of a tone: a few kB, not nothing and not the input.
    EXPECT_GT(mp3->size(), 2'000u);
    EXPECT_LT(mp3->size(), 200'000u);
    const bool id3 = mp3->rfind("ID3", 0) == 0;
    const bool frame_sync = mp3->size() > 2 && static_cast<unsigned char>((*mp3)[0]) == 0xFF &&
                            (static_cast<unsigned char>((*mp3)[1]) & 0xE0) == 0xE0;
    EXPECT_TRUE(id3 || frame_sync);
    // And it decodes whole.
    const std::string path = Scratch() / (c.mp3.id + ".mp3");
    WriteFile(path, *mp3);
    EXPECT_EQ(Ffmpeg("-i '" + path + "' -f null -"), 0);

    // The `mp3` message for the notifier went with it.
    EXPECT_EQ(c.message.queue, "mp3");
    EXPECT_EQ(c.message.job_id, job.id);
    const auto message = domain::DecodeMessage(c.message.body);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->event, "done");
    EXPECT_EQ(message->mp3_fid, c.mp3.id);
    EXPECT_EQ(message->video_fid, job.video_fid);
    EXPECT_EQ(message->username, "alice@example.com");
    EXPECT_EQ(message->trace_id, job.trace_id);

    const auto done = jobs_.FindJob(job.id);
    EXPECT_EQ(done->notify_state, domain::NotifyState::kPending);
    EXPECT_EQ(done->attempts, 1);
    EXPECT_TRUE(jobs_.fails().empty());
    EXPECT_TRUE(jobs_.requeues().empty());
    EXPECT_GE(broker_.nudges(), 1);
    EXPECT_EQ(Conversions("done"), 1);
}

TEST_F(ConverterTest, TextIsNotMediaAndFailsForGood) {
    std::string text;
    for (int i = 0; i < 200; ++i) text += "this is a plain text file, not a video\n";
    const domain::Job job = PutJob(HexId(2), text);
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return StateOf(job.id) == domain::JobState::kFailed; }));
    Stop();

    const auto fails = jobs_.fails();
    ASSERT_EQ(fails.size(), 1u);
    EXPECT_TRUE(fails[0].accepted);
    EXPECT_EQ(fails[0].code, "not_media");
    EXPECT_FALSE(fails[0].reason.empty());
    EXPECT_EQ(fails[0].message.queue, "mp3");
    const auto message = domain::DecodeMessage(fails[0].message.body);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->event, "failed");
    EXPECT_TRUE(jobs_.requeues().empty());
    EXPECT_TRUE(jobs_.completes().empty());
    EXPECT_EQ(jobs_.FindJob(job.id)->error_code, "not_media");
    EXPECT_EQ(blobs_.Ids(), std::vector<std::string>{job.video_fid});  // no MP3 left behind
    EXPECT_EQ(blobs_.writers_alive(), 0);
    EXPECT_EQ(Conversions("failed"), 1);
}

TEST_F(ConverterTest, UnreachableStorageRequeuesWithBackoff) {
    blobs_.fail_reads = true;
    const domain::Job job = PutJob(HexId(3), ShortTone());
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.requeues().empty(); }));
    Stop();

    const auto requeues = jobs_.requeues();
    ASSERT_EQ(requeues.size(), 1u);
    const fakes::OutcomeCall& r = requeues[0];
    EXPECT_TRUE(r.accepted);
    EXPECT_EQ(r.lease.owner, "converter-test-1");
    EXPECT_FALSE(r.code.empty());
    EXPECT_EQ(r.message.queue, "video");
    // Attempt 1 failed: the base delay, plus up to 25 % jitter.
    EXPECT_GE(r.message.available_at, domain::NextAttemptAt(settings_.retry, 1, kNow, 0.0));
    EXPECT_LE(r.message.available_at, domain::NextAttemptAt(settings_.retry, 1, kNow, 1.0));
    const auto queued = jobs_.FindJob(job.id);
    EXPECT_EQ(queued->state, domain::JobState::kQueued);
    EXPECT_EQ(queued->next_attempt_at, r.message.available_at);
    EXPECT_EQ(queued->attempts, 1);
    EXPECT_EQ(queued->error_code, r.code);
    EXPECT_TRUE(jobs_.fails().empty());
    EXPECT_TRUE(jobs_.completes().empty());
    EXPECT_EQ(blobs_.Ids(), std::vector<std::string>{job.video_fid});
    EXPECT_EQ(Conversions("retried"), 1);
}

TEST_F(ConverterTest, StorageThatCannotOpenRequeuesToo) {
    blobs_.fail_open = true;
    const domain::Job job = PutJob(HexId(4), ShortTone());
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.requeues().empty(); }));
    Stop();
    const auto requeues = jobs_.requeues();
    ASSERT_EQ(requeues.size(), 1u);
    EXPECT_TRUE(requeues[0].accepted);
    EXPECT_EQ(requeues[0].code, "unavailable");
    EXPECT_TRUE(jobs_.fails().empty());
}

TEST_F(ConverterTest, UnreachableStorageFailsTheJobOnTheLastAttempt) {
    blobs_.fail_reads = true;
    const domain::Job job = PutJob(HexId(5), ShortTone(), settings_.retry.max_attempts - 1);
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return StateOf(job.id) == domain::JobState::kFailed; }));
    Stop();

    EXPECT_TRUE(jobs_.requeues().empty());
    const auto fails = jobs_.fails();
    ASSERT_EQ(fails.size(), 1u);
    EXPECT_TRUE(fails[0].accepted);
    EXPECT_NE(fails[0].reason.find("gave up after 3 attempts"), std::string::npos) << fails[0].reason;
    EXPECT_EQ(fails[0].message.queue, "mp3");
    EXPECT_EQ(jobs_.FindJob(job.id)->attempts, 3);
}

TEST_F(ConverterTest, AMessageNamingNoJobIsRejected) {
    const std::string garbage = broker_.Push("video", "this is not JSON");
    const std::string no_job = broker_.Push("video", R"({"video_fid": "abc", "username": "a@example.com"})");
    Start();
    ASSERT_TRUE(Eventually([&] { return broker_.rejected().size() == 2; }));
    Stop();
    EXPECT_EQ(broker_.rejected(), (std::vector<std::string>{garbage, no_job}));
    EXPECT_TRUE(broker_.acked().empty());
    EXPECT_EQ(log_.IndexOf("ClaimJob"), -1);
    EXPECT_EQ(blobs_.writers_created(), 0);
}

TEST_F(ConverterTest, AMessageNamingAJobThatDoesNotExistIsRejected) {
    ASSERT_NO_FATAL_FAILURE(ExpectAnUnknownJobRejected(
        broker_, "video", [this] { Start(); }, [this] { Stop(); }));
    EXPECT_EQ(blobs_.writers_created(), 0);
}

TEST_F(ConverterTest, AJobThatCannotBeClaimedIsOnlyAcknowledged) {
    domain::Job done = PutJob(HexId(6), ShortTone());
    done.state = domain::JobState::kDone;
    jobs_.Put(done);
    domain::Job not_due = PutJob(HexId(7), ShortTone());
    not_due.next_attempt_at = kNow + 60'000;
    jobs_.Put(not_due);
    domain::Job taken = PutJob(HexId(8), ShortTone());
    taken.state = domain::JobState::kProcessing;
    taken.lease_owner = "another-converter";
    taken.lease_expires_at = kNow + 30'000;
    jobs_.Put(taken);

    for (const domain::Job* job : {&done, &not_due, &taken}) Announce(*job);
    Start();
    ASSERT_TRUE(Eventually([&] { return broker_.acked().size() == 3; }));
    Stop();

    EXPECT_EQ(log_.Count("ClaimJob"), 3);
    EXPECT_TRUE(broker_.rejected().empty());
    EXPECT_EQ(log_.IndexOf("Open"), -1);
    EXPECT_EQ(blobs_.writers_created(), 0);
    EXPECT_TRUE(jobs_.completes().empty());
    EXPECT_TRUE(jobs_.fails().empty());
    EXPECT_TRUE(jobs_.requeues().empty());
    EXPECT_EQ(jobs_.FindJob(not_due.id)->attempts, 0);
    EXPECT_EQ(jobs_.FindJob(taken.id)->lease_owner, "another-converter");
}

TEST_F(ConverterTest, ALostLeaseCancelsTheConversion) {
    const domain::Job job = PutJob(HexId(10), LongTone());
    // The job is deleted while it converts: the next renewal finds no lease.
    jobs_.on_renew = [this](const store::LeaseGuard& lease, double) { jobs_.DeleteJob(lease.job_id); };
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return Conversions("lost") == 1; }));
    Stop();

    // Cancelled, not finished: nothing tried to complete (which the store
    // would refuse), fail or requeue it.
    EXPECT_TRUE(jobs_.completes().empty());
    EXPECT_TRUE(jobs_.fails().empty());
    EXPECT_TRUE(jobs_.requeues().empty());
    EXPECT_GE(jobs_.renewals(), 1);
    EXPECT_LE(jobs_.renewals(), 2);
    EXPECT_EQ(blobs_.writers_created(), 1);
    EXPECT_EQ(blobs_.writers_alive(), 0);
    EXPECT_EQ(log_.IndexOf("Commit"), -1);
    EXPECT_EQ(blobs_.Ids(), std::vector<std::string>{job.video_fid});
}

TEST_F(ConverterTest, AJobDeletedAsItFinishesLeavesNoMp3) {
    const domain::Job job = PutJob(HexId(12), ShortTone());
    // Deleted between the last progress report and the commit.
    jobs_.on_renew = [this](const store::LeaseGuard& lease, double progress) {
        if (progress >= 1.0) jobs_.DeleteJob(lease.job_id);
    };
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return Conversions("lost") == 1; }));
    Stop();

    for (const fakes::CompleteCall& c : jobs_.completes()) EXPECT_FALSE(c.accepted);
    EXPECT_TRUE(jobs_.fails().empty());
    EXPECT_TRUE(jobs_.requeues().empty());
    EXPECT_EQ(blobs_.Ids(), std::vector<std::string>{job.video_fid});
    EXPECT_EQ(blobs_.writers_alive(), 0);
}

TEST_F(ConverterTest, MediaOverTheDurationLimitFailsForGood) {
    settings_.max_duration_s = 1;
    const domain::Job job = PutJob(HexId(13), ShortTone());
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return StateOf(job.id) == domain::JobState::kFailed; }));
    Stop();
    const auto fails = jobs_.fails();
    ASSERT_EQ(fails.size(), 1u);
    EXPECT_EQ(fails[0].code, "too_long");
    EXPECT_TRUE(jobs_.requeues().empty());
    EXPECT_EQ(blobs_.Ids(), std::vector<std::string>{job.video_fid});
}

TEST_F(ConverterTest, AVideoNoLongerStoredFailsForGood) {
    domain::Job job = PutJob(HexId(14), ShortTone());
    blobs_.Remove(job.video_fid);
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return StateOf(job.id) == domain::JobState::kFailed; }));
    Stop();
    const auto fails = jobs_.fails();
    ASSERT_EQ(fails.size(), 1u);
    EXPECT_EQ(fails[0].code, "input_missing");
    EXPECT_TRUE(jobs_.requeues().empty());
}

TEST_F(ConverterTest, StoppingMidConversionReleasesTheJob) {
    const domain::Job job = PutJob(HexId(11), LongTone());
    jobs_.on_renew = [this](const store::LeaseGuard&, double progress) {
        if (progress < 1.0) stop_.request_stop();  // SIGTERM, while converting
    };
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return stop_.stop_requested(); }));
    Stop();

    const auto requeues = jobs_.requeues();
    ASSERT_EQ(requeues.size(), 1u);
    EXPECT_TRUE(requeues[0].accepted);
    EXPECT_EQ(requeues[0].code, "");
    EXPECT_EQ(requeues[0].reason, "");
    EXPECT_EQ(requeues[0].lease.owner, "converter-test-1");
    EXPECT_EQ(requeues[0].message.queue, "video");
    EXPECT_EQ(requeues[0].message.available_at, kNow);  // at once, for another converter
    const auto released = jobs_.FindJob(job.id);
    EXPECT_EQ(released->state, domain::JobState::kQueued);
    EXPECT_TRUE(released->lease_owner.empty());
    EXPECT_TRUE(jobs_.completes().empty());
    EXPECT_TRUE(jobs_.fails().empty());
    EXPECT_EQ(blobs_.Ids(), std::vector<std::string>{job.video_fid});
    EXPECT_EQ(Conversions("released"), 1);
}

TEST_F(ConverterTest, TheReaperRequeuesOrFailsExpiredLeasesOnly) {
    domain::Job interrupted = PutJob(HexId(20), "v");
    interrupted.state = domain::JobState::kProcessing;
    interrupted.lease_owner = "dead-converter";
    interrupted.lease_expires_at = kNow - 1;
    interrupted.attempts = 1;
    jobs_.Put(interrupted);
    domain::Job exhausted = PutJob(HexId(21), "v");
    exhausted.state = domain::JobState::kProcessing;
    exhausted.lease_owner = "dead-converter-2";
    exhausted.lease_expires_at = kNow - 5'000;
    exhausted.attempts = settings_.retry.max_attempts;
    jobs_.Put(exhausted);
    domain::Job alive = PutJob(HexId(22), "v");
    alive.state = domain::JobState::kProcessing;
    alive.lease_owner = "live-converter";
    alive.lease_expires_at = kNow + 10'000;
    alive.attempts = 1;
    jobs_.Put(alive);
    domain::Job mailing = PutJob(HexId(23), "v");
    mailing.state = domain::JobState::kDone;
    mailing.mp3_fid = HexId(99);
    mailing.notify_state = domain::NotifyState::kSending;
    mailing.notify_lease_owner = "dead-notifier";
    jobs_.Put(mailing);
    jobs_.SetNotifyLease(mailing.id, kNow - 1);

    EXPECT_EQ(converter().ReapOnce(), 3);

    const auto requeues = jobs_.requeues();
    ASSERT_EQ(requeues.size(), 1u);
    EXPECT_TRUE(requeues[0].accepted);
    EXPECT_EQ(requeues[0].lease.job_id, interrupted.id);
    EXPECT_EQ(requeues[0].lease.owner, "dead-converter");
    EXPECT_EQ(requeues[0].lease.expired_before, kNow);  // only while it is still expired
    EXPECT_EQ(requeues[0].message.queue, "video");
    EXPECT_EQ(requeues[0].message.available_at, kNow);
    EXPECT_EQ(jobs_.FindJob(interrupted.id)->state, domain::JobState::kQueued);

    const auto fails = jobs_.fails();
    ASSERT_EQ(fails.size(), 1u);
    EXPECT_TRUE(fails[0].accepted);
    EXPECT_EQ(fails[0].lease.job_id, exhausted.id);
    EXPECT_EQ(fails[0].lease.owner, "dead-converter-2");
    EXPECT_EQ(fails[0].lease.expired_before, kNow);
    EXPECT_EQ(fails[0].message.queue, "mp3");
    EXPECT_EQ(jobs_.FindJob(exhausted.id)->state, domain::JobState::kFailed);

    const auto still = jobs_.FindJob(alive.id);
    EXPECT_EQ(still->state, domain::JobState::kProcessing);
    EXPECT_EQ(still->lease_owner, "live-converter");

    const auto retries = jobs_.retries();
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_TRUE(retries[0].accepted);
    EXPECT_EQ(retries[0].lease.owner, "dead-notifier");
    EXPECT_EQ(retries[0].lease.expired_before, kNow);
    const auto message = domain::DecodeMessage(retries[0].message.body);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->event, "done");
    EXPECT_EQ(jobs_.FindJob(mailing.id)->notify_state, domain::NotifyState::kPending);
    EXPECT_EQ(broker_.nudges(), 1);

    // Nothing left to reap.
    EXPECT_EQ(converter().ReapOnce(), 0);
}

// --- the notifier ---

// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and =XX.
std::string DecodeQuotedPrintable(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '=' && text.substr(i + 1, 2) == "\r\n") {
            i += 2;
        } else if (text[i] == '=' && i + 2 < text.size() &&
                   std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
                   std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

class NotifierTest : public ::testing::Test {
  protected:
    NotifierTest() = default;
    ~NotifierTest() override { Stop(); }
    NotifierTest(const NotifierTest&) = delete;
    NotifierTest& operator=(const NotifierTest&) = delete;

    void Start() {
        notifier_ = std::make_unique<Notifier>(jobs_, mailer_, broker_, metrics_, settings_,
                                               [this] { return now_.load(); });
        running_ = std::thread([n = notifier_.get(), stop = stop_.get_token()] { n->Run(stop); });
    }

    void Stop() {
        stop_.request_stop();
        if (running_.joinable()) running_.join();
    }

    domain::Job PutDoneJob(const std::string& id) {
        domain::Job job;
        job.id = id;
        job.owner_id = "user-alice";
        job.username = "alice@example.com";
        job.filename = "song.mp4";
        job.video_fid = HexId(1000);
        job.mp3_fid = HexId(2000);
        job.trace_id = "trace-" + id;
        job.state = domain::JobState::kDone;
        job.duration_s = 125.0;
        job.mp3_bytes = 2'000'000;
        job.created_at = kNow - 60'000;
        job.finished_at = kNow - 1'000;
        job.notify_state = domain::NotifyState::kPending;
        jobs_.Put(job);
        return job;
    }

    domain::Job PutFailedJob(const std::string& id) {
        domain::Job job;
        job.id = id;
        job.owner_id = "user-alice";
        job.username = "alice@example.com";
        job.filename = "notes.txt";
        job.video_fid = HexId(1001);
        job.trace_id = "trace-" + id;
        job.state = domain::JobState::kFailed;
        job.error_code = "not_media";
        job.error_message = "the file is not audio or video";
        job.created_at = kNow - 60'000;
        job.finished_at = kNow - 1'000;
        job.notify_state = domain::NotifyState::kPending;
        jobs_.Put(job);
        return job;
    }

    std::string Announce(const domain::Job& job) {
        return broker_.Push("mp3",
                            Announcement(job, job.state == domain::JobState::kDone ? "done" : "failed"));
    }

    fakes::CallLog log_;
    fakes::FakeJobStore jobs_{&log_};
    fakes::FakeBroker broker_{&log_};
    fakes::FakeMailer mailer_{&log_};
    obs::Metrics metrics_;
    std::atomic<std::int64_t> now_{kNow};
    NotifierSettings settings_{.worker_id = "notifier-test-1",
                               .concurrency = 1,
                               .public_url = "http://media.example.test/",
                               .mail_from = "noreply@example.test"};
    std::stop_source stop_;
    std::unique_ptr<Notifier> notifier_;
    std::thread running_;
};

TEST_F(NotifierTest, ADoneJobGetsOneMp3DownloadMail) {
    const domain::Job job = PutDoneJob(HexId(1));
    const std::string tag = Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.finishes().empty(); }));
    Stop();

    const auto sent = mailer_.sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].from, "noreply@example.test");
    EXPECT_EQ(sent[0].to, "alice@example.com");
    EXPECT_EQ(sent[0].message_id, "job-" + job.id + ".done@video2mp3");
    const std::string mail = DecodeQuotedPrintable(sent[0].bytes);
    EXPECT_NE(mail.find("\r\nSubject: MP3 Download\r\n"), std::string::npos) << mail;
    EXPECT_NE(mail.find("mp3 file_id: " + job.mp3_fid + " is now ready!"), std::string::npos) << mail;
    EXPECT_NE(mail.find("http://media.example.test/download?fid=" + job.mp3_fid), std::string::npos) << mail;
    EXPECT_NE(mail.find("song.mp3"), std::string::npos) << mail;

    const auto finishes = jobs_.finishes();
    ASSERT_EQ(finishes.size(), 1u);
    EXPECT_TRUE(finishes[0].accepted);
    EXPECT_TRUE(finishes[0].sent);
    EXPECT_EQ(finishes[0].lease.job_id, job.id);
    EXPECT_EQ(finishes[0].lease.owner, "notifier-test-1");
    const auto after = jobs_.FindJob(job.id);
    EXPECT_EQ(after->notify_state, domain::NotifyState::kSent);
    EXPECT_EQ(after->notified_at, kNow);
    EXPECT_EQ(broker_.acked(), std::vector<std::string>{tag});
    EXPECT_LT(log_.IndexOf("ClaimNotification"), log_.IndexOf("Ack"));
    EXPECT_LT(log_.IndexOf("Ack"), log_.IndexOf("Send"));
    EXPECT_LT(log_.IndexOf("Send"), log_.IndexOf("FinishNotification"));
    EXPECT_EQ(Outcome(metrics_, "v2m_emails_total", "sent"), 1);
}

TEST_F(NotifierTest, TheSameMessageTwiceSendsOneMail) {
    settings_.concurrency = 2;
    const domain::Job job = PutDoneJob(HexId(2));
    Announce(job);
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return broker_.acked().size() == 2 && jobs_.finishes().size() == 1; }));
    Stop();
    EXPECT_EQ(mailer_.attempts(), 1);
    EXPECT_EQ(mailer_.sent().size(), 1u);
    EXPECT_EQ(log_.Count("ClaimNotification"), 2);
    EXPECT_EQ(jobs_.FindJob(job.id)->notify_state, domain::NotifyState::kSent);
}

TEST_F(NotifierTest, AMailerThatIsDownIsRetriedLater) {
    mailer_.fail = [] { throw mail::MailUnavailable("421 service not available"); };
    const domain::Job job = PutDoneJob(HexId(3));
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.retries().empty(); }));
    Stop();

    const auto retries = jobs_.retries();
    ASSERT_EQ(retries.size(), 1u);
    EXPECT_TRUE(retries[0].accepted);
    EXPECT_EQ(retries[0].message.queue, "mp3");
    EXPECT_GT(retries[0].message.available_at, kNow);
    EXPECT_EQ(retries[0].message.available_at, domain::NextAttemptAt(settings_.retry, 1, kNow, 0.5));
    const auto message = domain::DecodeMessage(retries[0].message.body);
    ASSERT_TRUE(message);
    EXPECT_EQ(message->job_id, job.id);
    EXPECT_EQ(message->event, "done");
    EXPECT_TRUE(jobs_.finishes().empty());
    EXPECT_TRUE(mailer_.sent().empty());
    EXPECT_EQ(jobs_.FindJob(job.id)->notify_state, domain::NotifyState::kPending);
}

TEST_F(NotifierTest, AMailerThatStaysDownIsGivenUpOn) {
    mailer_.fail = [] { throw mail::MailUnavailable("421 service not available"); };
    domain::Job job = PutDoneJob(HexId(4));
    job.notify_attempts = settings_.retry.max_attempts - 1;
    jobs_.Put(job);
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.finishes().empty(); }));
    Stop();
    EXPECT_TRUE(jobs_.retries().empty());
    EXPECT_FALSE(jobs_.finishes()[0].sent);
    EXPECT_EQ(jobs_.FindJob(job.id)->notify_state, domain::NotifyState::kGaveUp);
}

TEST_F(NotifierTest, ARejectedMailIsGivenUpOn) {
    mailer_.fail = [] { throw mail::MailRejected("550 no such user"); };
    const domain::Job job = PutDoneJob(HexId(5));
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.finishes().empty(); }));
    Stop();

    const auto finishes = jobs_.finishes();
    ASSERT_EQ(finishes.size(), 1u);
    EXPECT_TRUE(finishes[0].accepted);
    EXPECT_FALSE(finishes[0].sent);
    EXPECT_TRUE(jobs_.retries().empty());
    EXPECT_EQ(jobs_.FindJob(job.id)->notify_state, domain::NotifyState::kGaveUp);
    EXPECT_EQ(Outcome(metrics_, "v2m_emails_total", "gave_up"), 1);
}

TEST_F(NotifierTest, AFailedJobGetsTheReason) {
    const domain::Job job = PutFailedJob(HexId(6));
    Announce(job);
    Start();
    ASSERT_TRUE(Eventually([&] { return !jobs_.finishes().empty(); }));
    Stop();

    const auto sent = mailer_.sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].message_id, "job-" + job.id + ".failed@video2mp3");
    const std::string mail = DecodeQuotedPrintable(sent[0].bytes);
    EXPECT_NE(mail.find("\r\nSubject: MP3 conversion failed: notes.txt\r\n"), std::string::npos) << mail;
    EXPECT_NE(mail.find("the file is not audio or video"), std::string::npos) << mail;
    EXPECT_TRUE(jobs_.finishes()[0].sent);
}

TEST_F(NotifierTest, AMessageNamingAJobThatDoesNotExistIsRejected) {
    ASSERT_NO_FATAL_FAILURE(ExpectAnUnknownJobRejected(
        broker_, "mp3", [this] { Start(); }, [this] { Stop(); }));
    EXPECT_EQ(mailer_.attempts(), 0);
}

TEST_F(NotifierTest, AMessageNamingNoJobIsRejected) {
    const std::string tag = broker_.Push("mp3", "{not json");
    Start();
    ASSERT_TRUE(Eventually([&] { return !broker_.rejected().empty(); }));
    Stop();
    EXPECT_EQ(broker_.rejected(), std::vector<std::string>{tag});
    EXPECT_TRUE(broker_.acked().empty());
    EXPECT_EQ(mailer_.attempts(), 0);
}

}  // namespace
}  // namespace v2m::workers
