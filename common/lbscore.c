/*
 * lbscore.c: the leaderboard score encoding of lbscore.h (score and reach
 * time in one double-exact integer). Pure integer arithmetic on the
 * proleptic Gregorian calendar; no time zone database.
 */
#include "lbscore.h"
#include "fmt.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY           INT64_C(86400)
#define EXACT_MAX     ((INT64_C(1) << 53) - 1)
#define ALL_TICK_SECS 60

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a civil date (month 1-12). */
static int64_t
days_of(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                  /* 0..399 */
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* 0..146096 */
    return era * 146097 + doe - 719468;
}

static bool
num(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* The origin (Unix seconds) and tick length of period. */
static void
origin_of(const char *period, int64_t *origin, int64_t *unit)
{
    size_t len = strlen(period);
    int64_t y, n;
    *unit = 1;
    if (len == 8 && period[4] == '-' && period[5] == 'W' && num(period, 4, &y) &&
        num(period + 6, 2, &n) && n >= 1 && n <= 53) {
        int64_t jan4 = days_of(y, 1, 4);       /* always in ISO week 1 */
        int64_t wd = ((jan4 % 7) + 7 + 3) % 7; /* Monday 0; day 0 was a Thursday */
        *origin = (jan4 - wd + 7 * (n - 1) - 1) * DAY;
        return;
    }
    if (len == 7 && period[4] == '-' && num(period, 4, &y) && num(period + 5, 2, &n) && n >= 1 &&
        n <= 12) {
        *origin = (days_of(y, (int)n, 1) - 1) * DAY;
        return;
    }
    *origin = GM_LBSCORE_ALL_EPOCH;
    *unit = ALL_TICK_SECS;
}

int64_t
gm_lbscore_encode(int64_t score, int64_t reached_at, const char *period)
{
    int64_t origin, unit;
    origin_of(period, &origin, &unit);
    int64_t tick = 0;
    if (reached_at > origin) {
        /* unsigned: no overflow for any pair of int64 times */
        uint64_t ticks = ((uint64_t)reached_at - (uint64_t)origin) / (uint64_t)unit;
        tick = ticks >= (uint64_t)GM_LBSCORE_TICKS ? GM_LBSCORE_TICKS - 1 : (int64_t)ticks;
    }
    if (score > GM_LBSCORE_MAX)
        score = GM_LBSCORE_MAX;
    if (score < -GM_LBSCORE_MAX)
        score = -GM_LBSCORE_MAX;
    return score * GM_LBSCORE_TICKS + (GM_LBSCORE_TICKS - 1 - tick);
}

char *
gm_lbscore_format(int64_t score, int64_t reached_at, const char *period,
                  char buf[GM_LBSCORE_TEXT_MAX])
{
    /* by hand (common/fmt.h): snprintf was a tenth of the Redis projector's instructions */
    _Static_assert(GM_LBSCORE_TEXT_MAX >= GM_FMT_I64_MAX, "room for any int64");
    gm_fmt_i64(buf, gm_lbscore_encode(score, reached_at, period));
    return buf;
}

/*
 * Plain decimal integers of at most 15 digits (what Redis prints for an
 * integral score below 2^53, so nearly every score): exact without strtod,
 * the same value strtod and the floor give. Returns false for other text.
 */
static bool
parse_small_int(const char *text, int64_t *out)
{
    const char *p = text;
    bool neg = *p == '-';
    p += neg;
    int64_t v = 0;
    size_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++) {
        if (n == 15)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (n == 0 || *p)
        return false;
    *out = neg ? -v : v;
    return true;
}

int
gm_lbscore_parse(const char *text, int64_t *encoded, int64_t *score)
{
    int64_t e = 0;
    int rc = 0;
    if (text && parse_small_int(text, &e))
        goto out;
    char *end;
    double d = text ? strtod(text, &end) : 0;
    if (!text || end == text || *end != '\0' || d != d) {
        rc = -1;
    } else if (d >= (double)EXACT_MAX) {
        e = EXACT_MAX;
    } else if (d <= -(double)EXACT_MAX) {
        e = -EXACT_MAX;
    } else {
        e = (int64_t)d; /* toward zero; then down to the floor */
        if ((double)e > d)
            e--;
    }
out:
    if (encoded)
        *encoded = e;
    if (score)
        *score = gm_lbscore_score(e);
    return rc;
}

int64_t
gm_lbscore_score(int64_t encoded)
{
    return floor_div(encoded, GM_LBSCORE_TICKS);
}

int64_t
gm_lbscore_reached(int64_t encoded, const char *period)
{
    int64_t origin, unit;
    origin_of(period, &origin, &unit);
    int64_t tick = GM_LBSCORE_TICKS - 1 - (encoded - gm_lbscore_score(encoded) * GM_LBSCORE_TICKS);
    return origin + tick * unit;
}
