#include "token/remote_key_verifier.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "token/base64url.hpp"
#include "token/jwk_set.hpp"

namespace v2m::token {

namespace {

VerifyFailure Unavailable(std::string message) { return {VerifyError::kKeysUnavailable, std::move(message)}; }

// Whether the token's header names a kid at all: only then can a fresh key
// set change the answer (auth never issues a token without one).
bool NamesAKid(std::string_view token) {
    const std::string_view header = token.substr(0, token.find('.'));
    const std::optional<std::string> text = detail::Base64UrlDecode(header);
    if (!text) return false;
    const nlohmann::json parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) return false;
    const auto kid = parsed.find("kid");
    return kid != parsed.end() && kid->is_string() && !kid->get_ref<const std::string&>().empty();
}

std::string Kids(const JwkSet& set) {
    const nlohmann::json document = set.ToJson();
    std::string kids;
    for (const nlohmann::json& key : document.at("keys")) {
        if (!kids.empty()) kids += ", ";
        kids += key.at("kid").get<std::string>();
    }
    return kids;
}

}  // namespace

RemoteKeyVerifier::RemoteKeyVerifier(FetchJwks fetch, RemoteKeySettings settings, Clock clock,
                                     SteadyClock steady_clock)
    : fetch_(std::move(fetch)),
      settings_(std::move(settings)),
      clock_(std::move(clock)),
      steady_clock_(std::move(steady_clock)),
      no_keys_(JwkSet(), settings_.verify, clock_) {
    if (!fetch_) throw std::invalid_argument("remote key verifier needs a fetch function");
    if (!steady_clock_) throw std::invalid_argument("remote key verifier needs a steady clock");
    using std::chrono::milliseconds;
    if (settings_.min_fetch_interval <= milliseconds(0) || settings_.refresh_interval <= milliseconds(0) ||
        settings_.retry_interval <= milliseconds(0)) {
        throw std::invalid_argument("key fetch intervals must be positive");
    }
    state_.last_error = "the first fetch has not ended";
    if (settings_.refresh_in_background) {
        refresher_ = std::jthread([this](const std::stop_token& stop) { RefreshLoop(stop); });
    }
}

RemoteKeyVerifier::~RemoteKeyVerifier() {
    if (refresher_.joinable()) {
        refresher_.request_stop();
        refresher_.join();
    }
}

RemoteKeyVerifier::State RemoteKeyVerifier::Snapshot() const {
    const std::lock_guard lock(mutex_);
    return state_;
}

VerifyResult RemoteKeyVerifier::Verify(std::string_view token) {
    State state = Snapshot();
    {
        VerifyResult first = state.verifier ? state.verifier->Verify(token) : no_keys_.Verify(token);
        // Only a key we lack can make a fresh set change the answer.
        if (first.Valid() || first.GetFailure().reason != VerifyError::kUnknownKey || !NamesAKid(token)) {
            return first;
        }
    }
    FetchOnDemand(state.fetches);
    state = Snapshot();
    if (!state.verifier) return Unavailable("no signing keys from auth yet: " + state.last_error);
    VerifyResult result = state.verifier->Verify(token);
    if (!result.Valid() && result.GetFailure().reason == VerifyError::kUnknownKey && !state.last_fetch_ok) {
        // Perhaps a key auth has since rotated to: it cannot be told now.
        return Unavailable("the token's key is not known and auth's keys cannot be fetched: " +
                           state.last_error);
    }
    return result;
}

void RemoteKeyVerifier::FetchOnDemand(std::uint64_t seen_fetches) {
    // Waiting here (instead of fetching too) is what makes many requests with
    // the new kid cost auth one fetch.
    const std::lock_guard flight(fetch_mutex_);
    {
        const std::lock_guard lock(mutex_);
        if (state_.fetches != seen_fetches) return;  // one ended while we waited: its result stands
        const auto now = steady_clock_();
        if (last_on_demand_ && now - *last_on_demand_ < settings_.min_fetch_interval) return;
        last_on_demand_ = now;
    }
    FetchLocked();
}

bool RemoteKeyVerifier::Refresh() {
    const std::lock_guard flight(fetch_mutex_);
    return FetchLocked();
}

bool RemoteKeyVerifier::FetchLocked() {
    std::shared_ptr<const TokenVerifier> fresh;
    std::string error;
    std::string kids;
    try {
        JwkSet set = JwkSet::Parse(fetch_());
        if (set.Empty()) throw KeyError("the key set holds no ES256 signing key");
        kids = Kids(set);
        fresh = std::make_shared<const TokenVerifier>(std::move(set), settings_.verify, clock_);
    } catch (const std::exception& e) {
        error = e.what();
    }
    bool was_ok = false;
    bool had_keys = false;
    bool first = false;
    {
        const std::lock_guard lock(mutex_);
        was_ok = state_.last_fetch_ok;
        had_keys = state_.verifier != nullptr;
        first = state_.fetches == 0;
        ++state_.fetches;
        state_.last_fetch_ok = fresh != nullptr;
        if (fresh) {
            state_.verifier = std::move(fresh);
            state_.last_error.clear();
        } else {
            state_.last_error = error;
        }
    }
    if (!error.empty()) {
        // Said once per outage, not once per retry.
        if (was_ok || first) {
            spdlog::warn("cannot fetch the signing keys from auth ({}): {}",
                         had_keys ? "keeping the last ones" : "tokens cannot be checked until then", error);
        } else {
            spdlog::debug("cannot fetch the signing keys from auth: {}", error);
        }
        return false;
    }
    if (!was_ok) {
        spdlog::info("signing keys from auth: {}", kids);
    } else {
        spdlog::debug("signing keys from auth refreshed: {}", kids);
    }
    return true;
}

void RemoteKeyVerifier::RefreshLoop(const std::stop_token& stop) {
    std::chrono::milliseconds backoff = settings_.retry_interval;
    while (!stop.stop_requested()) {
        const bool ok = Refresh();
        const std::chrono::milliseconds wait = ok ? settings_.refresh_interval : backoff;
        backoff = ok ? settings_.retry_interval : std::min(backoff * 2, settings_.min_fetch_interval);
        std::unique_lock lock(wait_mutex_);
        wake_.wait_for(lock, stop, wait, [] { return false; });
    }
}

std::optional<std::string> RemoteKeyVerifier::NotReady() const {
    const std::lock_guard lock(mutex_);
    if (state_.verifier) return std::nullopt;
    return "no signing keys from auth yet: " + state_.last_error;
}

std::uint64_t RemoteKeyVerifier::FetchCount() const {
    const std::lock_guard lock(mutex_);
    return state_.fetches;
}

}  // namespace v2m::token
