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

}  // namespace v2m::obs
