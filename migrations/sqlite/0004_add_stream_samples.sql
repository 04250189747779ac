-- Audience (issue 14): viewers and categories, watch time, regulars.
--
-- stream_samples: one row per successful Get Streams poll of a live channel (Unix seconds).
-- A stream's samples are its channel's samples within [started_at, ended_at]. The category is
-- its Twitch game id ('' for none); names live once in `games`.
CREATE TABLE stream_samples (
    channel_id INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    viewers    INTEGER NOT NULL,
    game_id    TEXT    NOT NULL,
    PRIMARY KEY (channel_id, at)
) WITHOUT ROWID;

-- The latest name Twitch gave each game id.
CREATE TABLE games (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

-- Watch time credited to a stream row: the presence intervals of the user clipped to the
-- stream, added when an interval closes or the stream ends (an interval still open while the
-- stream is live is added when read).
ALTER TABLE stream_users ADD COLUMN watch_time INTEGER NOT NULL DEFAULT 0;

-- The channel's regulars as of a stream's start (unique chatters of at least 3 of the 5
-- streams that ended before it), computed once when first needed: those streams never change.
-- `regulars_known` on the stream says the set was computed (it may be empty).
CREATE TABLE stream_regulars (
    stream_id INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    attended  INTEGER NOT NULL,
    PRIMARY KEY (stream_id, user_id)
) WITHOUT ROWID;
ALTER TABLE streams ADD COLUMN regulars_known INTEGER NOT NULL DEFAULT 0;
