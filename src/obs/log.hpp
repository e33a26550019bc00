#pragma once

#include <string>

namespace v2m::obs {

struct LogSettings {
    std::string format;          ///< "json" or "text"; empty: text on a terminal, else json
    std::string level = "info";  ///< trace, debug, info, warn, error
};

/// Sets up the process's logger (spdlog, to stderr). Throws
/// `std::invalid_argument` for an unknown format or level. Call once at start.
void InitLogging(const LogSettings& settings);

/// While it lives, every line this thread logs carries the job's `trace_id`
/// and `job_id` (JSON fields, or `key=value` at the end of a text line): one
/// job can be followed from upload to email across processes. Nests.
class ScopedTrace final {
  public:
    ScopedTrace(std::string trace_id, std::string job_id);
    ~ScopedTrace();
    ScopedTrace(const ScopedTrace&) = delete;
    ScopedTrace& operator=(const ScopedTrace&) = delete;

  private:
    std::string previous_trace_id_;
    std::string previous_job_id_;
};

}  // namespace v2m::obs
