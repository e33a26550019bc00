#pragma once

#include <cstdint>
#include <string>

#include "mail/message.hpp"

namespace v2m::mail {

/// What the "your MP3 is ready" email tells.
struct JobDone {
    std::string to;         ///< the owner's address
    std::string job_id;     ///< 32 hex digits
    std::string mp3_id;     ///< the MP3's blob id (the original's `mp3_fid`)
    std::string filename;   ///< the upload's name as the user gave it, e.g. `song.mp4`
    double duration_s = 0;  ///< of the MP3; negative or not finite: not said
    std::uint64_t mp3_bytes = 0;
    std::string download_url;  ///< the full link, e.g. `http://host/download?fid=<mp3_id>`
};

/// What the "conversion failed" email tells.
struct JobFailed {
    std::string to;
    std::string job_id;
    std::string filename;  ///< the upload's name as the user gave it
    std::string reason;    ///< a sentence for a person
};

/// Subject "MP3 Download" and the line "mp3 file_id: <id> is now ready!"
/// as the original sent them, then the MP3's file name (`song.mp4` →
/// `song.mp3`), duration (m:ss or h:mm:ss), size in MB, the link and a curl
/// command; the HTML part says the same with every value escaped.
/// Message-ID `job-<job_id>.done@video2mp3`. Does not validate: `BuildMessage`
/// does.
Message DoneMail(const JobDone& job, const std::string& from);

/// Subject "MP3 conversion failed: <filename>"; both parts give the file
/// name and the reason. Message-ID `job-<job_id>.failed@video2mp3`.
Message FailedMail(const JobFailed& job, const std::string& from);

}  // namespace v2m::mail
