#include "obs/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

namespace v2m::obs {

namespace {

thread_local std::string t_trace_id;
thread_local std::string t_job_id;

// %j: the message as the inside of a JSON string.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        for (char c : msg.payload) {
            switch (c) {
                case '"':
                    dest.append(std::string_view("\\\""));
                    break;
                case '\\':
                    dest.append(std::string_view("\\\\"));
                    break;
                case '\n':
                    dest.append(std::string_view("\\n"));
                    break;
                case '\r':
                    dest.append(std::string_view("\\r"));
                    break;
                case '\t':
                    dest.append(std::string_view("\\t"));
                    break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", c);
                        dest.append(std::string_view(buf));
                    } else {
                        dest.push_back(c);
                    }
            }
        }
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<JsonEscapedMessage>();
    }
};

// %T: `,"trace_id":"…","job_id":"…"` when the thread follows a job (JSON
// format), or ` trace_id=… job_id=…` at the end of a text line. Ids are random
// hex, so they need no escaping.
class TraceFields final : public spdlog::custom_flag_formatter {
  public:
    explicit TraceFields(bool json) : json_(json) {}
    void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
        if (t_trace_id.empty() && t_job_id.empty()) return;
        auto field = [&](std::string_view key, const std::string& value) {
            if (value.empty()) return;
            if (json_) {
                dest.append(std::string_view(",\""));
            } else {
                dest.push_back(' ');
            }
            dest.append(key);
            dest.append(json_ ? std::string_view("\":\"") : std::string_view("="));
            dest.append(value);
            if (json_) dest.push_back('"');
        };
        field("trace_id", t_trace_id);
        field("job_id", t_job_id);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<TraceFields>(json_);
    }

  private:
    bool json_;
};

}  // namespace

ScopedTrace::ScopedTrace(std::string trace_id, std::string job_id)
    : previous_trace_id_(std::exchange(t_trace_id, std::move(trace_id))),
      previous_job_id_(std::exchange(t_job_id, std::move(job_id))) {}

ScopedTrace::~ScopedTrace() {
    t_trace_id = std::move(previous_trace_id_);
    t_job_id = std::move(previous_job_id_);
}

void InitLogging(const LogSettings& settings) {
    std::string format = settings.format;
    if (format.empty()) format = ::isatty(STDERR_FILENO) ? "text" : "json";
    if (format != "json" && format != "text") throw std::invalid_argument("log format must be json or text");
    const auto level = spdlog::level::from_str(settings.level);
    if (level == spdlog::level::off && settings.level != "off") {
        throw std::invalid_argument("log level must be trace, debug, info, warn, error or off");
    }
    auto logger =
        std::make_shared<spdlog::logger>("video2mp3", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    if (format == "json") {
        formatter->add_flag<JsonEscapedMessage>('j');
        formatter->add_flag<TraceFields>('T', true).set_pattern(
            R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%j"%T})");
    } else {
        formatter->add_flag<TraceFields>('T', false).set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v%T");
    }
    logger->set_formatter(std::move(formatter));
    logger->set_level(level);
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
}

}  // namespace v2m::obs
