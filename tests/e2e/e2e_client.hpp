#pragma once

// What the end-to-end tests do as a client of the public API, the way the
// original's users do it (curl), against any server type with
// `Url(path)` — `video2mp3 all` or the gateway of a stack — plus the checks
// on what comes back (jobs' states, emails, MP3s).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "services.hpp"
#include "test_support.hpp"

namespace v2m::test {

constexpr double kToneHz = 440;
constexpr double kMinToneShare = 0.8;
constexpr const char* kPassword = "correct horse battery";
// Long enough that a conversion takes seconds (so it can be watched,
// deleted, killed), short enough to keep the tests quick: about 5 s here.
constexpr int kLongInputSeconds = 900;

namespace e2e {
using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
}  // namespace e2e
using namespace e2e;

inline std::string Bearer(const std::string& token) { return "Authorization: Bearer " + token; }

// TOKEN=$(curl -s -X POST http://HOST/login -u 'user:password'), as the original's README says.
template <typename Server>
std::string Login(const Server& server, const std::string& email, const std::string& password = kPassword) {
    const ProcessResult r =
        test::Run({"curl", "-s", "-X", "POST", server.Url("/login"), "-u", email + ":" + password});
    if (r.exit_code != 0 || std::count(r.out.begin(), r.out.end(), '.') != 2) {
        throw std::runtime_error("cannot sign in as " + email + ": " + r.out + " " + r.Describe());
    }
    return r.out;
}

// Registers with POST /v1/users, then signs in.
template <typename Server>
std::string SignUp(const Server& server, const std::string& email) {
    const HttpResult r = Curl({"-X", "POST", server.Url("/v1/users"), "-H", "Content-Type: application/json",
                               "-d", json{{"email", email}, {"password", kPassword}}.dump()});
    if (r.status != 201) throw std::runtime_error("cannot register " + email + ": " + r.body);
    return Login(server, email);
}

// curl -X POST -F 'file=@./song.mp4' -H "Authorization: Bearer $TOKEN" http://HOST/upload
template <typename Server>
HttpResult Upload(const Server& server, const std::string& token, const std::string& file,
                  const std::string& query = "") {
    return Curl({"-X", "POST", "-F", "file=@" + file, "-H", Bearer(token), server.Url("/upload" + query)});
}

// Uploads, and the job the 202 answered; throws on any other answer.
template <typename Server>
json Submit(const Server& server, const std::string& token, const std::string& file) {
    const HttpResult r = Upload(server, token, file);
    if (r.status != 202) {
        throw std::runtime_error("upload of " + file + ": HTTP " + std::to_string(r.status) + " " + r.body);
    }
    return r.Json();
}

template <typename Server>
HttpResult GetJob(const Server& server, const std::string& token, const std::string& id) {
    return Curl({"-H", Bearer(token), server.Url("/v1/jobs/" + id)});
}

inline int StateRank(const std::string& state) {
    static const std::map<std::string, int> kRanks = {
        {"queued", 0}, {"processing", 1}, {"done", 2}, {"failed", 2}};
    const auto it = kRanks.find(state);
    return it == kRanks.end() ? -1 : it->second;
}

// What polling a job saw: its last JSON and every state, in order, repeats dropped.
struct JobWatch {
    json job;
    std::vector<std::string> states;
    bool timed_out = false;

    std::string state() const { return job.value("state", ""); }
    std::string History() const {
        std::string text;
        for (const auto& s : states) text += (text.empty() ? "" : " → ") + s;
        return text + (timed_out ? " (timed out)" : "") + "; last: " + job.dump();
    }
};

// Polls GET /v1/jobs/{id} every 50 ms until `until` holds (or the job cannot
// be read) or `limit` passes.
template <typename Server>
JobWatch Watch(const Server& server, const std::string& token, const std::string& id,
               const std::function<bool(const json&)>& until, std::chrono::milliseconds limit = 60s) {
    JobWatch watch;
    const auto deadline = Clock::now() + limit;
    while (true) {
        const HttpResult r = GetJob(server, token, id);
        watch.job = r.Json();
        if (r.status != 200) {
            watch.states.push_back("HTTP " + std::to_string(r.status));
            return watch;
        }
        if (watch.states.empty() || watch.states.back() != watch.state())
            watch.states.push_back(watch.state());
        if (until(watch.job)) return watch;
        if (Clock::now() > deadline) {
            watch.timed_out = true;
            return watch;
        }
        std::this_thread::sleep_for(50ms);
    }
}

inline bool Finished(const json& job) {
    const std::string state = job.value("state", "");
    return state == "done" || state == "failed";
}

inline bool ConvertingWithProgress(const json& job) {
    return Finished(job) || (job.value("state", "") == "processing" && job.value("progress", 0.0) > 0);
}

// States only move forward: queued → processing → done or failed.
inline ::testing::AssertionResult MovesForward(const JobWatch& watch) {
    for (std::size_t i = 0; i < watch.states.size(); ++i) {
        const int rank = StateRank(watch.states[i]);
        if (rank < 0 || (i > 0 && rank <= StateRank(watch.states[i - 1]))) {
            return ::testing::AssertionFailure() << "states went " << watch.History();
        }
    }
    return ::testing::AssertionSuccess();
}

// Uploads a file and waits until its job is done; throws when it is not.
template <typename Server>
json ConvertOne(const Server& server, const std::string& token, const std::string& file) {
    const json job = Submit(server, token, file);
    const JobWatch watch = Watch(server, token, job.at("job_id"), Finished);
    if (watch.state() != "done") throw std::runtime_error("job not done: " + watch.History());
    return watch.job;
}

// Text with its quoted-printable encoding undone (soft line breaks, =XX).
inline std::string DecodeQuotedPrintable(const std::string& raw) {
    std::string text;
    auto hex = [](char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '=' && raw.compare(i + 1, 2, "\r\n") == 0) {
            i += 2;
        } else if (raw[i] == '=' && i + 2 < raw.size() && hex(raw[i + 1]) >= 0 && hex(raw[i + 2]) >= 0) {
            text += static_cast<char>(hex(raw[i + 1]) * 16 + hex(raw[i + 2]));
            i += 2;
        } else {
            text += raw[i];
        }
    }
    return text;
}

// An email file with its quoted-printable encoding undone.
inline std::string ReadMail(const std::string& path) { return DecodeQuotedPrintable(ReadFile(path)); }

inline std::string Sha256Sum(const std::string& path) {
    const ProcessResult r = test::Run({"sha256sum", path});
    if (r.exit_code != 0) throw std::runtime_error("sha256sum failed: " + r.Describe());
    return r.out.substr(0, 64);
}

// A long tone: 44.1 kHz stereo FLAC, quick to make and small to upload.
inline std::string LongInput(const TempDir& dir) {
    std::string path = dir / "long.flac";
    const ProcessResult r =
        test::Run({"ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                   "sine=frequency=440:sample_rate=44100:duration=" + std::to_string(kLongInputSeconds),
                   "-ac", "2", "-c:a", "flac", path});
    if (r.exit_code != 0) throw std::runtime_error("ffmpeg failed: " + r.Describe());
    return path;
}

// The MP3 decodes to the 440 Hz tone, as long as the source within one MP3 frame.
inline void ExpectTone(const std::string& mp3, double source_seconds) {
    const MonoAudio audio = DecodeMono(mp3);
    ASSERT_GT(audio.sample_rate, 0);
    EXPECT_NEAR(audio.seconds(), source_seconds,
                static_cast<double>(Mp3FrameSamples(audio.sample_rate)) / audio.sample_rate);
    EXPECT_GT(ToneShare(audio, kToneHz), kMinToneShare);
}

}  // namespace v2m::test
