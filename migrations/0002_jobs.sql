-- Jobs, their blobs' metadata, and the transactional outbox (DESIGN.md §3).
-- Times are Unix milliseconds; ids 128-bit random hex. Re-runnable (MySQL
-- commits DDL at once, so a migration cut off half-way must be able to run again).

-- Blob metadata: the bytes live in the blob store; a row exists only for a
-- committed blob that a job refers to.
CREATE TABLE IF NOT EXISTS blobs (
    id         VARCHAR(32) NOT NULL PRIMARY KEY,
    owner_id   VARCHAR(32) NOT NULL,
    kind       VARCHAR(8)  NOT NULL,
    size       BIGINT      NOT NULL,
    sha256     VARCHAR(64) NOT NULL,
    created_at BIGINT      NOT NULL
);

CREATE TABLE IF NOT EXISTS jobs (
    id                      VARCHAR(32)   NOT NULL PRIMARY KEY,
    owner_id                VARCHAR(32)   NOT NULL,
    username                VARCHAR(254)  NOT NULL,
    filename                VARCHAR(512)  NOT NULL,
    options                 VARCHAR(1024) NOT NULL,
    video_fid               VARCHAR(32)   NOT NULL,
    mp3_fid                 VARCHAR(32),
    state                   VARCHAR(16)   NOT NULL,
    progress                DOUBLE PRECISION NOT NULL DEFAULT 0,
    lease_owner             VARCHAR(64),
    lease_expires_at        BIGINT,
    attempts                INTEGER       NOT NULL DEFAULT 0,
    next_attempt_at         BIGINT        NOT NULL DEFAULT 0,
    error_code              VARCHAR(32),
    error_message           VARCHAR(1024),
    duration_s              DOUBLE PRECISION,
    mp3_bytes               BIGINT,
    mp3_sha256              VARCHAR(64),
    trace_id                VARCHAR(32)   NOT NULL,
    created_at              BIGINT        NOT NULL,
    started_at              BIGINT,
    finished_at             BIGINT,
    notify_state            VARCHAR(16)   NOT NULL DEFAULT 'none',
    notify_lease_owner      VARCHAR(64),
    notify_lease_expires_at BIGINT,
    notify_attempts         INTEGER       NOT NULL DEFAULT 0,
    notified_at             BIGINT,
    updated_at              BIGINT        NOT NULL
);
-- "My jobs, newest first" with a (created_at, id) cursor.
CREATE INDEX IF NOT EXISTS jobs_owner_created ON jobs (owner_id, created_at, id);
-- The reaper's scans.
CREATE INDEX IF NOT EXISTS jobs_state_lease ON jobs (state, lease_expires_at);
CREATE INDEX IF NOT EXISTS jobs_notify_lease ON jobs (notify_state, notify_lease_expires_at);
CREATE INDEX IF NOT EXISTS jobs_mp3_fid ON jobs (mp3_fid);

-- Messages written in the same transaction as the change they announce. With
-- the `db` broker these rows are the queue itself; with `amqp` a relay
-- publishes them (publisher confirms) and then deletes them.
CREATE TABLE IF NOT EXISTS outbox (
    id               VARCHAR(32)   NOT NULL PRIMARY KEY,
    queue            VARCHAR(64)   NOT NULL,
    body             VARCHAR(4096) NOT NULL,
    job_id           VARCHAR(32)   NOT NULL,
    created_at       BIGINT        NOT NULL,
    available_at     BIGINT        NOT NULL,
    lease_owner      VARCHAR(64),
    lease_expires_at BIGINT        NOT NULL DEFAULT 0,
    deliveries       INTEGER       NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_queue_available ON outbox (queue, available_at);
