#include "domain/error_code.hpp"

namespace v2m::domain {

std::string_view ToString(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidOptions:
            return "invalid_options";
        case ErrorCode::kInputUnreadable:
            return "input_unreadable";
        case ErrorCode::kOutputUnwritable:
            return "output_unwritable";
        case ErrorCode::kNotMedia:
            return "not_media";
        case ErrorCode::kNoAudio:
            return "no_audio";
        case ErrorCode::kCorrupt:
            return "corrupt";
        case ErrorCode::kUnsupportedCodec:
            return "unsupported_codec";
        case ErrorCode::kStartPastEnd:
            return "start_past_end";
        case ErrorCode::kTooLong:
            return "too_long";
        case ErrorCode::kCancelled:
            return "cancelled";
        case ErrorCode::kInternal:
            break;
    }
    return "internal";
}

bool IsPermanent(ErrorCode code) {
    switch (code) {
        case ErrorCode::kInvalidOptions:
        case ErrorCode::kNotMedia:
        case ErrorCode::kNoAudio:
        case ErrorCode::kCorrupt:
        case ErrorCode::kUnsupportedCodec:
        case ErrorCode::kStartPastEnd:
        case ErrorCode::kTooLong:
            return true;
        case ErrorCode::kInputUnreadable:
        case ErrorCode::kOutputUnwritable:
        case ErrorCode::kCancelled:
        case ErrorCode::kInternal:
            return false;
    }
    return false;
}

}  // namespace v2m::domain
