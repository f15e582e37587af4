/*
 * test_redis_expiry.c: when a leaderboard key expires (gm_redisproj_expiry):
 * at the start, in the rules' zone, of the period keep_weeks (keep_months)
 * after the one that follows it; DST and ISO week 53 included. No server.
 */
#include "redisproj.h"
#include "rules.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static struct gm_rules *
rules_with(const char *zone, int keep_weeks, int keep_months)
{
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "version: 1\n"
             "timezone: %s\n"
             "levels:\n  thresholds: [0, 30, 1000]\n  level_up_coins: 7\n"
             "activities:\n"
             "  lesson_completed: { exp: 20, coins: 5 }\n"
             "  tournament_result:\n"
             "    win: { exp: 50, coins: 20 }\n"
             "    draw: { exp: 20, coins: 5 }\n"
             "    loss: { exp: 10, coins: 0 }\n"
             "leaderboards:\n"
             "  periods: [all_time, weekly, monthly]\n"
             "  keep_weeks: %d\n"
             "  keep_months: %d\n",
             zone, keep_weeks, keep_months);
    struct gm_rules *r;
    cr_assert_eq(gm_rules_parse(yaml, strlen(yaml), &r, NULL, NULL), 0);
    return r;
}

Test(redis_expiry, weeks_and_months_in_the_rules_zone)
{
    struct gm_rules *r = rules_with("America/Sao_Paulo", 6, 3);
    int64_t at;
    /* 2026-W48 starts Monday 2026-11-23; six more weeks are kept after it,
     * so it goes at 2027-01-11T00:00-03:00 */
    cr_assert_eq(gm_redisproj_expiry("2026-W48", r, &at), 0);
    cr_assert_eq(at, 1799636400);
    /* 2026 has 53 ISO weeks: W53 starts 2026-12-28 */
    cr_assert_eq(gm_redisproj_expiry("2026-W53", r, &at), 0);
    cr_assert_eq(at, 1802660400);
    /* 2026-12 and three more months kept: gone 2027-04-01T00:00-03:00 */
    cr_assert_eq(gm_redisproj_expiry("2026-12", r, &at), 0);
    cr_assert_eq(at, 1806548400);
    gm_rules_free(r);
}

Test(redis_expiry, local_midnight_after_a_dst_change)
{
    struct gm_rules *r = rules_with("Europe/Berlin", 0, 0);
    int64_t at;
    /* 2026-W13 ends Monday 2026-03-30 00:00 CEST (summer time from the 29th) */
    cr_assert_eq(gm_redisproj_expiry("2026-W13", r, &at), 0);
    cr_assert_eq(at, 1774821600);
    gm_rules_free(r);
}

Test(redis_expiry, all_and_malformed_periods_have_none)
{
    struct gm_rules *r = rules_with("UTC", 1, 1);
    int64_t at = 7;
    const char *none[] = {"all",     "2026-13", "2026-W54", "2026-W0",
                          "2026-1x", "2026",    "",         "2026-11-01"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++)
        cr_assert_eq(gm_redisproj_expiry(none[i], r, &at), GM_ENOTFOUND, "%s", none[i]);
    cr_assert_eq(at, 7);
    /* UTC, one month kept: 2026-11 goes at 2027-01-01T00:00Z */
    cr_assert_eq(gm_redisproj_expiry("2026-11", r, &at), 0);
    cr_assert_eq(at, 1798761600);
    /* a week of one digit is that week; other forms are none */
    int64_t w5, w05;
    cr_assert_eq(gm_redisproj_expiry("2026-W5", r, &w5), 0);
    cr_assert_eq(gm_redisproj_expiry("2026-W05", r, &w05), 0);
    cr_assert_eq(w5, w05);
    const char *odd[] = {"x026-11", "2026-W5x", "2026-W005", "2026_11", "2026-+1", "-026-11"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
        cr_assert_eq(gm_redisproj_expiry(odd[i], r, &at), GM_ENOTFOUND, "%s", odd[i]);
    gm_rules_free(r);
}
