#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "token/claims.hpp"
#include "token/token_verifier.hpp"

namespace v2m::token {

/// Fetches the issuer's JWKS document (auth's `/.well-known/jwks.json`) and
/// returns its text. Throws (anything derived from `std::exception`) when it
/// cannot. Called from one thread at a time.
using FetchJwks = std::function<std::string()>;

/// A monotonic clock; injected so that tests need not sleep.
using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

struct RemoteKeySettings {
    VerifySettings verify;
    /// Fetches asked for by tokens (a `kid` not in the set, or no set yet)
    /// happen at most once per this: a flood of unknown kids costs auth one
    /// request per period.
    std::chrono::milliseconds min_fetch_interval{10'000};
    /// The background thread refetches the set this often (keys that auth
    /// dropped stop being trusted).
    std::chrono::milliseconds refresh_interval{10 * 60'000};
    /// After a failed fetch the background thread tries again after this,
    /// doubling up to `min_fetch_interval`.
    std::chrono::milliseconds retry_interval{500};
    /// Off only in tests that drive every fetch themselves.
    bool refresh_in_background = true;
};

/// Checks ES256 tokens against the issuer's published key set, fetched
/// through `FetchJwks` and cached: a token whose key is in the cached set
/// costs no fetch. Follows key rotation: a token naming a `kid` the set lacks
/// makes it refetch the set (at most once per `min_fetch_interval`, one fetch
/// for all the requests that need it at once) and check the token again. A
/// background thread fetches the set at once on construction, then every
/// `refresh_interval`, and retries with backoff while fetching fails.
///
/// Fails closed: until a set was fetched, a well-formed token gets
/// `VerifyError::kKeysUnavailable` (the token may be fine; it cannot be
/// checked now: callers answer 503, not 401); so does a token naming an
/// unknown kid while the last fetch failed. A malformed token is refused as
/// `TokenVerifier` refuses it, keys or not. A set that fails to fetch or parse
/// (or holds no ES256 key) never replaces a good one: the last good set stays
/// in use however old it is.
///
/// Thread-safe. `fetch` must stay valid until the destructor returns; the
/// destructor waits for a fetch in flight (as long as `fetch` takes: bound it).
class RemoteKeyVerifier final {
  public:
    /// Throws `std::invalid_argument` for settings `TokenVerifier` refuses or
    /// non-positive intervals.
    RemoteKeyVerifier(FetchJwks fetch, RemoteKeySettings settings, Clock clock = SystemClock(),
                      SteadyClock steady_clock = std::chrono::steady_clock::now);
    ~RemoteKeyVerifier();
    RemoteKeyVerifier(const RemoteKeyVerifier&) = delete;
    RemoteKeyVerifier& operator=(const RemoteKeyVerifier&) = delete;

    /// As `TokenVerifier::Verify`, plus `kKeysUnavailable` (above). Blocks
    /// only when the token needs a fetch: for that fetch, or for the one
    /// another thread is making. Never throws but `std::bad_alloc`.
    VerifyResult Verify(std::string_view token);

    /// Why tokens cannot be checked ("no signing keys from auth yet: …"), or
    /// empty once a key set was fetched — for a readiness probe. Never blocks
    /// on a fetch.
    std::optional<std::string> NotReady() const;

    /// Fetches the set now (waiting for a fetch in flight first), whatever
    /// the rate limit; true when it succeeded.
    bool Refresh();

    /// Fetch attempts so far (successful or not), for tests and metrics.
    std::uint64_t FetchCount() const;

  private:
    struct State {
        std::shared_ptr<const TokenVerifier> verifier;  ///< null until a set was fetched
        std::uint64_t fetches = 0;
        bool last_fetch_ok = false;
        std::string last_error;
    };

    State Snapshot() const;
    /// Fetches unless another fetch ended after `seen_fetches` or the rate limit says no.
    void FetchOnDemand(std::uint64_t seen_fetches);
    /// One fetch; call with `fetch_mutex_` held.
    bool FetchLocked();
    void RefreshLoop(const std::stop_token& stop);

    FetchJwks fetch_;
    RemoteKeySettings settings_;
    Clock clock_;
    SteadyClock steady_clock_;
    const TokenVerifier no_keys_;  ///< classifies tokens before any set is known

    std::mutex fetch_mutex_;    ///< one fetch at a time; held for the whole fetch
    mutable std::mutex mutex_;  ///< guards what follows; never held during a fetch
    State state_;
    std::optional<std::chrono::steady_clock::time_point> last_on_demand_;

    std::mutex wait_mutex_;
    std::condition_variable_any wake_;
    std::jthread refresher_;  ///< last: stopped and joined before the rest goes
};

}  // namespace v2m::token
