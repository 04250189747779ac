-- Each user's all-time totals in a channel, kept in the channel row so the dashboard's chatter
-- table reads one page off an index whatever the column it sorts by (BENCHMARKS.md, "Dashboard
-- chatter table"): the channel row's own figures (offline messages, last sighting written at
-- departure) plus the sums over the user's rows of the channel's streams, exactly what a
-- chatter row adds up from `stream_users` over all time:
--   all_messages  = messages + SUM(stream_users.messages)
--   all_last_seen = MAX(last_seen, MAX(stream_users.last_seen))
--   all_streams   = SUM(stream_users.active)          (streams attended)
--   all_watch     = SUM(stream_users.watch_time)
-- The commit adds each batch's changes; the watch time credited at start-up and the pruning
-- of old streams' rows recount the users they touch (core/src/store/totals.rs).
ALTER TABLE channel_users ADD COLUMN all_messages INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channel_users ADD COLUMN all_last_seen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channel_users ADD COLUMN all_streams INTEGER NOT NULL DEFAULT 0;
ALTER TABLE channel_users ADD COLUMN all_watch INTEGER NOT NULL DEFAULT 0;

UPDATE channel_users
SET all_messages = channel_users.messages + agg.messages,
    all_last_seen = MAX(channel_users.last_seen, agg.last_seen),
    all_streams = agg.streams,
    all_watch = agg.watched
FROM (SELECT s.channel_id, su.user_id, SUM(su.messages) AS messages,
             MAX(su.last_seen) AS last_seen, SUM(su.active) AS streams,
             SUM(su.watch_time) AS watched
      FROM stream_users su JOIN streams s ON s.id = su.stream_id
      GROUP BY s.channel_id, su.user_id) agg
WHERE channel_users.channel_id = agg.channel_id AND channel_users.user_id = agg.user_id;

-- The users without stream rows (still at the default: a sighting is never at 0). Each row is
-- written once.
UPDATE channel_users SET all_messages = messages, all_last_seen = last_seen WHERE all_last_seen = 0;

-- One page of the table, in either direction (ties by user id).
CREATE INDEX channel_users_all_messages ON channel_users (channel_id, all_messages, user_id);
CREATE INDEX channel_users_all_last_seen ON channel_users (channel_id, all_last_seen, user_id);
CREATE INDEX channel_users_all_streams ON channel_users (channel_id, all_streams, user_id);
CREATE INDEX channel_users_first_seen ON channel_users (channel_id, first_seen, user_id);
