#include "domain/message.hpp"

#include <nlohmann/json.hpp>

namespace v2m::domain {

std::string EncodeMessage(const QueueMessage& m) {
    nlohmann::json j{{"video_fid", m.video_fid},
                     {"username", m.username},
                     {"job_id", m.job_id},
                     {"trace_id", m.trace_id},
                     {"event", m.event}};
    j["mp3_fid"] = m.mp3_fid.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.mp3_fid);
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<QueueMessage> DecodeMessage(std::string_view body) {
    // A message is small; anything large is not one of ours.
    if (body.size() > std::size_t{64} * 1024) return std::nullopt;
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    auto text = [&](const char* key) -> std::optional<std::string> {
        const auto it = j.find(key);
        if (it == j.end() || it->is_null()) return std::string();
        if (!it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    QueueMessage m;
    for (auto [key, field] : {std::pair{"job_id", &m.job_id}, std::pair{"video_fid", &m.video_fid},
                              std::pair{"mp3_fid", &m.mp3_fid}, std::pair{"username", &m.username},
                              std::pair{"trace_id", &m.trace_id}, std::pair{"event", &m.event}}) {
        auto value = text(key);
        if (!value) return std::nullopt;
        *field = std::move(*value);
    }
    if (m.job_id.empty() || m.job_id.size() > 64) return std::nullopt;
    return m;
}

}  // namespace v2m::domain
