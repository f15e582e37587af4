/*
 * test_fold.c: the pure fold, rule by rule: each test builds a learner's
 * state, folds events written as JSON and checks the state and the changes
 * the fold asks the store to write. Expected values are worked by hand from
 * the fold order in docs/rules.md.
 */
#include "fold.h"
#include "helpers.h"
#include "json.h"
#include "rules.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define RULES_BASE                                                                                 \
    "version: 1\n"                                                                                 \
    "timezone: UTC\n"                                                                              \
    "levels:\n"                                                                                    \
    "  thresholds: [0, 100, 250, 500, 1000]\n"                                                     \
    "  level_up_coins: 50\n"                                                                       \
    "activities:\n"                                                                                \
    "  lesson_completed:\n"                                                                        \
    "    exp: 20\n"                                                                                \
    "    coins: 5\n"                                                                               \
    "    bonuses:\n"                                                                               \
    "      - when: score >= 90\n"                                                                  \
    "        exp: 10\n"                                                                            \
    "        coins: 1\n"                                                                           \
    "      - when: current_streak >= 3\n"                                                          \
    "        exp_percent: 50\n"                                                                    \
    "  tournament_result:\n"                                                                       \
    "    win:  { exp: 50, coins: 20 }\n"                                                           \
    "    draw: { exp: 20, coins: 5 }\n"                                                            \
    "    loss: { exp: 10, coins: 0 }\n"                                                            \
    "caps:\n"                                                                                      \
    "  exp_per_day: 100\n"                                                                         \
    "streaks:\n"                                                                                   \
    "  qualifying: [lesson_completed, tournament_result]\n"                                        \
    "  milestones:\n"                                                                              \
    "    - { days: 3, coins: 30 }\n"                                                               \
    "badges:\n"                                                                                    \
    "  - id: first-steps\n"                                                                        \
    "    name: First Steps\n"                                                                      \
    "    icon: x\n"                                                                                \
    "    criteria: lessons_completed >= 1\n"                                                       \
    "  - id: collector\n"                                                                          \
    "    name: Collector\n"                                                                        \
    "    icon: x\n"                                                                                \
    "    criteria: badges >= 2\n"                                                                  \
    "  - id: regular\n"                                                                            \
    "    name: Regular\n"                                                                          \
    "    icon: x\n"                                                                                \
    "    criteria: lesson_completions >= 2\n"                                                      \
    "rewards:\n"                                                                                   \
    "  - id: freeze\n"                                                                             \
    "    name: Freeze\n"                                                                           \
    "    cost: 10\n"                                                                               \
    "    type: streak_freeze\n"                                                                    \
    "    per_user_limit: 2\n"                                                                      \
    "  - id: hat\n"                                                                                \
    "    name: Hat\n"                                                                              \
    "    cost: 40\n"                                                                               \
    "    type: cosmetic\n"                                                                         \
    "    stock: 1\n"                                                                               \
    "  - id: old\n"                                                                                \
    "    name: Old\n"                                                                              \
    "    cost: 1\n"                                                                                \
    "    type: physical\n"                                                                         \
    "    active: false\n"

static struct gm_rules *rules;
static Gamify__Internal__UserState *st;
static struct gm_fold_out out;
/* The last event folded: out borrows its strings, so it lives until the next. */
static Gamification__V1__Event *last_ev;

static void
setup(void)
{
    struct gm_err *errs = NULL;
    size_t n = 0;
    int rc = gm_rules_parse(RULES_BASE, strlen(RULES_BASE), &rules, &errs, &n);
    cr_assert_eq(rc, 0, "rules: %s", n ? errs[0].msg : "?");
    st = malloc(sizeof *st);
    gamify__internal__user_state__init(st);
    st->user_id = strdup("u1");
    st->level = 1;
    gm_fold_out_init(&out);
}

static void
teardown(void)
{
    gamify__internal__user_state__free_unpacked(st, NULL);
    gm_rules_free(rules);
    gm_fold_out_deinit(&out);
    gm_event_free(last_ev);
    last_ev = NULL;
}

TestSuite(fold, .init = setup, .fini = teardown);

/* Folds one JSON event; first_time and the redemption lookups as given. */
static int
fold_full(const char *js, bool first_time, const Gamify__Internal__Redemption *prior,
          int64_t stock_used)
{
    Gamification__V1__Event *ev;
    struct gm_err err;
    cr_assert_eq(gm_event_from_json(js, strlen(js), &ev, &err), 0, "%s: %s", js, err.msg);
    gm_fold_out_reset(&out);
    struct gm_fold_in in = {.rules = rules,
                            .ev = ev,
                            .first_time = first_time,
                            .prior = prior,
                            .stock_used = stock_used};
    int rc = gm_fold_apply(&in, st, &out);
    gm_event_free(last_ev);
    last_ev = ev;
    return rc;
}

static char *
lesson(const char *id, const char *when, const char *lesson_id, int score)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "{\"eventId\":\"%s\",\"userId\":\"u1\",\"occurredAt\":\"%s\","
             "\"lessonCompleted\":{\"lessonId\":\"%s\",\"score\":%d}}",
             id, when, lesson_id, score);
    return buf;
}

static int
fold_lesson(const char *when, const char *lesson_id, int score, bool first)
{
    return fold_full(lesson("e", when, lesson_id, score), first, NULL, 0);
}

static size_t
count_out(enum gm_outbound_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; i < out.n_outbound; i++)
        n += out.outbound[i].kind == kind;
    return n;
}

Test(fold, first_completion_earns_base_and_bonus)
{
    cr_assert_eq(fold_lesson("2026-11-23T09:00:00Z", "l1", 95, true), 0);
    cr_assert_eq(st->exp, 30, "20 base + 10 flat bonus");
    cr_assert_eq(st->coins, 6, "5 base + 1 bonus coin");
    cr_assert_eq(st->coins_earned, 6);
    cr_assert_eq(st->lessons_completed, 1);
    cr_assert_eq(st->lesson_completions, 1);
    cr_assert(out.mark_first);
    cr_assert_eq(out.n_ledger, 1);
    cr_assert_str_eq(out.ledger[0].kind, "lesson");
    cr_assert_eq(out.ledger[0].exp_delta, 30);
    cr_assert(out.boards);
    cr_assert_eq(out.board_delta, 30);
}

Test(fold, repeat_completion_earns_nothing_but_counts)
{
    fold_lesson("2026-11-23T09:00:00Z", "l1", 95, true);
    cr_assert_eq(fold_lesson("2026-11-23T10:00:00Z", "l1", 95, false), 0);
    cr_assert_eq(st->exp, 30);
    cr_assert_eq(st->coins, 6);
    cr_assert_eq(st->lessons_completed, 1);
    cr_assert_eq(st->lesson_completions, 2);
    cr_assert_not(out.mark_first);
    cr_assert_eq(out.n_ledger, 0);
    cr_assert_not(out.boards);
    /* lesson_completions >= 2 earns "regular" even without EXP, then collector */
    cr_assert_eq(count_out(GM_OUT_BADGE_EARNED), 2);
    cr_assert_str_eq(st->badges[1]->id, "regular");
    cr_assert_str_eq(st->badges[2]->id, "collector");
}

Test(fold, streak_next_day_gap_same_day_earlier_day)
{
    fold_lesson("2026-11-01T10:00:00Z", "a", 0, true);
    cr_assert_eq(st->current_streak, 1, "first activity starts at 1");
    cr_assert_eq(count_out(GM_OUT_STREAK_UPDATED), 1);
    fold_lesson("2026-11-01T23:00:00Z", "b", 0, true);
    cr_assert_eq(st->current_streak, 1, "same day");
    cr_assert_eq(count_out(GM_OUT_STREAK_UPDATED), 0);
    fold_lesson("2026-11-02T00:30:00Z", "c", 0, true);
    cr_assert_eq(st->current_streak, 2, "next day");
    fold_lesson("2026-10-30T00:30:00Z", "d", 0, true);
    cr_assert_eq(st->current_streak, 2, "an earlier day changes nothing");
    cr_assert_eq(st->last_active_day, 20759, "2026-11-02 stays the last day");
    fold_lesson("2026-11-05T08:00:00Z", "e", 0, true);
    cr_assert_eq(st->current_streak, 1, "gap of two days resets");
    cr_assert_eq(st->longest_streak, 2);
}

Test(fold, freezes_cover_gaps_only_when_enough)
{
    fold_lesson("2026-11-01T10:00:00Z", "a", 0, true);
    st->freezes_held = 2;
    fold_lesson("2026-11-04T10:00:00Z", "b", 0, true); /* missed 2, 3 */
    cr_assert_eq(st->current_streak, 2);
    cr_assert_eq(st->freezes_held, 0);
    cr_assert_eq(out.outbound[0].c, 2, "two freezes used");
    st->freezes_held = 1;
    fold_lesson("2026-11-07T10:00:00Z", "c", 0, true); /* missed 5, 6: one freeze is not enough */
    cr_assert_eq(st->current_streak, 1);
    cr_assert_eq(st->freezes_held, 1, "freezes are kept when they cannot bridge the gap");
}

Test(fold, milestone_pays_on_reaching_and_again_after_reset)
{
    fold_lesson("2026-11-01T10:00:00Z", "a", 0, true);
    fold_lesson("2026-11-02T10:00:00Z", "b", 0, true);
    int64_t coins = st->coins;
    fold_lesson("2026-11-03T10:00:00Z", "c", 0, true);
    cr_assert_eq(st->current_streak, 3);
    /* base 20 + 50% of 20 = 30 exp (streak 3 seen by the bonus); 5 coins + 30 milestone */
    cr_assert_eq(st->coins - coins, 35);
    cr_assert_str_eq(out.ledger[0].kind, "milestone");
    fold_lesson("2026-11-10T10:00:00Z", "d", 0, true);
    fold_lesson("2026-11-11T10:00:00Z", "e", 0, true);
    coins = st->coins;
    fold_lesson("2026-11-12T10:00:00Z", "f", 0, true);
    cr_assert_eq(st->current_streak, 3);
    cr_assert_eq(st->coins - coins, 35, "paid again after the reset");
}

Test(fold, percent_bonus_rounds_down_and_sees_streak_after_step_two)
{
    fold_lesson("2026-11-01T10:00:00Z", "a", 0, true);
    fold_lesson("2026-11-02T10:00:00Z", "b", 0, true);
    int64_t exp = st->exp;
    /* the third day makes current_streak 3 before the bonus is judged */
    fold_lesson("2026-11-03T10:00:00Z", "c", 95, true);
    cr_assert_eq(st->exp - exp, 20 + 10 + 20 * 50 / 100);
}

Test(fold, daily_cap_drops_excess_and_late_events_count_toward_latest_day)
{
    fold_full("{\"eventId\":\"t1\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"tournamentResult\":{\"tournamentId\":\"t1\",\"outcome\":\"WIN\"}}",
              true, NULL, 0);
    fold_full("{\"eventId\":\"t2\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T11:00:00Z\","
              "\"tournamentResult\":{\"tournamentId\":\"t2\",\"outcome\":\"WIN\"}}",
              true, NULL, 0);
    cr_assert_eq(st->exp, 100);
    cr_assert_eq(st->cap_exp, 100);
    /* an earlier-dated event counts toward 2026-11-05's tally: all capped */
    fold_full("{\"eventId\":\"t3\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-04T11:00:00Z\","
              "\"tournamentResult\":{\"tournamentId\":\"t3\",\"outcome\":\"DRAW\"}}",
              true, NULL, 0);
    cr_assert_eq(st->exp, 100);
    cr_assert_eq(st->coins, 20 + 20 + 5 + 50, "coins are not capped; level 2 paid 50");
    cr_assert_eq(out.ledger[0].capped_exp, 20);
    cr_assert_eq(out.ledger[0].exp_delta, 0);
    cr_assert_eq(st->tournaments_played, 3);
    cr_assert_eq(st->tournament_wins, 2);
    /* a new day opens a new tally */
    fold_full("{\"eventId\":\"t4\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-06T00:00:00Z\","
              "\"tournamentResult\":{\"tournamentId\":\"t4\",\"outcome\":\"LOSS\"}}",
              true, NULL, 0);
    cr_assert_eq(st->exp, 110);
    cr_assert_eq(st->tournament_losses, 1);
}

Test(fold, repeated_tournament_changes_nothing)
{
    const char *js = "{\"eventId\":\"x\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
                     "\"tournamentResult\":{\"tournamentId\":\"t1\",\"outcome\":\"WIN\"}}";
    fold_full(js, true, NULL, 0);
    fold_full(js, false, NULL, 0);
    cr_assert_eq(st->tournaments_played, 1);
    cr_assert_eq(st->exp, 50);
    cr_assert_not(out.touched);
    cr_assert_eq(out.n_outbound, 0);
}

Test(fold, multi_level_jump_pays_each_level)
{
    cr_assert_eq(fold_full("{\"eventId\":\"a\",\"userId\":\"u1\",\"occurredAt\":"
                           "\"2026-11-05T10:00:00Z\",\"adjustment\":{\"exp\":600}}",
                           false, NULL, 0),
                 0);
    cr_assert_eq(st->level, 4, "0/100/250/500 reached");
    cr_assert_eq(count_out(GM_OUT_LEVEL_UP), 3);
    cr_assert_eq(out.outbound[0].a, 2);
    cr_assert_eq(out.outbound[2].a, 4);
    cr_assert_eq(st->coins, 150);
    cr_assert_eq(st->coins_earned, 150);
    cr_assert_eq(out.board_delta, 600, "adjustment EXP counts on leaderboards");
    /* exactly at the threshold */
    fold_full("{\"eventId\":\"b\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"exp\":400}}",
              false, NULL, 0);
    cr_assert_eq(st->exp, 1000);
    cr_assert_eq(st->level, 5, "level-up is exact at the threshold");
    fold_full("{\"eventId\":\"c\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"exp\":5000}}",
              false, NULL, 0);
    cr_assert_eq(st->level, 5, "the last level is the cap");
    fold_full("{\"eventId\":\"d\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"exp\":-5900}}",
              false, NULL, 0);
    cr_assert_eq(st->exp, 100);
    cr_assert_eq(st->level, 5, "levels never go down");
}

Test(fold, adjustment_below_zero_is_rejected)
{
    fold_full("{\"eventId\":\"a\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"coins\":30}}",
              false, NULL, 0);
    cr_assert_eq(st->coins_earned, 30, "positive coins are earned");
    fold_full("{\"eventId\":\"b\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"coins\":-31}}",
              false, NULL, 0);
    cr_assert(out.rejected);
    cr_assert_str_eq(out.reason, "ADJUSTMENT_BELOW_ZERO");
    cr_assert(strstr(out.detail, "coins 30-31"), "%s", out.detail);
    cr_assert_eq(st->coins, 30, "nothing changed");
    fold_full("{\"eventId\":\"c\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"exp\":-1}}",
              false, NULL, 0);
    cr_assert(out.rejected);
    fold_full("{\"eventId\":\"d\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"adjustment\":{\"coins\":-30,\"reason\":\"refund\"}}",
              false, NULL, 0);
    cr_assert_not(out.rejected);
    cr_assert_eq(st->coins, 0);
    cr_assert_eq(st->coins_earned, 30, "negative coins are not earnings");
    cr_assert_str_eq(out.ledger[0].detail, "refund");
}

Test(fold, badge_fixpoint_awards_collector_in_the_same_event)
{
    fold_lesson("2026-11-01T10:00:00Z", "a", 0, true);
    cr_assert_eq(st->n_badges, 1);
    cr_assert_str_eq(st->badges[0]->id, "first-steps");
    fold_lesson("2026-11-01T11:00:00Z", "b", 0, true);
    /* regular (lesson_completions >= 2) makes badges 2, then collector */
    cr_assert_eq(st->n_badges, 3);
    cr_assert_str_eq(st->badges[1]->id, "regular");
    cr_assert_str_eq(st->badges[2]->id, "collector");
    cr_assert_eq(count_out(GM_OUT_BADGE_EARNED), 2);
}

static Gamify__Internal__Redemption *
redeem(const char *rid, const char *reward, const Gamify__Internal__Redemption *prior,
       int64_t stock_used)
{
    char js[512];
    snprintf(js, sizeof js,
             "{\"eventId\":\"%s\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
             "\"redeemReward\":{\"redemptionId\":\"%s\",\"rewardId\":\"%s\"}}",
             rid, rid, reward);
    cr_assert_eq(fold_full(js, false, prior, stock_used), 0);
    return out.redemption ? &out.new_redemption : NULL;
}

Test(fold, redemption_checks_in_order)
{
    st->coins = 35;
    Gamify__Internal__Redemption *r = redeem("r1", "nope", NULL, 0);
    cr_assert_not(r->completed);
    cr_assert_eq(r->reason, GAMIFICATION__V1__REJECTION_REASON__UNKNOWN_REWARD);
    r = redeem("r2", "old", NULL, 0);
    cr_assert_eq(r->reason, GAMIFICATION__V1__REJECTION_REASON__UNKNOWN_REWARD, "inactive");
    r = redeem("r3", "hat", NULL, 1);
    cr_assert_eq(r->reason, GAMIFICATION__V1__REJECTION_REASON__OUT_OF_STOCK,
                 "stock before balance");
    r = redeem("r4", "hat", NULL, 0);
    cr_assert_eq(r->reason, GAMIFICATION__V1__REJECTION_REASON__INSUFFICIENT_COINS);
    cr_assert_eq(st->coins, 35, "no deduction without the reward");
    cr_assert_eq(count_out(GM_OUT_REDEMPTION_REJECTED), 1);
    r = redeem("r5", "freeze", NULL, 0);
    cr_assert(r->completed);
    cr_assert(out.stock_taken, "counted without a stock too: later rules may give it one");
    r = redeem("r6", "freeze", NULL, 0);
    cr_assert(r->completed);
    cr_assert_eq(st->freezes_held, 2);
    cr_assert_eq(st->coins, 15);
    cr_assert_eq(st->coins_spent, 20);
    cr_assert_eq(st->redemptions, 2);
    r = redeem("r7", "freeze", NULL, 0);
    cr_assert_eq(r->reason, GAMIFICATION__V1__REJECTION_REASON__LIMIT_REACHED,
                 "limit before balance");
}

Test(fold, repeated_redemption_id_changes_nothing)
{
    st->coins = 100;
    Gamify__Internal__Redemption prior = GAMIFY__INTERNAL__REDEMPTION__INIT;
    prior.completed = true;
    prior.redemption_id = "r1";
    prior.reward_id = "hat";
    cr_assert_null(redeem("r1", "hat", &prior, 0));
    cr_assert_eq(st->coins, 100);
    cr_assert_not(out.touched);
    cr_assert_not(out.stock_taken);
    Gamify__Internal__Redemption *r = redeem("r2", "hat", NULL, 0);
    cr_assert(r->completed);
    cr_assert(out.stock_taken);
    cr_assert_eq(st->coins, 60);
    cr_assert_eq(st->n_holdings, 1);
    cr_assert_eq(st->holdings[0]->count, 1);
}

Test(fold, used_freezes_free_the_per_user_limit)
{
    st->coins = 100;
    redeem("r1", "freeze", NULL, 0);
    redeem("r2", "freeze", NULL, 0);
    fold_lesson("2026-11-01T10:00:00Z", "a", 0, true);
    fold_lesson("2026-11-03T10:00:00Z", "b", 0, true); /* uses one */
    cr_assert_eq(st->freezes_held, 1);
    Gamify__Internal__Redemption *r = redeem("r3", "freeze", NULL, 0);
    cr_assert(r->completed, "a used freeze is no longer held");
}

Test(fold, timezones_and_settings)
{
    /* 23:30 UTC on 11-01 is 00:30 on 11-02 in Berlin (CET, +1) */
    fold_full("{\"eventId\":\"a\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-01T10:00:00Z\","
              "\"timezone\":\"Europe/Berlin\",\"lessonCompleted\":{\"lessonId\":\"a\"}}",
              true, NULL, 0);
    cr_assert_str_eq(st->timezone, "Europe/Berlin");
    fold_lesson("2026-11-01T23:30:00Z", "b", 0, true);
    cr_assert_eq(st->current_streak, 2, "already the next local day in Berlin");
    fold_full("{\"eventId\":\"s\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T12:00:00Z\","
              "\"userSettings\":{\"timezone\":\"America/New_York\",\"leaderboardOptOut\":true}}",
              false, NULL, 0);
    cr_assert_str_eq(st->timezone, "America/New_York");
    cr_assert(st->opt_out);
    fold_full("{\"eventId\":\"s2\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T12:00:00Z\","
              "\"userSettings\":{\"leaderboardOptOut\":false}}",
              false, NULL, 0);
    cr_assert_str_eq(st->timezone, "America/New_York", "no zone: unchanged");
    cr_assert_not(st->opt_out);
    fold_full("{\"eventId\":\"s3\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T12:00:00Z\","
              "\"userSettings\":{\"timezone\":\"Mars/Olympus_Mons\"}}",
              false, NULL, 0);
    cr_assert(out.rejected);
    cr_assert_str_eq(out.reason, "UNKNOWN_TIMEZONE");
}

Test(fold, dst_changes_the_local_day)
{
    /* New York: 2026-11-01 06:00Z ends DST. 03:59Z on 11-02 is 22:59 EST on 11-01. */
    fold_full("{\"eventId\":\"a\",\"userId\":\"u1\",\"occurredAt\":\"2026-10-31T03:30:00Z\","
              "\"timezone\":\"America/New_York\",\"lessonCompleted\":{\"lessonId\":\"a\"}}",
              true, NULL, 0);
    /* 2026-10-30 23:30 EDT (-4) */
    cr_assert_eq(st->last_active_day, 20756);
    fold_lesson("2026-11-02T04:59:00Z", "b", 0, true); /* 11-01 23:59 EST */
    cr_assert_eq(st->last_active_day, 20758);
    cr_assert_eq(st->current_streak, 1, "10-31 was missed");
}

Test(fold, leaderboard_periods_and_groups)
{
    fold_full("{\"eventId\":\"a\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-29T23:00:00Z\","
              "\"groupIds\":[\"c1\",\"c2\",\"c1\"],\"lessonCompleted\":{\"lessonId\":\"a\"}}",
              true, NULL, 0);
    cr_assert(out.boards);
    cr_assert_eq(out.n_groups, 2, "a group named twice counts once");
    cr_assert_str_eq(out.groups[0], "c1");
    cr_assert_str_eq(out.groups[1], "c2");
    cr_assert_str_eq(out.week, "2026-W48");
    cr_assert_str_eq(out.month, "2026-11");
}

Test(fold, iso_weeks_at_year_ends)
{
    char w[GM_PERIOD_KEY_MAX], m[GM_PERIOD_KEY_MAX];
    int64_t wi, mi, wi2, mi2;
    /* 2026-01-01 is a Thursday: week 1 of 2026 */
    gm_fold_periods(20454, w, m, &wi, &mi);
    cr_assert_str_eq(w, "2026-W01");
    cr_assert_str_eq(m, "2026-01");
    /* 2027-01-01 is a Friday: it belongs to 2026-W53 */
    gm_fold_periods(20819, w, m, &wi2, &mi2);
    cr_assert_str_eq(w, "2026-W53");
    cr_assert_str_eq(m, "2027-01");
    cr_assert_eq(mi2 - mi, 12);
    /* 2024-12-30 (Monday) is 2025-W01 */
    gm_fold_periods(20087, w, m, &wi, &mi);
    cr_assert_str_eq(w, "2025-W01");
    /* consecutive Mondays are consecutive indexes */
    gm_fold_periods(20094, w, m, &wi2, &mi2);
    cr_assert_eq(wi2, wi + 1);
    cr_assert_str_eq(w, "2025-W02");
}

/* The keys of the last day are remembered (fold.c): days that alternate,
 * repeat and come back give each its own keys, as computed afresh. */
Test(fold, period_keys_of_days_in_any_order)
{
    static const int64_t days[] = {20454, 20454, 20819, 20454, 20087, 20094, 20094, 20087, 20819};
    static const char *const weeks[] = {"2026-W01", "2026-W01", "2026-W53", "2026-W01", "2025-W01",
                                        "2025-W02", "2025-W02", "2025-W01", "2026-W53"};
    static const char *const months[] = {"2026-01", "2026-01", "2027-01", "2026-01", "2024-12",
                                         "2025-01", "2025-01", "2024-12", "2027-01"};
    for (size_t i = 0; i < sizeof days / sizeof days[0]; i++) {
        char w[GM_PERIOD_KEY_MAX], m[GM_PERIOD_KEY_MAX];
        int64_t wi, mi;
        gm_fold_periods(days[i], w, m, &wi, &mi);
        cr_assert_str_eq(w, weeks[i], "day %lld", (long long)days[i]);
        cr_assert_str_eq(m, months[i], "day %lld", (long long)days[i]);
        char back[GM_PERIOD_KEY_MAX];
        gm_fold_period_name(true, wi, back);
        cr_assert_str_eq(back, weeks[i]);
        gm_fold_period_name(false, mi, back);
        cr_assert_str_eq(back, months[i]);
    }
}

/* Replaces the rules of the test with yaml. */
static void
use_rules(const char *yaml)
{
    struct gm_err *errs = NULL;
    size_t n = 0;
    gm_rules_free(rules);
    rules = NULL;
    int rc = gm_rules_parse(yaml, strlen(yaml), &rules, &errs, &n);
    cr_assert_eq(rc, 0, "rules: %s", n ? errs[0].msg : "?");
}

/* Gives the learner a badge that no rule names, so `badges` starts at 1. */
static void
hold_badge(const char *id)
{
    Gamify__Internal__HeldBadge *hb = malloc(sizeof *hb);
    gamify__internal__held_badge__init(hb);
    hb->id = strdup(id);
    st->badges = realloc(st->badges, (st->n_badges + 1) * sizeof *st->badges);
    st->badges[st->n_badges++] = hb;
}

#define RULES_HEAD                                                                                 \
    "version: 1\n"                                                                                 \
    "timezone: UTC\n"                                                                              \
    "levels:\n"                                                                                    \
    "  thresholds: [0, 100, 250, 500]\n"                                                           \
    "  level_up_coins: 50\n"

#define RULES_TAIL                                                                                 \
    "  tournament_result:\n"                                                                       \
    "    win:  { exp: 50, coins: 20 }\n"                                                           \
    "    draw: { exp: 20, coins: 5 }\n"                                                            \
    "    loss: { exp: 10, coins: 0 }\n"                                                            \
    "caps:\n"                                                                                      \
    "  exp_per_day: 100000\n"                                                                      \
    "streaks:\n"                                                                                   \
    "  qualifying: [lesson_completed, tournament_result]\n"                                        \
    "  milestones:\n"                                                                              \
    "    - { days: 3, coins: 30 }\n"

/* Issue 10 item 7: the learner's first completion pays a `lesson_completions == 0` bonus. */
Test(fold, when_sees_lesson_completions_before_this_completion)
{
    use_rules(RULES_HEAD "activities:\n"
                         "  lesson_completed:\n"
                         "    exp: 20\n"
                         "    coins: 5\n"
                         "    bonuses:\n"
                         "      - when: lesson_completions == 0\n"
                         "        exp: 100\n"
                         "      - when: lesson_completions == 2\n"
                         "        coins: 7\n" RULES_TAIL);
    fold_lesson("2026-11-01T10:00:00Z", "l1", 0, true);
    cr_assert_eq(st->exp, 120, "the first completion sees lesson_completions 0");
    cr_assert_eq(st->lesson_completions, 1);
    fold_lesson("2026-11-01T11:00:00Z", "l1", 0, false);
    cr_assert_eq(st->lesson_completions, 2, "a repeat counts");
    cr_assert_eq(st->exp, 120, "a repeat earns nothing");
    fold_lesson("2026-11-01T12:00:00Z", "l2", 0, true);
    cr_assert_eq(st->exp, 140, "the third completion sees 2, not 0");
    cr_assert_eq(st->coins, 5 + 50 + 5 + 7, "... and 2, not 3 (50: level 2 at 120 exp)");
    cr_assert_eq(st->lesson_completions, 3);
}

/*
 * Every counter a `when` can name, judged on one lesson: bonus i pays 2^i
 * exp when its counter has the value expected after step 2 and before the
 * event's own updates, so the EXP granted says which bonuses saw what.
 * Before: exp 240 (level 2), coins 70 (earned 90, spent 20), lessons 3,
 * completions 4, tournaments 2 (1 win, 1 loss), streak 2 up to yesterday,
 * badges 1, redemptions 1. Step 2 makes the streak 3 and pays the 30 coin
 * milestone, so coins 100, earned 120.
 */
Test(fold, when_sees_every_counter_after_step_two_before_own_updates)
{
    use_rules(RULES_HEAD "activities:\n"
                         "  lesson_completed:\n"
                         "    exp: 20\n"
                         "    coins: 5\n"
                         "    bonuses:\n"
                         "      - { when: exp == 240, exp: 1 }\n"
                         "      - { when: level == 2, exp: 2 }\n"
                         "      - { when: coins == 100, exp: 4 }\n"
                         "      - { when: coins_earned == 120, exp: 8 }\n"
                         "      - { when: coins_spent == 20, exp: 16 }\n"
                         "      - { when: lessons_completed == 3, exp: 32 }\n"
                         "      - { when: lesson_completions == 4, exp: 64 }\n"
                         "      - { when: tournaments_played == 2, exp: 128 }\n"
                         "      - { when: tournament_wins == 1, exp: 256 }\n"
                         "      - { when: tournament_losses == 1, exp: 512 }\n"
                         "      - { when: current_streak == 3, exp: 1024 }\n"
                         "      - { when: longest_streak == 3, exp: 2048 }\n"
                         "      - { when: badges == 1, exp: 4096 }\n"
                         "      - { when: redemptions == 1, exp: 8192 }\n" RULES_TAIL);
    st->exp = 240;
    st->level = 2;
    st->coins = 70;
    st->coins_earned = 90;
    st->coins_spent = 20;
    st->lessons_completed = 3;
    st->lesson_completions = 4;
    st->tournaments_played = 2;
    st->tournament_wins = 1;
    st->tournament_losses = 1;
    st->current_streak = 2;
    st->longest_streak = 2;
    st->has_active_day = true;
    st->last_active_day = 20757; /* 2026-10-31 */
    st->redemptions = 1;
    hold_badge("old");
    cr_assert_eq(fold_lesson("2026-11-01T10:00:00Z", "l9", 0, true), 0);
    cr_assert_geq(out.n_ledger, 2);
    cr_assert_str_eq(out.ledger[0].kind, "milestone");
    cr_assert_str_eq(out.ledger[1].kind, "lesson");
    int64_t bonus = out.ledger[1].exp_delta - 20;
    cr_assert_eq(bonus, 16383, "bonuses that did not see the expected value: mask %#llx",
                 (unsigned long long)(16383 & ~bonus));
}

/* A tournament's `when` sees the played/win/loss counters before its own result. */
Test(fold, when_sees_tournament_counters_before_this_result)
{
    use_rules(RULES_HEAD "activities:\n"
                         "  lesson_completed:\n"
                         "    exp: 20\n"
                         "    coins: 5\n"
                         "  tournament_result:\n"
                         "    win:  { exp: 50, coins: 20 }\n"
                         "    draw: { exp: 20, coins: 5 }\n"
                         "    loss: { exp: 10, coins: 0 }\n"
                         "    bonuses:\n"
                         "      - { when: tournaments_played == 0, exp: 1 }\n"
                         "      - { when: tournament_wins == 0, exp: 2 }\n"
                         "      - { when: tournament_losses == 0, exp: 4 }\n"
                         "caps:\n"
                         "  exp_per_day: 100000\n");
    fold_full("{\"eventId\":\"t1\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
              "\"tournamentResult\":{\"tournamentId\":\"t1\",\"outcome\":\"WIN\"}}",
              true, NULL, 0);
    cr_assert_eq(st->exp, 50 + 7, "the first win sees 0 played, 0 wins, 0 losses");
    fold_full("{\"eventId\":\"t2\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T11:00:00Z\","
              "\"tournamentResult\":{\"tournamentId\":\"t2\",\"outcome\":\"LOSS\"}}",
              true, NULL, 0);
    cr_assert_eq(st->exp, 57 + 10 + 4, "the first loss sees 1 played, 1 win, 0 losses");
    cr_assert_eq(st->tournaments_played, 2);
    cr_assert_eq(st->tournament_wins, 1);
    cr_assert_eq(st->tournament_losses, 1);
}

/*
 * Badge criteria see everything of the event (step 6): the same learner as
 * above folds a plain lesson: exp 260 -> level 3 (+50), coins 70 + 30
 * milestone + 5 + 50 = 155, earned 175; lessons 4, completions 5, streak 3.
 * Every badge below holds only on the values after the event; the last one
 * sees the twelve awarded before it in the same pass (1 held + 11).
 */
Test(fold, criteria_see_every_counter_after_the_event)
{
    use_rules(RULES_HEAD "activities:\n"
                         "  lesson_completed:\n"
                         "    exp: 20\n"
                         "    coins: 5\n" RULES_TAIL "badges:\n"
                         "  - { id: b1, name: b, icon: x, criteria: exp == 260 }\n"
                         "  - { id: b2, name: b, icon: x, criteria: level == 3 }\n"
                         "  - { id: b3, name: b, icon: x, criteria: coins == 155 }\n"
                         "  - { id: b4, name: b, icon: x, criteria: coins_earned == 175 }\n"
                         "  - { id: b5, name: b, icon: x, criteria: coins_spent == 20 }\n"
                         "  - { id: b6, name: b, icon: x, criteria: lessons_completed == 4 }\n"
                         "  - { id: b7, name: b, icon: x, criteria: lesson_completions == 5 }\n"
                         "  - { id: b8, name: b, icon: x, criteria: tournaments_played == 2 }\n"
                         "  - { id: b9, name: b, icon: x, criteria: current_streak == 3 }\n"
                         "  - { id: b10, name: b, icon: x, criteria: longest_streak == 3 }\n"
                         "  - { id: b11, name: b, icon: x, criteria: redemptions == 1 }\n"
                         "  - { id: b12, name: b, icon: x, criteria: badges == 12 }\n");
    st->exp = 240;
    st->level = 2;
    st->coins = 70;
    st->coins_earned = 90;
    st->coins_spent = 20;
    st->lessons_completed = 3;
    st->lesson_completions = 4;
    st->tournaments_played = 2;
    st->current_streak = 2;
    st->longest_streak = 2;
    st->has_active_day = true;
    st->last_active_day = 20757;
    st->redemptions = 1;
    hold_badge("old");
    cr_assert_eq(fold_lesson("2026-11-01T10:00:00Z", "l9", 0, true), 0);
    cr_assert_eq(st->n_badges, 13, "%zu badges held", st->n_badges);
    cr_assert_str_eq(st->badges[12]->id, "b12", "badges are counted at once in the pass");
}

/* Totals at the int64 edge saturate: they never wrap (undefined behaviour,
 * and a wrapped sum would pass for one below zero). */
static void
adjust_at(const char *id, const char *body)
{
    char js[512];
    snprintf(js, sizeof js,
             "{\"eventId\":\"%s\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-05T10:00:00Z\","
             "\"adjustment\":%s}",
             id, body);
    cr_assert_eq(fold_full(js, false, NULL, 0), 0);
}

Test(fold, adjustment_saturates_at_int64_max)
{
    st->level = 5;
    st->exp = INT64_MAX - 5;
    st->coins = INT64_MAX - 5;
    st->coins_earned = INT64_MAX - 5;
    adjust_at("a", "{\"exp\":1000000000,\"coins\":1000000000}");
    cr_assert_not(out.rejected, "a sum past INT64_MAX is not below zero: %s",
                  out.rejected ? out.detail : "");
    cr_assert_eq(st->exp, INT64_MAX);
    cr_assert_eq(st->coins, INT64_MAX);
    cr_assert_eq(st->coins_earned, INT64_MAX);
    /* and down again from the edge */
    adjust_at("b", "{\"exp\":-1000000000,\"coins\":-1000000000}");
    cr_assert_not(out.rejected);
    cr_assert_eq(st->exp, INT64_MAX - 1000000000);
    cr_assert_eq(st->coins, INT64_MAX - 1000000000);
    cr_assert_eq(st->coins_earned, INT64_MAX, "negative coins are not earnings");
    /* below zero is still refused at the other end */
    st->exp = 0;
    adjust_at("c", "{\"exp\":-1000000000}");
    cr_assert(out.rejected);
    cr_assert_eq(st->exp, 0);
}

Test(fold, counters_saturate_at_int64_max)
{
    st->lessons_completed = INT64_MAX;
    st->lesson_completions = INT64_MAX;
    st->current_streak = INT64_MAX;
    st->longest_streak = INT64_MAX;
    st->has_active_day = true;
    st->last_active_day = 20761; /* 2026-11-04: the lesson's day is the next one */
    cr_assert_eq(fold_lesson("2026-11-05T10:00:00Z", "l1", 50, true), 0);
    cr_assert_eq(st->lessons_completed, INT64_MAX);
    cr_assert_eq(st->lesson_completions, INT64_MAX);
    cr_assert_eq(st->current_streak, INT64_MAX);
    cr_assert_eq(st->longest_streak, INT64_MAX);
    /* a repeat counts a completion only */
    cr_assert_eq(fold_lesson("2026-11-05T11:00:00Z", "l1", 50, false), 0);
    cr_assert_eq(st->lesson_completions, INT64_MAX);
    st->tournaments_played = INT64_MAX;
    st->tournament_wins = INT64_MAX;
    cr_assert_eq(fold_full("{\"eventId\":\"t\",\"userId\":\"u1\",\"occurredAt\":"
                           "\"2026-11-05T12:00:00Z\",\"tournamentResult\":{\"tournamentId\":"
                           "\"t1\",\"outcome\":\"WIN\",\"rank\":1}}",
                           true, NULL, 0),
                 0);
    cr_assert_eq(st->tournaments_played, INT64_MAX);
    cr_assert_eq(st->tournament_wins, INT64_MAX);
}

Test(fold, redemption_totals_saturate_at_int64_max)
{
    st->coins = 100;
    st->coins_spent = INT64_MAX - 10;
    st->redemptions = INT64_MAX;
    Gamify__Internal__Redemption *r = redeem("r1", "hat", NULL, 0);
    cr_assert(r->completed);
    cr_assert_eq(st->coins, 60);
    cr_assert_eq(st->coins_spent, INT64_MAX);
    cr_assert_eq(st->redemptions, INT64_MAX);
}

/* gm_fold_out_reset empties what a fold reads (flags, counts, texts,
 * periods) and keeps the arrays it grew, after a struct full of junk. */
Test(fold, out_reset_empties_and_keeps_the_arrays)
{
    struct gm_fold_out fo;
    gm_fold_out_init(&fo);
    struct gm_ledger *ledger = malloc(4 * sizeof *ledger);
    struct gm_outbound *outbound = malloc(2 * sizeof *outbound);
    memset(&fo, 0x5a, sizeof fo);
    fo.ledger = ledger;
    fo.cap_ledger = 4;
    fo.outbound = outbound;
    fo.cap_outbound = 2;
    gm_fold_out_reset(&fo);
    cr_assert_not(fo.rejected);
    cr_assert_str_eq(fo.reason, "");
    cr_assert_str_eq(fo.detail, "");
    cr_assert_not(fo.touched || fo.mark_first || fo.redemption || fo.stock_taken || fo.boards);
    cr_assert_eq(fo.board_delta, 0);
    cr_assert_str_eq(fo.week, "");
    cr_assert_str_eq(fo.month, "");
    cr_assert_eq(fo.week_index, 0);
    cr_assert_eq(fo.month_index, 0);
    cr_assert_eq(fo.n_groups, 0);
    cr_assert_eq(fo.n_ledger, 0);
    cr_assert_eq(fo.n_outbound, 0);
    cr_assert_eq(fo.ledger, ledger);
    cr_assert_eq(fo.cap_ledger, 4);
    cr_assert_eq(fo.outbound, outbound);
    cr_assert_eq(fo.cap_outbound, 2);
    cr_assert_eq(fo.new_redemption.base.descriptor, &gamify__internal__redemption__descriptor);
    gm_fold_out_deinit(&fo);
}
