-- 0003_learner_history.sql: indexes for the API's pages of one learner's
-- redemptions and ledger in the order they were applied (partition, then
-- the partition's sequence number), read by cursor: each page is a range
-- scan from the cursor, whatever the learner's history length. The
-- indexes of 0001 order by occurred_at, which is not the log order.

CREATE INDEX redemptions_by_seq ON redemptions (user_id, partition, seq);
CREATE INDEX ledger_by_seq ON ledger (user_id, partition, seq);
