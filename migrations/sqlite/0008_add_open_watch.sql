-- Watch time of a live stream without reading presence: a stream row carries the start of its
-- user's presence interval that is open now (NULL when none). The tracker writes it with every
-- write of the row (arrival, message, leaving, the stream's end), in the transaction that
-- writes the interval itself, so a live stream's watch time so far is one pass over its rows:
-- watch_time (closed intervals) plus now - max(open_since, started_at). Ended streams ignore
-- it. Starting with the intervals open now.
ALTER TABLE stream_users ADD COLUMN open_since INTEGER;
UPDATE stream_users SET open_since = (
    SELECT MAX(p.since) FROM presence p JOIN streams s ON s.channel_id = p.channel_id
    WHERE s.id = stream_users.stream_id AND p.user_id = stream_users.user_id AND p.until IS NULL
) WHERE stream_id IN (SELECT id FROM streams WHERE ended_at IS NULL);
