-- Audience (issue 14). See the SQLite migration of the same name for the meaning of each table.
CREATE TABLE stream_samples (
    channel_id BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    viewers    BIGINT NOT NULL,
    game_id    VARCHAR(64) NOT NULL,
    PRIMARY KEY (channel_id, at)
) ENGINE = InnoDB;
CREATE TABLE games (
    id   VARCHAR(64)  NOT NULL PRIMARY KEY,
    name VARCHAR(512) NOT NULL
) ENGINE = InnoDB;
ALTER TABLE stream_users ADD COLUMN watch_time BIGINT NOT NULL DEFAULT 0;
CREATE TABLE stream_regulars (
    stream_id BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    attended  BIGINT NOT NULL,
    PRIMARY KEY (stream_id, user_id)
) ENGINE = InnoDB;
ALTER TABLE streams ADD COLUMN regulars_known BIGINT NOT NULL DEFAULT 0;
