-- The transactional outbox: an event is written here in the same transaction as the change it
-- announces (a recording's end), and removed once delivered. Every instance sharing the index
-- relays what is left in it, so an event outlives the host that raised it.
CREATE TABLE outbox (
    id             TEXT PRIMARY KEY,
    topic          TEXT NOT NULL,
    event_key      TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    schema_version BIGINT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE INDEX outbox_oldest ON outbox (created_at, id);
