// Jobs, blobs' metadata and the outbox on SOCI: one SQL text for SQLite,
// PostgreSQL and MySQL; every state change is a conditional UPDATE whose
// affected-row count says whether this caller won.
#include <string>
#include <utility>

#include "store/soci_impl.hpp"
#include "util/random_id.hpp"

namespace v2m::store {

namespace {

using domain::Job;

constexpr const char* kJobColumns =
    "id, owner_id, username, filename, options, video_fid, mp3_fid, state, progress, lease_owner,"
    " lease_expires_at, attempts, next_attempt_at, error_code, error_message, duration_s, mp3_bytes,"
    " mp3_sha256, trace_id, created_at, started_at, finished_at, notify_state, notify_attempts, notified_at,"
    " notify_lease_owner";

constexpr const char* kOutboxColumns = "id, queue, body, job_id, created_at, available_at, deliveries";

Job JobFromRow(const soci::row& r) {
    Job j;
    j.id = TextAt(r, 0);
    j.owner_id = TextAt(r, 1);
    j.username = TextAt(r, 2);
    j.filename = TextAt(r, 3);
    try {
        j.options = domain::DecodeOptions(TextAt(r, 4));
    } catch (const domain::OptionError&) {
        j.options = {};  // written by us; unreadable only if edited by hand
    }
    j.video_fid = TextAt(r, 5);
    j.mp3_fid = TextAt(r, 6);
    j.state = domain::ParseJobState(TextAt(r, 7)).value_or(domain::JobState::kFailed);
    j.progress = DoubleAt(r, 8).value_or(0);
    j.lease_owner = TextAt(r, 9);
    j.lease_expires_at = IntegerAt(r, 10);
    j.attempts = static_cast<int>(IntegerAt(r, 11));
    j.next_attempt_at = IntegerAt(r, 12);
    j.error_code = TextAt(r, 13);
    j.error_message = TextAt(r, 14);
    j.duration_s = DoubleAt(r, 15);
    if (r.get_indicator(16) != soci::i_null) j.mp3_bytes = IntegerAt(r, 16);
    j.mp3_sha256 = TextAt(r, 17);
    j.trace_id = TextAt(r, 18);
    j.created_at = IntegerAt(r, 19);
    j.started_at = IntegerAt(r, 20);
    j.finished_at = IntegerAt(r, 21);
    j.notify_state = domain::ParseNotifyState(TextAt(r, 22)).value_or(domain::NotifyState::kNone);
    j.notify_attempts = static_cast<int>(IntegerAt(r, 23));
    j.notified_at = IntegerAt(r, 24);
    j.notify_lease_owner = TextAt(r, 25);
    return j;
}

OutboxMessage MessageFromRow(const soci::row& r) {
    OutboxMessage m;
    m.id = TextAt(r, 0);
    m.queue = TextAt(r, 1);
    m.body = TextAt(r, 2);
    m.job_id = TextAt(r, 3);
    m.created_at = IntegerAt(r, 4);
    m.available_at = IntegerAt(r, 5);
    m.deliveries = static_cast<int>(IntegerAt(r, 6));
    return m;
}

void InsertMessage(soci::session& sql, const OutboxMessage& m) {
    const long long created = m.created_at;
    const long long available = m.available_at;
    sql << "INSERT INTO outbox (id, queue, body, job_id, created_at, available_at)"
           " VALUES (:id, :queue, :body, :job, :created, :available)",
        soci::use(m.id), soci::use(m.queue), soci::use(m.body), soci::use(m.job_id), soci::use(created),
        soci::use(available);
}

void InsertBlob(soci::session& sql, const BlobRecord& b) {
    const long long size = static_cast<long long>(b.size);
    const long long created = b.created_at;
    sql << "INSERT INTO blobs (id, owner_id, kind, size, sha256, created_at)"
           " VALUES (:id, :owner, :kind, :size, :sha, :created)",
        soci::use(b.id), soci::use(b.owner_id), soci::use(b.kind), soci::use(size), soci::use(b.sha256),
        soci::use(created);
}

// A nullable text parameter: empty is NULL.
struct NullableText {
    std::string value;
    soci::indicator ind;
    explicit NullableText(std::string_view v) : value(v), ind(v.empty() ? soci::i_null : soci::i_ok) {}
};

// " AND lease_owner = :owner AND (:guarded = 0 OR lease_expires_at < :eb)"
// for a column prefix ("" or "notify_"); the caller binds owner, guarded (an
// int: PostgreSQL would type a bigint compared with 0 as a 32-bit integer), eb.
std::string GuardSql(const char* prefix) {
    return std::string(" AND ") + prefix + "lease_owner = :owner AND (:guarded = 0 OR " + prefix +
           "lease_expires_at < :eb)";
}

// At most `limit` bytes of `text`, cut at a character boundary (the
// databases refuse a split UTF-8 sequence).
std::string Truncated(std::string_view text, std::size_t limit) {
    if (text.size() <= limit) return std::string(text);
    std::size_t cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return std::string(text.substr(0, cut));
}

std::optional<Job> SelectJob(soci::session& sql, const char* column, const std::string& key,
                             const char* suffix = "") {
    soci::row r;
    sql << "SELECT " << kJobColumns << " FROM jobs WHERE " << column << " = :key" << suffix, soci::use(key),
        soci::into(r);
    if (!sql.got_data()) return std::nullopt;
    return JobFromRow(r);
}

std::vector<Job> SelectJobs(soci::session& sql, const std::string& where, long long now, int limit,
                            const char* order) {
    std::vector<Job> jobs;
    soci::rowset<soci::row> rows = (sql.prepare << "SELECT " << kJobColumns << " FROM jobs WHERE " << where
                                                << " ORDER BY " << order << " LIMIT " << limit,
                                    soci::use(now));
    for (const soci::row& r : rows) jobs.push_back(JobFromRow(r));
    return jobs;
}

}  // namespace

OutboxMessage MakeOutboxMessage(std::string_view queue, const domain::QueueMessage& message, std::int64_t now,
                                std::int64_t available_at) {
    OutboxMessage m;
    m.id = util::RandomId();
    m.queue = std::string(queue);
    m.body = domain::EncodeMessage(message);
    m.job_id = message.job_id;
    m.created_at = now;
    m.available_at = available_at;
    return m;
}

void SociStore::CreateJob(const Job& job, const BlobRecord& video, const OutboxMessage& message) {
    impl_->With([&](soci::session& sql) {
        WriteTransaction tx(sql, impl_->url.dialect);
        InsertBlob(sql, video);
        const std::string options = domain::EncodeOptions(job.options);
        const std::string state(domain::ToString(job.state));
        const long long created = job.created_at;
        const long long next = job.next_attempt_at;
        sql << "INSERT INTO jobs (id, owner_id, username, filename, options, video_fid, state, progress,"
               " attempts, next_attempt_at, trace_id, created_at, notify_state, updated_at)"
               " VALUES (:id, :owner, :username, :filename, :options, :video, :state, 0, 0, :next, :trace,"
               " :created, 'none', :updated)",
            soci::use(job.id), soci::use(job.owner_id), soci::use(job.username), soci::use(job.filename),
            soci::use(options), soci::use(job.video_fid), soci::use(state), soci::use(next),
            soci::use(job.trace_id), soci::use(created), soci::use(created);
        InsertMessage(sql, message);
        tx.Commit();
        return 0;
    });
}

std::optional<Job> SociStore::FindJob(std::string_view id) {
    const std::string key(id);
    return impl_->With([&](soci::session& sql) { return SelectJob(sql, "id", key); });
}

std::optional<Job> SociStore::FindJobByMp3(std::string_view mp3_fid) {
    const std::string key(mp3_fid);
    if (key.empty()) return std::nullopt;
    return impl_->With([&](soci::session& sql) { return SelectJob(sql, "mp3_fid", key); });
}

std::vector<Job> SociStore::ListJobs(std::string_view owner_id, int limit,
                                     const std::optional<JobCursor>& after) {
    const std::string owner(owner_id);
    const long long created = after ? after->created_at : 0;
    const std::string last_id = after ? after->id : std::string();
    const int has_cursor = after ? 1 : 0;
    return impl_->With([&](soci::session& sql) {
        std::vector<Job> jobs;
        soci::rowset<soci::row> rows =
            (sql.prepare << "SELECT " << kJobColumns
                         << " FROM jobs WHERE owner_id = :owner AND (:has = 0 OR created_at < :c1 OR"
                            " (created_at = :c2 AND id < :id)) ORDER BY created_at DESC, id DESC LIMIT "
                         << limit,
             soci::use(owner), soci::use(has_cursor), soci::use(created), soci::use(created),
             soci::use(last_id));
        for (const soci::row& r : rows) jobs.push_back(JobFromRow(r));
        return jobs;
    });
}

std::optional<Job> SociStore::DeleteJob(std::string_view id) {
    const std::string key(id);
    const char* lock = impl_->url.dialect == Dialect::kSqlite ? "" : " FOR UPDATE";
    return impl_->With([&](soci::session& sql) -> std::optional<Job> {
        WriteTransaction tx(sql, impl_->url.dialect);
        // Locked, so that a converter finishing at this moment either
        // commits first (and its MP3 row goes too) or finds the job gone.
        auto job = SelectJob(sql, "id", key, lock);
        if (!job) return std::nullopt;
        sql << "DELETE FROM jobs WHERE id = :id", soci::use(key);
        sql << "DELETE FROM blobs WHERE id = :video OR id = :mp3", soci::use(job->video_fid),
            soci::use(job->mp3_fid);
        sql << "DELETE FROM outbox WHERE job_id = :id", soci::use(key);
        tx.Commit();
        return job;
    });
}

std::optional<Job> SociStore::ClaimJob(std::string_view id, std::string_view owner, std::int64_t now,
                                       std::int64_t lease_until) {
    const std::string key(id);
    const std::string who(owner);
    const long long t = now;
    const long long until = lease_until;
    return impl_->With([&](soci::session& sql) -> std::optional<Job> {
        soci::statement st =
            (sql.prepare
                 << "UPDATE jobs SET state = 'processing', lease_owner = :owner, lease_expires_at = :until,"
                    " attempts = attempts + 1, started_at = COALESCE(started_at, :now1), progress = 0,"
                    " updated_at = :now2 WHERE id = :id AND state = 'queued' AND next_attempt_at <= :now3",
             soci::use(who), soci::use(until), soci::use(t), soci::use(t), soci::use(key), soci::use(t));
        st.execute(true);
        if (st.get_affected_rows() != 1) return std::nullopt;
        return SelectJob(sql, "id", key);
    });
}

bool SociStore::RenewJobLease(const LeaseGuard& lease, double progress, std::int64_t lease_until) {
    const long long until = lease_until;
    const long long eb = lease.expired_before;
    const int guarded = eb != 0 ? 1 : 0;
    return impl_->With([&](soci::session& sql) {
        soci::statement st = (sql.prepare << "UPDATE jobs SET progress = :p, lease_expires_at = :until"
                                             " WHERE id = :id AND state = 'processing'"
                                          << GuardSql(""),
                              soci::use(progress), soci::use(until), soci::use(lease.job_id),
                              soci::use(lease.owner), soci::use(guarded), soci::use(eb));
        st.execute(true);
        return st.get_affected_rows() == 1;
    });
}

bool SociStore::CompleteJob(const LeaseGuard& lease, const Job& done, const BlobRecord& mp3,
                            const OutboxMessage& message) {
    const long long eb = lease.expired_before;
    const int guarded = eb != 0 ? 1 : 0;
    const long long finished = done.finished_at;
    const double duration = done.duration_s.value_or(0);
    const long long bytes = done.mp3_bytes.value_or(0);
    return impl_->UpdateThen(
        [&](soci::session& sql) {
            return soci::statement(
                (sql.prepare
                     << "UPDATE jobs SET state = 'done', mp3_fid = :mp3, duration_s = :d, mp3_bytes = :b,"
                        " mp3_sha256 = :sha, progress = 1, finished_at = :f1, lease_owner = NULL,"
                        " lease_expires_at = NULL, error_code = NULL, error_message = NULL,"
                        " notify_state = 'pending', updated_at = :f2 WHERE id = :id AND state = 'processing'"
                     << GuardSql(""),
                 soci::use(done.mp3_fid), soci::use(duration), soci::use(bytes), soci::use(done.mp3_sha256),
                 soci::use(finished), soci::use(finished), soci::use(lease.job_id), soci::use(lease.owner),
                 soci::use(guarded), soci::use(eb)));
        },
        [&](soci::session& sql) {
            InsertBlob(sql, mp3);
            InsertMessage(sql, message);
        });
}

bool SociStore::FailJob(const LeaseGuard& lease, std::string_view code, std::string_view reason,
                        std::int64_t now, const OutboxMessage& message) {
    const long long eb = lease.expired_before;
    const int guarded = eb != 0 ? 1 : 0;
    const long long t = now;
    const std::string c(code);
    const std::string why = Truncated(reason, 1000);
    return impl_->UpdateThen(
        [&](soci::session& sql) {
            return soci::statement(
                (sql.prepare
                     << "UPDATE jobs SET state = 'failed', error_code = :code, error_message = :msg,"
                        " finished_at = :f1, lease_owner = NULL, lease_expires_at = NULL,"
                        " notify_state = 'pending', updated_at = :f2 WHERE id = :id AND state = 'processing'"
                     << GuardSql(""),
                 soci::use(c), soci::use(why), soci::use(t), soci::use(t), soci::use(lease.job_id),
                 soci::use(lease.owner), soci::use(guarded), soci::use(eb)));
        },
        [&](soci::session& sql) { InsertMessage(sql, message); });
}

bool SociStore::RequeueJob(const LeaseGuard& lease, std::string_view code, std::string_view reason,
                           std::int64_t now, const OutboxMessage& message) {
    const long long eb = lease.expired_before;
    const int guarded = eb != 0 ? 1 : 0;
    const long long t = now;
    const long long next = message.available_at;
    NullableText c(code);
    NullableText why(Truncated(reason, 1000));
    return impl_->UpdateThen(
        [&](soci::session& sql) {
            return soci::statement(
                (sql.prepare
                     << "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
                        " progress = 0, next_attempt_at = :next, error_code = :code, error_message = :msg,"
                        " updated_at = :now WHERE id = :id AND state = 'processing'"
                     << GuardSql(""),
                 soci::use(next), soci::use(c.value, c.ind), soci::use(why.value, why.ind), soci::use(t),
                 soci::use(lease.job_id), soci::use(lease.owner), soci::use(guarded), soci::use(eb)));
        },
        [&](soci::session& sql) { InsertMessage(sql, message); });
}

std::vector<Job> SociStore::ExpiredJobs(std::int64_t now, int limit) {
    const long long t = now;
    return impl_->With([&](soci::session& sql) {
        return SelectJobs(sql, "state = 'processing' AND lease_expires_at < :now", t, limit,
                          "lease_expires_at");
    });
}

std::optional<Job> SociStore::ClaimNotification(std::string_view job_id, std::string_view owner,
                                                std::int64_t now, std::int64_t lease_until) {
    const std::string key(job_id);
    const std::string who(owner);
    const long long t = now;
    const long long until = lease_until;
    return impl_->With([&](soci::session& sql) -> std::optional<Job> {
        soci::statement st =
            (sql.prepare << "UPDATE jobs SET notify_state = 'sending', notify_lease_owner = :owner,"
                            " notify_lease_expires_at = :until, notify_attempts = notify_attempts + 1"
                            " WHERE id = :id AND (notify_state = 'pending' OR (notify_state = 'sending' AND"
                            " notify_lease_expires_at < :now))",
             soci::use(who), soci::use(until), soci::use(key), soci::use(t));
        st.execute(true);
        if (st.get_affected_rows() != 1) return std::nullopt;
        return SelectJob(sql, "id", key);
    });
}

bool SociStore::FinishNotification(const LeaseGuard& lease, bool sent, std::int64_t now) {
    const long long eb = lease.expired_before;
    const int guarded = eb != 0 ? 1 : 0;
    const long long t = now;
    const std::string state(
        domain::ToString(sent ? domain::NotifyState::kSent : domain::NotifyState::kGaveUp));
    return impl_->With([&](soci::session& sql) {
        soci::statement st =
            (sql.prepare
                 << "UPDATE jobs SET notify_state = :state, notified_at = :now, notify_lease_owner = NULL,"
                    " notify_lease_expires_at = NULL WHERE id = :id AND notify_state = 'sending'"
                 << GuardSql("notify_"),
             soci::use(state), soci::use(t), soci::use(lease.job_id), soci::use(lease.owner),
             soci::use(guarded), soci::use(eb));
        st.execute(true);
        return st.get_affected_rows() == 1;
    });
}

bool SociStore::RetryNotification(const LeaseGuard& lease, const OutboxMessage& message) {
    const long long eb = lease.expired_before;
    const int guarded = eb != 0 ? 1 : 0;
    return impl_->UpdateThen(
        [&](soci::session& sql) {
            return soci::statement(
                (sql.prepare << "UPDATE jobs SET notify_state = 'pending', notify_lease_owner = NULL,"
                                " notify_lease_expires_at = NULL WHERE id = :id AND notify_state = 'sending'"
                             << GuardSql("notify_"),
                 soci::use(lease.job_id), soci::use(lease.owner), soci::use(guarded), soci::use(eb)));
        },
        [&](soci::session& sql) { InsertMessage(sql, message); });
}

std::vector<Job> SociStore::ExpiredNotifications(std::int64_t now, int limit) {
    const long long t = now;
    return impl_->With([&](soci::session& sql) {
        return SelectJobs(sql, "notify_state = 'sending' AND notify_lease_expires_at < :now", t, limit,
                          "notify_lease_expires_at");
    });
}

std::optional<OutboxMessage> SociStore::ClaimMessage(std::string_view queue, std::string_view owner,
                                                     std::int64_t now, std::int64_t lease_until) {
    const std::string q(queue);
    const std::string who(owner);
    const long long t = now;
    const long long until = lease_until;
    // PostgreSQL and MariaDB skip rows another consumer holds locked; SQLite's
    // IMMEDIATE transaction already lets one writer in at a time.
    const char* skip = impl_->url.dialect == Dialect::kSqlite ? "" : " FOR UPDATE SKIP LOCKED";
    return impl_->With([&](soci::session& sql) -> std::optional<OutboxMessage> {
        WriteTransaction tx(sql, impl_->url.dialect);
        soci::row r;
        sql << "SELECT " << kOutboxColumns
            << " FROM outbox WHERE queue = :q AND available_at <= :now1 AND lease_expires_at <= :now2"
               " ORDER BY available_at, id LIMIT 1"
            << skip,
            soci::use(q), soci::use(t), soci::use(t), soci::into(r);
        if (!sql.got_data()) {
            tx.Commit();
            return std::nullopt;
        }
        OutboxMessage m = MessageFromRow(r);
        sql << "UPDATE outbox SET lease_owner = :owner, lease_expires_at = :until, deliveries = deliveries + "
               "1"
               " WHERE id = :id",
            soci::use(who), soci::use(until), soci::use(m.id);
        tx.Commit();
        ++m.deliveries;
        return m;
    });
}

void SociStore::DeleteMessage(std::string_view id) {
    const std::string key(id);
    impl_->With([&](soci::session& sql) {
        sql << "DELETE FROM outbox WHERE id = :id", soci::use(key);
        return 0;
    });
}

std::vector<OutboxMessage> SociStore::DueMessages(std::int64_t now, int limit) {
    const long long t = now;
    return impl_->With([&](soci::session& sql) {
        std::vector<OutboxMessage> out;
        soci::rowset<soci::row> rows =
            (sql.prepare << "SELECT " << kOutboxColumns
                         << " FROM outbox WHERE available_at <= :now1 AND lease_expires_at <= :now2"
                            " ORDER BY available_at, id LIMIT "
                         << limit,
             soci::use(t), soci::use(t));
        for (const soci::row& r : rows) out.push_back(MessageFromRow(r));
        return out;
    });
}

void SociStore::MoveMessage(std::string_view id, std::string_view queue) {
    const std::string key(id);
    const std::string q(queue);
    impl_->With([&](soci::session& sql) {
        sql << "UPDATE outbox SET queue = :q, lease_owner = NULL, lease_expires_at = 0, deliveries = 0 WHERE "
               "id = :id",
            soci::use(q), soci::use(key);
        return 0;
    });
}

void SociStore::AddMessage(const OutboxMessage& message) {
    impl_->With([&](soci::session& sql) {
        InsertMessage(sql, message);
        return 0;
    });
}

}  // namespace v2m::store
