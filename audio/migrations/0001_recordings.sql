-- One row per recording, whatever its status. Portable SQL: the same file runs on SQLite (the
-- embedded default) and on PostgreSQL. Times are microseconds since the Unix epoch (UTC).
CREATE TABLE recordings (
    id                  TEXT PRIMARY KEY,
    session_id          TEXT NOT NULL,
    file_name           TEXT NOT NULL,
    meta_id             TEXT,
    user_id             TEXT,
    mime_type           TEXT NOT NULL,
    status              TEXT NOT NULL,
    ended_as            TEXT,
    size                BIGINT NOT NULL,
    chunks              BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    completed_at        BIGINT,
    resume_token_sha256 TEXT NOT NULL,
    duration_ms         DOUBLE PRECISION,
    codec               TEXT,
    sample_rate         DOUBLE PRECISION,
    channels            BIGINT,
    sha256              TEXT,
    processed_at        BIGINT,
    note                TEXT
);

-- The list: newest first.
CREATE INDEX recordings_newest ON recordings (created_at DESC, id DESC);
-- The original's file list: finished recordings, newest first.
CREATE INDEX recordings_finished ON recordings (completed_at DESC, id DESC);
