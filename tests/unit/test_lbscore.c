/*
 * test_lbscore.c: the leaderboard score encoding (common/lbscore.h): order
 * by score then earlier reach, exactness in a double at the bounds, clamping
 * outside them, decoding of Redis's score text, and the period origins.
 */
#include "lbscore.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#define T_2026_11_02 INT64_C(1793577600) /* 2026-11-02T00:00:00Z, a Monday of 2026-W45 */
#define EXACT_MAX    ((INT64_C(1) << 53) - 1)

/* Whether the encoding survives the trip through a double and Redis's text. */
static void
assert_round_trip(int64_t enc)
{
    double d = (double)enc;
    cr_assert_eq((int64_t)d, enc, "%lld is not exact in a double", (long long)enc);
    char text[64];
    snprintf(text, sizeof text, "%.17g", d); /* what Redis 7.0 replies */
    int64_t back, score;
    cr_assert_eq(gm_lbscore_parse(text, &back, &score), 0);
    cr_assert_eq(back, enc, "%s parsed to %lld", text, (long long)back);
    cr_assert_eq(score, gm_lbscore_score(enc));
}

Test(lbscore, higher_score_first_then_earlier_reach)
{
    const char *periods[] = {"all", "2026-W45", "2026-11"};
    for (size_t i = 0; i < 3; i++) {
        const char *p = periods[i];
        int64_t t = T_2026_11_02 + 3600;
        int64_t a = gm_lbscore_encode(20, t, p);
        int64_t b = gm_lbscore_encode(20, t + 60, p);  /* same score, a minute later */
        int64_t c = gm_lbscore_encode(21, t + 600, p); /* higher score, later */
        int64_t d = gm_lbscore_encode(19, t - 3600, p);
        cr_assert_gt(a, b, "%s: earlier reach must rank first", p);
        cr_assert_gt(c, a, "%s: higher score must rank first", p);
        cr_assert_gt(b, d, "%s: lower score must rank last", p);
        cr_assert_eq(gm_lbscore_score(a), 20);
        cr_assert_eq(gm_lbscore_score(b), 20);
        cr_assert_eq(gm_lbscore_score(c), 21);
        cr_assert_eq(gm_lbscore_score(d), 19);
        cr_assert_eq(gm_lbscore_reached(a, p), t, "%s", p);
    }
    /* weeks and months to the second, all-time to the minute */
    int64_t t = T_2026_11_02 + 3600;
    cr_assert_gt(gm_lbscore_encode(5, t, "2026-W45"), gm_lbscore_encode(5, t + 1, "2026-W45"));
    cr_assert_gt(gm_lbscore_encode(5, t, "2026-11"), gm_lbscore_encode(5, t + 1, "2026-11"));
    cr_assert_eq(gm_lbscore_encode(5, t, "all"), gm_lbscore_encode(5, t + 59, "all"));
    cr_assert_gt(gm_lbscore_encode(5, t, "all"), gm_lbscore_encode(5, t + 60, "all"));
}

Test(lbscore, documented_values)
{
    /* docs/operations.md: 2026-W45 starts Monday 2026-11-02, origin a day
     * before; 20 reached at 2026-11-02T10:00:00Z is tick 86400 + 36000 */
    int64_t tick = 86400 + 36000;
    cr_assert_eq(gm_lbscore_encode(20, T_2026_11_02 + 36000, "2026-W45"),
                 20 * GM_LBSCORE_TICKS + GM_LBSCORE_TICKS - 1 - tick);
    cr_assert_eq(gm_lbscore_encode(20, T_2026_11_02 + 36000, "2026-W45"), 352199135);
    /* 2026-11: origin 2026-10-31T00:00:00Z */
    cr_assert_eq(gm_lbscore_encode(1, T_2026_11_02, "2026-11"),
                 GM_LBSCORE_TICKS + GM_LBSCORE_TICKS - 1 - 2 * 86400);
    /* all: minutes since 2020-01-01 */
    cr_assert_eq(gm_lbscore_encode(0, GM_LBSCORE_ALL_EPOCH + 120, "all"), GM_LBSCORE_TICKS - 3);
    /* ISO week 1 of 2027 starts on Monday 2027-01-04; of 2026 on 2025-12-29 */
    cr_assert_eq(
        gm_lbscore_reached(gm_lbscore_encode(3, INT64_C(1799020800), "2027-W01"), "2027-W01"),
        INT64_C(1799020800));
    cr_assert_eq(gm_lbscore_encode(3, INT64_C(1799020800), "2027-W01"),
                 3 * GM_LBSCORE_TICKS + GM_LBSCORE_TICKS - 1 - 86400);
    cr_assert_eq(gm_lbscore_encode(3, INT64_C(1766966400), "2026-W01"),
                 3 * GM_LBSCORE_TICKS + GM_LBSCORE_TICKS - 1 - 86400);
}

Test(lbscore, bounds_are_exact)
{
    const char *p = "2026-W45";
    int64_t first = T_2026_11_02 - 86400; /* the origin: tick 0 */
    int64_t last = first + GM_LBSCORE_TICKS - 1;
    int64_t top = gm_lbscore_encode(GM_LBSCORE_MAX, first, p);
    int64_t bottom = gm_lbscore_encode(-GM_LBSCORE_MAX, last, p);
    cr_assert_eq(top, EXACT_MAX);
    cr_assert_eq(bottom, -(EXACT_MAX + 1) + GM_LBSCORE_TICKS);
    assert_round_trip(top);
    assert_round_trip(bottom);
    assert_round_trip(gm_lbscore_encode(GM_LBSCORE_MAX, last, p));
    assert_round_trip(gm_lbscore_encode(0, first, p));
    assert_round_trip(gm_lbscore_encode(-1, first, p));
    /* neighbours at the top stay apart after the trip through a double */
    cr_assert_gt((double)gm_lbscore_encode(GM_LBSCORE_MAX, first, p),
                 (double)gm_lbscore_encode(GM_LBSCORE_MAX, first + 1, p));
    cr_assert_gt((double)gm_lbscore_encode(GM_LBSCORE_MAX, last, p),
                 (double)gm_lbscore_encode(GM_LBSCORE_MAX - 1, first, p));
    cr_assert_eq(gm_lbscore_score(top), GM_LBSCORE_MAX);
    cr_assert_eq(gm_lbscore_score(bottom), -GM_LBSCORE_MAX);
    cr_assert_eq(gm_lbscore_reached(bottom, p), last);
    /* negative scores: floor division keeps score and tick apart */
    int64_t neg = gm_lbscore_encode(-1, first + 5, p);
    cr_assert_eq(gm_lbscore_score(neg), -1);
    cr_assert_eq(gm_lbscore_reached(neg, p), first + 5);
    cr_assert_gt(gm_lbscore_encode(0, last, p), neg);
    cr_assert_gt(neg, gm_lbscore_encode(-2, first, p));
}

Test(lbscore, outside_the_bounds_clamps)
{
    const char *p = "2026-W45";
    int64_t first = T_2026_11_02 - 86400, last = first + GM_LBSCORE_TICKS - 1;
    /* scores past the bound tie with it, never wrap */
    cr_assert_eq(gm_lbscore_encode(GM_LBSCORE_MAX + 1, first, p),
                 gm_lbscore_encode(GM_LBSCORE_MAX, first, p));
    cr_assert_eq(gm_lbscore_encode(INT64_MAX, first, p), EXACT_MAX);
    cr_assert_eq(gm_lbscore_encode(INT64_MIN, last, p), -(EXACT_MAX + 1) + GM_LBSCORE_TICKS);
    /* reaches before the origin tie with it, after the last tick with that */
    cr_assert_eq(gm_lbscore_encode(7, first - 1, p), gm_lbscore_encode(7, first, p));
    cr_assert_eq(gm_lbscore_encode(7, INT64_MIN, p), gm_lbscore_encode(7, first, p));
    cr_assert_eq(gm_lbscore_encode(7, last + 1, p), gm_lbscore_encode(7, last, p));
    cr_assert_eq(gm_lbscore_encode(7, INT64_MAX, p), gm_lbscore_encode(7, last, p));
    /* a clamped reach never passes a score: still below the next score */
    cr_assert_lt(gm_lbscore_encode(7, INT64_MIN, p), gm_lbscore_encode(8, INT64_MAX, p));
    /* all-time: 2^24 minutes from 2020-01-01 (to 2051-11-24) */
    int64_t all_last = GM_LBSCORE_ALL_EPOCH + (GM_LBSCORE_TICKS - 1) * 60;
    cr_assert_gt(gm_lbscore_encode(7, all_last - 60, "all"), gm_lbscore_encode(7, all_last, "all"));
    cr_assert_eq(gm_lbscore_encode(7, all_last + 3600, "all"),
                 gm_lbscore_encode(7, all_last, "all"));
    /* states before reach times: reach 0 is the earliest */
    cr_assert_eq(gm_lbscore_encode(7, 0, "all"), 8 * GM_LBSCORE_TICKS - 1);
    /* a malformed period name counts as all-time */
    cr_assert_eq(gm_lbscore_encode(7, 0, "2026-W99"), gm_lbscore_encode(7, 0, "all"));
}

Test(lbscore, parse_redis_text)
{
    int64_t enc, score;
    cr_assert_eq(gm_lbscore_parse("352199135", &enc, &score), 0);
    cr_assert_eq(enc, 352199135);
    cr_assert_eq(score, 20);
    cr_assert_eq(gm_lbscore_parse("3.52199135e+08", &enc, &score), 0);
    cr_assert_eq(enc, 352199135);
    cr_assert_eq(gm_lbscore_parse("-1", &enc, &score), 0);
    cr_assert_eq(score, -1);
    /* a hand-written plain score (not from the projector) decodes to 0 */
    cr_assert_eq(gm_lbscore_parse("5", &enc, &score), 0);
    cr_assert_eq(score, 0);
    cr_assert_eq(gm_lbscore_parse("1e300", &enc, &score), 0);
    cr_assert_eq(enc, EXACT_MAX);
    cr_assert_eq(gm_lbscore_parse("-inf", &enc, &score), 0);
    cr_assert_eq(enc, -EXACT_MAX);
    cr_assert_eq(gm_lbscore_parse("nan", &enc, &score), -1);
    cr_assert_eq(gm_lbscore_parse("12x", &enc, &score), -1);
    cr_assert_eq(gm_lbscore_parse("", &enc, &score), -1);
    cr_assert_eq(gm_lbscore_parse(NULL, &enc, &score), -1);
    cr_assert_eq(enc, 0);
    cr_assert_eq(score, 0);
    char buf[GM_LBSCORE_TEXT_MAX];
    cr_assert_str_eq(gm_lbscore_format(20, T_2026_11_02 + 36000, "2026-W45", buf), "352199135");
}

/* Integers of up to 15 digits skip strtod (parse_small_int): the same values as through it. */
Test(lbscore, integer_text_as_strtod_reads_it)
{
    const int64_t vals[] = {0,
                            1,
                            -1,
                            GM_LBSCORE_TICKS - 1,
                            -GM_LBSCORE_TICKS,
                            352199135,
                            -352199135,
                            999999999999999,
                            -999999999999999,
                            1000000000000000,
                            -1000000000000000,
                            EXACT_MAX,
                            -EXACT_MAX,
                            EXACT_MAX + 2,
                            INT64_C(12345678901234567)};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char plain[32], as_double[40];
        snprintf(plain, sizeof plain, "%lld", (long long)vals[i]);
        snprintf(as_double, sizeof as_double, "%lld.0", (long long)vals[i]);
        int64_t e1, s1, e2, s2;
        cr_assert_eq(gm_lbscore_parse(plain, &e1, &s1), 0, "%s", plain);
        cr_assert_eq(gm_lbscore_parse(as_double, &e2, &s2), 0, "%s", as_double);
        cr_assert_eq(e1, e2, "%s: %lld against %lld", plain, (long long)e1, (long long)e2);
        cr_assert_eq(s1, s2, "%s", plain);
    }
    int64_t enc, score;
    cr_assert_eq(gm_lbscore_parse("-", &enc, &score), -1);
    cr_assert_eq(gm_lbscore_parse("--1", &enc, &score), -1);
    cr_assert_eq(gm_lbscore_parse("12 ", &enc, &score), -1);
    cr_assert_eq(gm_lbscore_parse(" 12", &enc, &score), 0); /* strtod skips the space */
    cr_assert_eq(enc, 12);
}
