-- Watch time of a live stream without reading presence: a stream row carries the start of its
-- user's presence interval that is open now (NULL when none). The tracker writes it with every
-- write of the row (arrival, message, leaving, the stream's end), in the transaction that
-- writes the interval itself, so a live stream's watch time so far is one pass over its rows:
-- watch_time (closed intervals) plus now - max(open_since, started_at). Ended streams ignore
-- it. Starting with the intervals open now.
ALTER TABLE stream_users ADD COLUMN open_since BIGINT;
UPDATE stream_users su JOIN streams s ON s.id = su.stream_id AND s.ended_at IS NULL
JOIN presence p ON p.channel_id = s.channel_id AND p.user_id = su.user_id AND p.until IS NULL
SET su.open_since = p.since;
