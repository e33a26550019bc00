#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace v2m::domain {

/// Parses a configuration duration: "90" or "90s", "15m", "1h", "2d", or a
/// sum such as "1h30m". Empty when the text is not one or is negative.
std::optional<std::chrono::seconds> ParseDuration(std::string_view text);

}  // namespace v2m::domain
