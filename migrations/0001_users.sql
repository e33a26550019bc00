-- Users of the service. Ids are 128-bit random hex; times are Unix milliseconds
-- (one representation on SQLite, PostgreSQL and MySQL alike).
CREATE TABLE users (
    id            VARCHAR(32)  NOT NULL PRIMARY KEY,
    email         VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          VARCHAR(16)  NOT NULL,
    disabled      SMALLINT     NOT NULL DEFAULT 0,
    created_at    BIGINT       NOT NULL,
    updated_at    BIGINT       NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);
