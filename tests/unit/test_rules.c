/*
 * test_rules.c: the rules file: the example (examples/rules.yaml) parses to
 * the values it states, the formula alternative expands as its comment says,
 * defaults apply, and every kind of bad file is reported at the right line
 * and column without crashing.
 */
#include "codec.h"
#include "rules.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD "version: 1\nlevels:\n  thresholds: [0, 100]\n"
#define ACTS                                                                                       \
    "activities:\n  lesson_completed: {exp: 20, coins: 5}\n  tournament_result:\n"                 \
    "    win: {exp: 50}\n    draw: {exp: 20}\n    loss: {exp: 10}\n"
#define MIN HEAD ACTS /* 9 lines; what is appended starts at line 10 */

_Static_assert(GM_RULES_MAX_BYTES == GM_RULES_MAX, "the rules bound matches the event's");

static char *
read_example(size_t *len)
{
    const char *dir = getenv("GAMIFY_EXAMPLES");
    cr_assert_not_null(dir, "GAMIFY_EXAMPLES is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/rules.yaml", dir);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void
dump_errs(const struct gm_err *errs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %d:%d: %s\n", errs[i].line, errs[i].column, errs[i].msg);
}

static struct gm_rules *
parse_ok(const char *yaml, size_t len)
{
    struct gm_rules *r = NULL;
    struct gm_err *errs = NULL;
    size_t n = 0;
    int rc = gm_rules_parse(yaml, len, &r, &errs, &n);
    if (rc)
        dump_errs(errs, n);
    cr_assert_eq(rc, 0, "parse failed with %zu errors; first: %s", n, n ? errs[0].msg : "");
    cr_assert_null(errs);
    cr_assert_eq(n, 0);
    cr_assert_not_null(r);
    return r;
}

/*
 * Asserts yaml is rejected with an error at line:col whose message contains
 * needle; returns the number of errors.
 */
static size_t
expect_err_len(const char *yaml, size_t len, int line, int col, const char *needle)
{
    struct gm_rules *r = (struct gm_rules *)1;
    struct gm_err *errs = NULL;
    size_t n = 0;
    int rc = gm_rules_parse(yaml, len, &r, &errs, &n);
    cr_assert_eq(rc, GM_EINVAL, "accepted:\n%.300s", yaml);
    cr_assert_null(r);
    cr_assert_gt(n, 0);
    cr_assert_not_null(errs);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_geq(errs[i].line, 1);
        cr_assert_geq(errs[i].column, 1);
        cr_assert_eq(errs[i].code, GM_EINVAL);
        if (errs[i].line == line && errs[i].column == col && strstr(errs[i].msg, needle))
            found = 1;
    }
    if (!found)
        dump_errs(errs, n);
    cr_assert(found, "no error at %d:%d containing '%s' in:\n%.400s", line, col, needle, yaml);
    free(errs);
    return n;
}

static size_t
expect_err(const char *yaml, int line, int col, const char *needle)
{
    return expect_err_len(yaml, strlen(yaml), line, col, needle);
}

/* Replaces the first occurrence of from in src with to; returns new. */
static char *
replace(const char *src, const char *from, const char *to)
{
    const char *at = strstr(src, from);
    cr_assert_not_null(at, "'%s' not in the text", from);
    size_t n = strlen(src) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    cr_assert_not_null(out);
    size_t pre = (size_t)(at - src);
    memcpy(out, src, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    return out;
}

Test(rules, example_parses_with_its_values)
{
    size_t len;
    char *src = read_example(&len);
    struct gm_rules *r = parse_ok(src, len);

    cr_assert_eq(r->version, 1);
    cr_assert_str_eq(r->timezone, "America/Sao_Paulo");
    static const int64_t th[] = {0, 60, 150, 300, 500, 800, 1200, 1700, 2300, 3000};
    cr_assert_eq(r->n_levels, 10);
    for (size_t i = 0; i < 10; i++)
        cr_assert_eq(r->thresholds[i], th[i], "thresholds[%zu]", i);
    cr_assert_eq(r->level_up_coins, 20);

    cr_assert_eq(r->lesson.base.exp, 15);
    cr_assert_eq(r->lesson.base.coins, 3);
    cr_assert_eq(r->lesson.n_bonuses, 4);
    static const char *const when[] = {"lessons_completed == 0", "score == 100",
                                       "score >= 80 and duration_s <= 600", "current_streak >= 3"};
    static const int64_t bexp[] = {0, 5, 0, 0}, bpct[] = {0, 0, 20, 40}, bcoins[] = {10, 2, 0, 0};
    for (size_t i = 0; i < 4; i++) {
        const struct gm_bonus *b = &r->lesson.bonuses[i];
        cr_assert_str_eq(gm_expr_source(b->when), when[i]);
        cr_assert_eq(b->exp, bexp[i], "bonus %zu", i);
        cr_assert_eq(b->exp_percent, bpct[i], "bonus %zu", i);
        cr_assert_eq(b->coins, bcoins[i], "bonus %zu", i);
    }
    int64_t vars[GM_VAR_COUNT] = {0};
    vars[GM_VAR_SCORE] = 80;
    vars[GM_VAR_DURATION_S] = 600;
    cr_assert(gm_expr_eval(r->lesson.bonuses[0].when, vars), "a first exercise");
    cr_assert_not(gm_expr_eval(r->lesson.bonuses[1].when, vars));
    cr_assert(gm_expr_eval(r->lesson.bonuses[2].when, vars), "both bounds are inclusive");
    vars[GM_VAR_DURATION_S] = 601;
    cr_assert_not(gm_expr_eval(r->lesson.bonuses[2].when, vars));

    cr_assert_eq(r->tournament_win.exp, 40);
    cr_assert_eq(r->tournament_win.coins, 12);
    cr_assert_eq(r->tournament_draw.exp, 15);
    cr_assert_eq(r->tournament_draw.coins, 4);
    cr_assert_eq(r->tournament_loss.exp, 6);
    cr_assert_eq(r->tournament_loss.coins, 1);
    cr_assert_eq(r->n_tournament_bonuses, 2);
    cr_assert_str_eq(gm_expr_source(r->tournament_bonuses[0].when), "rank <= 3");
    cr_assert_eq(r->tournament_bonuses[0].coins, 8);
    cr_assert_str_eq(gm_expr_source(r->tournament_bonuses[1].when), "tournament_wins >= 2");
    cr_assert_eq(r->tournament_bonuses[1].exp_percent, 25);
    cr_assert_eq(r->exp_per_day, 80);

    cr_assert(r->streak_lessons);
    cr_assert(r->streak_tournaments);
    cr_assert_eq(r->n_milestones, 3);
    static const int64_t days[] = {3, 5, 30}, mcoins[] = {15, 40, 300};
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(r->milestones[i].days, days[i]);
        cr_assert_eq(r->milestones[i].coins, mcoins[i]);
    }

    cr_assert(r->period_all_time && r->period_weekly && r->period_monthly);
    cr_assert_eq(r->keep_weeks, 6);
    cr_assert_eq(r->keep_months, 3);

    static const char *const ids[] = {"all-rounder", "hello-world", "five-day-flow", "bug-hunter",
                                      "duelist",     "unbeaten",    "supporter"};
    cr_assert_eq(r->n_badges, 7);
    for (size_t i = 0; i < 7; i++)
        cr_assert_str_eq(r->badges[i].id, ids[i]);
    cr_assert_str_eq(r->badges[1].name, "Hello, World");
    cr_assert_str_eq(r->badges[5].icon, "https://static.codeschool.example/badges/unbeaten.svg");
    cr_assert_str_eq(gm_expr_source(r->badges[5].criteria),
                     "tournament_wins >= 2 and not tournament_losses");
    memset(vars, 0, sizeof vars);
    vars[GM_VAR_TOURNAMENT_WINS] = 2;
    cr_assert(gm_expr_eval(r->badges[5].criteria, vars));
    vars[GM_VAR_TOURNAMENT_LOSSES] = 1;
    cr_assert_not(gm_expr_eval(r->badges[5].criteria, vars), "a bare counter is 'not zero'");
    memset(vars, 0, sizeof vars);
    vars[GM_VAR_LESSON_COMPLETIONS] = 10;
    cr_assert(gm_expr_eval(r->badges[3].criteria, vars), "bug-hunter's second way");

    cr_assert_eq(r->n_rewards, 5);
    const struct gm_reward_def *w = &r->rewards[0];
    cr_assert_str_eq(w->id, "streak-shield");
    cr_assert_str_eq(w->name, "Streak Shield");
    cr_assert_eq(w->cost, 60);
    cr_assert_eq(w->type, GM_REWARD_STREAK_FREEZE);
    cr_assert_str_eq(w->type_name, "streak_freeze");
    cr_assert_eq(w->stock, -1);
    cr_assert_eq(w->per_user_limit, 2);
    cr_assert(w->active);
    w = &r->rewards[1];
    cr_assert_str_eq(w->id, "dark-theme");
    cr_assert_eq(w->cost, 40);
    cr_assert_eq(w->type, GM_REWARD_COSMETIC);
    cr_assert_eq(w->stock, -1);
    cr_assert_eq(w->per_user_limit, -1); /* absent: no limit */
    w = &r->rewards[2];
    cr_assert_str_eq(w->id, "sticker-pack");
    cr_assert_eq(w->type, GM_REWARD_PHYSICAL);
    cr_assert_eq(w->stock, 2);
    cr_assert_eq(w->per_user_limit, 1);
    cr_assert(w->active);
    w = &r->rewards[3];
    cr_assert_str_eq(w->name, "E-book: Pointers Without Fear");
    cr_assert_eq(w->type, GM_REWARD_DIGITAL);
    cr_assert_str_eq(w->type_name, "digital");
    cr_assert_eq(w->cost, 70);
    w = &r->rewards[4];
    cr_assert_str_eq(w->id, "hoodie");
    cr_assert_eq(w->cost, 800);
    cr_assert_eq(w->stock, 50);
    cr_assert_not(w->active);

    cr_assert_eq(gm_rules_find_reward(r, "sticker-pack"), &r->rewards[2]);
    cr_assert_null(gm_rules_find_reward(r, "sticker"));

    gm_rules_free(r);
    free(src);
}

Test(rules, example_formula_variant)
{
    size_t len;
    char *src = read_example(&len);
    char *a = replace(src, "  thresholds: [", "  # thresholds: [");
    char *b = replace(a, "  # formula: {", "  formula: {");
    struct gm_rules *r = parse_ok(b, strlen(b));
    cr_assert_eq(r->n_levels, 40);
    /* threshold(n+1) = threshold(n) + (threshold(n) - threshold(n-1)) * 140 / 100, as the
     * comment above the formula in the example says */
    static const int64_t want[] = {0, 60, 144, 261, 424, 652, 971};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(r->thresholds[i], want[i], "threshold %zu: %" PRId64, i, r->thresholds[i]);
    for (size_t i = 2; i < r->n_levels; i++) {
        int64_t step = (r->thresholds[i - 1] - r->thresholds[i - 2]) * 140 / 100;
        cr_assert_eq(r->thresholds[i], r->thresholds[i - 1] + step, "threshold %zu", i);
    }
    cr_assert_eq(r->level_up_coins, 20);
    gm_rules_free(r);
    free(b);
    free(a);
    free(src);
}

Test(rules, formula_cut_at_the_exp_bound)
{
    /* max_level 100, but threshold(74) would pass GM_RULES_MAX_EXP (10^15) */
    const char *src = "version: 1\nlevels:\n  formula: {base: 100, growth_percent: 150, "
                      "max_level: 100}\n" ACTS;
    struct gm_rules *r = parse_ok(src, strlen(src));
    cr_assert_eq(r->n_levels, 73);
    cr_assert_leq(r->thresholds[72], GM_RULES_MAX_EXP);
    cr_assert_gt(r->thresholds[72] + (r->thresholds[72] - r->thresholds[71]) * 150 / 100,
                 GM_RULES_MAX_EXP);
    static const int64_t want[] = {0, 100, 250, 475, 812, 1317, 2074};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(r->thresholds[i], want[i], "threshold %zu: %" PRId64, i, r->thresholds[i]);
    gm_rules_free(r);
}

/* The spec's formula has no lower bound on growth: below 100 the steps
 * shrink (rounded down) to 0, and the levels from there on share one
 * threshold, reached together. */
Test(rules, formula_with_shrinking_steps)
{
    const char *src = "version: 1\nlevels:\n  formula: {base: 10, growth_percent: 50, "
                      "max_level: 10}\n" ACTS;
    struct gm_rules *r = parse_ok(src, strlen(src));
    cr_assert_eq(r->n_levels, 10);
    /* 10 + 10*50/100 = 15; 15 + 5*50/100 = 17; 17 + 2*50/100 = 18; 18 + 0 */
    static const int64_t want[] = {0, 10, 15, 17, 18, 18, 18, 18, 18, 18};
    for (size_t i = 0; i < 10; i++)
        cr_assert_eq(r->thresholds[i], want[i], "threshold %zu: %" PRId64, i, r->thresholds[i]);
    cr_assert_eq(gm_rules_level_for(r, 17), 4);
    cr_assert_eq(gm_rules_level_for(r, 18), 10);
    gm_rules_free(r);
    src = "version: 1\nlevels:\n  formula: {base: 10, growth_percent: 0, max_level: 4}\n" ACTS;
    r = parse_ok(src, strlen(src));
    static const int64_t flat[] = {0, 10, 10, 10};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(r->thresholds[i], flat[i], "threshold %zu: %" PRId64, i, r->thresholds[i]);
    cr_assert_eq(gm_rules_level_for(r, 9), 1);
    cr_assert_eq(gm_rules_level_for(r, 10), 4);
    gm_rules_free(r);
}

Test(rules, level_for)
{
    size_t len;
    char *src = read_example(&len);
    struct gm_rules *r = parse_ok(src, len);
    cr_assert_eq(gm_rules_level_for(r, -5), 1);
    cr_assert_eq(gm_rules_level_for(r, 0), 1);
    cr_assert_eq(gm_rules_level_for(r, 59), 1);
    cr_assert_eq(gm_rules_level_for(r, 60), 2); /* exact at the threshold */
    cr_assert_eq(gm_rules_level_for(r, 149), 2);
    cr_assert_eq(gm_rules_level_for(r, 150), 3);
    cr_assert_eq(gm_rules_level_for(r, 2999), 9);
    cr_assert_eq(gm_rules_level_for(r, 3000), 10);
    cr_assert_eq(gm_rules_level_for(r, INT64_MAX), 10);
    for (int64_t exp = 0; exp < 4000; exp += 7) {
        int64_t want = 1;
        while (want < (int64_t)r->n_levels && r->thresholds[want] <= exp)
            want++;
        cr_assert_eq(gm_rules_level_for(r, exp), want, "exp %" PRId64, exp);
    }
    gm_rules_free(r);
    free(src);
}

Test(rules, defaults_and_sha256)
{
    const char *src = MIN;
    struct gm_rules *r = parse_ok(src, strlen(src));
    cr_assert_str_eq(r->timezone, "UTC");
    cr_assert_eq(r->n_levels, 2);
    cr_assert_eq(r->level_up_coins, 0);
    cr_assert_eq(r->lesson.n_bonuses, 0);
    cr_assert_null(r->lesson.bonuses);
    cr_assert_eq(r->tournament_win.coins, 0);
    cr_assert_eq(r->exp_per_day, 0);
    cr_assert(r->streak_lessons && r->streak_tournaments);
    cr_assert_eq(r->n_milestones, 0);
    cr_assert(r->period_all_time && r->period_weekly && r->period_monthly);
    cr_assert_eq(r->keep_weeks, 8);
    cr_assert_eq(r->keep_months, 12);
    cr_assert_eq(r->n_badges, 0);
    cr_assert_eq(r->n_rewards, 0);
    /* sha256sum of the same bytes */
    static const unsigned char want[32] = {0xf8, 0xda, 0xb8, 0x37, 0xf1, 0x8f, 0x63, 0x93,
                                           0x90, 0x45, 0x91, 0xfe, 0x13, 0xce, 0x6b, 0xca,
                                           0x7c, 0x41, 0x75, 0x3b, 0xed, 0xc1, 0xb1, 0x02,
                                           0x4d, 0xb3, 0x15, 0x28, 0x05, 0x3b, 0xb0, 0xba};
    cr_assert_eq(memcmp(r->sha256, want, 32), 0);
    gm_rules_free(r);
    gm_rules_free(NULL);
}

Test(rules, optional_sections)
{
    const char *src = MIN "timezone: Europe/Berlin\n"
                          "caps: {exp_per_day: 0}\n"
                          "streaks:\n  qualifying: [tournament_result]\n"
                          "leaderboards:\n  periods: [weekly]\n  keep_weeks: 0\n  keep_months: 3\n"
                          "rewards:\n"
                          "  - {id: 'gift.card:10_EUR', name: Gift, cost: 0, type: digital, "
                          "stock: 0, per_user_limit: 1, active: true}\n";
    struct gm_rules *r = parse_ok(src, strlen(src));
    cr_assert_str_eq(r->timezone, "Europe/Berlin");
    cr_assert_not(r->streak_lessons);
    cr_assert(r->streak_tournaments);
    cr_assert_not(r->period_all_time);
    cr_assert(r->period_weekly);
    cr_assert_not(r->period_monthly);
    cr_assert_eq(r->keep_weeks, 0);
    cr_assert_eq(r->keep_months, 3);
    cr_assert_eq(r->n_rewards, 1);
    cr_assert_str_eq(r->rewards[0].id, "gift.card:10_EUR");
    cr_assert_eq(r->rewards[0].type, GM_REWARD_DIGITAL);
    cr_assert_eq(r->rewards[0].cost, 0);
    cr_assert_eq(r->rewards[0].stock, 0);
    cr_assert_eq(r->rewards[0].per_user_limit, 1);
    gm_rules_free(r);
}

Test(rules, tournament_bonuses_may_use_rank)
{
    const char *src =
        HEAD "activities:\n  lesson_completed: {exp: 20, coins: 5}\n"
             "  tournament_result:\n    win: {exp: 50}\n    draw: {exp: 20}\n"
             "    loss: {exp: 10}\n    bonuses:\n"
             "      - when: rank == 1\n        coins: 100\n"
             "      - {when: 'rank <= 3 and tournament_wins >= 10', exp_percent: 20}\n";
    struct gm_rules *r = parse_ok(src, strlen(src));
    cr_assert_eq(r->n_tournament_bonuses, 2);
    cr_assert_eq(r->tournament_bonuses[0].coins, 100);
    cr_assert_eq(r->tournament_bonuses[1].exp_percent, 20);
    int64_t vars[GM_VAR_COUNT] = {0};
    vars[GM_VAR_RANK] = 1;
    cr_assert(gm_expr_eval(r->tournament_bonuses[0].when, vars));
    vars[GM_VAR_RANK] = 2;
    cr_assert_not(gm_expr_eval(r->tournament_bonuses[0].when, vars));
    gm_rules_free(r);

    /* but score is a lesson's field */
    expect_err(HEAD "activities:\n  lesson_completed: {exp: 20}\n  tournament_result:\n"
                    "    win: {exp: 50}\n    draw: {exp: 20}\n    loss: {exp: 10}\n"
                    "    bonuses:\n      - when: score > 1\n",
               11, 15, "score (column 1) is an event field of lesson_completed");
    /* and rank a tournament's */
    expect_err(HEAD "activities:\n  lesson_completed:\n    bonuses:\n      - when: rank > 1\n"
                    "        exp: 5\n",
               7, 15, "rank (column 1) is an event field of tournament_result");
}

Test(rules, unknown_keys)
{
    expect_err(MIN "colour: blue\n", 10, 1, "unknown key 'colour'; expected one of: version,");
    expect_err(HEAD "activities:\n  lesson_completed: {exp: 20, coins: 5, xp: 3}\n"
                    "  tournament_result:\n    win: {exp: 50}\n    draw: {exp: 20}\n"
                    "    loss: {exp: 10}\n",
               5, 41, "activities.lesson_completed: unknown key 'xp'");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: level > 1\n    colour: red\n",
               14, 5, "badges[0]: unknown key 'colour'");
    expect_err(MIN "rewards:\n  - id: a\n    name: A\n    cost: 1\n    type: cosmetic\n"
                   "    price: 3\n",
               15, 5, "rewards[0]: unknown key 'price'");
    expect_err(MIN "version: 1\n", 10, 1, "key 'version' repeated (first at line 1)");
    expect_err(MIN "? [a, b]\n: 1\n", 10, 3, "keys must be strings, got a list");
}

Test(rules, wrong_types)
{
    expect_err("version: \"1\"\nlevels:\n  thresholds: [0, 100]\n" ACTS, 1, 10,
               "version: expected an integer, got the quoted string '1'");
    expect_err("version: 1\nlevels:\n  thresholds: 5\n" ACTS, 3, 15,
               "levels.thresholds: expected a list, got '5'");
    expect_err("version: 1\nlevels:\n  thresholds: [0, 1.5]\n" ACTS, 3, 19,
               "levels.thresholds[1]: expected an integer, got '1.5'");
    expect_err("version: 1\nlevels: [0, 100]\n" ACTS, 2, 9,
               "levels: expected a mapping, got a list");
    expect_err(MIN "caps: {exp_per_day: lots}\n", 10, 21, "expected an integer, got 'lots'");
    expect_err(MIN "caps: {exp_per_day: [1]}\n", 10, 21, "expected an integer, got a list");
    expect_err(MIN "rewards:\n  - {id: a, name: A, cost: 1, type: cosmetic, active: maybe}\n", 11,
               55, "rewards[0].active: expected true or false, got 'maybe'");
    expect_err(MIN "rewards:\n  - {id: a, name: A, cost: 1, type: cosmetic, active: 'true'}\n", 11,
               55, "expected true or false");
    expect_err(MIN "badges:\n  - id: a\n    name: [A]\n    criteria: level > 1\n", 12, 11,
               "badges[0].name: expected a string, got a list");
    expect_err(MIN "badges: {id: a}\n", 10, 9, "badges: expected a list, got a mapping");
    expect_err(MIN "badges:\n  - first-steps\n", 11, 5,
               "badges[0]: expected a mapping with id, name, icon, criteria");
    expect_err(MIN "streaks:\n  milestones:\n    - 7\n", 12, 7,
               "streaks.milestones[0]: expected a mapping");
    expect_err(HEAD "activities:\n  lesson_completed:\n    bonuses: {when: score > 1}\n", 6, 14,
               "bonuses: expected a list, got a mapping");
    expect_err(MIN "badges:\n  - id: a\n    name: \"A\\0B\"\n    criteria: level > 1\n", 12, 11,
               "must not contain NUL characters");
    expect_err(MIN "version: !!int 1\n", 10, 10,
               "YAML tags (tag:yaml.org,2002:int) are not allowed");
}

Test(rules, values_validated)
{
    expect_err(MIN "rewards:\n  - id: r1\n    name: R\n    cost: -5\n    type: cosmetic\n", 13, 11,
               "rewards[0].cost: must not be negative, got -5");
    expect_err(MIN "rewards:\n  - {id: r1, name: R, cost: 1, type: coupon}\n", 11, 38,
               "unknown reward type 'coupon'; expected one of: streak_freeze, cosmetic,");
    expect_err(MIN "rewards:\n  - {id: r1, name: R, cost: 1, type: digital, stock: -1}\n", 11, 54,
               "stock: must not be negative");
    expect_err(MIN "rewards:\n  - {id: r1, name: R, cost: 99999999999, type: digital}\n", 11, 29,
               "cost: must be between 0 and 1000000000, got 99999999999");
    expect_err(MIN "rewards:\n  - {id: r1, name: R, cost: 99999999999999999999, type: digital}\n",
               11, 29, "cost: must be between 0 and 1000000000, got 99999999999999999999");
    expect_err("version: 2\nlevels:\n  thresholds: [0, 100]\n" ACTS, 1, 10,
               "unsupported version 2; this gamify reads version 1");
    expect_err(MIN "timezone: Europe/Atlantis\n", 10, 11,
               "cannot load time zone 'Europe/Atlantis'");
    expect_err(MIN "timezone: Mars/Olympus_Mons\n", 10, 11,
               "'Mars/Olympus_Mons' is not an IANA time zone name");
    expect_err(MIN "timezone: ../../etc/passwd\n", 10, 11, "is not an IANA time zone name");
    /* installed files that are not IANA names, and POSIX TZ strings */
    expect_err(MIN "timezone: EST5EDT\n", 10, 11, "'EST5EDT' is not an IANA time zone name");
    expect_err(MIN "timezone: US/Eastern\n", 10, 11, "is not an IANA time zone name");
    expect_err(MIN "timezone: posix/Europe/Berlin\n", 10, 11, "is not an IANA time zone name");
    expect_err(MIN "timezone: UTC+3\n", 10, 11, "is not an IANA time zone name");
    expect_err(MIN "timezone: Europe/Berlin x\n", 10, 11, "is not an IANA time zone name");
    expect_err(MIN "timezone: [UTC]\n", 10, 11, "timezone: expected a string, got a list");
    expect_err(MIN "streaks:\n  milestones:\n    - {days: 0, coins: 5}\n", 12, 14,
               "streaks.milestones[0].days: must be between 1 and");
    expect_err(MIN
               "streaks:\n  milestones:\n    - {days: 7, coins: 5}\n    - {days: 7, coins: 9}\n",
               13, 14, "a milestone for 7 days is listed twice");
    expect_err(MIN "streaks:\n  qualifying: [lesson_completed, lessons]\n", 11, 34,
               "unknown entry 'lessons'; expected one of: lesson_completed, tournament_result");
    expect_err(MIN "streaks:\n  qualifying: [tournament_result, tournament_result]\n", 11, 35,
               "'tournament_result' listed twice");
    expect_err(MIN "leaderboards:\n  periods: [all_time, daily]\n", 11, 23,
               "unknown entry 'daily'; expected one of: all_time, weekly, monthly");
    expect_err(MIN "leaderboards:\n  keep_weeks: -1\n", 11, 15, "keep_weeks: must not be negative");
    expect_err(MIN "leaderboards:\n  keep_months: -3\n", 11, 16,
               "keep_months: must not be negative");
    expect_err(HEAD "activities:\n  lesson_completed:\n    bonuses:\n      - when: score > 1\n"
                    "        exp_percent: 10001\n",
               8, 22, "exp_percent: must be between 0 and 10000");
    expect_err(HEAD "activities:\n  lesson_completed:\n    bonuses:\n      - exp: 5\n", 7, 9,
               "bonuses[0]: missing key 'when'");
    expect_err(MIN "levels: {level_up_coins: -50}\n", 10, 1, "key 'levels' repeated");
}

Test(rules, ids)
{
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: badges >= 1\n"
                   "  - id: a\n    name: B\n    criteria: level > 1\n",
               14, 9, "badges[1]: badge id 'a' is already used by badges[0]");
    expect_err(MIN "rewards:\n  - {id: r, name: A, cost: 1, type: cosmetic}\n"
                   "  - {id: r, name: B, cost: 2, type: cosmetic}\n",
               12, 10, "rewards[1]: reward id 'r' is already used by rewards[0]");
    /* a badge and a reward may share an id */
    const char *ok = MIN "badges:\n  - {id: x, name: X, criteria: level > 1}\n"
                         "rewards:\n  - {id: x, name: X, cost: 1, type: cosmetic}\n";
    gm_rules_free(parse_ok(ok, strlen(ok)));
    expect_err(MIN "badges:\n  - {id: a b, name: X, criteria: level > 1}\n", 11, 10,
               "'a b' is not a valid id: 1 to 128 characters");
    expect_err(MIN "badges:\n  - {id: 'a/b', name: X, criteria: level > 1}\n", 11, 10,
               "is not a valid id");
    expect_err(MIN "badges:\n  - {id: '', name: X, criteria: level > 1}\n", 11, 10,
               "is not a valid id");
    expect_err(MIN "badges:\n  - {name: X, criteria: level > 1}\n", 11, 5,
               "badges[0]: missing key 'id'");
    char long_id[400];
    snprintf(long_id, sizeof long_id, MIN "badges:\n  - {id: %0129d, name: X, criteria: level}\n",
             0);
    expect_err(long_id, 11, 10, "is not a valid id");
    snprintf(long_id, sizeof long_id, MIN "badges:\n  - {id: %0128d, name: X, criteria: level}\n",
             0);
    gm_rules_free(parse_ok(long_id, strlen(long_id)));
}

Test(rules, expression_errors_point_into_the_file)
{
    /* plain scalar: the column of the token in the line */
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: level >= >= 1\n", 13, 24,
               "badges[0].criteria: unexpected '>=' at column 10");
    /* quoted: one more for the quote */
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: \"level >= >= 1\"\n", 13, 25,
               "unexpected '>='");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: 'level >= >= 1'\n", 13, 25,
               "unexpected '>='");
    /* in a flow mapping */
    expect_err(MIN "badges:\n  - {id: a, name: A, criteria: level >= 1 and (badges > 2}\n", 11, 58,
               "'(' at column 16 is not closed");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: lesons_completed >= 1\n", 13, 15,
               "unknown name 'lesons_completed' at column 1 (did you mean 'lessons_completed'?)");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: level > 1 and score >= 90\n", 13,
               29, "score (column 15) is an event field of lesson_completed, not allowed here");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: ''\n", 13, 16,
               "empty expression");
    /* a block scalar: reported at its start, the message gives the column */
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: >\n      level >= >= 1\n", 13,
               15, "unexpected '>=' at column 10");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria: [level]\n", 13, 15,
               "criteria: expected a string, got a list");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n", 11, 5, "badges[0]: missing key 'criteria'");
    expect_err(MIN "badges:\n  - id: a\n    name: A\n    criteria:\n", 13, 5,
               "missing key 'criteria'");
}

Test(rules, levels)
{
    expect_err("version: 1\nlevels:\n  thresholds: [0, 100, 100]\n" ACTS, 3, 24,
               "levels.thresholds[2]: thresholds must be strictly increasing: 100 after 100");
    expect_err("version: 1\nlevels:\n  thresholds: [0, 100, 50]\n" ACTS, 3, 24,
               "strictly increasing: 50 after 100");
    expect_err("version: 1\nlevels:\n  thresholds: [5, 100]\n" ACTS, 3, 16,
               "levels.thresholds[0]: the first threshold (level 1) must be 0, got 5");
    expect_err("version: 1\nlevels:\n  thresholds: []\n" ACTS, 3, 15, "at least the first level");
    expect_err("version: 1\nlevels:\n  thresholds: [0, 1000000000000001]\n" ACTS, 3, 19,
               "must be between 0 and 1000000000000000");
    expect_err("version: 1\nlevels:\n  thresholds: [0, 100]\n"
               "  formula: {base: 100, growth_percent: 150, max_level: 10}\n" ACTS,
               4, 12, "give either 'thresholds' or 'formula', not both (thresholds at line 3)");
    expect_err("version: 1\nlevels:\n  level_up_coins: 5\n" ACTS, 3, 3,
               "levels: missing key 'thresholds' or 'formula'");
    expect_err(
        "version: 1\nlevels:\n  formula: {base: 0, growth_percent: 150, max_level: 10}\n" ACTS, 3,
        19, "levels.formula.base: must be between 1 and");
    expect_err(
        "version: 1\nlevels:\n  formula: {base: 10, growth_percent: -1, max_level: 10}\n" ACTS, 3,
        39, "growth_percent: must not be negative, got -1");
    expect_err(
        "version: 1\nlevels:\n  formula: {base: 10, growth_percent: 100, max_level: 1}\n" ACTS, 3,
        55, "max_level: must be between 2 and 10000");
    expect_err(
        "version: 1\nlevels:\n  formula: {base: 10, growth_percent: 100, max_level: 10001}\n" ACTS,
        3, 55, "max_level: must be between 2 and 10000");
    expect_err("version: 1\nlevels:\n  formula: {base: 10, growth_percent: 100}\n" ACTS, 3, 12,
               "levels.formula: missing key 'max_level'");
    /* levels past GM_RULES_MAX_EXP are left out: the cap comes earlier */
    const char *steep = "version: 1\nlevels:\n  formula: {base: 1000, growth_percent: 200, "
                        "max_level: 100}\n" ACTS;
    struct gm_rules *r = parse_ok(steep, strlen(steep));
    /* threshold(n) = 1000 * (2^(n-1) - 1); 2^40 * 1000 > 10^15 > 2^39 * 1000 */
    cr_assert_eq(r->n_levels, 40);
    cr_assert_eq(r->thresholds[39], 1000 * ((1LL << 39) - 1));
    gm_rules_free(r);
    /* the steepest growth allowed: t3 = 1 + 10^7, t4 = t3 + 10^14, t5 past 10^15 */
    const char *huge = "version: 1\nlevels:\n  formula: {base: 1, growth_percent: "
                       "1000000000, max_level: 100}\n" ACTS;
    r = parse_ok(huge, strlen(huge));
    cr_assert_eq(r->n_levels, 4);
    cr_assert_eq(r->thresholds[2], 10000001);
    cr_assert_eq(r->thresholds[3], 10000001 + 100000000000000LL);
    gm_rules_free(r);
    expect_err("version: 1\nlevels:\n  formula: 5\n" ACTS, 3, 12,
               "levels.formula: expected a mapping");
    /* growth 100: linear */
    const char *lin = "version: 1\nlevels:\n  formula: {base: 10, growth_percent: 100, max_level: "
                      "10000}\n" ACTS;
    r = parse_ok(lin, strlen(lin));
    cr_assert_eq(r->n_levels, 10000);
    cr_assert_eq(r->thresholds[9999], 99990);
    cr_assert_eq(gm_rules_level_for(r, 99989), 9999);
    cr_assert_eq(gm_rules_level_for(r, 99990), 10000);
    gm_rules_free(r);
}

Test(rules, required_sections)
{
    expect_err("levels:\n  thresholds: [0, 100]\n" ACTS, 1, 1, "missing key 'version'");
    expect_err(HEAD, 1, 1, "missing key 'activities'");
    /* a key with no value is missing too, reported at the key */
    expect_err("version:\nlevels:\n  thresholds: [0, 100]\n" ACTS, 1, 1, "missing key 'version'");
    expect_err(HEAD "activities:\n  lesson_completed: {exp: 1}\n  tournament_result:\n"
                    "    win: {exp: 1}\n    draw: ~\n    loss: {exp: 1}\n",
               8, 5, "activities.tournament_result: missing key 'draw'");
    expect_err("version: 1\n" ACTS, 1, 1, "missing key 'levels'");
    expect_err(HEAD "activities:\n  lesson_completed: {exp: 1}\n", 5, 3,
               "activities: missing key 'tournament_result'");
    expect_err(HEAD "activities:\n  lesson_completed: {exp: 1}\n  tournament_result:\n"
                    "    win: {exp: 1}\n    loss: {exp: 1}\n",
               7, 5, "activities.tournament_result: missing key 'draw'");
}

Test(rules, anchors_and_aliases)
{
    expect_err(HEAD "activities:\n  lesson_completed: {exp: 20, coins: 5}\n  tournament_result:\n"
                    "    win: {exp: 50}\n    draw: &d {exp: 20}\n    loss: *d\n",
               8, 11, "YAML anchors (&d) are not allowed");
    size_t n = expect_err(HEAD "activities:\n  lesson_completed: {exp: 20, coins: 5}\n"
                               "  tournament_result:\n    win: {exp: 50}\n    draw: &d {exp: 20}\n"
                               "    loss: *d\n",
                          9, 11, "YAML aliases (*d) are not allowed");
    cr_assert_eq(n, 2, "the alias is not reported again as a missing value");
    /* billion laughs: rejected, quickly, without expansion */
    const char *lol = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                      "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                      "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                      "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    expect_err(lol, 9, 8, "YAML aliases (*h) are not allowed");
}

Test(rules, not_a_rules_document)
{
    expect_err("- a\n- b\n", 1, 1, "the rules file must be a mapping with version, levels");
    expect_err("just a string\n", 1, 1, "must be a mapping");
    expect_err("", 1, 1, "the rules file is empty");
    expect_err("# only a comment\n\n", 1, 1, "the rules file is empty");
    expect_err("---\n...\n", 1, 1, "the rules file is empty");
    expect_err("~\n", 1, 1, "the rules file is empty");
    expect_err(MIN "---\nversion: 1\n", 10, 1, "only one YAML document is allowed");
}

Test(rules, syntax_errors)
{
    expect_err("version: 1\n  bad: 2\n", 2, 6, "YAML syntax error: mapping values are not allowed");
    expect_err("version: 1\nlevels: {thresholds: [0, 100]\n", 3, 1, "YAML syntax error");
    expect_err("version: \"1\n", 2, 1, "YAML syntax error: found unexpected end of stream");
    expect_err("version:\t1\n\tlevels: 2\n", 2, 1, "YAML syntax error");
}

Test(rules, binary_garbage)
{
    static const char bin[] = {'v', 'e', 'r', 0x00, 0x01, (char)0xff, (char)0xfe, 0x7f, 'x'};
    expect_err_len(bin, sizeof bin, 1, 4,
                   "not a valid YAML text: control characters are not allowed");
    static const char bad_utf8[] = "version: 1\nname: \xc3\x28\n";
    expect_err_len(bad_utf8, sizeof bad_utf8 - 1, 2, 8, "not a valid YAML text: invalid trailing");
    /* deterministic pseudo-random bytes: rejected, never a crash */
    unsigned x = 12345;
    char buf[4096];
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (char)(x >> 16);
        }
        struct gm_rules *r = NULL;
        struct gm_err *errs = NULL;
        size_t n = 0;
        cr_assert_eq(gm_rules_parse(buf, sizeof buf, &r, &errs, &n), GM_EINVAL);
        cr_assert_gt(n, 0);
        free(errs);
    }
}

Test(rules, bounds)
{
    /* too large */
    size_t big = GM_RULES_MAX_BYTES + 1;
    char *buf = malloc(big);
    cr_assert_not_null(buf);
    memset(buf, '#', big);
    expect_err_len(buf, big, 1, 1, "larger than the limit of 1048576 bytes");
    /* exactly at the bound is read */
    expect_err_len(buf, big - 1, 1, 1, "the rules file is empty");
    free(buf);

    /* nesting */
    char deep[200] = "x: ";
    for (int i = 0; i < 40; i++)
        strcat(deep, "[");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]");
    expect_err(deep, 1, 35, "YAML nesting deeper than 32");

    /* too many badges */
    size_t cap = 64 * 1024;
    char *many = malloc(cap);
    cr_assert_not_null(many);
    size_t n = (size_t)snprintf(many, cap, "%sbadges:\n", MIN);
    for (int i = 0; i <= GM_RULES_MAX_ITEMS; i++)
        n += (size_t)snprintf(many + n, cap - n, "  - {id: b%d, name: B, criteria: level}\n", i);
    expect_err(many, 11, 3, "badges: more than 1000 entries");

    /* too many errors: stops at the bound */
    n = (size_t)snprintf(many, cap, "%s", MIN);
    for (int i = 0; i < 1500; i++)
        n += (size_t)snprintf(many + n, cap - n, "k%d: 1\n", i);
    struct gm_rules *r = NULL;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    cr_assert_eq(gm_rules_parse(many, n, &r, &errs, &n_errs), GM_EINVAL);
    cr_assert_eq(n_errs, GM_RULES_MAX_ERRORS + 1);
    cr_assert_not_null(strstr(errs[GM_RULES_MAX_ERRORS].msg, "too many errors"));
    free(errs);

    /* a huge flow list is refused as a whole, not parsed item by item */
    n = (size_t)snprintf(many, cap, "x: [");
    for (int i = 0; i < 10001; i++)
        n += (size_t)snprintf(many + n, cap - n, "1,");
    n += (size_t)snprintf(many + n, cap - n, "1]\n");
    expect_err(many, 1, 20005, "more than 10000 entries in one collection");
    free(many);
}

Test(rules, every_error_is_collected)
{
    const char *src = "version: 3\n"
                      "levels:\n  thresholds: [0, 100, 90]\n"
                      "activities:\n  lesson_completed: {exp: -1, coins: 5}\n"
                      "  tournament_result:\n    win: {exp: 50}\n    draw: {exp: 20}\n"
                      "    loss: {exp: 10}\n"
                      "badges:\n  - {id: b, name: B, criteria: level >}\n"
                      "  - {id: b, name: C, criteria: score}\n";
    struct gm_rules *r = NULL;
    struct gm_err *errs = NULL;
    size_t n = 0;
    cr_assert_eq(gm_rules_parse(src, strlen(src), &r, &errs, &n), GM_EINVAL);
    static const struct {
        int line, col;
        const char *needle;
    } want[] = {
        {1, 10, "unsupported version 3"},         {3, 24, "strictly increasing"},
        {5, 27, "exp: must not be negative"},     {11, 39, "expression ends early at column 8"},
        {12, 10, "badge id 'b' is already used"}, {12, 32, "score (column 1) is an event field"},
    };
    if (n != 6)
        dump_errs(errs, n);
    cr_assert_eq(n, 6);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(errs[i].line, want[i].line, "error %zu: %s", i, errs[i].msg);
        cr_assert_eq(errs[i].column, want[i].col, "error %zu: %s", i, errs[i].msg);
        cr_assert_not_null(strstr(errs[i].msg, want[i].needle), "error %zu: %s", i, errs[i].msg);
    }
    free(errs);
    /* file order, though the unknown key is found before the version is checked */
    const char *late = "version: 2\nlevels:\n  thresholds: [0, 100]\n" ACTS "colour: blue\n";
    cr_assert_eq(gm_rules_parse(late, strlen(late), &r, &errs, &n), GM_EINVAL);
    cr_assert_eq(n, 2);
    cr_assert_eq(errs[0].line, 1);
    cr_assert_not_null(strstr(errs[0].msg, "unsupported version 2"));
    cr_assert_eq(errs[1].line, 10);
    cr_assert_not_null(strstr(errs[1].msg, "unknown key 'colour'"));
    free(errs);
    /* errs may be NULL when only the verdict is wanted */
    cr_assert_eq(gm_rules_parse(src, strlen(src), &r, NULL, NULL), GM_EINVAL);
    cr_assert_null(r);
}

Test(rules, mutated_example_never_crashes)
{
    size_t len;
    char *src = read_example(&len);
    char *buf = malloc(len + 1);
    cr_assert_not_null(buf);
    static const char subst[] = {':', '[', '{', '-', '&', '*', '\0', '"', ' ', '\n', '#', 'x'};
    size_t ok = 0, bad = 0;
    for (size_t cut = 0; cut <= len; cut += 3) {
        for (size_t s = 0; s <= sizeof subst; s++) {
            memcpy(buf, src, len);
            size_t n = len;
            if (s == sizeof subst)
                n = cut; /* truncated */
            else if (cut < len && (cut % 11 == s))
                buf[cut] = subst[s];
            else
                continue;
            struct gm_rules *r = NULL;
            struct gm_err *errs = NULL;
            size_t n_errs = 0;
            int rc = gm_rules_parse(buf, n, &r, &errs, &n_errs);
            if (rc == 0) {
                cr_assert_geq(r->n_levels, 1);
                cr_assert_eq(r->thresholds[0], 0);
                ok++;
            } else {
                cr_assert_eq(rc, GM_EINVAL);
                cr_assert_gt(n_errs, 0);
                for (size_t i = 0; i < n_errs; i++)
                    cr_assert(errs[i].line >= 1 && errs[i].column >= 1 && errs[i].msg[0]);
                bad++;
            }
            gm_rules_free(r);
            free(errs);
        }
    }
    cr_assert_gt(ok, 0);
    cr_assert_gt(bad, 0);
    free(buf);
    free(src);
}

Test(rules, load)
{
    struct gm_rules *r = (struct gm_rules *)1;
    struct gm_err *errs = (struct gm_err *)1;
    size_t n = 5;
    cr_assert_eq(gm_rules_load("/nonexistent/rules.yaml", &r, &errs, &n), -ENOENT);
    cr_assert_null(r);
    cr_assert_null(errs);
    cr_assert_eq(n, 0);

    char path[1024];
    snprintf(path, sizeof path, "%s/rules.yaml", getenv("GAMIFY_EXAMPLES"));
    cr_assert_eq(gm_rules_load(path, &r, &errs, &n), 0);
    cr_assert_eq(r->n_badges, 7);
    gm_rules_free(r);
}

Test(rules, reward_type_names)
{
    static const char *const names[] = {"streak_freeze", "cosmetic", "physical", "digital"};
    for (int t = 0; t < 4; t++) {
        enum gm_reward_type back;
        cr_assert_str_eq(gm_reward_type_name((enum gm_reward_type)t), names[t]);
        cr_assert_eq(gm_reward_type_from_name(names[t], &back), 0);
        cr_assert_eq((int)back, t);
    }
    enum gm_reward_type back;
    cr_assert_eq(gm_reward_type_from_name("Cosmetic", &back), GM_ENOTFOUND);
}

/* Every amount is at most 10^9, refused at its line and column past it. */
Test(rules, amount_limits)
{
    static const struct {
        const char *src;
        int line, col;
        const char *needle;
    } over[] = {
        {MIN "caps: {exp_per_day: 1000000001}\n", 10, 21,
         "caps.exp_per_day: must be between 0 and 1000000000"},
        {"version: 1\nlevels:\n  formula: {base: 1000000001, growth_percent: 150, max_level: "
         "10}\n" ACTS,
         3, 19, "levels.formula.base: must be between 1 and 1000000000"},
        {"version: 1\nlevels:\n  formula: {base: 10, growth_percent: 1000000001, max_level: "
         "10}\n" ACTS,
         3, 39, "levels.formula.growth_percent: must be between 0 and 1000000000"},
        {"version: 1\nlevels:\n  formula: {base: 10, growth_percent: 9223372036854775807, "
         "max_level: 10}\n" ACTS,
         3, 39, "growth_percent: must be between 0 and 1000000000"},
        {HEAD "activities:\n  lesson_completed: {exp: 1000000001, coins: 5}\n  "
              "tournament_result:\n    win: {exp: 50}\n    draw: {exp: 20}\n    loss: {exp: 10}\n",
         5, 27, "exp: must be between 0 and 1000000000"},
        {MIN "rewards:\n  - {id: a, name: A, cost: 1000000001, type: cosmetic}\n", 11, 28,
         "cost: must be between 0 and 1000000000"},
    };
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++)
        expect_err(over[i].src, over[i].line, over[i].col, over[i].needle);
    /* exactly at the bound: accepted */
    const char *edge = "version: 1\nlevels:\n  formula: {base: 1000000000, growth_percent: "
                       "1000000000, max_level: 10}\n" ACTS "caps: {exp_per_day: 1000000000}\n";
    struct gm_rules *r = parse_ok(edge, strlen(edge));
    cr_assert_eq(r->exp_per_day, 1000000000);
    cr_assert_eq(r->thresholds[1], 1000000000);
    gm_rules_free(r);
}
