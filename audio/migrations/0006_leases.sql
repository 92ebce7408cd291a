-- A recording in progress, when the recordings are in a shared store: which instance holds it
-- and until when (renewed while its session lives), and how much of it is durable in the store
-- as segments. Another host may take a recording over once its lease has run out, and resumes
-- it from that durable point. Times are microseconds since the Unix epoch (UTC).
ALTER TABLE recordings ADD COLUMN owner TEXT;
ALTER TABLE recordings ADD COLUMN lease_until BIGINT;
ALTER TABLE recordings ADD COLUMN durable_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE recordings ADD COLUMN durable_chunks BIGINT NOT NULL DEFAULT 0;
-- The sweep looks for recordings whose holder is gone.
CREATE INDEX recordings_leases ON recordings (lease_until) WHERE status = 'recording';
