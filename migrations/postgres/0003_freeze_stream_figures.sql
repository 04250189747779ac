-- RETENTION: stream figures frozen when the stream ended. See the SQLite migration of the same
-- name for the meaning of each column.
CREATE TABLE stream_figures (
    stream_id BIGINT PRIMARY KEY,
    figures   TEXT   NOT NULL,
    frozen_at BIGINT NOT NULL,
    pruned_at BIGINT
);
CREATE INDEX presence_until ON presence (until);
CREATE INDEX channel_users_last_seen ON channel_users (last_seen);
