-- Chat signals (never message text). See the SQLite migration of the same name.
CREATE TABLE chat_activity (
    channel_id    BIGINT NOT NULL,
    minute        BIGINT NOT NULL,
    stream_id     BIGINT NOT NULL DEFAULT 0,
    messages      BIGINT NOT NULL DEFAULT 0,
    mood_messages BIGINT NOT NULL DEFAULT 0,
    hype          BIGINT NOT NULL DEFAULT 0,
    laughter      BIGINT NOT NULL DEFAULT 0,
    love          BIGINT NOT NULL DEFAULT 0,
    sadness       BIGINT NOT NULL DEFAULT 0,
    anger         BIGINT NOT NULL DEFAULT 0,
    tension       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, minute, stream_id)
) ENGINE = InnoDB;
CREATE INDEX chat_activity_stream ON chat_activity (stream_id, minute);
CREATE INDEX chat_activity_minute ON chat_activity (minute);

CREATE TABLE stream_emotes (
    stream_id BIGINT       NOT NULL,
    provider  VARCHAR(8)   NOT NULL,
    emote_id  VARCHAR(100) NOT NULL,
    name      VARCHAR(100) NOT NULL,
    uses      BIGINT       NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, provider, emote_id)
) ENGINE = InnoDB;
