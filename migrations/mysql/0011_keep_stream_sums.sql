-- A stream's figures without a pass over its rows: the sums that pass gave, kept per stream by
-- the database itself. Triggers on stream_users add each written row's share and take away the
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
) ENGINE = InnoDB;

INSERT INTO stream_sums (stream_id, started_at, chatters, new_chatters, first_msgs, messages,
                         lurkers, watch_time, regulars, in_previous, open_rows, open_from, open_last)
SELECT s.id, s.started_at,
       COUNT(su.user_id), COALESCE(SUM(su.is_new), 0), COALESCE(SUM(su.first_msg), 0),
       COALESCE(SUM(su.messages), 0), COALESCE(SUM(su.messages = 0), 0),
       COALESCE(SUM(su.watch_time), 0), COALESCE(SUM(su.is_regular), 0),
       COALESCE(SUM(su.in_previous), 0), COUNT(su.open_since),
       COALESCE(SUM(CASE WHEN su.open_since IS NULL THEN 0 ELSE GREATEST(su.open_since, s.started_at) END), 0),
       COALESCE(MAX(CASE WHEN su.open_since IS NULL THEN 0 ELSE GREATEST(su.open_since, s.started_at) END), 0)
FROM streams s LEFT JOIN stream_users su ON su.stream_id = s.id AND su.active = 1
GROUP BY s.id, s.started_at;

-- Each trigger is one statement (no BEGIN ... END), so the migration runs as plain statements.
-- MariaDB evaluates an UPDATE's assignments left to right with the values already assigned:
-- each assignment reads only its own column and started_at.
CREATE TRIGGER stream_sums_open AFTER INSERT ON streams FOR EACH ROW
    INSERT INTO stream_sums (stream_id, started_at) VALUES (NEW.id, NEW.started_at);

CREATE TRIGGER stream_sums_insert AFTER INSERT ON stream_users FOR EACH ROW
    UPDATE stream_sums SET
        chatters = chatters + NEW.active,
        new_chatters = new_chatters + NEW.active * NEW.is_new,
        first_msgs = first_msgs + NEW.active * NEW.first_msg,
        messages = messages + NEW.active * NEW.messages,
        lurkers = lurkers + NEW.active * (NEW.messages = 0),
        watch_time = watch_time + NEW.active * NEW.watch_time,
        regulars = regulars + NEW.active * NEW.is_regular,
        in_previous = in_previous + NEW.active * NEW.in_previous,
        open_rows = open_rows + NEW.active * (NEW.open_since IS NOT NULL),
        open_from = open_from + CASE WHEN NEW.active = 0 OR NEW.open_since IS NULL THEN 0 ELSE GREATEST(NEW.open_since, started_at) END,
        open_last = CASE WHEN NEW.active = 0 OR NEW.open_since IS NULL THEN open_last ELSE GREATEST(open_last, NEW.open_since, started_at) END
    WHERE stream_id = NEW.stream_id;

CREATE TRIGGER stream_sums_update AFTER UPDATE ON stream_users FOR EACH ROW
    UPDATE stream_sums SET
        chatters = chatters + NEW.active - OLD.active,
        new_chatters = new_chatters + NEW.active * NEW.is_new - OLD.active * OLD.is_new,
        first_msgs = first_msgs + NEW.active * NEW.first_msg - OLD.active * OLD.first_msg,
        messages = messages + NEW.active * NEW.messages - OLD.active * OLD.messages,
        lurkers = lurkers + NEW.active * (NEW.messages = 0) - OLD.active * (OLD.messages = 0),
        watch_time = watch_time + NEW.active * NEW.watch_time - OLD.active * OLD.watch_time,
        regulars = regulars + NEW.active * NEW.is_regular - OLD.active * OLD.is_regular,
        in_previous = in_previous + NEW.active * NEW.in_previous - OLD.active * OLD.in_previous,
        open_rows = open_rows + NEW.active * (NEW.open_since IS NOT NULL)
                              - OLD.active * (OLD.open_since IS NOT NULL),
        open_from = open_from
            + CASE WHEN NEW.active = 0 OR NEW.open_since IS NULL THEN 0 ELSE GREATEST(NEW.open_since, started_at) END
            - CASE WHEN OLD.active = 0 OR OLD.open_since IS NULL THEN 0 ELSE GREATEST(OLD.open_since, started_at) END,
        open_last = CASE WHEN NEW.active = 0 OR NEW.open_since IS NULL THEN open_last
                         ELSE GREATEST(open_last, NEW.open_since, started_at) END
    WHERE stream_id = NEW.stream_id;

CREATE TRIGGER stream_sums_delete AFTER DELETE ON stream_users FOR EACH ROW
    UPDATE stream_sums SET
        chatters = chatters - OLD.active,
        new_chatters = new_chatters - OLD.active * OLD.is_new,
        first_msgs = first_msgs - OLD.active * OLD.first_msg,
        messages = messages - OLD.active * OLD.messages,
        lurkers = lurkers - OLD.active * (OLD.messages = 0),
        watch_time = watch_time - OLD.active * OLD.watch_time,
        regulars = regulars - OLD.active * OLD.is_regular,
        in_previous = in_previous - OLD.active * OLD.in_previous,
        open_rows = open_rows - OLD.active * (OLD.open_since IS NOT NULL),
        open_from = open_from - CASE WHEN OLD.active = 0 OR OLD.open_since IS NULL THEN 0 ELSE GREATEST(OLD.open_since, started_at) END
    WHERE stream_id = OLD.stream_id;
