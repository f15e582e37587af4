-- 0002_rules_current.sql: what the API needs of the rules in force: the
-- level thresholds (UserProfile.nextLevelExp) and the time zone of the
-- leaderboard periods. One row, written by the projector whenever it syncs
-- the catalogues, never moved back to an older rules version (with several
-- partitions, each syncs the rules it sees).

CREATE TABLE rules_current (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    version    bigint NOT NULL,
    sha256     text NOT NULL,
    timezone   text NOT NULL,
    -- thresholds[n] (1-based): the total exp at which level n is reached;
    -- thresholds[1] = 0, the last element is the highest level
    thresholds bigint[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
