#pragma once

#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace v2m::domain {

/// A conversion request as the user gave it; unset fields take their defaults
/// once the source is known (see `ResolveOutputFormat`).
struct ConvertOptions {
    std::optional<int> quality;       ///< LAME VBR preset 0 (best) .. 9; 2 when neither is set
    std::optional<int> bitrate_kbps;  ///< CBR bitrate in kbit/s; excludes `quality`
    std::optional<int> sample_rate;   ///< one of `kMp3SampleRates`
    std::optional<int> channels;      ///< 1 or 2
    std::optional<double> start_s;    ///< trim: first second kept
    std::optional<double> end_s;      ///< trim: first second dropped
    std::optional<int> stream_index;  ///< the input stream to convert (as ffprobe numbers them)
};

/// A user's mistake in the options; `what()` is a sentence fit to show them.
class OptionError final : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

/// The sample rates an MP3 can have (MPEG-1, MPEG-2 and MPEG-2.5 layer III).
constexpr int kMp3SampleRates[] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
constexpr int kDefaultQuality = 2;

/// The CBR bitrates (kbit/s) that an MP3 at `sample_rate` can carry.
std::span<const int> Mp3Bitrates(int sample_rate);
bool IsMp3SampleRate(int sample_rate);
/// The MP3 sample rate nearest to `rate` (ties go to the higher one).
int NearestMp3SampleRate(int rate);

/// Checks everything that does not need the source; throws `OptionError`.
void Validate(const ConvertOptions& options);

struct OutputFormat {
    int sample_rate = 0;
    int channels = 0;
};

/// Output sample rate and channels for a source with `source_rate` Hz and
/// `source_channels` channels: the requested ones, else the source's when MP3
/// allows them, else the nearest (more than two channels are mixed to stereo).
/// Throws `OptionError` when a requested CBR bitrate does not exist at the
/// resulting rate.
OutputFormat ResolveOutputFormat(const ConvertOptions& options, int source_rate, int source_channels);

/// Parses a point in time: seconds ("90", "90.5") or "mm:ss[.fff]" or
/// "hh:mm:ss[.fff]". Empty when the text is not one.
std::optional<double> ParseTime(std::string_view text);

/// Parses a bitrate: "192", "192k" (kbit/s) or "192000" (bit/s). Empty when
/// the text is not one (validity for a sample rate is checked elsewhere).
std::optional<int> ParseBitrateKbps(std::string_view text);

/// "hh:mm:ss.fff", for messages.
std::string FormatTime(double seconds);

}  // namespace v2m::domain
