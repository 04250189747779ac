-- Stream recaps and weekly digests (issue 6). See the SQLite migration of the same name for
-- the meaning of each column; the retry times of `summaries` are Unix milliseconds.
ALTER TABLE summaries ADD COLUMN created_at BIGINT, ADD COLUMN last_error TEXT;
CREATE INDEX summaries_due ON summaries (state, next_at);

CREATE TABLE recap_disabled (
    channel_id  BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    target      TEXT   NOT NULL,
    url_hash    TEXT   NOT NULL,
    status      BIGINT NOT NULL,
    disabled_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, target)
);
