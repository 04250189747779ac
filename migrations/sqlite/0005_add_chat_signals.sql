-- Chat signals (never message text). Per channel, UTC minute (Unix seconds of its start) and
-- stream (0 = outside streams): counted users' messages, those carrying any mood, and each
-- mood's count. RETENTION prunes by `minute`.
CREATE TABLE chat_activity (
    channel_id    INTEGER NOT NULL,
    minute        INTEGER NOT NULL,
    stream_id     INTEGER NOT NULL DEFAULT 0,
    messages      INTEGER NOT NULL DEFAULT 0,
    mood_messages INTEGER NOT NULL DEFAULT 0,
    hype          INTEGER NOT NULL DEFAULT 0,
    laughter      INTEGER NOT NULL DEFAULT 0,
    love          INTEGER NOT NULL DEFAULT 0,
    sadness       INTEGER NOT NULL DEFAULT 0,
    anger         INTEGER NOT NULL DEFAULT 0,
    tension       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, minute, stream_id)
) WITHOUT ROWID;
CREATE INDEX chat_activity_stream ON chat_activity (stream_id, minute);
CREATE INDEX chat_activity_minute ON chat_activity (minute);

-- Emote uses per stream: provider (twitch, 7tv, bttv, ffz), the provider's id, the name.
CREATE TABLE stream_emotes (
    stream_id INTEGER NOT NULL,
    provider  TEXT    NOT NULL,
    emote_id  TEXT    NOT NULL,
    name      TEXT    NOT NULL,
    uses      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, provider, emote_id)
) WITHOUT ROWID;
