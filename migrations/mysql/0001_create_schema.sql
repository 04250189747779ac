-- chatters schema (MariaDB). Times are Unix seconds (UTC); flags are 0/1 integers.
-- InnoDB clusters every table on its primary key.

CREATE TABLE channels (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    login      VARCHAR(64)    NOT NULL UNIQUE,
    twitch_id  BIGINT UNIQUE,
    wanted     BIGINT NOT NULL DEFAULT 0,
    added_at   BIGINT NOT NULL
) ENGINE = InnoDB;

CREATE TABLE channel_settings (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    name       VARCHAR(64)    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (channel_id, name)
) ENGINE = InnoDB;

-- Per-channel known-bot rules: 'add' (excluded here) or 'allow' (a shipped bot counted here).
CREATE TABLE channel_bots (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    login      VARCHAR(64)    NOT NULL,
    rule       VARCHAR(16)    NOT NULL,
    PRIMARY KEY (channel_id, login)
) ENGINE = InnoDB;

-- Current identity; former logins live in name_history.
CREATE TABLE users (
    id           BIGINT PRIMARY KEY,
    login        VARCHAR(64)    NOT NULL,
    display_name TEXT,
    created_at   BIGINT,
    login_since  BIGINT NOT NULL
) ENGINE = InnoDB;
CREATE INDEX users_login ON users (login);

CREATE TABLE name_history (
    user_id    BIGINT NOT NULL,
    login      VARCHAR(64)    NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (user_id, login)
) ENGINE = InnoDB;

CREATE TABLE streams (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    twitch_id  VARCHAR(64)    NOT NULL UNIQUE,
    channel_id BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    title      VARCHAR(512) NOT NULL DEFAULT '',
    irc_peak   BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB;
CREATE INDEX streams_channel ON streams (channel_id, started_at);

CREATE TABLE channel_users (
    channel_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    messages   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
) ENGINE = InnoDB;

CREATE TABLE stream_users (
    stream_id  BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    messages   BIGINT NOT NULL DEFAULT 0,
    first_msg  BIGINT NOT NULL DEFAULT 0,
    active     BIGINT NOT NULL DEFAULT 0,
    is_new     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, user_id)
) ENGINE = InnoDB;

-- One row per stay: [since, until); until is NULL while present.
CREATE TABLE presence (
    channel_id BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    since      BIGINT NOT NULL,
    until      BIGINT,
    PRIMARY KEY (channel_id, user_id, since)
) ENGINE = InnoDB;

-- Chatter count per snapshot (total = Helix total) or per minute in IRC-only channels (total NULL).
CREATE TABLE series (
    channel_id BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    chatters   BIGINT NOT NULL,
    total      BIGINT,
    PRIMARY KEY (channel_id, at)
) ENGINE = InnoDB;

CREATE TABLE raids (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel_id BIGINT NOT NULL,
    stream_id  BIGINT,
    from_id    BIGINT NOT NULL,
    from_login VARCHAR(64)    NOT NULL,
    viewers    BIGINT NOT NULL,
    at         BIGINT NOT NULL
) ENGINE = InnoDB;
CREATE INDEX raids_channel ON raids (channel_id, at);

CREATE TABLE opt_outs (
    user_id BIGINT PRIMARY KEY,
    at      BIGINT NOT NULL
) ENGINE = InnoDB;

CREATE TABLE api_keys (
    id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    key_hash   VARCHAR(128)    NOT NULL UNIQUE,
    label      VARCHAR(255) NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
) ENGINE = InnoDB;

CREATE TABLE api_key_channels (
    key_id     BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, channel_id)
) ENGINE = InnoDB;

CREATE TABLE web_sessions (
    id_hash    VARCHAR(128)    PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    login      VARCHAR(64)    NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
) ENGINE = InnoDB;

-- One row per (stream, target): written before sending, marked sent after (exactly once).
CREATE TABLE summaries (
    stream_id  BIGINT NOT NULL,
    target     VARCHAR(255)    NOT NULL,
    state      VARCHAR(32)    NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    next_at    BIGINT,
    sent_at    BIGINT,
    PRIMARY KEY (stream_id, target)
) ENGINE = InnoDB;

-- Small process state that must survive restarts (e.g. the rotated refresh token).
CREATE TABLE bot_state (
    name  VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL
) ENGINE = InnoDB;
