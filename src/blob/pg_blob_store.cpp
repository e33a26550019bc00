#include "blob/pg_blob_store.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

#include "blob/sha256.hpp"
#include "util/random_id.hpp"

namespace v2m::blob {

namespace {

constexpr std::size_t kChunkSize = PgBlobStore::kChunkSize;
// Only runs when a table is missing: the ALTER takes an exclusive lock, and
// PostgreSQL 15 cannot say STORAGE in CREATE TABLE. One simple-query string
// is one transaction, so the advisory lock is held to its end. Media do not
// compress: EXTERNAL stores the chunks out of line without trying to. The
// advisory lock's key is "v2mblob" in ASCII.
constexpr const char* kCreateTables = R"sql(
SELECT pg_advisory_xact_lock(x'76326d626c6f62'::bigint);
CREATE TABLE IF NOT EXISTS v2m_blob_files (
    id text PRIMARY KEY,
    size bigint NOT NULL DEFAULT 0,
    chunk_size integer NOT NULL,
    sha256 text,
    committed boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    touched_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS v2m_blob_files_pending ON v2m_blob_files (touched_at) WHERE NOT committed;
CREATE TABLE IF NOT EXISTS v2m_blob_chunks (
    file_id text NOT NULL REFERENCES v2m_blob_files (id) ON DELETE CASCADE,
    n integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (file_id, n)
);
ALTER TABLE v2m_blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
)sql";

constexpr const char* kTablesExist =
    "SELECT to_regclass('v2m_blob_files') IS NOT NULL AND to_regclass('v2m_blob_chunks') IS NOT NULL";

// A live writer touches its row with every chunk; one untouched for an hour
// belongs to a process that died.
constexpr const char* kSweepStale =
    "DELETE FROM v2m_blob_files WHERE NOT committed AND touched_at < now() - interval '1 hour'";

// Every statement is idempotent: a connection that breaks mid-call may or may
// not have run it, and it is run again on a fresh one.
constexpr const char* kInsertFile =
    "INSERT INTO v2m_blob_files (id, chunk_size) VALUES ($1, $2::integer) ON CONFLICT (id) DO NOTHING";
// Touches the pending row and stores the chunk in one statement; nothing is
// stored (0 rows) once the row was swept or committed.
constexpr const char* kStoreChunk =
    "WITH f AS (UPDATE v2m_blob_files SET touched_at = now() WHERE id = $1 AND NOT committed RETURNING id) "
    "INSERT INTO v2m_blob_chunks (file_id, n, data) SELECT id, $2::integer, $3::bytea FROM f "
    "ON CONFLICT (file_id, n) DO UPDATE SET data = EXCLUDED.data";
constexpr const char* kPatchChunk =
    "UPDATE v2m_blob_chunks SET data = overlay(data PLACING $3::bytea FROM $4::integer) "
    "WHERE file_id = $1 AND n = $2::integer";
// Visible in one statement, and only if every chunk is there at its length
// (length() of an uncompressed out-of-line value reads no chunk data).
constexpr const char* kCommit =
    "UPDATE v2m_blob_files SET committed = true, size = $2::bigint, sha256 = $3, touched_at = now() "
    "WHERE id = $1 AND (SELECT count(*) = $4::bigint AND coalesce(sum(length(data)), 0) = $2::bigint "
    "FROM v2m_blob_chunks WHERE file_id = $1)";
// The writer's id was never handed out as committed: whatever state it is in, it goes.
constexpr const char* kDiscard = "DELETE FROM v2m_blob_files WHERE id = $1";
constexpr const char* kOpen = "SELECT size, chunk_size FROM v2m_blob_files WHERE id = $1 AND committed";
constexpr const char* kStat = "SELECT size FROM v2m_blob_files WHERE id = $1 AND committed";
constexpr const char* kRemove = "DELETE FROM v2m_blob_files WHERE id = $1 AND committed";
constexpr const char* kFetchChunk = "SELECT data FROM v2m_blob_chunks WHERE file_id = $1 AND n = $2::integer";

// Defaults the URL may override: it is expanded after them. The keepalives
// and the TCP user timeout end a wait on a server that vanished without a reset.
constexpr std::array<std::pair<const char*, const char*>, 6> kConnectionDefaults = {{
    {"connect_timeout", "5"},
    {"keepalives_idle", "30"},
    {"keepalives_interval", "10"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "60000"},
    {"application_name", "video2mp3-blob"},
}};

constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;

struct ConnFree {
    void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};
using Conn = std::unique_ptr<PGconn, ConnFree>;

struct ResultFree {
    void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

struct OptionsFree {
    void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};

// One statement parameter. Text ones must be NUL-terminated (libpq ignores
// their length); bytea goes binary: no escaping, NUL bytes and all.
struct Param {
    const char* data;
    int length;
    int format;

    static Param Text(const std::string& text) { return {text.c_str(), 0, kTextFormat}; }
    static Param Binary(std::span<const std::byte> bytes) {
        // A null pointer would be SQL NULL, not an empty value.
        return {bytes.empty() ? "" : reinterpret_cast<const char*>(bytes.data()),
                static_cast<int>(bytes.size()), kBinaryFormat};
    }
};

// libpq's messages end in a newline and may span lines: one line, for logs.
std::string OneLine(std::string_view text) {
    std::string out;
    bool space = false;
    for (const char c : text) {
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            space = true;
            continue;
        }
        if (space && !out.empty()) out += ' ';
        space = false;
        out += c;
    }
    return out;
}

void ReplaceAll(std::string& text, std::string_view what, std::string_view with) {
    if (what.empty()) return;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size())) {
        text.replace(at, what.size(), with);
    }
}

int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Lenient: a malformed escape stays as it is.
std::string PercentDecode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            const int high = HexValue(text[i + 1]);
            const int low = HexValue(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out += static_cast<char>(high * 16 + low);
                i += 2;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// Every way the URL may spell its password, found without libpq: when libpq
// cannot parse a URL its message may quote any part of it. The user info ends
// at the first '@' before the path for libpq, at the last '@' for a reader.
std::vector<std::string> PasswordSpellings(const std::string& url) {
    std::vector<std::string> out;
    const std::size_t scheme_end = url.find("://");
    if (scheme_end != std::string::npos) {
        const std::size_t start = scheme_end + 3;
        std::vector<std::size_t> ends;
        if (const std::size_t first = url.find('@', start); first < url.find('/', start))
            ends.push_back(first);
        if (const std::size_t last = url.rfind('@'); last != std::string::npos && last >= start)
            ends.push_back(last);
        for (const std::size_t end : ends) {
            const std::string userinfo = url.substr(start, end - start);
            if (const std::size_t colon = userinfo.find(':'); colon != std::string::npos) {
                out.push_back(userinfo.substr(colon + 1));
            }
        }
    }
    for (std::size_t at = url.find("password="); at != std::string::npos;
         at = url.find("password=", at + 1)) {
        if (at == 0 || (url[at - 1] != '?' && url[at - 1] != '&')) continue;
        const std::size_t value = at + std::string_view("password=").size();
        out.push_back(url.substr(value, url.find('&', value) - value));
    }
    const std::size_t spelled = out.size();
    for (std::size_t i = 0; i < spelled; ++i) out.push_back(PercentDecode(out[i]));
    return out;
}

std::uint64_t ParseUnsigned(const char* text, std::string_view what) {
    std::uint64_t value = 0;
    const std::string_view view(text);
    const auto [end, error] = std::from_chars(view.data(), view.data() + view.size(), value);
    if (error != std::errc() || end != view.data() + view.size()) {
        throw BlobUnavailable("blob store: unexpected " + std::string(what) + " '" + std::string(view) + "'");
    }
    return value;
}

std::uint64_t Affected(const Result& result) { return ParseUnsigned(PQcmdTuples(result.get()), "row count"); }

class ConnectionPool;

// A borrowed connection; goes back to the pool (or is closed, when broken) at
// the end of its scope.
class Lease final {
  public:
    Lease(ConnectionPool& pool, Conn conn) : pool_(&pool), conn_(std::move(conn)) {}
    ~Lease();
    Lease(Lease&& other) noexcept : pool_(other.pool_), conn_(std::move(other.conn_)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;

    PGconn* get() const { return conn_.get(); }

  private:
    ConnectionPool* pool_;
    Conn conn_;
};

// Connections to one server, lent out for a statement at a time; at most
// `max_connections` open, the idle ones reused most recent first.
class ConnectionPool final {
  public:
    ConnectionPool(std::size_t max_connections, std::chrono::milliseconds acquire_timeout,
                   std::string redacted)
        : max_(std::max<std::size_t>(1, max_connections)),
          acquire_timeout_(acquire_timeout),
          redacted_(std::move(redacted)) {}

    // `connect` makes a new connection or throws BlobUnavailable.
    template <typename Connect>
    Lease Acquire(Connect connect) {
        std::unique_lock lock(mutex_);
        const auto deadline = std::chrono::steady_clock::now() + acquire_timeout_;
        while (true) {
            while (!idle_.empty()) {
                Conn conn = std::move(idle_.back());
                idle_.pop_back();
                if (Usable(conn.get())) return Lease(*this, std::move(conn));
                --open_;
                lock.unlock();
                conn.reset();  // PQfinish may write to the socket: not under the lock
                lock.lock();
            }
            if (open_ < max_) {
                ++open_;
                lock.unlock();
                try {
                    return Lease(*this, connect());
                } catch (...) {
                    lock.lock();
                    --open_;
                    available_.notify_one();
                    throw;
                }
            }
            if (available_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
                open_ >= max_) {
                throw BlobUnavailable("blob store: all " + std::to_string(max_) + " connections to " +
                                      redacted_ + " stayed busy for " +
                                      std::to_string(acquire_timeout_.count()) + " ms");
            }
        }
    }

    void Release(Conn conn) {
        const bool reusable =
            PQstatus(conn.get()) == CONNECTION_OK && PQtransactionStatus(conn.get()) == PQTRANS_IDLE;
        if (!reusable) conn.reset();
        {
            const std::lock_guard lock(mutex_);
            if (reusable) {
                idle_.push_back(std::move(conn));
            } else {
                --open_;
            }
        }
        available_.notify_one();
    }

  private:
    // An idle connection has nothing to say: anything readable is the server
    // saying goodbye (a restart, an administrator's kill) or the socket's end.
    static bool Usable(PGconn* conn) {
        if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE) return false;
        pollfd fd{.fd = PQsocket(conn), .events = POLLIN, .revents = 0};
        return fd.fd >= 0 && ::poll(&fd, 1, 0) == 0;
    }

    const std::size_t max_;
    const std::chrono::milliseconds acquire_timeout_;
    const std::string redacted_;
    std::mutex mutex_;
    std::condition_variable available_;
    std::vector<Conn> idle_;  ///< most recently used last
    std::size_t open_ = 0;    ///< idle, lent out, or being connected
};

Lease::~Lease() {
    if (conn_) pool_->Release(std::move(conn_));
}

}  // namespace

// What the store, its writers and its readers share.
struct PgBlobStore::Shared {
    Shared(const std::string& url_in, const PgBlobStoreOptions& options);

    // Runs one statement on a pooled connection, and once more on a fresh one
    // when the one used turns out broken. Throws BlobUnavailable; never
    // returns a failed result.
    Result Run(std::string_view what, const char* sql, std::initializer_list<Param> params = {},
               int result_format = kTextFormat);
    // The same for a script of several statements, run as one transaction.
    void RunScript(std::string_view what, const char* sql);

    // Chunk `n` of blob `id`, which must be `length` bytes, as a binary result.
    Result FetchChunk(const std::string& id, std::uint64_t n, std::size_t length);

    // The text with the URL replaced by its redacted form and any spelling of
    // the password by "***".
    std::string Scrub(std::string text) const;

    std::string url;
    std::string redacted;
    std::vector<std::string> secrets;  ///< longest first
    std::unique_ptr<ConnectionPool> pool;

  private:
    Conn Connect() const;
    // `exec` sends the statement on the connection it is given.
    template <typename Exec>
    Result Execute(std::string_view what, Exec exec);
};

PgBlobStore::Shared::Shared(const std::string& url_in, const PgBlobStoreOptions& options) : url(url_in) {
    secrets = PasswordSpellings(url);
    char* error = nullptr;
    const std::unique_ptr<PQconninfoOption, OptionsFree> parsed(PQconninfoParse(url.c_str(), &error));
    if (!parsed) {
        std::string message = error != nullptr ? error : "out of memory";
        if (error != nullptr) PQfreemem(error);
        redacted = url.substr(0, url.find("://")) + "://…";
        std::sort(secrets.begin(), secrets.end(),
                  [](const auto& a, const auto& b) { return a.size() > b.size(); });
        throw std::invalid_argument("blob store URL " + redacted +
                                    " is not valid: " + OneLine(Scrub(std::move(message))));
    }
    std::string user, host, port, dbname;
    for (const PQconninfoOption* option = parsed.get(); option->keyword != nullptr; ++option) {
        if (option->val == nullptr) continue;
        const std::string_view keyword = option->keyword;
        if (keyword == "password") secrets.emplace_back(option->val);
        if (keyword == "user") user = option->val;
        if (keyword == "host") host = option->val;
        if (keyword == "port") port = option->val;
        if (keyword == "dbname") dbname = option->val;
    }
    std::sort(secrets.begin(), secrets.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
    redacted = "postgresql://" + (user.empty() ? "" : user + "@") + host + (port.empty() ? "" : ":" + port) +
               "/" + dbname;
    pool = std::make_unique<ConnectionPool>(options.max_connections, options.acquire_timeout, redacted);
}

std::string PgBlobStore::Shared::Scrub(std::string text) const {
    ReplaceAll(text, url, redacted);
    for (const std::string& secret : secrets) ReplaceAll(text, secret, "***");
    return text;
}

Conn PgBlobStore::Shared::Connect() const {
    std::array<const char*, kConnectionDefaults.size() + 2> keys{};
    std::array<const char*, kConnectionDefaults.size() + 2> values{};
    for (std::size_t i = 0; i < kConnectionDefaults.size(); ++i) {
        keys[i] = kConnectionDefaults[i].first;
        values[i] = kConnectionDefaults[i].second;
    }
    keys[kConnectionDefaults.size()] = "dbname";  // expanded: the whole URL, as it is
    values[kConnectionDefaults.size()] = url.c_str();
    Conn conn(PQconnectdbParams(keys.data(), values.data(), 1));
    if (!conn) throw std::bad_alloc();
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        throw BlobUnavailable("blob store: cannot connect to " + redacted + ": " +
                              OneLine(Scrub(PQerrorMessage(conn.get()))));
    }
    // libpq would print the server's notices ("already exists, skipping") on stderr.
    PQsetNoticeReceiver(
        conn.get(), [](void*, const PGresult*) {}, nullptr);
    return conn;
}

Result PgBlobStore::Shared::Run(std::string_view what, const char* sql, std::initializer_list<Param> params,
                                int result_format) {
    std::vector<const char*> values;
    std::vector<int> lengths;
    std::vector<int> formats;
    for (const Param& param : params) {
        values.push_back(param.data);
        lengths.push_back(param.length);
        formats.push_back(param.format);
    }
    return Execute(what, [&](PGconn* conn) {
        return PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, values.data(),
                            lengths.data(), formats.data(), result_format);
    });
}

void PgBlobStore::Shared::RunScript(std::string_view what, const char* sql) {
    Execute(what, [&](PGconn* conn) { return PQexec(conn, sql); });
}

template <typename Exec>
Result PgBlobStore::Shared::Execute(std::string_view what, Exec exec) {
    for (int attempt = 0;; ++attempt) {
        const Lease lease = pool->Acquire([this] { return Connect(); });
        Result result(exec(lease.get()));
        const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;
        if (PQstatus(lease.get()) == CONNECTION_BAD) {
            if (attempt == 0) continue;  // the lease closes the broken connection
            throw BlobUnavailable("blob store: lost the connection to " + redacted + " (" +
                                  std::string(what) + "): " + OneLine(Scrub(PQerrorMessage(lease.get()))));
        }
        std::string message;
        if (result) {
            const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
            const char* primary = PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
            message = std::string(primary != nullptr ? primary : PQresStatus(status)) +
                      (state != nullptr ? std::string(" (SQLSTATE ") + state + ")" : "");
        } else {
            message = PQerrorMessage(lease.get());
        }
        throw BlobUnavailable("blob store: cannot " + std::string(what) + " on " + redacted + ": " +
                              OneLine(Scrub(std::move(message))));
    }
}

Result PgBlobStore::Shared::FetchChunk(const std::string& id, std::uint64_t n, std::size_t length) {
    const std::string number = std::to_string(n);
    Result result = Run("read a chunk", kFetchChunk, {Param::Text(id), Param::Text(number)}, kBinaryFormat);
    if (PQntuples(result.get()) != 1) {
        throw BlobUnavailable("blob store: chunk " + number + " of blob " + id +
                              " is missing (removed meanwhile?)");
    }
    const auto actual = static_cast<std::size_t>(PQgetlength(result.get(), 0, 0));
    if (actual != length) {
        throw BlobUnavailable("blob store: chunk " + number + " of blob " + id + " has " +
                              std::to_string(actual) + " bytes instead of " + std::to_string(length));
    }
    return result;
}

namespace {

std::span<const std::byte> ChunkBytes(const Result& result) {
    return {reinterpret_cast<const std::byte*>(PQgetvalue(result.get(), 0, 0)),
            static_cast<std::size_t>(PQgetlength(result.get(), 0, 0))};
}

class PgBlobWriter final : public BlobWriter {
  public:
    PgBlobWriter(std::shared_ptr<PgBlobStore::Shared> shared, std::string id)
        : shared_(std::move(shared)), id_(std::move(id)) {}
    ~PgBlobWriter() override {
        if (committed_) return;
        try {
            shared_->Run("discard an uncommitted blob", kDiscard, {Param::Text(id_)});
        } catch (const std::exception&) {
            // The server is away: the rows go with the sweep at a later start.
        }
    }
    PgBlobWriter(const PgBlobWriter&) = delete;
    PgBlobWriter& operator=(const PgBlobWriter&) = delete;

    const std::string& id() const override { return id_; }

    void Write(std::span<const std::byte> data) override {
        CheckOpen("Write");
        while (!data.empty()) {
            if (buffer_.empty() && data.size() >= kChunkSize) {
                // A whole chunk in the caller's bytes: stored from there, no copy.
                StoreChunk(data.first(kChunkSize));
                data = data.subspan(kChunkSize);
                continue;
            }
            if (buffer_.capacity() < kChunkSize) buffer_.reserve(kChunkSize);
            const std::size_t take = std::min(kChunkSize - buffer_.size(), data.size());
            buffer_.insert(buffer_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
            data = data.subspan(take);
            if (buffer_.size() == kChunkSize) {
                StoreChunk(buffer_);
                buffer_.clear();
            }
        }
    }

    void Patch(std::uint64_t offset, std::span<const std::byte> data) override {
        CheckOpen("Patch");
        const std::uint64_t size = Size();
        if (offset > size || data.size() > size - offset) {
            throw std::out_of_range("blob patch of " + std::to_string(data.size()) + " bytes at " +
                                    std::to_string(offset) + " goes past the " + std::to_string(size) +
                                    " bytes written");
        }
        // Stored chunks are all full: a piece never crosses from one into the buffer.
        while (!data.empty() && offset < stored_) {
            const std::uint64_t n = offset / kChunkSize;
            const auto within = static_cast<std::size_t>(offset % kChunkSize);
            const std::size_t take = std::min(kChunkSize - within, data.size());
            const std::string number = std::to_string(n);
            const std::string position = std::to_string(within + 1);  // overlay() counts from 1
            try {
                const Result result = shared_->Run("patch a chunk", kPatchChunk,
                                                   {Param::Text(id_), Param::Text(number),
                                                    Param::Binary(data.first(take)), Param::Text(position)});
                if (Affected(result) != 1) {
                    throw BlobUnavailable("blob store: chunk " + number + " of pending blob " + id_ +
                                          " is gone");
                }
            } catch (...) {
                broken_ = true;
                throw;
            }
            rehash_ = true;
            offset += take;
            data = data.subspan(take);
        }
        if (!data.empty()) {
            std::memcpy(buffer_.data() + static_cast<std::size_t>(offset - stored_), data.data(),
                        data.size());
        }
    }

    std::uint64_t Size() const override { return stored_ + buffer_.size(); }

    BlobInfo Commit() override {
        CheckOpen("Commit");
        closed_ = true;
        const std::uint64_t size = Size();
        if (!buffer_.empty()) StoreChunk(buffer_);
        buffer_ = {};
        std::string sha256 = rehash_ ? Rehash(size) : hash_.FinishHex();
        const std::string size_text = std::to_string(size);
        const std::string chunks = std::to_string((size + kChunkSize - 1) / kChunkSize);
        const Result result = shared_->Run(
            "commit a blob", kCommit,
            {Param::Text(id_), Param::Text(size_text), Param::Text(sha256), Param::Text(chunks)});
        if (Affected(result) != 1) {
            throw BlobUnavailable("blob store: cannot commit blob " + id_ +
                                  ": its rows are incomplete or were swept (not written for over an hour)");
        }
        committed_ = true;
        return BlobInfo{.id = id_, .size = size, .sha256 = std::move(sha256)};
    }

  private:
    void CheckOpen(const char* operation) const {
        if (closed_) throw std::logic_error(std::string("BlobWriter::") + operation + " after Commit");
        if (broken_) throw BlobUnavailable("blob store: an earlier write to blob " + id_ + " failed");
    }

    // Stores the next chunk (full, or the last one at Commit) and hashes it:
    // bytes are final once stored, unless a Patch reaches back (then Rehash).
    void StoreChunk(std::span<const std::byte> bytes) {
        const std::string number = std::to_string(stored_ / kChunkSize);
        try {
            const Result result = shared_->Run("write a chunk", kStoreChunk,
                                               {Param::Text(id_), Param::Text(number), Param::Binary(bytes)});
            if (Affected(result) != 1) {
                throw BlobUnavailable("blob store: pending blob " + id_ +
                                      " is gone (not written for over an hour, it was swept)");
            }
        } catch (...) {
            broken_ = true;
            throw;
        }
        if (!rehash_) hash_.Update(bytes);
        stored_ += bytes.size();
    }

    // A patch changed stored bytes after they were hashed: hash them all
    // again, streamed back a chunk at a time.
    std::string Rehash(std::uint64_t size) {
        Sha256 hash;
        for (std::uint64_t n = 0; n * kChunkSize < size; ++n) {
            const auto length =
                static_cast<std::size_t>(std::min<std::uint64_t>(kChunkSize, size - n * kChunkSize));
            hash.Update(ChunkBytes(shared_->FetchChunk(id_, n, length)));
        }
        return hash.FinishHex();
    }

    std::shared_ptr<PgBlobStore::Shared> shared_;
    std::string id_;
    Sha256 hash_;
    std::uint64_t stored_ = 0;       ///< bytes in stored chunks; a multiple of kChunkSize until Commit
    std::vector<std::byte> buffer_;  ///< the chunk being filled, never full between calls
    bool rehash_ = false;
    bool broken_ = false;
    bool closed_ = false;
    bool committed_ = false;
};

class PgBlobReader final : public BlobReader {
  public:
    PgBlobReader(std::shared_ptr<PgBlobStore::Shared> shared, std::string id, std::uint64_t size,
                 std::uint64_t chunk_size)
        : shared_(std::move(shared)), id_(std::move(id)), size_(size), chunk_size_(chunk_size) {}

    std::size_t Read(std::span<std::byte> buffer) override {
        std::size_t done = 0;
        while (done < buffer.size() && position_ < size_) {
            const std::uint64_t n = position_ / chunk_size_;
            if (!chunk_ || chunk_number_ != n) {
                try {
                    Load(n);
                } catch (const BlobUnavailable&) {
                    // What was copied already is handed over; the next call fails again.
                    if (done > 0) return done;
                    throw;
                }
            }
            const auto bytes = ChunkBytes(chunk_);
            const auto within = static_cast<std::size_t>(position_ - n * chunk_size_);
            const std::size_t take = std::min(bytes.size() - within, buffer.size() - done);
            std::memcpy(buffer.data() + done, bytes.data() + within, take);
            done += take;
            position_ += take;
        }
        return done;
    }

    void Seek(std::uint64_t offset) override { position_ = offset; }

    std::uint64_t Size() const override { return size_; }

  private:
    // The one chunk held: the result's own bytes, not a copy.
    void Load(std::uint64_t n) {
        chunk_.reset();
        const auto length = static_cast<std::size_t>(std::min(chunk_size_, size_ - n * chunk_size_));
        chunk_ = shared_->FetchChunk(id_, n, length);
        chunk_number_ = n;
    }

    std::shared_ptr<PgBlobStore::Shared> shared_;
    std::string id_;
    std::uint64_t size_;
    std::uint64_t chunk_size_;
    std::uint64_t position_ = 0;
    Result chunk_;
    std::uint64_t chunk_number_ = 0;
};

}  // namespace

PgBlobStore::PgBlobStore(const std::string& url, PgBlobStoreOptions options)
    : shared_(std::make_shared<Shared>(url, options)) {
    const Result exists = shared_->Run("look for the blob tables", kTablesExist);
    if (std::string_view(PQgetvalue(exists.get(), 0, 0)) != "t") {
        shared_->RunScript("create the blob tables", kCreateTables);
    }
    shared_->Run("remove stale pending blobs", kSweepStale);
}

PgBlobStore::~PgBlobStore() = default;

const std::string& PgBlobStore::redacted_url() const { return shared_->redacted; }

std::unique_ptr<BlobWriter> PgBlobStore::Create() {
    std::string id = util::RandomId();
    const std::string chunk_size = std::to_string(kChunkSize);
    shared_->Run("start a blob", kInsertFile, {Param::Text(id), Param::Text(chunk_size)});
    return std::make_unique<PgBlobWriter>(shared_, std::move(id));
}

std::unique_ptr<BlobReader> PgBlobStore::Open(std::string_view id) {
    if (!IsBlobId(id)) throw BlobNotFound("no blob with that id");
    const std::string key(id);
    const Result result = shared_->Run("open a blob", kOpen, {Param::Text(key)});
    if (PQntuples(result.get()) != 1) throw BlobNotFound("no blob " + key);
    const std::uint64_t size = ParseUnsigned(PQgetvalue(result.get(), 0, 0), "blob size");
    const std::uint64_t chunk_size = ParseUnsigned(PQgetvalue(result.get(), 0, 1), "chunk size");
    if (chunk_size == 0) throw BlobUnavailable("blob store: blob " + key + " has chunk size 0");
    return std::make_unique<PgBlobReader>(shared_, key, size, chunk_size);
}

std::optional<std::uint64_t> PgBlobStore::Stat(std::string_view id) {
    if (!IsBlobId(id)) return std::nullopt;
    const std::string key(id);
    const Result result = shared_->Run("look up a blob", kStat, {Param::Text(key)});
    if (PQntuples(result.get()) != 1) return std::nullopt;
    return ParseUnsigned(PQgetvalue(result.get(), 0, 0), "blob size");
}

bool PgBlobStore::Remove(std::string_view id) {
    if (!IsBlobId(id)) return false;
    const std::string key(id);
    return Affected(shared_->Run("remove a blob", kRemove, {Param::Text(key)})) > 0;
}

void PgBlobStore::Ping() { shared_->Run("ping", "SELECT 1"); }

}  // namespace v2m::blob
