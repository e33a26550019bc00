#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "domain/convert_options.hpp"
#include "domain/error_code.hpp"
#include "engine/io.hpp"

namespace v2m::engine {

/// A conversion that could not be done; `code` says why (and whether a retry
/// could help), `what()` is one sentence for a person.
class ConversionError final : public std::runtime_error {
  public:
    ConversionError(domain::ErrorCode code, const std::string& message)
        : std::runtime_error(message), code_(code) {}
    domain::ErrorCode code() const { return code_; }

  private:
    domain::ErrorCode code_;
};

struct Input {
    SeekableReader& reader;
    /// The file's name as the user knows it ("song.mp4"): a hint for format
    /// probing by extension and the title when the source has none.
    std::string name;
};

struct Hooks {
    /// Called with the fraction done (0..1), at most about ten times a second
    /// and once with 1.0 at the end, on the converting thread.
    std::function<void(double)> on_progress;
    /// When stop is requested the conversion ends with `ErrorCode::kCancelled`.
    std::stop_token stop;
    /// Longest audio accepted, in seconds (after trimming); 0 for no limit.
    double max_duration_s = 0;
};

struct Result {
    double duration_s = 0;              ///< audio written, in seconds
    double source_duration_s = 0;       ///< the source audio's length as its container states it (0: unknown)
    double lost_s = 0;                  ///< audio that could not be decoded (damage), in seconds
    std::vector<std::string> warnings;  ///< sentences for a person: damage found, and what it cost
    int sample_rate = 0;
    int channels = 0;
    std::int64_t bit_rate = 0;      ///< average, bits per second
    std::uint64_t input_bytes = 0;  ///< size of the input, when known
    std::uint64_t output_bytes = 0;
    std::string source_codec;  ///< e.g. "aac"
    int stream_index = -1;     ///< the input stream converted
};

/// Converts the best audio stream of `input` (or `options.stream_index`) to
/// MP3 (LAME; VBR or CBR; Xing/LAME header; ID3v2 tags from the source) and
/// writes it to `output`. Video is never decoded; memory does not grow with
/// the input's size. Blocks until done; safe to run several at once on other
/// threads. Throws `ConversionError`; the sink may then hold partial output,
/// which the caller discards.
Result Convert(const Input& input, SeekableSink& output, const domain::ConvertOptions& options,
               const Hooks& hooks = {});

/// Sets how much FFmpeg's own libraries print to stderr: nothing by default,
/// their warnings and errors when `verbose`. Call once at start.
void SetLibraryLogging(bool verbose);

/// "LAME 3.100, libavcodec 59.37.100": for `--version`.
std::string LibraryVersions();

}  // namespace v2m::engine
