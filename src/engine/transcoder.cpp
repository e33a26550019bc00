// The FFmpeg/LAME conversion engine: demux → decode → resample → encode → mux.
// The only translation unit (with its tests' helpers) that includes libav*.
#include "engine/transcoder.hpp"

extern "C" {
#include <lame/lame.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/avutil.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>
}

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace v2m::engine {

namespace {

using domain::ErrorCode;

constexpr int kIoBufferSize = 64 * 1024;
// Decoders need a little audio before a seek target to settle (MDCT overlap).
constexpr double kSeekPrerollS = 1.0;
// A shortfall against the container's stated duration smaller than this is
// normal container slack, not damage.
constexpr double kShortfallToleranceS = 0.5;

std::string AvError(int err) {
    std::array<char, AV_ERROR_MAX_STRING_SIZE> buf{};
    av_strerror(err, buf.data(), buf.size());
    return buf.data();
}

[[noreturn]] void Fail(ErrorCode code, const std::string& message) { throw ConversionError(code, message); }

// RAII for the C handles.
struct InputFormatCloser {
    void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct OutputFormatFreer {
    void operator()(AVFormatContext* c) const { avformat_free_context(c); }
};
struct AvioFreer {
    void operator()(AVIOContext* c) const {
        av_freep(&c->buffer);  // lavf may have replaced the buffer we gave it
        avio_context_free(&c);
    }
};
struct CodecFreer {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameFreer {
    void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketFreer {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwrFreer {
    void operator()(SwrContext* s) const { swr_free(&s); }
};
struct FifoFreer {
    void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }
};
struct SamplesFreer {
    void operator()(uint8_t** p) const {
        if (p) av_freep(&p[0]);
        av_free(static_cast<void*>(p));
    }
};

// Lets libavformat read from a SeekableReader. Exceptions must not cross the
// C frames, so they are parked here and rethrown by the caller.
class ReaderBridge {
  public:
    explicit ReaderBridge(SeekableReader& reader) : reader_(reader), size_(reader.Size()) {
        auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
        if (!buffer) throw std::bad_alloc();
        ctx_.reset(avio_alloc_context(buffer, kIoBufferSize, 0, this, &ReadCb, nullptr, &SeekCb));
        if (!ctx_) {
            av_free(buffer);
            throw std::bad_alloc();
        }
    }
    AVIOContext* get() const { return ctx_.get(); }
    const std::exception_ptr& error() const { return error_; }
    std::optional<std::uint64_t> size() const { return size_; }
    std::uint64_t position() const { return position_; }
    std::uint64_t bytes_read() const { return bytes_read_; }

  private:
    static int ReadCb(void* opaque, uint8_t* buf, int size) {
        auto* self = static_cast<ReaderBridge*>(opaque);
        try {
            const std::size_t n =
                self->reader_.Read({reinterpret_cast<std::byte*>(buf), static_cast<std::size_t>(size)});
            if (n == 0) return AVERROR_EOF;
            self->position_ += n;
            self->bytes_read_ += n;
            return static_cast<int>(n);
        } catch (...) {
            self->error_ = std::current_exception();
            return AVERROR(EIO);
        }
    }
    static int64_t SeekCb(void* opaque, int64_t offset, int whence) {
        auto* self = static_cast<ReaderBridge*>(opaque);
        whence &= ~AVSEEK_FORCE;
        if (whence == AVSEEK_SIZE) {
            return self->size_ ? static_cast<int64_t>(*self->size_) : AVERROR(ENOSYS);
        }
        int64_t target = 0;
        switch (whence) {
            case SEEK_SET:
                target = offset;
                break;
            case SEEK_CUR:
                target = static_cast<int64_t>(self->position_) + offset;
                break;
            case SEEK_END:
                if (!self->size_) return AVERROR(ENOSYS);
                target = static_cast<int64_t>(*self->size_) + offset;
                break;
            default:
                return AVERROR(EINVAL);
        }
        if (target < 0) return AVERROR(EINVAL);
        try {
            self->reader_.Seek(static_cast<std::uint64_t>(target));
        } catch (...) {
            self->error_ = std::current_exception();
            return AVERROR(EIO);
        }
        self->position_ = static_cast<std::uint64_t>(target);
        return target;
    }

    SeekableReader& reader_;
    std::optional<std::uint64_t> size_;
    std::uint64_t position_ = 0;
    std::uint64_t bytes_read_ = 0;
    std::exception_ptr error_;
    std::unique_ptr<AVIOContext, AvioFreer> ctx_;
};

// Lets libavformat write to a SeekableSink (the mp3 muxer seeks back to patch
// the Xing header).
class SinkBridge {
  public:
    explicit SinkBridge(SeekableSink& sink) : sink_(sink) {
        auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
        if (!buffer) throw std::bad_alloc();
        ctx_.reset(avio_alloc_context(buffer, kIoBufferSize, 1, this, nullptr, &WriteCb, &SeekCb));
        if (!ctx_) {
            av_free(buffer);
            throw std::bad_alloc();
        }
    }
    AVIOContext* get() const { return ctx_.get(); }
    const std::exception_ptr& error() const { return error_; }

  private:
    static int WriteCb(void* opaque, uint8_t* buf, int size) {
        auto* self = static_cast<SinkBridge*>(opaque);
        try {
            self->sink_.Write({reinterpret_cast<const std::byte*>(buf), static_cast<std::size_t>(size)});
            self->position_ += static_cast<std::uint64_t>(size);
            return size;
        } catch (...) {
            self->error_ = std::current_exception();
            return AVERROR(EIO);
        }
    }
    static int64_t SeekCb(void* opaque, int64_t offset, int whence) {
        auto* self = static_cast<SinkBridge*>(opaque);
        whence &= ~AVSEEK_FORCE;
        if (whence == AVSEEK_SIZE) return static_cast<int64_t>(self->sink_.Size());
        int64_t target = offset;
        if (whence == SEEK_CUR) target += static_cast<int64_t>(self->position_);
        if (whence == SEEK_END) target += static_cast<int64_t>(self->sink_.Size());
        if (target < 0) return AVERROR(EINVAL);
        try {
            self->sink_.Seek(static_cast<std::uint64_t>(target));
        } catch (...) {
            self->error_ = std::current_exception();
            return AVERROR(EIO);
        }
        self->position_ = static_cast<std::uint64_t>(target);
        return target;
    }

    SeekableSink& sink_;
    std::uint64_t position_ = 0;
    std::exception_ptr error_;
    std::unique_ptr<AVIOContext, AvioFreer> ctx_;
};

std::string ErrorText(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error";
    }
}

bool IsStillImageFormat(const AVInputFormat* format) {
    const std::string_view name = format->name;
    return name == "image2" || name == "tty" || name == "gif" ||
           (name.size() > 5 && name.substr(name.size() - 5) == "_pipe");
}

std::string TitleFromName(const std::string& name) {
    std::string base =
        name.substr(name.find_last_of('/') == std::string::npos ? 0 : name.find_last_of('/') + 1);
    const auto dot = base.find_last_of('.');
    if (dot != std::string::npos && dot > 0) base.resize(dot);
    return base;
}

// A few tags carry over; others (encoder, handler names, creation_time) describe the old file.
void CopyTags(const AVFormatContext* in, const AVStream* stream, const std::string& name,
              AVDictionary** out) {
    auto find = [&](std::initializer_list<const char*> keys) -> const char* {
        for (const AVDictionary* dict : {stream->metadata, in->metadata}) {
            for (const char* key : keys) {
                const AVDictionaryEntry* e = av_dict_get(dict, key, nullptr, 0);
                if (e && e->value && *e->value) return e->value;
            }
        }
        return nullptr;
    };
    struct Mapping {
        const char* to;
        std::initializer_list<const char*> from;
    };
    const Mapping mappings[] = {
        {"title", {"title"}},       {"artist", {"artist", "album_artist", "author"}}, {"album", {"album"}},
        {"date", {"date", "year"}}, {"comment", {"comment", "description"}},
    };
    for (const auto& m : mappings) {
        if (const char* value = find(m.from)) av_dict_set(out, m.to, value, 0);
    }
    if (!av_dict_get(*out, "title", nullptr, 0)) {
        const std::string title = TitleFromName(name);
        if (!title.empty()) av_dict_set(out, "title", title.c_str(), 0);
    }
}

using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;

// Runs the MP3 encoder and the muxer on a thread of their own, so decoding the
// next frames overlaps encoding (LAME is most of the cost). Frames pass through
// a short bounded queue and come back for reuse, so memory stays flat and no
// buffer is allocated on one thread and freed on the other. Each side wakes
// the other only when it sleeps, and the producer only once half the queue is
// free: one wake-up per batch rather than two context switches per frame.
class EncodeStage {
  public:
    /// `encode` takes one frame, or nullptr to flush at the end; it may throw.
    explicit EncodeStage(std::function<void(const AVFrame*)> encode)
        : encode_(std::move(encode)), thread_([this] { Loop(); }) {}
    ~EncodeStage() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        not_empty_.notify_all();
        not_full_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    EncodeStage(const EncodeStage&) = delete;
    EncodeStage& operator=(const EncodeStage&) = delete;

    /// A frame the encoder is done with, for refilling; empty when none is spare.
    FramePtr Spare() {
        std::lock_guard lock(mutex_);
        if (spare_.empty()) return nullptr;
        FramePtr frame = std::move(spare_.back());
        spare_.pop_back();
        return frame;
    }

    /// Hands a frame over; blocks while the queue is full. Rethrows the
    /// encoding thread's failure.
    void Push(FramePtr frame) {
        std::unique_lock lock(mutex_);
        if (queue_.size() >= kDepth && !closed_) {
            producer_waiting_ = true;
            not_full_.wait(lock, [&] { return queue_.size() <= kDepth / 2 || closed_; });
            producer_waiting_ = false;
        }
        if (closed_) {
            lock.unlock();
            Finish();
            return;
        }
        queue_.push_back(std::move(frame));
        const bool wake = consumer_waiting_;
        lock.unlock();
        if (wake) not_empty_.notify_one();
    }

    /// Waits until every frame is encoded and the encoder flushed. Rethrows
    /// the encoding thread's failure.
    void Finish() {
        {
            std::lock_guard lock(mutex_);
            finishing_ = true;
        }
        not_empty_.notify_all();
        if (thread_.joinable()) thread_.join();
        if (error_) std::rethrow_exception(error_);
    }

  private:
    static constexpr std::size_t kDepth = 16;

    void Loop() {
        try {
            FramePtr done;
            while (true) {
                FramePtr frame;
                {
                    std::unique_lock lock(mutex_);
                    if (done) spare_.push_back(std::move(done));
                    if (queue_.empty() && !finishing_ && !closed_) {
                        consumer_waiting_ = true;
                        not_empty_.wait(lock, [&] { return !queue_.empty() || finishing_ || closed_; });
                        consumer_waiting_ = false;
                    }
                    if (closed_) return;
                    if (queue_.empty()) break;
                    frame = std::move(queue_.front());
                    queue_.pop_front();
                    if (producer_waiting_ && queue_.size() <= kDepth / 2) not_full_.notify_one();
                }
                encode_(frame.get());
                done = std::move(frame);
            }
            encode_(nullptr);
        } catch (...) {
            std::lock_guard lock(mutex_);
            error_ = std::current_exception();
            closed_ = true;
        }
        not_full_.notify_all();
    }

    std::function<void(const AVFrame*)> encode_;
    std::mutex mutex_;
    std::condition_variable not_empty_;
    std::condition_variable not_full_;
    std::deque<FramePtr> queue_;
    std::vector<FramePtr> spare_;
    bool consumer_waiting_ = false;
    bool producer_waiting_ = false;
    bool finishing_ = false;
    bool closed_ = false;
    std::exception_ptr error_;
    std::thread thread_;  // last: starts once everything above exists
};

class Conversion {
  public:
    Conversion(const Input& input, SeekableSink& output, const domain::ConvertOptions& options,
               const Hooks& hooks)
        : input_(input), options_(options), hooks_(hooks), reader_(input.reader), sink_(output) {}
    ~Conversion() { av_channel_layout_uninit(&swr_in_layout_); }
    Conversion(const Conversion&) = delete;
    Conversion& operator=(const Conversion&) = delete;

    Result Run() {
        try {
            domain::Validate(options_);
        } catch (const domain::OptionError& e) {
            Fail(ErrorCode::kInvalidOptions, e.what());
        }
        OpenInput();
        SelectStream();
        OpenDecoder();
        CheckDurationLimits();
        SeekToStart();
        Pump();
        Finish();
        return result_;
    }

  private:
    // Checks the bridges first: a failing reader or sink explains an AVERROR(EIO).
    [[noreturn]] void FailAv(ErrorCode code, const std::string& what, int err) {
        if (hooks_.stop.stop_requested() || err == AVERROR_EXIT) Fail(ErrorCode::kCancelled, "cancelled");
        if (reader_.error())
            Fail(ErrorCode::kInputUnreadable, "cannot read the input: " + ErrorText(reader_.error()));
        if (sink_.error())
            Fail(ErrorCode::kOutputUnwritable, "cannot write the output: " + ErrorText(sink_.error()));
        Fail(code, what + ": " + AvError(err));
    }

    static int InterruptCb(void* opaque) {
        return static_cast<const Conversion*>(opaque)->hooks_.stop.stop_requested() ? 1 : 0;
    }

    void OpenInput() {
        AVFormatContext* raw = avformat_alloc_context();
        if (!raw) throw std::bad_alloc();
        raw->pb = reader_.get();
        raw->flags |= AVFMT_FLAG_CUSTOM_IO;
        raw->interrupt_callback = {&InterruptCb, this};
        // Probe first, so "no known format" (not media) and "known format but
        // unreadable" (corrupt) can be told apart.
        const AVInputFormat* format = nullptr;
        const int score = av_probe_input_buffer2(reader_.get(), &format, input_.name.c_str(), nullptr, 0, 0);
        if (reader_.bytes_read() == 0 && !reader_.error()) {
            avformat_free_context(raw);
            Fail(ErrorCode::kNotMedia, "the input is empty");
        }
        if (score < 0 || !format) {
            avformat_free_context(raw);
            if (reader_.error()) FailAv(ErrorCode::kInputUnreadable, "", AVERROR(EIO));
            Fail(ErrorCode::kNotMedia, "not a video or audio file (no known format recognised)");
        }
        // A match on the file name's extension alone proves nothing about the bytes.
        weak_match_ = score <= AVPROBE_SCORE_EXTENSION;
        int err = avformat_open_input(&raw, input_.name.c_str(), format, nullptr);  // frees `raw` on failure
        if (err < 0) {
            if (weak_match_ && !reader_.error() && err != AVERROR_EXIT) {
                Fail(ErrorCode::kNotMedia, "not a video or audio file (no known format recognised)");
            }
            FailAv(ErrorCode::kCorrupt,
                   std::string("the input looks like ") + format->long_name + " but cannot be opened", err);
        }
        in_.reset(raw);
        // Streams' parameters normally come from the container's header; only
        // formats without one (MPEG-TS, FLV, raw streams) need packets probed.
        bool need_probe = (in_->ctx_flags & AVFMTCTX_NOHEADER) != 0;
        bool any_audio = false;
        for (unsigned i = 0; i < in_->nb_streams; ++i) {
            const AVCodecParameters* par = in_->streams[i]->codecpar;
            if (par->codec_type != AVMEDIA_TYPE_AUDIO) continue;
            any_audio = true;
            if (par->codec_id == AV_CODEC_ID_NONE || par->sample_rate <= 0 ||
                par->ch_layout.nb_channels <= 0) {
                need_probe = true;
            }
        }
        if (!any_audio && in_->nb_streams > 0 && !IsStillImageFormat(in_->iformat)) need_probe = true;
        if (need_probe) {
            // Video is not needed: discourage its decoding while probing.
            for (unsigned i = 0; i < in_->nb_streams; ++i) {
                if (in_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
                    in_->streams[i]->discard = AVDISCARD_ALL;
                }
            }
            err = avformat_find_stream_info(in_.get(), nullptr);
            if (err < 0) FailAv(ErrorCode::kCorrupt, "the input's streams cannot be read", err);
        }
    }

    void SelectStream() {
        const AVCodec* decoder = nullptr;
        int index = -1;
        if (options_.stream_index) {
            index = *options_.stream_index;
            std::string audio_list;
            for (unsigned i = 0; i < in_->nb_streams; ++i) {
                if (in_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
                    audio_list += (audio_list.empty() ? "" : ", ") + std::to_string(i);
                }
            }
            if (index >= static_cast<int>(in_->nb_streams) ||
                in_->streams[index]->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) {
                Fail(ErrorCode::kInvalidOptions,
                     "stream " + std::to_string(index) + " is not an audio stream of this input (" +
                         (audio_list.empty() ? std::string("it has none") : "audio streams: " + audio_list) +
                         ")");
            }
            decoder = avcodec_find_decoder(in_->streams[index]->codecpar->codec_id);
            if (!decoder) index = AVERROR_DECODER_NOT_FOUND;
        } else {
            index = av_find_best_stream(in_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, &decoder, 0);
        }
        if (index == AVERROR_STREAM_NOT_FOUND) {
            bool has_video = false;
            for (unsigned i = 0; i < in_->nb_streams; ++i) {
                const AVStream* s = in_->streams[i];
                if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
                    !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
                    has_video = true;
                }
            }
            if (weak_match_)
                Fail(ErrorCode::kNotMedia, "not a video or audio file (no known format recognised)");
            if (in_->nb_streams == 0 && !IsStillImageFormat(in_->iformat)) {
                // Recognised by its content, yet nothing inside can be read.
                Fail(ErrorCode::kCorrupt, std::string("the input looks like ") + in_->iformat->long_name +
                                              " but is damaged: no stream can be read");
            }
            if (!has_video || IsStillImageFormat(in_->iformat)) {
                std::string what = in_->iformat->long_name;
                if (in_->nb_streams > 0 && IsStillImageFormat(in_->iformat)) {
                    what =
                        std::string("a ") + avcodec_get_name(in_->streams[0]->codecpar->codec_id) + " image";
                }
                Fail(ErrorCode::kNotMedia, "not a video or audio file (it looks like " + what + ")");
            }
            Fail(ErrorCode::kNoAudio, "the video has no audio track");
        }
        if (index == AVERROR_DECODER_NOT_FOUND || !decoder) {
            std::string codecs;
            for (unsigned i = 0; i < in_->nb_streams; ++i) {
                const AVCodecParameters* par = in_->streams[i]->codecpar;
                if (par->codec_type != AVMEDIA_TYPE_AUDIO) continue;
                if (!codecs.empty()) codecs += ", ";
                codecs += par->codec_id == AV_CODEC_ID_NONE ? "unknown" : avcodec_get_name(par->codec_id);
                if (par->codec_tag) {
                    char tag[32];
                    std::snprintf(tag, sizeof tag, " (tag 0x%04x)", par->codec_tag);
                    codecs += tag;
                }
            }
            Fail(ErrorCode::kUnsupportedCodec, "the audio codec is not supported: " + codecs);
        }
        if (index < 0) FailAv(ErrorCode::kCorrupt, "no audio stream can be read", index);
        stream_ = in_->streams[index];
        decoder_ = decoder;
        for (unsigned i = 0; i < in_->nb_streams; ++i) {
            if (static_cast<int>(i) != index) in_->streams[i]->discard = AVDISCARD_ALL;
        }
        result_.stream_index = index;
        result_.source_codec = avcodec_get_name(stream_->codecpar->codec_id);
        result_.input_bytes = reader_.size().value_or(0);
    }

    void OpenDecoder() {
        dec_.reset(avcodec_alloc_context3(decoder_));
        if (!dec_) throw std::bad_alloc();
        int err = avcodec_parameters_to_context(dec_.get(), stream_->codecpar);
        if (err < 0) FailAv(ErrorCode::kInternal, "cannot set up the decoder", err);
        dec_->pkt_timebase = stream_->time_base;
        err = avcodec_open2(dec_.get(), decoder_, nullptr);
        if (err < 0)
            FailAv(ErrorCode::kCorrupt, std::string("cannot start the ") + decoder_->name + " decoder", err);
        stream_start_ = stream_->start_time != AV_NOPTS_VALUE ? stream_->start_time : 0;
        if (stream_->duration != AV_NOPTS_VALUE && stream_->duration > 0) {
            source_duration_s_ = static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
        } else if (in_->duration != AV_NOPTS_VALUE && in_->duration > 0) {
            source_duration_s_ = static_cast<double>(in_->duration) / AV_TIME_BASE;
        }
        result_.source_duration_s = source_duration_s_;
        packet_.reset(av_packet_alloc());
        frame_.reset(av_frame_alloc());
        if (!packet_ || !frame_) throw std::bad_alloc();
    }

    double WindowStart() const { return options_.start_s.value_or(0.0); }
    // End of the wanted audio as far as it is known in advance (0: unknown).
    double ExpectedEnd() const {
        double end = source_duration_s_;
        if (options_.end_s && (end == 0 || *options_.end_s < end)) end = *options_.end_s;
        return end;
    }

    void CheckDurationLimits() {
        if (options_.start_s && source_duration_s_ > 0 && *options_.start_s >= source_duration_s_) {
            Fail(ErrorCode::kStartPastEnd, "start " + domain::FormatTime(*options_.start_s) +
                                               " is at or past the end of the audio (" +
                                               domain::FormatTime(source_duration_s_) + ")");
        }
        const double end = ExpectedEnd();
        if (hooks_.max_duration_s > 0 && end > 0 && end - WindowStart() > hooks_.max_duration_s) {
            Fail(ErrorCode::kTooLong, "the audio lasts " + domain::FormatTime(end - WindowStart()) +
                                          ", longer than the limit of " +
                                          domain::FormatTime(hooks_.max_duration_s));
        }
    }

    void SeekToStart() {
        if (!options_.start_s || *options_.start_s <= kSeekPrerollS) return;
        const double target = *options_.start_s - kSeekPrerollS;
        const int64_t ts = stream_start_ + static_cast<int64_t>(target / av_q2d(stream_->time_base));
        // A failed seek is harmless: decoding from the start and dropping what
        // comes before `start` gives the same result, only slower.
        if (avformat_seek_file(in_.get(), stream_->index, INT64_MIN, ts, ts, 0) >= 0) {
            avcodec_flush_buffers(dec_.get());
        }
    }

    void ReportProgress(double fraction, bool force) {
        if (!hooks_.on_progress) return;
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - last_progress_ < std::chrono::milliseconds(100)) return;
        last_progress_ = now;
        hooks_.on_progress(std::clamp(fraction, 0.0, 1.0));
    }

    void ProgressFromPacket(const AVPacket* pkt) {
        const double start = WindowStart();
        const double end = ExpectedEnd();
        if (end > start && pkt->pts != AV_NOPTS_VALUE) {
            const double t = static_cast<double>(pkt->pts - stream_start_) * av_q2d(stream_->time_base);
            ReportProgress((t - start) / (end - start), false);
        } else if (reader_.size() && *reader_.size() > 0) {
            ReportProgress(static_cast<double>(reader_.position()) / static_cast<double>(*reader_.size()),
                           false);
        }
    }

    void Pump() {
        while (!end_reached_) {
            if (hooks_.stop.stop_requested()) Fail(ErrorCode::kCancelled, "cancelled");
            const int err = av_read_frame(in_.get(), packet_.get());
            if (err == AVERROR_EOF) break;
            if (err < 0) {
                if (err == AVERROR_EXIT || reader_.error()) FailAv(ErrorCode::kInputUnreadable, "", err);
                // Damage the demuxer cannot get past: keep what was decoded.
                read_error_ = AvError(err);
                break;
            }
            if (packet_->stream_index != stream_->index) {
                av_packet_unref(packet_.get());
                continue;
            }
            ProgressFromPacket(packet_.get());
            if (options_.end_s && packet_->pts != AV_NOPTS_VALUE &&
                static_cast<double>(packet_->pts - stream_start_) * av_q2d(stream_->time_base) >
                    *options_.end_s + kSeekPrerollS) {
                av_packet_unref(packet_.get());
                break;
            }
            const int64_t packet_duration = packet_->duration;
            const int sent = avcodec_send_packet(dec_.get(), packet_.get());
            av_packet_unref(packet_.get());
            if (sent < 0) {
                NoteDamage(packet_duration);
                continue;
            }
            ReceiveFrames();
        }
        if (!end_reached_) {
            avcodec_send_packet(dec_.get(), nullptr);
            ReceiveFrames();
        }
    }

    void NoteDamage(int64_t packet_duration) {
        ++damaged_packets_;
        if (packet_duration > 0) lost_s_ += static_cast<double>(packet_duration) * av_q2d(stream_->time_base);
    }

    void ReceiveFrames() {
        while (!end_reached_) {
            const int err = avcodec_receive_frame(dec_.get(), frame_.get());
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
            if (err < 0) {
                NoteDamage(0);
                return;
            }
            HandleFrame(frame_.get());
            av_frame_unref(frame_.get());
        }
    }

    void HandleFrame(AVFrame* frame) {
        if (frame->nb_samples <= 0 || frame->sample_rate <= 0 || frame->ch_layout.nb_channels <= 0) return;
        const int in_rate = frame->sample_rate;
        // Where this frame starts, in seconds from the stream's start.
        double t0 = next_frame_s_;
        if (frame->best_effort_timestamp != AV_NOPTS_VALUE) {
            t0 = static_cast<double>(frame->best_effort_timestamp - stream_start_) *
                 av_q2d(stream_->time_base);
        }
        next_frame_s_ = t0 + static_cast<double>(frame->nb_samples) / in_rate;

        int offset = 0;
        int count = frame->nb_samples;
        if (options_.start_s || options_.end_s) {
            if (options_.end_s && t0 >= *options_.end_s) {
                end_reached_ = true;
                return;
            }
            if (options_.start_s) {
                const auto skip = static_cast<int64_t>(std::llround((*options_.start_s - t0) * in_rate));
                if (skip >= count) return;
                if (skip > 0) offset = static_cast<int>(skip);
            }
            if (options_.end_s) {
                const auto keep = static_cast<int64_t>(std::llround((*options_.end_s - t0) * in_rate));
                count = static_cast<int>(std::min<int64_t>(count, std::max<int64_t>(keep, 0)));
            }
            if (count <= offset) return;
        }
        if (!enc_) OpenOutput(frame);
        if (!SameFormat(frame)) RebuildResampler(frame);

        kept_input_s_ += static_cast<double>(count - offset) / in_rate;
        if (hooks_.max_duration_s > 0 && kept_input_s_ > hooks_.max_duration_s) {
            Fail(ErrorCode::kTooLong,
                 "the audio is longer than the limit of " + domain::FormatTime(hooks_.max_duration_s));
        }
        const int channels = frame->ch_layout.nb_channels;
        const auto format = static_cast<AVSampleFormat>(frame->format);
        const auto bytes = static_cast<std::ptrdiff_t>(av_get_bytes_per_sample(format));
        std::array<const uint8_t*, 64> planes{};
        if (av_sample_fmt_is_planar(format)) {
            if (channels > static_cast<int>(planes.size()))
                Fail(ErrorCode::kUnsupportedCodec, "too many channels");
            for (int c = 0; c < channels; ++c) planes[c] = frame->extended_data[c] + offset * bytes;
        } else {
            planes[0] = frame->extended_data[0] + offset * bytes * channels;
        }
        Resample(planes.data(), count - offset);
        EncodeFromFifo(false);
    }

    bool SameFormat(const AVFrame* frame) const {
        return frame->format == swr_in_format_ && frame->sample_rate == swr_in_rate_ &&
               av_channel_layout_compare(&frame->ch_layout, &swr_in_layout_) == 0;
    }

    void OpenOutput(const AVFrame* first) {
        domain::OutputFormat out;
        try {
            out = domain::ResolveOutputFormat(options_, first->sample_rate, first->ch_layout.nb_channels);
        } catch (const domain::OptionError& e) {
            Fail(ErrorCode::kInvalidOptions, e.what());
        }
        const AVCodec* encoder = avcodec_find_encoder_by_name("libmp3lame");
        if (!encoder) Fail(ErrorCode::kInternal, "this FFmpeg has no libmp3lame encoder");
        enc_.reset(avcodec_alloc_context3(encoder));
        if (!enc_) throw std::bad_alloc();
        enc_->sample_rate = out.sample_rate;
        av_channel_layout_default(&enc_->ch_layout, out.channels);
        enc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
        enc_->time_base = {1, out.sample_rate};
        if (options_.bitrate_kbps) {
            enc_->bit_rate = static_cast<int64_t>(*options_.bitrate_kbps) * 1000;
        } else {
            // Without QSCALE, libavcodec's libmp3lame silently encodes CBR.
            enc_->flags |= AV_CODEC_FLAG_QSCALE;
            enc_->global_quality = options_.quality.value_or(domain::kDefaultQuality) * FF_QP2LAMBDA;
        }
        int err = avcodec_open2(enc_.get(), encoder, nullptr);
        if (err < 0) FailAv(ErrorCode::kInternal, "cannot start the MP3 encoder", err);

        AVFormatContext* raw = nullptr;
        err = avformat_alloc_output_context2(&raw, nullptr, "mp3", nullptr);
        if (err < 0 || !raw) FailAv(ErrorCode::kInternal, "cannot set up the MP3 muxer", err);
        out_.reset(raw);
        out_->pb = sink_.get();
        out_->flags |= AVFMT_FLAG_CUSTOM_IO;
        AVStream* ost = avformat_new_stream(out_.get(), nullptr);
        if (!ost) throw std::bad_alloc();
        err = avcodec_parameters_from_context(ost->codecpar, enc_.get());
        if (err < 0) FailAv(ErrorCode::kInternal, "cannot set up the MP3 stream", err);
        ost->time_base = enc_->time_base;
        CopyTags(in_.get(), stream_, input_.name, &out_->metadata);
        AVDictionary* opts = nullptr;
        av_dict_set(&opts, "id3v2_version", "3", 0);  // v2.3: what most players read
        err = avformat_write_header(out_.get(), &opts);
        av_dict_free(&opts);
        if (err < 0) FailAv(ErrorCode::kOutputUnwritable, "cannot write the MP3 header", err);
        out_stream_ = ost;

        fifo_.reset(av_audio_fifo_alloc(enc_->sample_fmt, out.channels, enc_->frame_size * 4));
        out_packet_.reset(av_packet_alloc());
        if (!fifo_ || !out_packet_) throw std::bad_alloc();
        encode_stage_ = std::make_unique<EncodeStage>([this](const AVFrame* f) { SendToEncoder(f); });
        result_.sample_rate = out.sample_rate;
        result_.channels = out.channels;
    }

    void RebuildResampler(const AVFrame* frame) {
        if (swr_) {
            // Drain what the old converter still holds before switching.
            Resample(nullptr, 0);
        }
        AVChannelLayout in_layout{};
        if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
            av_channel_layout_default(&in_layout, frame->ch_layout.nb_channels);
        } else {
            av_channel_layout_copy(&in_layout, &frame->ch_layout);
        }
        SwrContext* raw = nullptr;
        int err =
            swr_alloc_set_opts2(&raw, &enc_->ch_layout, enc_->sample_fmt, enc_->sample_rate, &in_layout,
                                static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
        av_channel_layout_uninit(&in_layout);
        swr_.reset(raw);
        if (err >= 0) err = swr_init(swr_.get());
        if (err < 0) FailAv(ErrorCode::kUnsupportedCodec, "cannot convert this audio's sample format", err);
        swr_in_format_ = frame->format;
        swr_in_rate_ = frame->sample_rate;
        av_channel_layout_uninit(&swr_in_layout_);
        av_channel_layout_copy(&swr_in_layout_, &frame->ch_layout);
    }

    // Converts `count` input samples (nullptr: drain) into the FIFO.
    void Resample(const uint8_t* const* planes, int count) {
        const int room = swr_get_out_samples(swr_.get(), count);
        if (room <= 0) return;
        if (room > convert_capacity_) {
            uint8_t** raw = nullptr;
            const int err = av_samples_alloc_array_and_samples(&raw, nullptr, enc_->ch_layout.nb_channels,
                                                               room, enc_->sample_fmt, 0);
            if (err < 0) throw std::bad_alloc();
            convert_buffer_.reset(raw);
            convert_capacity_ = room;
        }
        const int got =
            swr_convert(swr_.get(), convert_buffer_.get(), room, const_cast<const uint8_t**>(planes), count);
        if (got < 0) FailAv(ErrorCode::kCorrupt, "cannot resample the audio", got);
        if (got > 0 &&
            av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(convert_buffer_.get()), got) < got) {
            throw std::bad_alloc();
        }
    }

    void EncodeFromFifo(bool flush) {
        const int frame_size = enc_->frame_size;
        while (av_audio_fifo_size(fifo_.get()) >= frame_size ||
               (flush && av_audio_fifo_size(fifo_.get()) > 0)) {
            const int n = std::min(frame_size, av_audio_fifo_size(fifo_.get()));
            // A frame back from the encoder (it keeps no reference once it
            // has taken the samples), or a new one.
            FramePtr f = encode_stage_->Spare();
            if (!f || av_frame_make_writable(f.get()) < 0 || f->nb_samples < n) {
                f.reset(av_frame_alloc());
                if (!f) throw std::bad_alloc();
                f->nb_samples = frame_size;
                f->format = enc_->sample_fmt;
                f->sample_rate = enc_->sample_rate;
                if (av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout) < 0 ||
                    av_frame_get_buffer(f.get(), 0) < 0) {
                    throw std::bad_alloc();
                }
            }
            f->nb_samples = n;
            if (av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(f->data), n) < n) {
                Fail(ErrorCode::kInternal, "audio buffer underrun");
            }
            f->pts = next_pts_;
            next_pts_ += n;
            encode_stage_->Push(std::move(f));
        }
    }

    // On the encoding thread: touches only the encoder, the muxer and the sink.
    [[noreturn]] void FailEncoding(ErrorCode code, const std::string& what, int err) {
        if (sink_.error())
            Fail(ErrorCode::kOutputUnwritable, "cannot write the output: " + ErrorText(sink_.error()));
        Fail(code, what + ": " + AvError(err));
    }

    void SendToEncoder(const AVFrame* f) {
        int err = avcodec_send_frame(enc_.get(), f);
        if (err < 0) FailAv(ErrorCode::kInternal, "the MP3 encoder refused audio", err);
        while (true) {
            err = avcodec_receive_packet(enc_.get(), out_packet_.get());
            if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
            if (err < 0) FailAv(ErrorCode::kInternal, "the MP3 encoder failed", err);
            av_packet_rescale_ts(out_packet_.get(), enc_->time_base, out_stream_->time_base);
            out_packet_->stream_index = 0;
            err = av_write_frame(out_.get(), out_packet_.get());
            av_packet_unref(out_packet_.get());
            if (err < 0) FailAv(ErrorCode::kOutputUnwritable, "cannot write the MP3", err);
        }
    }

    void Finish() {
        if (!enc_) {
            if (options_.start_s && (source_duration_s_ == 0 || damaged_packets_ == 0) && !read_error_) {
                Fail(ErrorCode::kStartPastEnd, "start " + domain::FormatTime(*options_.start_s) +
                                                   " is at or past the end of the audio");
            }
            std::string why = "no audio could be decoded";
            if (read_error_)
                why += " (" + *read_error_ + ")";
            else if (damaged_packets_ > 0)
                why += " (" + std::to_string(damaged_packets_) + " damaged packets)";
            Fail(ErrorCode::kCorrupt, "the input is damaged: " + why);
        }
        Resample(nullptr, 0);
        EncodeFromFifo(true);
        encode_stage_->Finish();
        encode_stage_.reset();
        const int err = av_write_trailer(out_.get());
        if (err < 0) FailAv(ErrorCode::kOutputUnwritable, "cannot finish the MP3", err);
        if (sink_.error()) FailAv(ErrorCode::kOutputUnwritable, "", AVERROR(EIO));

        result_.duration_s = static_cast<double>(next_pts_) / enc_->sample_rate;
        result_.output_bytes = static_cast<std::uint64_t>(avio_size(out_->pb));
        if (result_.duration_s > 0) {
            result_.bit_rate =
                static_cast<int64_t>(static_cast<double>(result_.output_bytes) * 8 / result_.duration_s);
        }
        const double expected = ExpectedEnd() > 0 ? ExpectedEnd() - WindowStart() : 0;
        const double shortfall = expected - kept_input_s_;
        if (read_error_ || damaged_packets_ > 0 || shortfall > kShortfallToleranceS + expected * 0.01) {
            result_.lost_s = std::max({lost_s_, shortfall, 0.0});
            std::string message = "the input is damaged";
            if (read_error_) message += " (" + *read_error_ + ")";
            message += ": converted " + domain::FormatTime(kept_input_s_);
            if (expected > 0) message += " of " + domain::FormatTime(expected);
            if (result_.lost_s > 0) {
                char lost[64];
                std::snprintf(lost, sizeof lost, "; %.1f s could not be decoded", result_.lost_s);
                message += lost;
            }
            result_.warnings.push_back(message);
        }
        ReportProgress(1.0, true);
    }

    const Input& input_;
    const domain::ConvertOptions& options_;
    const Hooks& hooks_;
    ReaderBridge reader_;
    SinkBridge sink_;

    std::unique_ptr<AVFormatContext, InputFormatCloser> in_;
    AVStream* stream_ = nullptr;
    const AVCodec* decoder_ = nullptr;
    std::unique_ptr<AVCodecContext, CodecFreer> dec_;
    std::unique_ptr<AVPacket, PacketFreer> packet_;
    std::unique_ptr<AVFrame, FrameFreer> frame_;
    int64_t stream_start_ = 0;
    double source_duration_s_ = 0;
    bool weak_match_ = false;

    std::unique_ptr<AVCodecContext, CodecFreer> enc_;
    std::unique_ptr<AVFormatContext, OutputFormatFreer> out_;
    AVStream* out_stream_ = nullptr;
    std::unique_ptr<SwrContext, SwrFreer> swr_;
    int swr_in_format_ = -1;
    int swr_in_rate_ = 0;
    AVChannelLayout swr_in_layout_{};
    std::unique_ptr<AVAudioFifo, FifoFreer> fifo_;
    std::unique_ptr<uint8_t*, SamplesFreer> convert_buffer_;
    int convert_capacity_ = 0;
    std::unique_ptr<AVPacket, PacketFreer> out_packet_;
    int64_t next_pts_ = 0;

    double next_frame_s_ = 0;
    double kept_input_s_ = 0;
    bool end_reached_ = false;
    int damaged_packets_ = 0;
    double lost_s_ = 0;
    std::optional<std::string> read_error_;
    std::chrono::steady_clock::time_point last_progress_{};
    Result result_;
    // Last: it is stopped and joined before anything it uses is destroyed.
    std::unique_ptr<EncodeStage> encode_stage_;
};

}  // namespace

Result Convert(const Input& input, SeekableSink& output, const domain::ConvertOptions& options,
               const Hooks& hooks) {
    Conversion conversion(input, output, options, hooks);
    return conversion.Run();
}

void SetLibraryLogging(bool verbose) { av_log_set_level(verbose ? AV_LOG_WARNING : AV_LOG_QUIET); }

std::string LibraryVersions() {
    return std::string("FFmpeg ") + av_version_info() +
           " (" LIBAVFORMAT_IDENT ", " LIBAVCODEC_IDENT "), LAME " + get_lame_version();
}

}  // namespace v2m::engine
