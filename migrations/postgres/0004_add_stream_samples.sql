-- Audience (issue 14). See the SQLite migration of the same name for the meaning of each table.
CREATE TABLE stream_samples (
    channel_id BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    viewers    BIGINT NOT NULL,
    game_id    TEXT   NOT NULL,
    PRIMARY KEY (channel_id, at)
);
CREATE TABLE games (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
ALTER TABLE stream_users ADD COLUMN watch_time BIGINT NOT NULL DEFAULT 0;
CREATE TABLE stream_regulars (
    stream_id BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    attended  BIGINT NOT NULL,
    PRIMARY KEY (stream_id, user_id)
);
ALTER TABLE streams ADD COLUMN regulars_known BIGINT NOT NULL DEFAULT 0;
