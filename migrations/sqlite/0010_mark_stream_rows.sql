-- A stream's retention and regulars present without a second and third pass over its rows.
-- A stream opened live is *marked* first (streams.marked): its regulars (stream_regulars) are
-- computed and its previous stream recorded (streams.previous_id) before any of its rows is
-- written; then every row is inserted knowing whether its user is one of those regulars
-- (is_regular) and was a unique chatter of the previous stream (in_previous), so the one pass
-- over the rows that gives the counts gives both. Streams opened before this change, and
-- streams with rows written before they were marked, stay unmarked and are read as before.
ALTER TABLE stream_users ADD COLUMN is_regular INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stream_users ADD COLUMN in_previous INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN marked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE streams ADD COLUMN previous_id INTEGER;
