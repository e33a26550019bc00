#pragma once

#include "domain/error_code.hpp"

namespace v2m::app {

/// The command line's exit statuses: one per kind of failure, so scripts can
/// tell them apart. README.md lists them; keep the two in step.
constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitUsage = 2;  ///< invalid options (CLI11's parse errors too)
constexpr int kExitCancelled = 130;

constexpr int ExitCodeFor(domain::ErrorCode code) {
    using domain::ErrorCode;
    switch (code) {
        case ErrorCode::kInvalidOptions:
            return kExitUsage;
        case ErrorCode::kInputUnreadable:
            return 3;
        case ErrorCode::kOutputUnwritable:
            return 4;
        case ErrorCode::kNotMedia:
            return 5;
        case ErrorCode::kNoAudio:
            return 6;
        case ErrorCode::kCorrupt:
            return 7;
        case ErrorCode::kUnsupportedCodec:
            return 8;
        case ErrorCode::kStartPastEnd:
            return 9;
        case ErrorCode::kTooLong:
            return 10;
        case ErrorCode::kCancelled:
            return kExitCancelled;
        case ErrorCode::kInternal:
            return kExitInternal;
    }
    return kExitInternal;
}

}  // namespace v2m::app
