#pragma once

#include <string_view>

namespace v2m::domain {

/// Why a conversion could not be done. The same codes name a job's failure in
/// the service (`error.code` in the job JSON) and pick the CLI's exit status.
enum class ErrorCode {
    kInvalidOptions,    ///< the options contradict each other or the source
    kInputUnreadable,   ///< the input cannot be opened or read
    kOutputUnwritable,  ///< the output cannot be created or written
    kNotMedia,          ///< not an audio or video file at all (text, random bytes, an image)
    kNoAudio,           ///< a media file without any audio stream
    kCorrupt,           ///< a media file so damaged that nothing decodes
    kUnsupportedCodec,  ///< the audio codec has no decoder here
    kStartPastEnd,      ///< `start` lies at or beyond the end of the audio
    kTooLong,           ///< longer than the configured maximum duration
    kCancelled,         ///< stopped on request
    kInternal,          ///< a bug or an exhausted resource: not the input's fault
};

/// The stable snake_case name used in JSON (`"no_audio"`).
std::string_view ToString(ErrorCode code);

/// True when retrying the same input can never succeed (bad media, bad options).
bool IsPermanent(ErrorCode code);

}  // namespace v2m::domain
