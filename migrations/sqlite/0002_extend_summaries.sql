-- Stream recaps and weekly digests (issue 6).
--
-- summaries: one row per (subject, target), written before a recap is sent and marked after,
-- so a restart neither loses nor repeats one. `stream_id` is the stream's key for a recap and
-- the channel's key for a weekly digest (its target starts with `digest:`). `target` is a
-- non-secret key such as `discord:channel`, never a webhook URL. The retry times of this table
-- (`next_at`, `sent_at`, `created_at`) are Unix *milliseconds*: retries are scheduled at
-- sub-second precision. `state` is pending, sending (claimed until `next_at`), sent, failed
-- (given up) or disabled (the webhook was revoked).
ALTER TABLE summaries ADD COLUMN created_at INTEGER;
ALTER TABLE summaries ADD COLUMN last_error TEXT;
CREATE INDEX summaries_due ON summaries (state, next_at);

-- A webhook that answered 401/403/404/410 is disabled for its channel: `url_hash` identifies
-- the URL that failed (a truncated SHA-256, not the secret), so setting a new URL enables the
-- target again.
CREATE TABLE recap_disabled (
    channel_id  INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    target      TEXT    NOT NULL,
    url_hash    TEXT    NOT NULL,
    status      INTEGER NOT NULL,
    disabled_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, target)
) WITHOUT ROWID;
