-- A stream's figures without a pass over its rows: the sums that pass gave, kept per stream by
-- the database itself. Statement triggers on stream_users (with their transition tables) add each written row's share and take away the
-- share of the row it replaced, whichever statement writes it (a commit's upserts, the is_new
-- check, the crash repair, imports, pruning, forgetting a user), so the sums always equal the
-- pass over the stream's active rows:
--   chatters    = COUNT(*)            new_chatters = SUM(is_new)     first_msgs = SUM(first_msg)
--   messages    = SUM(messages)       lurkers      = SUM(messages = 0)
--   watch_time  = SUM(watch_time)     regulars     = SUM(is_regular) in_previous = SUM(in_previous)
--   open_rows   = COUNT(open_since)   open_from    = SUM(MAX(open_since, started_at))
--   open_last   = at least every MAX(open_since, started_at) ever summed (never lowered)
-- A live stream's watch time so far is watch_time + open_rows * now - open_from, exact while
-- now >= open_last (core/src/store/figures.rs reads the rows otherwise).
CREATE TABLE stream_sums (
    stream_id    BIGINT NOT NULL PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    chatters     BIGINT NOT NULL DEFAULT 0,
    new_chatters BIGINT NOT NULL DEFAULT 0,
    first_msgs   BIGINT NOT NULL DEFAULT 0,
    messages     BIGINT NOT NULL DEFAULT 0,
    lurkers      BIGINT NOT NULL DEFAULT 0,
    watch_time   BIGINT NOT NULL DEFAULT 0,
    regulars     BIGINT NOT NULL DEFAULT 0,
    in_previous  BIGINT NOT NULL DEFAULT 0,
    open_rows    BIGINT NOT NULL DEFAULT 0,
    open_from    BIGINT NOT NULL DEFAULT 0,
    open_last    BIGINT NOT NULL DEFAULT 0
);

INSERT INTO stream_sums (stream_id, started_at, chatters, new_chatters, first_msgs, messages,
                         lurkers, watch_time, regulars, in_previous, open_rows, open_from, open_last)
SELECT s.id, s.started_at,
       COUNT(su.user_id), COALESCE(SUM(su.is_new), 0), COALESCE(SUM(su.first_msg), 0),
       COALESCE(SUM(su.messages), 0),
       COALESCE(SUM(CASE WHEN su.messages = 0 THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(su.watch_time), 0), COALESCE(SUM(su.is_regular), 0),
       COALESCE(SUM(su.in_previous), 0), COUNT(su.open_since),
       COALESCE(SUM(CASE WHEN su.open_since IS NULL THEN 0 ELSE GREATEST(su.open_since, s.started_at) END), 0),
       COALESCE(MAX(CASE WHEN su.open_since IS NULL THEN 0 ELSE GREATEST(su.open_since, s.started_at) END), 0)
FROM streams s LEFT JOIN stream_users su ON su.stream_id = s.id AND su.active = 1
GROUP BY s.id, s.started_at;

CREATE FUNCTION stream_sums_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stream_sums (stream_id, started_at) VALUES (NEW.id, NEW.started_at);
    RETURN NULL;
END $$;

CREATE TRIGGER stream_sums_open AFTER INSERT ON streams
    FOR EACH ROW EXECUTE FUNCTION stream_sums_open();

-- One UPDATE of each touched stream's sums per statement (a commit's upsert writes up to 20,000
-- rows at once): the shares of the rows a statement wrote, less those of the rows it replaced.
-- An upsert fires the INSERT trigger with the rows it inserted and the UPDATE trigger with the
-- rows it updated.
CREATE FUNCTION stream_sums_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
    UPDATE stream_sums s SET
        chatters = s.chatters + d.chatters,
        new_chatters = s.new_chatters + d.new_chatters,
        first_msgs = s.first_msgs + d.first_msgs,
        messages = s.messages + d.messages,
        lurkers = s.lurkers + d.lurkers,
        watch_time = s.watch_time + d.watch_time,
        regulars = s.regulars + d.regulars,
        in_previous = s.in_previous + d.in_previous,
        open_rows = s.open_rows + d.open_rows,
        open_from = s.open_from + d.open_from,
        open_last = GREATEST(s.open_last, COALESCE(d.open_last, 0))
    FROM (SELECT stream_id, SUM(chatters) AS chatters, SUM(new_chatters) AS new_chatters,
                 SUM(first_msgs) AS first_msgs, SUM(messages) AS messages, SUM(lurkers) AS lurkers,
                 SUM(watch_time) AS watch_time, SUM(regulars) AS regulars,
                 SUM(in_previous) AS in_previous, SUM(open_rows) AS open_rows,
                 SUM(open_from) AS open_from, MAX(open_last) AS open_last
          FROM (SELECT r.stream_id,
               1 * SUM(r.active) AS chatters,
               1 * SUM(r.active * r.is_new) AS new_chatters,
               1 * SUM(r.active * r.first_msg) AS first_msgs,
               1 * SUM(r.active * r.messages) AS messages,
               1 * SUM(CASE WHEN r.active = 1 AND r.messages = 0 THEN 1 ELSE 0 END) AS lurkers,
               1 * SUM(r.active * r.watch_time) AS watch_time,
               1 * SUM(r.active * r.is_regular) AS regulars,
               1 * SUM(r.active * r.in_previous) AS in_previous,
               1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN 1 ELSE 0 END) AS open_rows,
               1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) ELSE 0 END) AS open_from,
               MAX(CASE WHEN 1 = 1 AND r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) END) AS open_last
        FROM new_rows r JOIN stream_sums t ON t.stream_id = r.stream_id
        GROUP BY r.stream_id) shares GROUP BY stream_id) d
    WHERE s.stream_id = d.stream_id;
    ELSIF TG_OP = 'UPDATE' THEN
    UPDATE stream_sums s SET
        chatters = s.chatters + d.chatters,
        new_chatters = s.new_chatters + d.new_chatters,
        first_msgs = s.first_msgs + d.first_msgs,
        messages = s.messages + d.messages,
        lurkers = s.lurkers + d.lurkers,
        watch_time = s.watch_time + d.watch_time,
        regulars = s.regulars + d.regulars,
        in_previous = s.in_previous + d.in_previous,
        open_rows = s.open_rows + d.open_rows,
        open_from = s.open_from + d.open_from,
        open_last = GREATEST(s.open_last, COALESCE(d.open_last, 0))
    FROM (SELECT stream_id, SUM(chatters) AS chatters, SUM(new_chatters) AS new_chatters,
                 SUM(first_msgs) AS first_msgs, SUM(messages) AS messages, SUM(lurkers) AS lurkers,
                 SUM(watch_time) AS watch_time, SUM(regulars) AS regulars,
                 SUM(in_previous) AS in_previous, SUM(open_rows) AS open_rows,
                 SUM(open_from) AS open_from, MAX(open_last) AS open_last
          FROM (SELECT r.stream_id,
               1 * SUM(r.active) AS chatters,
               1 * SUM(r.active * r.is_new) AS new_chatters,
               1 * SUM(r.active * r.first_msg) AS first_msgs,
               1 * SUM(r.active * r.messages) AS messages,
               1 * SUM(CASE WHEN r.active = 1 AND r.messages = 0 THEN 1 ELSE 0 END) AS lurkers,
               1 * SUM(r.active * r.watch_time) AS watch_time,
               1 * SUM(r.active * r.is_regular) AS regulars,
               1 * SUM(r.active * r.in_previous) AS in_previous,
               1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN 1 ELSE 0 END) AS open_rows,
               1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) ELSE 0 END) AS open_from,
               MAX(CASE WHEN 1 = 1 AND r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) END) AS open_last
        FROM new_rows r JOIN stream_sums t ON t.stream_id = r.stream_id
        GROUP BY r.stream_id
        UNION ALL
        SELECT r.stream_id,
               -1 * SUM(r.active) AS chatters,
               -1 * SUM(r.active * r.is_new) AS new_chatters,
               -1 * SUM(r.active * r.first_msg) AS first_msgs,
               -1 * SUM(r.active * r.messages) AS messages,
               -1 * SUM(CASE WHEN r.active = 1 AND r.messages = 0 THEN 1 ELSE 0 END) AS lurkers,
               -1 * SUM(r.active * r.watch_time) AS watch_time,
               -1 * SUM(r.active * r.is_regular) AS regulars,
               -1 * SUM(r.active * r.in_previous) AS in_previous,
               -1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN 1 ELSE 0 END) AS open_rows,
               -1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) ELSE 0 END) AS open_from,
               MAX(CASE WHEN -1 = 1 AND r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) END) AS open_last
        FROM old_rows r JOIN stream_sums t ON t.stream_id = r.stream_id
        GROUP BY r.stream_id) shares GROUP BY stream_id) d
    WHERE s.stream_id = d.stream_id;
    ELSE
    UPDATE stream_sums s SET
        chatters = s.chatters + d.chatters,
        new_chatters = s.new_chatters + d.new_chatters,
        first_msgs = s.first_msgs + d.first_msgs,
        messages = s.messages + d.messages,
        lurkers = s.lurkers + d.lurkers,
        watch_time = s.watch_time + d.watch_time,
        regulars = s.regulars + d.regulars,
        in_previous = s.in_previous + d.in_previous,
        open_rows = s.open_rows + d.open_rows,
        open_from = s.open_from + d.open_from,
        open_last = GREATEST(s.open_last, COALESCE(d.open_last, 0))
    FROM (SELECT stream_id, SUM(chatters) AS chatters, SUM(new_chatters) AS new_chatters,
                 SUM(first_msgs) AS first_msgs, SUM(messages) AS messages, SUM(lurkers) AS lurkers,
                 SUM(watch_time) AS watch_time, SUM(regulars) AS regulars,
                 SUM(in_previous) AS in_previous, SUM(open_rows) AS open_rows,
                 SUM(open_from) AS open_from, MAX(open_last) AS open_last
          FROM (SELECT r.stream_id,
               -1 * SUM(r.active) AS chatters,
               -1 * SUM(r.active * r.is_new) AS new_chatters,
               -1 * SUM(r.active * r.first_msg) AS first_msgs,
               -1 * SUM(r.active * r.messages) AS messages,
               -1 * SUM(CASE WHEN r.active = 1 AND r.messages = 0 THEN 1 ELSE 0 END) AS lurkers,
               -1 * SUM(r.active * r.watch_time) AS watch_time,
               -1 * SUM(r.active * r.is_regular) AS regulars,
               -1 * SUM(r.active * r.in_previous) AS in_previous,
               -1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN 1 ELSE 0 END) AS open_rows,
               -1 * SUM(CASE WHEN r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) ELSE 0 END) AS open_from,
               MAX(CASE WHEN -1 = 1 AND r.active = 1 AND r.open_since IS NOT NULL THEN GREATEST(r.open_since, t.started_at) END) AS open_last
        FROM old_rows r JOIN stream_sums t ON t.stream_id = r.stream_id
        GROUP BY r.stream_id) shares GROUP BY stream_id) d
    WHERE s.stream_id = d.stream_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER stream_sums_insert AFTER INSERT ON stream_users
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stream_sums_change();
CREATE TRIGGER stream_sums_update AFTER UPDATE ON stream_users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stream_sums_change();
CREATE TRIGGER stream_sums_delete AFTER DELETE ON stream_users
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION stream_sums_change();
