
01JDX0000000000000000000R1adminÇšØ•šï:*Europe/Berlinj0
ˆ0# gamify rules: the reference example of the rules file format.
# Every key below must be accepted as written; new keys may be added.
#
# How one event is folded, in this order (all integers, all in event time):
#  1. An event whose event_id was seen before is skipped entirely.
#  2. Streak (only for activities listed in streaks.qualifying): the local day
#     of occurred_at in the learner's time zone is compared with the last
#     active day. Same day: nothing. Next day: current_streak + 1. A gap of g
#     missed days: if the learner holds >= g streak freezes, g are used and
#     current_streak + 1; otherwise current_streak = 1. longest_streak =
#     max(longest, current). A milestone whose days equals the new
#     current_streak pays its coins. streak.updated is published when
#     current_streak changes. (Last active day D, this day D + k: k - 1
#     days were missed; a day before D changes nothing.) Repeats of a lesson
#     count as activity too. The first activity ever starts the streak at 1.
#     A milestone pays every time the streak reaches it, also after a reset.
#  3. Activity: only if the activity is a first time for its key (lesson:
#     user+lesson_id; tournament: user+tournament_id) it earns
#     exp = base + the flat exp of every bonus whose `when` holds
#           + base * (sum of their exp_percent) / 100, rounded down,
#     coins = base + the coins of those bonuses. `when` is evaluated on the
#     event's fields and the counters after step 2 (before this event's own
#     counter updates). A repeated lesson counts in lesson_completions only;
#     a repeated tournament result (same tournament_id) changes no counter.
#  4. Daily cap: exp granted on one local day never exceeds caps.exp_per_day;
#     the excess is dropped (recorded in the ledger as capped). Coins are not
#     capped. The tally is kept for the learner's latest local day on which
#     a first-time activity happened; an event dated before that day counts
#     toward it.
#  5. Levels: while exp >= the threshold of the next level, level + 1 and
#     level_up_coins are paid; one level.up per level gained, with that
#     reward. Levels never go down. coins_earned counts every coin paid
#     (activity, milestones, level-ups).
#  6. Badges: in file order, every badge not yet held whose criteria hold is
#     awarded (badge.earned) and counted at once (a later badge in the same
#     pass sees it); passes repeat until none is awarded, since `badges` is
#     itself a counter.
#  7. Leaderboards: the exp granted in steps 3-4 is added to the all-time,
#     weekly (ISO week) and monthly score of the global board and of every
#     group board named by the event (a group named twice counts once),
#     periods taken from occurred_at in the rules' time zone. Adjustment exp
#     counts here too, with its sign.
#
# Counters usable in criteria and `when`: exp, level, coins, coins_earned,
# coins_spent, lessons_completed (distinct lessons), lesson_completions (all),
# tournaments_played, tournament_wins, tournament_losses, current_streak,
# longest_streak, badges, redemptions. Event fields usable in `when`: score,
# duration_s (lesson_completed); rank (tournament_result).

version: 1
timezone: UTC                 # learners without a zone, and leaderboard periods

levels:
  # EXP needed to reach level 1, 2, 3, ... (the first is 0). Reaching the last
  # listed level is the cap unless `formula` is given instead.
  thresholds: [0, 100, 250, 500, 1000, 2000, 3500, 5500, 8000, 11000]
  # formula: { base: 100, growth_percent: 150, max_level: 100 }
  #   threshold(1) = 0, threshold(2) = base, threshold(n+1) = threshold(n) +
  #   (threshold(n) - threshold(n-1)) * growth_percent / 100, rounded down.
  level_up_coins: 50          # paid per level gained; the `reward` of level.up

activities:
  lesson_completed:
    exp: 20
    coins: 5
    bonuses:
      - when: score >= 90
        exp: 10
      - when: current_streak >= 7
        exp_percent: 50
  tournament_result:
    win:  { exp: 50, coins: 20 }
    draw: { exp: 20, coins: 5 }
    loss: { exp: 10, coins: 0 }

caps:
  exp_per_day: 1000

streaks:
  qualifying: [lesson_completed, tournament_result]
  milestones:
    - { days: 7, coins: 50 }
    - { days: 30, coins: 300 }

leaderboards:
  periods: [all_time, weekly, monthly]
  keep_weeks: 8               # finished weekly boards kept, then deleted
  keep_months: 12

badges:
  - id: first-steps
    name: First Steps
    icon: https://example.org/badges/first-steps.png
    criteria: lessons_completed >= 1
  - id: bookworm
    name: Bookworm
    icon: https://example.org/badges/bookworm.png
    criteria: lessons_completed >= 10
  - id: on-fire
    name: On Fire
    icon: https://example.org/badges/on-fire.png
    criteria: current_streak >= 7
  - id: champion
    name: Champion
    icon: https://example.org/badges/champion.png
    criteria: tournament_wins >= 3 and level >= 3
  - id: collector
    name: Collector
    icon: https://example.org/badges/collector.png
    criteria: badges >= 3

rewards:
  # A redemption is checked in this order: unknown or inactive reward ->
  # UNKNOWN_REWARD; no stock left (when stock is given) -> OUT_OF_STOCK; the
  # learner already holds per_user_limit of it -> LIMIT_REACHED; coins < cost
  # -> INSUFFICIENT_COINS. Otherwise COMPLETED: coins - cost, coins_spent +
  # cost, redemptions + 1, stock - 1. per_user_limit counts what the learner
  # holds now: a streak freeze stops being held when step 2 uses it; other
  # rewards are held for good. A redemption_id is scoped to its learner; a
  # repeated one returns its first outcome, changes nothing and is not listed
  # again. Stock is one count per state (per partition when the log has
  # several: the operator divides stock among them; document it).
  - id: streak-freeze
    name: Streak Freeze
    cost: 200
    type: streak_freeze       # held freezes + 1, used by step 2
    per_user_limit: 2
  - id: wizard-hat
    name: Wizard Hat
    cost: 500
    type: cosmetic
    stock: 100
  - id: certificate
    name: Printed Certificate
    cost: 1000
    type: physical
    active: false
v1