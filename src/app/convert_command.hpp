#pragma once

#include <stop_token>
#include <string>

#include "domain/convert_options.hpp"

namespace v2m::app {

struct ConvertCommandConfig {
    std::string input;
    std::string output;  ///< "-" for stdout; empty: the input's name with ".mp3"
    domain::ConvertOptions options;
    bool quiet = false;
    bool json = false;
};

/// Runs `video2mp3 convert`: converts, reports, and returns the exit status
/// (see `ExitCodeFor`). Never leaves a partial output file behind.
int RunConvert(const ConvertCommandConfig& config, std::stop_token stop);

}  // namespace v2m::app
