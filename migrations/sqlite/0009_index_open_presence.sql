-- Open presence intervals only: the live stream's watch time, closing intervals left open by a
-- previous run and retention's "still present" check read intervals with `until IS NULL`.
-- The index on every interval's `until` (0003) cost a second b-tree insert per closed interval
-- (an import of 5 million chat lines writes ~3.8 million) and tripled the import's time;
-- retention's daily deletion of closed intervals scans the table instead.
DROP INDEX presence_until;
CREATE INDEX presence_open ON presence (channel_id, user_id) WHERE until IS NULL;
CREATE INDEX presence_open_user ON presence (user_id) WHERE until IS NULL;
