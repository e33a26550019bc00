#include "domain/convert_options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace v2m::domain {

namespace {

// ISO/IEC 11172-3 and 13818-3: the layer III bitrate tables.
constexpr int kMpeg1Bitrates[] = {32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320};
constexpr int kMpeg2Bitrates[] = {8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160};

std::string JoinInts(std::span<const int> values) {
    std::string out;
    for (int v : values) {
        if (!out.empty()) out += ", ";
        out += std::to_string(v);
    }
    return out;
}

// A non-negative decimal number with an optional fraction, nothing else.
std::optional<double> ParseDecimal(std::string_view text) {
    if (text.empty() || text.size() > 32) return std::nullopt;
    int dots = 0;
    for (char c : text) {
        if (c == '.') {
            ++dots;
        } else if (c < '0' || c > '9') {
            return std::nullopt;
        }
    }
    if (dots > 1 || text == ".") return std::nullopt;
    std::string copy(text);
    char* end = nullptr;
    double value = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size() || !std::isfinite(value)) return std::nullopt;
    return value;
}

std::optional<long> ParseWhole(std::string_view text) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    long value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

std::span<const int> Mp3Bitrates(int sample_rate) {
    if (sample_rate >= 32000) return kMpeg1Bitrates;
    return kMpeg2Bitrates;
}

bool IsMp3SampleRate(int sample_rate) {
    return std::find(std::begin(kMp3SampleRates), std::end(kMp3SampleRates), sample_rate) !=
           std::end(kMp3SampleRates);
}

int NearestMp3SampleRate(int rate) {
    int best = kMp3SampleRates[0];
    for (int candidate : kMp3SampleRates) {
        if (std::abs(candidate - rate) <= std::abs(best - rate)) best = candidate;
    }
    return best;
}

void Validate(const ConvertOptions& o) {
    if (o.quality && o.bitrate_kbps) {
        throw OptionError("choose either a VBR quality or a CBR bitrate, not both");
    }
    if (o.quality && (*o.quality < 0 || *o.quality > 9)) {
        throw OptionError("quality must be 0 (best) to 9 (smallest), got " + std::to_string(*o.quality));
    }
    if (o.bitrate_kbps) {
        const int b = *o.bitrate_kbps;
        const bool mpeg1 =
            std::find(std::begin(kMpeg1Bitrates), std::end(kMpeg1Bitrates), b) != std::end(kMpeg1Bitrates);
        const bool mpeg2 =
            std::find(std::begin(kMpeg2Bitrates), std::end(kMpeg2Bitrates), b) != std::end(kMpeg2Bitrates);
        if (!mpeg1 && !mpeg2) {
            throw OptionError("bitrate " + std::to_string(b) +
                              "k is not an MP3 bitrate (32-48 kHz: " + JoinInts(kMpeg1Bitrates) +
                              "; 24 kHz and below: " + JoinInts(kMpeg2Bitrates) + ")");
        }
        if (o.sample_rate && IsMp3SampleRate(*o.sample_rate)) {
            auto allowed = Mp3Bitrates(*o.sample_rate);
            if (std::find(allowed.begin(), allowed.end(), b) == allowed.end()) {
                throw OptionError("bitrate " + std::to_string(b) + "k is not possible at " +
                                  std::to_string(*o.sample_rate) + " Hz (allowed: " + JoinInts(allowed) +
                                  ")");
            }
        }
    }
    if (o.sample_rate && !IsMp3SampleRate(*o.sample_rate)) {
        throw OptionError("sample rate " + std::to_string(*o.sample_rate) +
                          " Hz is not an MP3 rate (allowed: " + JoinInts(kMp3SampleRates) + ")");
    }
    if (o.channels && *o.channels != 1 && *o.channels != 2) {
        throw OptionError("channels must be 1 or 2, got " + std::to_string(*o.channels));
    }
    if (o.start_s && (!std::isfinite(*o.start_s) || *o.start_s < 0)) {
        throw OptionError("start must be a time at or after 0");
    }
    if (o.end_s && (!std::isfinite(*o.end_s) || *o.end_s <= 0)) {
        throw OptionError("end must be a time after 0");
    }
    if (o.start_s && o.end_s && *o.end_s <= *o.start_s) {
        throw OptionError("end (" + FormatTime(*o.end_s) + ") must come after start (" +
                          FormatTime(*o.start_s) + ")");
    }
    if (o.stream_index && *o.stream_index < 0) {
        throw OptionError("stream must be a stream number (0 or more)");
    }
}

OutputFormat ResolveOutputFormat(const ConvertOptions& o, int source_rate, int source_channels) {
    OutputFormat out;
    if (o.sample_rate) {
        out.sample_rate = *o.sample_rate;
    } else if (o.bitrate_kbps) {
        // Keep the source's rate where the bitrate allows it; otherwise the
        // nearest rate of the MPEG version that has this bitrate.
        const int preferred = NearestMp3SampleRate(source_rate);
        auto fits = [&](int rate) {
            auto allowed = Mp3Bitrates(rate);
            return std::find(allowed.begin(), allowed.end(), *o.bitrate_kbps) != allowed.end();
        };
        out.sample_rate = preferred;
        if (!fits(preferred)) {
            int best = 0;
            for (int rate : kMp3SampleRates) {
                if (fits(rate) &&
                    (best == 0 || std::abs(rate - source_rate) < std::abs(best - source_rate))) {
                    best = rate;
                }
            }
            out.sample_rate = best;
        }
    } else {
        out.sample_rate = NearestMp3SampleRate(source_rate);
    }
    out.channels = o.channels ? *o.channels : std::clamp(source_channels, 1, 2);
    if (o.bitrate_kbps) {
        auto allowed = Mp3Bitrates(out.sample_rate);
        if (std::find(allowed.begin(), allowed.end(), *o.bitrate_kbps) == allowed.end()) {
            throw OptionError("bitrate " + std::to_string(*o.bitrate_kbps) + "k is not possible at " +
                              std::to_string(out.sample_rate) + " Hz (allowed: " + JoinInts(allowed) + ")");
        }
    }
    return out;
}

std::optional<double> ParseTime(std::string_view text) {
    // Split on ':' into at most three fields; only the last may have a fraction.
    std::string_view fields[3];
    int count = 0;
    size_t pos = 0;
    while (true) {
        size_t colon = text.find(':', pos);
        if (count == 3) return std::nullopt;
        fields[count++] = text.substr(pos, colon == std::string_view::npos ? colon : colon - pos);
        if (colon == std::string_view::npos) break;
        pos = colon + 1;
    }
    auto seconds = ParseDecimal(fields[count - 1]);
    if (!seconds) return std::nullopt;
    if (count == 1) return seconds;
    if (*seconds >= 60) return std::nullopt;
    double total = *seconds;
    double scale = 60;
    for (int i = count - 2; i >= 0; --i) {
        auto whole = ParseWhole(fields[i]);
        if (!whole || *whole < 0) return std::nullopt;
        if (i > 0 && *whole >= 60) return std::nullopt;  // minutes within hh:mm:ss
        total += static_cast<double>(*whole) * scale;
        scale *= 60;
    }
    return total;
}

std::optional<int> ParseBitrateKbps(std::string_view text) {
    bool kilo = false;
    if (!text.empty() && (text.back() == 'k' || text.back() == 'K')) {
        kilo = true;
        text.remove_suffix(1);
    }
    auto value = ParseWhole(text);
    if (!value || *value <= 0) return std::nullopt;
    if (kilo || *value < 1000) return static_cast<int>(*value);
    if (*value % 1000 != 0) return std::nullopt;
    return static_cast<int>(*value / 1000);
}

std::string FormatTime(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
    auto ms = static_cast<long long>(std::llround(seconds * 1000));
    char buf[48];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, (ms / 60000) % 60,
                  (ms / 1000) % 60, ms % 1000);
    return buf;
}

}  // namespace v2m::domain
