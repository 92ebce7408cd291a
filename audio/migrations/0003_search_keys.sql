-- Search keys: file name, metaId and userId lower-cased (by the service, so that every engine
-- agrees) and stored as bytes, which every engine orders byte by byte; a prefix search is then
-- a range on an index. Rows written before this migration get theirs at the next start.
ALTER TABLE recordings ADD COLUMN key_file_name BYTEA;
ALTER TABLE recordings ADD COLUMN key_meta_id BYTEA;
ALTER TABLE recordings ADD COLUMN key_user_id BYTEA;
CREATE INDEX recordings_key_file_name ON recordings (key_file_name);
CREATE INDEX recordings_key_meta_id ON recordings (key_meta_id);
CREATE INDEX recordings_key_user_id ON recordings (key_user_id);
