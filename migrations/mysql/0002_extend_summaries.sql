-- Stream recaps and weekly digests (issue 6). See the SQLite migration of the same name for
-- the meaning of each column; the retry times of `summaries` are Unix milliseconds.
ALTER TABLE summaries ADD COLUMN created_at BIGINT NULL, ADD COLUMN last_error TEXT NULL;
CREATE INDEX summaries_due ON summaries (state, next_at);

CREATE TABLE recap_disabled (
    channel_id  BIGINT       NOT NULL,
    target      VARCHAR(255) NOT NULL,
    url_hash    VARCHAR(64)  NOT NULL,
    status      BIGINT       NOT NULL,
    disabled_at BIGINT       NOT NULL,
    PRIMARY KEY (channel_id, target),
    FOREIGN KEY (channel_id) REFERENCES channels (id) ON DELETE CASCADE
) ENGINE = InnoDB;
