#include "test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace v2m::test {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

[[noreturn]] void ThrowErrno(const std::string& what) {
    throw std::system_error(errno, std::generic_category(), what);
}

std::string Join(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
    return text;
}

// RAII for posix_spawn's two C structures.
class SpawnSetup final {
  public:
    SpawnSetup() {
        posix_spawn_file_actions_init(&actions);
        posix_spawnattr_init(&attr);
    }
    ~SpawnSetup() {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
    }
    SpawnSetup(const SpawnSetup&) = delete;
    SpawnSetup& operator=(const SpawnSetup&) = delete;

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
};

// Reads what is available on `fd` into `to`; false at end of file.
bool Drain(int fd, std::string& to) {
    std::array<char, 1 << 16> buf;
    while (true) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n > 0) {
            to.append(buf.data(), static_cast<std::size_t>(n));
            return true;
        }
        if (n == 0) return false;
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return true;
        ThrowErrno("read from child");
    }
}

std::string EnvOrThrow(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value)
        throw std::runtime_error(std::string(name) + " is not set (run the tests with ctest)");
    return value;
}

ProcessResult RunChecked(const std::vector<std::string>& argv) {
    ProcessResult r = Run(argv);
    if (r.exit_code != 0) throw std::runtime_error(Join(argv) + " failed: " + r.Describe());
    return r;
}

}  // namespace

std::string ProcessResult::Describe() const {
    std::string text;
    if (timed_out) {
        text = "timed out";
    } else if (term_signal != 0) {
        text = "killed by signal " + std::to_string(term_signal) + " (" + strsignal(term_signal) + ")";
    } else if (exit_code >= 0) {
        text = "exit " + std::to_string(exit_code);
    } else {
        text = "did not end";
    }
    return text + "; stderr: " + (err.empty() ? "(empty)" : "\n" + err);
}

Process::Process(const std::vector<std::string>& argv, RunOptions options)
    : options_(std::move(options)), deadline_(Clock::now() + options_.timeout) {
    if (argv.empty()) throw std::invalid_argument("Process: no program");
    int out_pipe[2] = {-1, -1};
    int err_pipe[2] = {-1, -1};
    // Close-on-exec: no other child inherits these ends; dup2 clears the flag
    // on the child's copies.
    if (options_.stdout_path.empty() && ::pipe2(out_pipe, O_CLOEXEC) != 0) ThrowErrno("pipe");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        const int saved = errno;
        if (out_pipe[0] >= 0) {
            ::close(out_pipe[0]);
            ::close(out_pipe[1]);
        }
        errno = saved;
        ThrowErrno("pipe");
    }

    SpawnSetup setup;
    posix_spawn_file_actions_addopen(&setup.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (options_.stdout_path.empty()) {
        posix_spawn_file_actions_adddup2(&setup.actions, out_pipe[1], STDOUT_FILENO);
    } else {
        posix_spawn_file_actions_addopen(&setup.actions, STDOUT_FILENO, options_.stdout_path.c_str(),
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    posix_spawn_file_actions_adddup2(&setup.actions, err_pipe[1], STDERR_FILENO);
    // The child starts with default signal handling whatever the test runner set.
    sigset_t none;
    sigemptyset(&none);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigmask(&setup.attr, &none);
    posix_spawnattr_setsigdefault(&setup.attr, &defaults);
    posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const int err = ::posix_spawnp(&pid_, args[0], &setup.actions, &setup.attr, args.data(), environ);

    if (out_pipe[1] >= 0) ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (err != 0) {
        if (out_fd_ >= 0) ::close(out_fd_);
        ::close(err_fd_);
        throw std::system_error(err, std::generic_category(), "cannot start " + argv[0]);
    }
    for (int fd : {out_fd_, err_fd_}) {
        if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
}

Process::~Process() {
    if (!status_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
}

bool Process::HasExited() {
    if (status_) return true;
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_) status_ = status;
    return status_.has_value();
}

ProcessResult Process::Wait() {
    ProcessResult result;
    std::vector<pollfd> fds;
    for (int fd : {out_fd_, err_fd_}) {
        if (fd >= 0) fds.push_back({fd, POLLIN, 0});
    }
    while (!fds.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
        if (left.count() <= 0) break;
        const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
        if (n < 0 && errno != EINTR) ThrowErrno("poll");
        if (n <= 0) continue;
        for (auto it = fds.begin(); it != fds.end();) {
            if (it->revents != 0 && !Drain(it->fd, it->fd == out_fd_ ? result.out : result.err)) {
                it = fds.erase(it);
            } else {
                ++it;
            }
        }
    }
    // Both streams are closed (or time is up): the child is ending; wait for it
    // within the same deadline.
    while (!HasExited() && Clock::now() < deadline_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!HasExited()) {
        result.timed_out = true;
        ::kill(pid_, SIGKILL);
        int status = 0;
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        status_ = status;
        return result;
    }
    if (WIFEXITED(*status_)) result.exit_code = WEXITSTATUS(*status_);
    if (WIFSIGNALED(*status_)) result.term_signal = WTERMSIG(*status_);
    return result;
}

ProcessResult Run(const std::vector<std::string>& argv, RunOptions options) {
    Process process(argv, std::move(options));
    return process.Wait();
}

TempDir::TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/v2m-test-XXXXXX";
    if (!::mkdtemp(pattern.data())) ThrowErrno("mkdtemp " + pattern);
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

std::vector<std::string> TempDir::Entries() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string Binary() { return EnvOrThrow("V2M_BIN"); }

std::string Fixture(const std::string& name) {
    std::string path = EnvOrThrow("V2M_FIXTURES") + "/" + name;
    if (!fs::is_regular_file(path))
        throw std::runtime_error("missing fixture " + path + " (see generate.sh)");
    return path;
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::string bytes(static_cast<std::size_t>(in.tellg()), '\0');
    in.seekg(0);
    if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
        throw std::runtime_error("cannot read " + path);
    }
    return bytes;
}

void WriteFile(const std::string& path, std::span<const char> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> Lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

nlohmann::json Probe(const std::string& path) {
    const ProcessResult r = RunChecked(
        {"ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path});
    return nlohmann::json::parse(r.out);
}

std::vector<int> PacketSizes(const std::string& path) {
    const ProcessResult r = RunChecked({"ffprobe", "-v", "error", "-select_streams", "a:0", "-print_format",
                                        "json", "-show_entries", "packet=size", "-show_packets", path});
    const nlohmann::json probe = nlohmann::json::parse(r.out);
    std::vector<int> sizes;
    for (const auto& packet : probe.at("packets")) {
        sizes.push_back(std::stoi(packet.at("size").get<std::string>()));
    }
    return sizes;
}

MonoAudio DecodeMono(const std::string& path, const std::string& stream) {
    // As WAV rather than raw samples: its header carries the sample rate,
    // which saves asking ffprobe first.
    const ProcessResult r = RunChecked({"ffmpeg", "-nostdin", "-v", "error", "-i", path, "-map",
                                        "0:" + stream, "-ac", "1", "-c:a", "pcm_f32le", "-f", "wav", "-"});
    const std::string& wav = r.out;
    auto u32 = [&wav](std::size_t at) {
        std::uint32_t v = 0;
        for (int i = 3; i >= 0; --i)
            v = v << 8 | static_cast<unsigned char>(wav[at + static_cast<std::size_t>(i)]);
        return v;
    };
    if (wav.size() < 12 || wav.compare(0, 4, "RIFF") != 0 || wav.compare(8, 4, "WAVE") != 0) {
        throw std::runtime_error(path + ": ffmpeg did not write a WAV");
    }
    MonoAudio audio;
    // Chunks: fmt (the rate at byte 4), maybe LIST, then data to the end (a
    // pipe cannot be rewound to fill in its size).
    for (std::size_t at = 12; at + 8 <= wav.size();) {
        const std::string id = wav.substr(at, 4);
        const std::uint32_t size = u32(at + 4);
        if (id == "fmt " && at + 16 <= wav.size()) audio.sample_rate = static_cast<int>(u32(at + 12));
        if (id == "data") {
            const std::size_t bytes = wav.size() - at - 8;
            if (bytes % sizeof(float) != 0) throw std::runtime_error(path + ": ragged samples");
            audio.samples.resize(bytes / sizeof(float));
            std::memcpy(audio.samples.data(), wav.data() + at + 8, bytes);
            break;
        }
        at += 8 + size + (size & 1);
    }
    if (audio.sample_rate <= 0) throw std::runtime_error(path + ": no sample rate in ffmpeg's WAV");
    return audio;
}

double ToneShare(const MonoAudio& audio, double frequency) {
    if (audio.samples.empty()) return 0;
    // Goertzel at exactly `frequency`: |X(f)|^2. A pure tone of amplitude A over
    // N samples gives (A·N/2)^2 and an energy of A^2·N/2, so the share below is
    // about 1 for it, whatever A and N.
    const double w = 2 * std::numbers::pi * frequency / audio.sample_rate;
    const double coeff = 2 * std::cos(w);
    double s1 = 0;
    double s2 = 0;
    double energy = 0;
    for (const float x : audio.samples) {
        const double s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += static_cast<double>(x) * x;
    }
    if (energy <= 0) return 0;
    const double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    const auto n = static_cast<double>(audio.samples.size());
    return 2 * power / (n * energy);
}

double Rms(const MonoAudio& audio) {
    if (audio.samples.empty()) return 0;
    double energy = 0;
    for (const float x : audio.samples) energy += static_cast<double>(x) * x;
    return std::sqrt(energy / static_cast<double>(audio.samples.size()));
}

int Mp3FrameSamples(int sample_rate) { return sample_rate >= 32000 ? 1152 : 576; }

}  // namespace v2m::test
