-- chatters schema (SQLite). Times are Unix seconds (UTC); flags are 0/1 integers.
-- Tables keyed by composite keys are WITHOUT ROWID: the key is the row, no second b-tree.

CREATE TABLE channels (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    login      TEXT    NOT NULL UNIQUE,
    twitch_id  INTEGER UNIQUE,
    wanted     INTEGER NOT NULL DEFAULT 0,
    added_at   INTEGER NOT NULL
);

CREATE TABLE channel_settings (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    PRIMARY KEY (channel_id, name)
) WITHOUT ROWID;

-- Per-channel known-bot rules: 'add' (excluded here) or 'allow' (a shipped bot counted here).
CREATE TABLE channel_bots (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    login      TEXT    NOT NULL,
    rule       TEXT    NOT NULL,
    PRIMARY KEY (channel_id, login)
) WITHOUT ROWID;

-- Current identity; former logins live in name_history.
CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    login        TEXT    NOT NULL,
    display_name TEXT,
    created_at   INTEGER,
    login_since  INTEGER NOT NULL
);
CREATE INDEX users_login ON users (login);

CREATE TABLE name_history (
    user_id    INTEGER NOT NULL,
    login      TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (user_id, login)
) WITHOUT ROWID;

CREATE TABLE streams (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    twitch_id  TEXT    NOT NULL UNIQUE,
    channel_id INTEGER NOT NULL REFERENCES channels (id),
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    title      TEXT    NOT NULL DEFAULT '',
    irc_peak   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX streams_channel ON streams (channel_id, started_at);

CREATE TABLE channel_users (
    channel_id INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    messages   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
) WITHOUT ROWID;

CREATE TABLE stream_users (
    stream_id  INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    messages   INTEGER NOT NULL DEFAULT 0,
    first_msg  INTEGER NOT NULL DEFAULT 0,
    active     INTEGER NOT NULL DEFAULT 0,
    is_new     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, user_id)
) WITHOUT ROWID;

-- One row per stay: [since, until); until is NULL while present.
CREATE TABLE presence (
    channel_id INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    since      INTEGER NOT NULL,
    until      INTEGER,
    PRIMARY KEY (channel_id, user_id, since)
) WITHOUT ROWID;

-- Chatter count per snapshot (total = Helix total) or per minute in IRC-only channels (total NULL).
CREATE TABLE series (
    channel_id INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    chatters   INTEGER NOT NULL,
    total      INTEGER,
    PRIMARY KEY (channel_id, at)
) WITHOUT ROWID;

CREATE TABLE raids (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id INTEGER NOT NULL,
    stream_id  INTEGER,
    from_id    INTEGER NOT NULL,
    from_login TEXT    NOT NULL,
    viewers    INTEGER NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX raids_channel ON raids (channel_id, at);

CREATE TABLE opt_outs (
    user_id INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash   TEXT    NOT NULL UNIQUE,
    label      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE api_key_channels (
    key_id     INTEGER NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    PRIMARY KEY (key_id, channel_id)
) WITHOUT ROWID;

CREATE TABLE web_sessions (
    id_hash    TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    login      TEXT    NOT NULL,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- One row per (stream, target): written before sending, marked sent after (exactly once).
CREATE TABLE summaries (
    stream_id  INTEGER NOT NULL,
    target     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER,
    sent_at    INTEGER,
    PRIMARY KEY (stream_id, target)
) WITHOUT ROWID;

-- Small process state that must survive restarts (e.g. the rotated refresh token).
CREATE TABLE bot_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
