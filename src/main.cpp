// Parses the subcommand and its options into plain config structs and hands
// over to app/. Nothing else happens here.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "app/convert_command.hpp"
#include "app/exit_codes.hpp"
#include "domain/convert_options.hpp"
#include "engine/transcoder.hpp"

namespace {

using v2m::app::kExitUsage;

// SIGINT/SIGTERM become a stop request, seen by whatever runs; a signal-waiting
// thread keeps the handler free of async-signal-safety concerns.
std::stop_source WatchSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::stop_source source;
    std::thread([set, source]() mutable {
        int sig = 0;
        sigwait(&set, &sig);
        source.request_stop();
    }).detach();
    return source;
}

struct ConvertFlags {
    v2m::app::ConvertCommandConfig config;
    std::optional<int> quality;
    std::string bitrate;
    std::optional<int> sample_rate;
    std::optional<int> channels;
    std::string start;
    std::string end;
    std::optional<int> stream;
    bool verbose = false;
};

// Turns the flags' text into options; a mistake is a usage error.
bool FinishConvertFlags(ConvertFlags& f) {
    auto& o = f.config.options;
    o.quality = f.quality;
    o.sample_rate = f.sample_rate;
    o.channels = f.channels;
    o.stream_index = f.stream;
    auto fail = [](const std::string& message) {
        std::cerr << "video2mp3: error: " << message << '\n';
        return false;
    };
    if (!f.bitrate.empty()) {
        o.bitrate_kbps = v2m::domain::ParseBitrateKbps(f.bitrate);
        if (!o.bitrate_kbps) return fail("--bitrate: '" + f.bitrate + "' is not a bitrate (e.g. 192k)");
    }
    if (!f.start.empty()) {
        o.start_s = v2m::domain::ParseTime(f.start);
        if (!o.start_s) return fail("--start: '" + f.start + "' is not a time (seconds or hh:mm:ss.mmm)");
    }
    if (!f.end.empty()) {
        o.end_s = v2m::domain::ParseTime(f.end);
        if (!o.end_s) return fail("--end: '" + f.end + "' is not a time (seconds or hh:mm:ss.mmm)");
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"video2mp3: turns videos into MP3 files.", "video2mp3"};
    app.set_version_flag("-V,--version",
                         std::string("video2mp3 " V2M_VERSION "\n") + v2m::engine::LibraryVersions());
    app.require_subcommand(1);
    app.footer(
        "Exit status: 0 done, 1 internal error, 2 invalid options, 3 input unreadable, 4 output unwritable,\n"
        "5 not a media file, 6 no audio stream, 7 damaged beyond decoding, 8 unsupported codec,\n"
        "9 --start past the end, 130 interrupted.");

    ConvertFlags cf;
    auto* convert = app.add_subcommand("convert", "Convert a video (or audio) file to MP3");
    convert->add_option("input", cf.config.input, "Video or audio file to convert")->required();
    convert->add_option("-o,--output", cf.config.output,
                        "MP3 to write ('-' for standard output; default: the input's name with .mp3)");
    auto* quality =
        convert->add_option("-q,--quality", cf.quality, "VBR quality 0 (best) .. 9 (smallest); default 2")
            ->check(CLI::Range(0, 9));
    convert
        ->add_option("-b,--bitrate", cf.bitrate,
                     "CBR bitrate, e.g. 192k (32-320k at 32-48 kHz, 8-160k below)")
        ->excludes(quality);
    convert->add_option("-r,--sample-rate", cf.sample_rate,
                        "Output sample rate in Hz (an MP3 rate; default: the source's, or the nearest)");
    convert
        ->add_option("-c,--channels", cf.channels,
                     "Output channels, 1 or 2 (default: the source's, at most 2)")
        ->check(CLI::IsMember({1, 2}));
    convert->add_option("-s,--start", cf.start, "Start at this time (seconds or hh:mm:ss.mmm)");
    convert->add_option("-e,--end", cf.end, "End at this time (seconds or hh:mm:ss.mmm)");
    convert
        ->add_option("--stream", cf.stream,
                     "Convert this input stream (numbered as ffprobe does; default: the best audio)")
        ->check(CLI::NonNegativeNumber);
    convert->add_flag("--quiet", cf.config.quiet, "No progress bar");
    convert->add_flag("--json", cf.config.json,
                      "Print a JSON summary (on stdout; on stderr when the MP3 goes to stdout)");
    convert->add_flag("-v,--verbose", cf.verbose, "Show FFmpeg's own warnings");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "video2mp3: error: " << e.what() << " (see --help)\n";
        return kExitUsage;
    }

    const std::stop_source stop = WatchSignals();
    if (convert->parsed()) {
        if (!FinishConvertFlags(cf)) return kExitUsage;
        v2m::engine::SetLibraryLogging(cf.verbose);
        return v2m::app::RunConvert(cf.config, stop.get_token());
    }
    return kExitUsage;
}
