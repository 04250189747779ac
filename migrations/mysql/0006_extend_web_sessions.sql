-- Dashboard sign-in (issue 11). A session keeps the channels its user broadcasts or moderates
-- as read from Twitch at sign-in (`channels`: logins, comma-separated; the Twitch token itself
-- is never stored) and when they were read (`channels_at`, Unix seconds): the dashboard asks
-- Twitch again once the list is older than 10 minutes. `expires_at` moves with every use
-- (7 days idle); expired rows are deleted by their index.
ALTER TABLE web_sessions ADD COLUMN channels TEXT;
ALTER TABLE web_sessions ADD COLUMN channels_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);


-- The dashboard's chatter table: a user's stream rows by user, so the totals of the users whose
-- login starts with a prefix read only their rows (measured in BENCHMARKS.md: without it the
-- page reads every stream's rows once per user). One more index on a written table.
CREATE INDEX stream_users_user ON stream_users (user_id, stream_id);
