-- 0005_ledger_by_time_dropped.sql: the ledger keeps two indexes, its
-- primary key (partition, seq) and ledger_by_seq (user_id, partition, seq),
-- which the API's ledger pages read. ledger_by_time (user_id, occurred_at,
-- seq) served no query of the API or the docs, and keeping it up to date was
-- about a seventh of PostgreSQL's CPU per projected event (BENCHMARKS.md,
-- "pgcopy"). A learner's entries between two times are still found through
-- ledger_by_seq: WHERE user_id = ... AND occurred_at BETWEEN ... reads that
-- learner's entries only.

DROP INDEX IF EXISTS ledger_by_time;
