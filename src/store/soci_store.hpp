#pragma once

#include <memory>

#include "store/database_url.hpp"
#include "store/job_store.hpp"
#include "store/store.hpp"

namespace v2m::store {

struct SociStoreSettings {
    std::string url;    ///< V2M_DATABASE_URL
    int pool_size = 4;  ///< connections held open
};

/// The relational store on SQLite, PostgreSQL or MySQL through SOCI: one SQL
/// text where the dialects agree, a switch only where they differ.
class SociStore final : public UserStore, public JobStore, public Database {
  public:
    /// Opens the pool. Throws `DatabaseUrlError` for a bad URL and
    /// `StoreUnavailable` when the database cannot be reached.
    explicit SociStore(const SociStoreSettings& settings);
    ~SociStore() override;
    SociStore(const SociStore&) = delete;
    SociStore& operator=(const SociStore&) = delete;

    Dialect dialect() const;
    /// The URL with any password hidden, for logs.
    const std::string& redacted_url() const;

    void Ping() override;
    int Migrate() override;

    void CreateUser(const User& user) override;
    std::optional<User> FindUserByEmail(std::string_view email) override;
    std::optional<User> FindUserById(std::string_view id) override;
    std::vector<User> ListUsers() override;
    bool SetPasswordHash(std::string_view id, std::string_view hash, std::int64_t now_ms) override;
    bool SetDisabled(std::string_view id, bool disabled, std::int64_t now_ms) override;

    void CreateJob(const domain::Job& job, const BlobRecord& video, const OutboxMessage& message) override;
    std::optional<domain::Job> FindJob(std::string_view id) override;
    std::optional<domain::Job> FindJobByMp3(std::string_view mp3_fid) override;
    std::vector<domain::Job> ListJobs(std::string_view owner_id, int limit,
                                      const std::optional<JobCursor>& after) override;
    std::optional<domain::Job> DeleteJob(std::string_view id) override;
    std::optional<domain::Job> ClaimJob(std::string_view id, std::string_view owner, std::int64_t now,
                                        std::int64_t lease_until) override;
    bool RenewJobLease(const LeaseGuard& lease, double progress, std::int64_t lease_until) override;
    bool CompleteJob(const LeaseGuard& lease, const domain::Job& done, const BlobRecord& mp3,
                     const OutboxMessage& message) override;
    bool FailJob(const LeaseGuard& lease, std::string_view code, std::string_view reason, std::int64_t now,
                 const OutboxMessage& message) override;
    bool RequeueJob(const LeaseGuard& lease, std::string_view code, std::string_view reason, std::int64_t now,
                    const OutboxMessage& message) override;
    std::vector<domain::Job> ExpiredJobs(std::int64_t now, int limit) override;
    std::optional<domain::Job> ClaimNotification(std::string_view job_id, std::string_view owner,
                                                 std::int64_t now, std::int64_t lease_until) override;
    bool FinishNotification(const LeaseGuard& lease, bool sent, std::int64_t now) override;
    bool RetryNotification(const LeaseGuard& lease, const OutboxMessage& message) override;
    std::vector<domain::Job> ExpiredNotifications(std::int64_t now, int limit) override;
    std::optional<OutboxMessage> ClaimMessage(std::string_view queue, std::string_view owner,
                                              std::int64_t now, std::int64_t lease_until) override;
    void DeleteMessage(std::string_view id) override;
    std::vector<OutboxMessage> DueMessages(std::int64_t now, int limit) override;
    void MoveMessage(std::string_view id, std::string_view queue) override;
    void AddMessage(const OutboxMessage& message) override;

  private:
    /// One user by a unique column; `column` is one of ours, never input.
    std::optional<User> FindUserBy(const char* column, std::string_view value);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace v2m::store
