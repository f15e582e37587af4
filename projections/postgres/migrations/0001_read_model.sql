-- 0001_read_model.sql: the read model of the Postgres projector (learners,
-- badges, rewards, redemptions, ledger, rules versions, cursors). Applied by
-- `gamify migrate` in one transaction; never edit a released migration, add
-- the next one.

-- One row per learner: the state as of the change updated_seq of its
-- partition (the projector never lets a row go back to an older change).
CREATE TABLE learners (
    user_id            text PRIMARY KEY,
    partition          integer NOT NULL,
    exp                bigint NOT NULL,
    level              bigint NOT NULL,
    coins              bigint NOT NULL,
    coins_earned       bigint NOT NULL,
    coins_spent        bigint NOT NULL,
    lessons_completed  bigint NOT NULL,
    lesson_completions bigint NOT NULL,
    tournaments_played bigint NOT NULL,
    tournament_wins    bigint NOT NULL,
    tournament_losses  bigint NOT NULL,
    current_streak     bigint NOT NULL,
    longest_streak     bigint NOT NULL,
    freezes_held       bigint NOT NULL,
    redemptions        bigint NOT NULL,
    timezone           text NOT NULL,
    opt_out            boolean NOT NULL,
    updated_seq        bigint NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- The Streak entity of the product, as the API reads it.
CREATE VIEW streaks AS
    SELECT user_id, current_streak, longest_streak, freezes_held FROM learners;

-- The badge catalogue of the rules in force; badges the rules dropped stay
-- (learners keep them) with active = false.
CREATE TABLE badges (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    icon       text NOT NULL,
    criteria   text NOT NULL,
    position   integer NOT NULL,
    active     boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE learner_badges (
    user_id   text NOT NULL,
    badge_id  text NOT NULL,
    position  integer NOT NULL, -- award order
    earned_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, badge_id)
);
CREATE INDEX learner_badges_by_time ON learner_badges (user_id, earned_at, position);

-- The reward catalogue; stock NULL means unlimited.
CREATE TABLE rewards (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    type           text NOT NULL,
    cost           bigint NOT NULL,
    stock          bigint,
    per_user_limit bigint NOT NULL,
    active         boolean NOT NULL,
    position       integer NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rewards_listed ON rewards (active, position);

-- Completed redemptions counted against stock, per partition (each Kafka
-- partition's projector writes its own row), as of change as_of_seq.
CREATE TABLE reward_stock_used (
    partition integer NOT NULL,
    reward_id text NOT NULL,
    used      bigint NOT NULL,
    as_of_seq bigint NOT NULL,
    PRIMARY KEY (partition, reward_id)
);

-- The catalogue with what is left over all partitions (NULL: unlimited).
CREATE VIEW reward_catalogue AS
    SELECT r.id, r.name, r.type, r.cost, r.stock, r.per_user_limit, r.active, r.position,
           coalesce(u.used, 0) AS stock_used,
           CASE WHEN r.stock IS NULL THEN NULL
                ELSE greatest(r.stock - coalesce(u.used, 0), 0) END AS stock_left
    FROM rewards r
    LEFT JOIN (SELECT reward_id, sum(used)::bigint AS used
               FROM reward_stock_used GROUP BY reward_id) u ON u.reward_id = r.id;

CREATE TABLE redemptions (
    redemption_id text NOT NULL,
    user_id       text NOT NULL,
    reward_id     text NOT NULL,
    status        text NOT NULL CHECK (status IN ('COMPLETED', 'REJECTED')),
    reason        text, -- NULL when COMPLETED
    cost          bigint NOT NULL,
    event_id      text NOT NULL,
    occurred_at   timestamptz NOT NULL,
    partition     integer NOT NULL,
    seq           bigint NOT NULL,
    PRIMARY KEY (user_id, redemption_id)
);
CREATE INDEX redemptions_by_time ON redemptions (user_id, occurred_at, seq);

-- Every EXP or coin change; seq is the ledger sequence of its partition.
CREATE TABLE ledger (
    partition   integer NOT NULL,
    seq         bigint NOT NULL,
    user_id     text NOT NULL,
    event_id    text NOT NULL,
    kind        text NOT NULL,
    detail      text NOT NULL,
    exp_delta   bigint NOT NULL,
    coins_delta bigint NOT NULL,
    exp_after   bigint NOT NULL,
    coins_after bigint NOT NULL,
    capped_exp  bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    PRIMARY KEY (partition, seq)
);
CREATE INDEX ledger_by_time ON ledger (user_id, occurred_at, seq);

-- The rules versions the projectors have seen (sha256 of the rules text).
CREATE TABLE rules_versions (
    sha256     text PRIMARY KEY,
    version    bigint NOT NULL,
    timezone   text NOT NULL,
    partition  integer NOT NULL, -- the partition that saw it first
    seen_seq   bigint NOT NULL,  -- the end of that partition's feed then
    seen_at    timestamptz NOT NULL DEFAULT now()
);

-- Where each partition's projector resumes: the next change-feed sequence
-- number, written in the same transaction as the rows it led to.
CREATE TABLE projector_cursor (
    partition    integer PRIMARY KEY,
    next_seq     bigint NOT NULL,
    rules_sha256 text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
