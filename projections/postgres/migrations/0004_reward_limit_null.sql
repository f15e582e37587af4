-- 0004_reward_limit_null.sql: a reward's per_user_limit is NULL when the
-- rules give none (unlimited); 0 now means that nobody may redeem it
-- (LIMIT_REACHED). Before, 0 stood for "no limit": those rows become NULL,
-- and the projector writes NULL from now on.

ALTER TABLE rewards ALTER COLUMN per_user_limit DROP NOT NULL;
UPDATE rewards SET per_user_limit = NULL WHERE per_user_limit = 0;
