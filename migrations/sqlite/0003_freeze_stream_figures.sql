-- RETENTION: a stream's figures, frozen (as the JSON object of the API) soon after it ended, so
-- the stream keeps them once its per-user rows are pruned. `pruned_at` (Unix seconds) is set
-- when those rows were deleted: from then on the figures are read from here.
CREATE TABLE stream_figures (
    stream_id INTEGER PRIMARY KEY,
    figures   TEXT    NOT NULL,
    frozen_at INTEGER NOT NULL,
    pruned_at INTEGER
);
-- The pruner's scans: presence by end, name history and channel users by last sighting.
CREATE INDEX presence_until ON presence (until);
CREATE INDEX channel_users_last_seen ON channel_users (last_seen);
