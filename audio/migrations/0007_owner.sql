-- Each user lists only their own recordings (docs/security.md): a user's page is a range on
-- this index, newest first, however many recordings others have.
CREATE INDEX recordings_user_created ON recordings (user_id, created_at);
