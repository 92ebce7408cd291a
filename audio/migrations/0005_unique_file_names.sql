-- A finished recording's file name is its object's name in the recordings' store, which
-- several hosts share: the index gives each name to one recording only. A recording in
-- progress only wishes for a name (it gets it, or a variant, when it ends), so the rule covers
-- every other status. Portable SQL: a partial unique index, on SQLite and PostgreSQL alike.
CREATE UNIQUE INDEX recordings_file_name ON recordings (file_name) WHERE status <> 'recording';
