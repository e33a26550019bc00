#include "domain/job.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace v2m::domain {

std::string_view ToString(JobState state) {
    switch (state) {
        case JobState::kQueued:
            return "queued";
        case JobState::kProcessing:
            return "processing";
        case JobState::kDone:
            return "done";
        case JobState::kFailed:
            return "failed";
    }
    return "failed";
}

std::optional<JobState> ParseJobState(std::string_view text) {
    for (JobState s : {JobState::kQueued, JobState::kProcessing, JobState::kDone, JobState::kFailed}) {
        if (ToString(s) == text) return s;
    }
    return std::nullopt;
}

bool CanTransition(JobState from, JobState to) {
    switch (from) {
        case JobState::kQueued:
            // Claimed by a converter, or failed before it ever ran (retries exhausted).
            return to == JobState::kProcessing || to == JobState::kFailed;
        case JobState::kProcessing:
            // Finished, failed, or back to the queue (transient error, released lease).
            return to == JobState::kDone || to == JobState::kFailed || to == JobState::kQueued;
        case JobState::kDone:
        case JobState::kFailed:
            return false;
    }
    return false;
}

bool IsFinal(JobState state) { return state == JobState::kDone || state == JobState::kFailed; }

std::string_view ToString(NotifyState state) {
    switch (state) {
        case NotifyState::kNone:
            return "none";
        case NotifyState::kPending:
            return "pending";
        case NotifyState::kSending:
            return "sending";
        case NotifyState::kSent:
            return "sent";
        case NotifyState::kGaveUp:
            return "gave_up";
    }
    return "none";
}

std::optional<NotifyState> ParseNotifyState(std::string_view text) {
    for (NotifyState s : {NotifyState::kNone, NotifyState::kPending, NotifyState::kSending,
                          NotifyState::kSent, NotifyState::kGaveUp}) {
        if (ToString(s) == text) return s;
    }
    return std::nullopt;
}

std::int64_t NextAttemptAt(const RetryPolicy& policy, int attempts, std::int64_t now_ms, double jitter01) {
    const int exponent = std::clamp(attempts - 1, 0, 30);
    const double raw = static_cast<double>(policy.base_delay_ms) * std::ldexp(1.0, exponent);
    const double capped = std::min(raw, static_cast<double>(policy.max_delay_ms));
    const double jitter = std::clamp(jitter01, 0.0, 1.0) * 0.25 * capped;
    return now_ms +
           static_cast<std::int64_t>(std::min(capped + jitter, static_cast<double>(policy.max_delay_ms)));
}

bool MayRetry(const RetryPolicy& policy, int attempts) { return attempts < policy.max_attempts; }

std::string EncodeOptions(const ConvertOptions& o) {
    nlohmann::json j = nlohmann::json::object();
    if (o.bitrate_kbps) {
        j["bitrate_kbps"] = *o.bitrate_kbps;
    } else {
        j["quality"] = o.quality.value_or(kDefaultQuality);
    }
    if (o.sample_rate) j["sample_rate"] = *o.sample_rate;
    if (o.channels) j["channels"] = *o.channels;
    if (o.start_s) j["start_s"] = *o.start_s;
    if (o.end_s) j["end_s"] = *o.end_s;
    if (o.stream_index) j["stream"] = *o.stream_index;
    return j.dump();
}

ConvertOptions DecodeOptions(std::string_view text) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw OptionError("the stored options are not a JSON object");
    ConvertOptions o;
    auto integer = [&](const char* key) -> std::optional<int> {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return std::nullopt;
        if (!it->is_number_integer()) throw OptionError(std::string(key) + " must be an integer");
        return it->get<int>();
    };
    auto number = [&](const char* key) -> std::optional<double> {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return std::nullopt;
        if (!it->is_number()) throw OptionError(std::string(key) + " must be a number");
        return it->get<double>();
    };
    o.quality = integer("quality");
    o.bitrate_kbps = integer("bitrate_kbps");
    if (o.bitrate_kbps) o.quality.reset();
    o.sample_rate = integer("sample_rate");
    o.channels = integer("channels");
    o.start_s = number("start_s");
    o.end_s = number("end_s");
    o.stream_index = integer("stream");
    return o;
}

namespace {
bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }
}  // namespace

std::string Mp3NameFor(std::string_view upload_name) {
    const std::size_t separator = upload_name.find_last_of("/\\");
    std::string_view base =
        separator == std::string_view::npos ? upload_name : upload_name.substr(separator + 1);
    while (!base.empty() && IsSpaceOrTab(base.back())) base.remove_suffix(1);
    // A leading dot would make the download a hidden file.
    while (!base.empty() && (base.front() == '.' || IsSpaceOrTab(base.front()))) base.remove_prefix(1);
    std::string_view stem = base.substr(0, base.rfind('.'));
    while (!stem.empty() && (stem.back() == '.' || IsSpaceOrTab(stem.back()))) stem.remove_suffix(1);
    if (stem.empty()) return "audio.mp3";
    return std::string(stem) + ".mp3";
}

std::string FormatRfc3339(std::int64_t unix_ms) {
    const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", text, static_cast<int>(unix_ms % 1000));
    return out;
}

}  // namespace v2m::domain
