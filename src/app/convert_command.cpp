#include "app/convert_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "app/exit_codes.hpp"
#include "engine/file_io.hpp"
#include "engine/transcoder.hpp"

namespace v2m::app {

namespace {

namespace fs = std::filesystem;
using domain::ErrorCode;

void PrintError(const std::string& message) { std::cerr << "video2mp3: error: " << message << '\n'; }

// The output is written under a temporary name and renamed at the end, so a
// failed or interrupted run leaves nothing behind and never a half MP3 under
// the real name.
class OutputFile {
  public:
    // Throws ConversionError(kOutputUnwritable).
    explicit OutputFile(const std::string& path) : to_stdout_(path == "-"), path_(path) {
        std::string pattern;
        if (to_stdout_) {
            const char* tmp = std::getenv("TMPDIR");
            pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/video2mp3-XXXXXX";
        } else {
            std::error_code ec;
            if (fs::is_directory(path, ec)) Fail(path + " is a directory");
            const fs::path p(path);
            const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
            pattern = (dir / ("." + p.filename().string() + ".XXXXXX.part")).string();
        }
        temp_ = pattern;
        fd_ = ::mkstemps(temp_.data(), to_stdout_ ? 0 : 5);
        if (fd_ < 0) Fail("cannot create " + (to_stdout_ ? temp_ : path) + ": " + std::strerror(errno));
        // stdout's spool needs no name at all.
        if (to_stdout_) ::unlink(temp_.c_str());
    }
    ~OutputFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_ && !to_stdout_) ::unlink(temp_.c_str());
    }
    OutputFile(const OutputFile&) = delete;
    OutputFile& operator=(const OutputFile&) = delete;

    int fd() const { return fd_; }

    // Publishes the finished file (rename, or copy to stdout). Throws.
    void Commit(std::uint64_t size) {
        if (to_stdout_) {
            CopyToStdout(size);
        } else {
            const mode_t mask = ::umask(0);
            ::umask(mask);
            ::fchmod(fd_, 0666 & ~mask);
            if (::rename(temp_.c_str(), path_.c_str()) != 0) {
                Fail("cannot create " + path_ + ": " + std::strerror(errno));
            }
        }
        committed_ = true;
    }

  private:
    [[noreturn]] static void Fail(const std::string& message) {
        throw engine::ConversionError(ErrorCode::kOutputUnwritable, message);
    }

    void CopyToStdout(std::uint64_t size) {
        std::cout.flush();
        char buf[1 << 16];
        off_t offset = 0;
        while (static_cast<std::uint64_t>(offset) < size) {
            const ssize_t n = ::pread(fd_, buf, sizeof buf, offset);
            if (n <= 0) Fail(std::string("cannot read back the output: ") + std::strerror(errno));
            for (ssize_t done = 0; done < n;) {
                const ssize_t w = ::write(STDOUT_FILENO, buf + done, static_cast<size_t>(n - done));
                if (w < 0) {
                    if (errno == EINTR) continue;
                    Fail(std::string("cannot write to standard output: ") + std::strerror(errno));
                }
                done += w;
            }
            offset += n;
        }
    }

    bool to_stdout_;
    std::string path_;
    std::string temp_;
    int fd_ = -1;
    bool committed_ = false;
};

// A one-line bar on a terminal: percentage, position and speed.
class ProgressBar {
  public:
    void Update(double fraction) {
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(fraction * kWidth);
        std::string bar(static_cast<size_t>(filled), '#');
        bar.resize(kWidth, '.');
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        std::fprintf(stderr, "\r%3d%% [%s] %5.1fs", static_cast<int>(fraction * 100), bar.c_str(), elapsed);
        std::fflush(stderr);
        drawn_ = true;
    }
    void Done() {
        if (drawn_) std::fputs("\r\033[K", stderr);
    }

  private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    bool drawn_ = false;
};

std::string DefaultOutput(const std::string& input) {
    fs::path p(input);
    p.replace_extension(".mp3");
    return p.string();
}

}  // namespace

int RunConvert(const ConvertCommandConfig& config, std::stop_token stop) {
    const auto started = std::chrono::steady_clock::now();
    const std::string output = config.output.empty() ? DefaultOutput(config.input) : config.output;
    const bool to_stdout = output == "-";
    try {
        try {
            domain::Validate(config.options);
        } catch (const domain::OptionError& e) {
            throw engine::ConversionError(ErrorCode::kInvalidOptions, e.what());
        }
        if (config.output.empty() && output == config.input) {
            throw engine::ConversionError(ErrorCode::kInvalidOptions,
                                          "the output would replace the input; name one with -o");
        }
        std::optional<engine::FileReader> reader;
        try {
            reader.emplace(config.input);
        } catch (const engine::IoError& e) {
            throw engine::ConversionError(ErrorCode::kInputUnreadable, e.what());
        }
        OutputFile out(output);
        engine::FdSink sink(out.fd());

        const bool show_bar = !config.quiet && ::isatty(STDERR_FILENO) == 1;
        ProgressBar bar;
        engine::Hooks hooks;
        hooks.stop = std::move(stop);
        if (show_bar) hooks.on_progress = [&bar](double f) { bar.Update(f); };

        const engine::Input input{*reader, fs::path(config.input).filename().string()};
        engine::Result result;
        try {
            result = engine::Convert(input, sink, config.options, hooks);
        } catch (...) {
            bar.Done();
            throw;
        }
        bar.Done();
        out.Commit(result.output_bytes);

        for (const auto& w : result.warnings) std::cerr << "video2mp3: warning: " << w << '\n';
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        if (show_bar) {
            // A person watched the bar: tell them what they got.
            std::fprintf(stderr, "%s: %s, %.1f MB, %d kbit/s %s, %d Hz %s, in %.1f s\n",
                         to_stdout ? "stdout" : output.c_str(), domain::FormatTime(result.duration_s).c_str(),
                         static_cast<double>(result.output_bytes) / 1e6,
                         static_cast<int>(result.bit_rate / 1000),
                         config.options.bitrate_kbps ? "CBR" : "VBR", result.sample_rate,
                         result.channels == 1 ? "mono" : "stereo", seconds);
        }
        if (config.json) {
            nlohmann::json summary = {
                {"input", config.input},
                {"output", output},
                {"duration_s", std::round(result.duration_s * 1000) / 1000},
                {"source_duration_s", std::round(result.source_duration_s * 1000) / 1000},
                {"bitrate_kbps", std::round(static_cast<double>(result.bit_rate) / 100) / 10},
                {"mode", config.options.bitrate_kbps ? "cbr" : "vbr"},
                {"sample_rate", result.sample_rate},
                {"channels", result.channels},
                {"source_codec", result.source_codec},
                {"stream", result.stream_index},
                {"input_bytes", result.input_bytes},
                {"output_bytes", result.output_bytes},
                {"seconds", std::round(seconds * 1000) / 1000},
                {"lost_s", std::round(result.lost_s * 10) / 10},
                {"warnings", result.warnings},
            };
            if (config.options.bitrate_kbps) {
                summary["bitrate"] = *config.options.bitrate_kbps;
            } else {
                summary["quality"] = config.options.quality.value_or(domain::kDefaultQuality);
            }
            (to_stdout ? std::cerr : std::cout) << summary.dump() << std::endl;
        }
        return kExitOk;
    } catch (const engine::ConversionError& e) {
        if (e.code() == ErrorCode::kCancelled) {
            std::cerr << "video2mp3: interrupted; no output written\n";
        } else {
            PrintError(e.what());
        }
        return ExitCodeFor(e.code());
    }
}

}  // namespace v2m::app
