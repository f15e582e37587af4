/*
 * expiry.c: when a week's or a month's leaderboard key expires. The state
 * drops a finished period once the newest event is keep_weeks (keep_months)
 * periods past it; the key's TTL ends at the same boundary on the wall
 * clock, so a key outlives its period by exactly what the rules keep, and
 * the time is a function of the period key and the rules alone.
 */
#include "redis_int.h"

#include "timefmt.h"
#include "tz.h"

#include <stdio.h>
#include <string.h>

static int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* The instant of local midnight starting day in tz. */
static int64_t
local_midnight(const struct gm_tz *tz, int64_t day)
{
    int64_t t = day * 86400;
    int64_t guess = t - gm_tz_offset(tz, t);
    return t - gm_tz_offset(tz, guess);
}

/* digits of s[0..n) as a number; -1 when one is not a digit */
static int
digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/*
 * "YYYY-Www" (or "YYYY-Ww"): 'W' with *y and *n the week; "YYYY-MM": 'M'
 * with the month; anything else ("all"): 0. By hand, not sscanf: it ran
 * for every key of every batch.
 */
static int
parse_period(const char *p, int *y, int *n)
{
    size_t len = strlen(p);
    if (len < 7 || p[4] != '-' || (*y = digits(p, 4)) < 0)
        return 0;
    if (p[5] == 'W' && len <= 8)
        return (*n = digits(p + 6, len - 6)) < 0 ? 0 : 'W';
    if (len == 7)
        return (*n = digits(p + 5, 2)) < 0 ? 0 : 'M';
    return 0;
}

/*
 * The local midnight that starts the period `after` periods after period
 * (weeks or months, by the key's kind). Returns 0 or GM_ENOTFOUND.
 */
int
gm__redis_period_bound(const char *period, const struct gm_rules *rules, int64_t weeks_after,
                       int64_t months_after, int64_t *at)
{
    int y, n;
    int64_t day;
    if (!period || strlen(period) > 15)
        return GM_ENOTFOUND;
    if (parse_period(period, &y, &n) == 'W' && n >= 1 && n <= 53) {
        /* ISO week n of year y: its Monday, then weeks_after weeks on */
        int64_t jan4 = gm_days_from_civil(y, 1, 4);
        int64_t monday = floor_div(jan4 + 3, 7) * 7 - 3; /* of jan4's week */
        day = monday + (int64_t)(n - 1) * 7 + weeks_after * 7;
    } else if (parse_period(period, &y, &n) == 'M' && n >= 1 && n <= 12) {
        int64_t idx = (int64_t)y * 12 + (n - 1) + months_after;
        day = gm_days_from_civil(floor_div(idx, 12), (int)(idx - floor_div(idx, 12) * 12) + 1, 1);
    } else {
        return GM_ENOTFOUND;
    }
    const struct gm_tz *tz;
    if (gm_tz_get(rules && rules->timezone ? rules->timezone : "UTC", &tz, NULL))
        return GM_ENOTFOUND;
    *at = local_midnight(tz, day);
    return 0;
}

int
gm_redisproj_expiry(const char *period, const struct gm_rules *rules, int64_t *at)
{
    if (!rules)
        return GM_ENOTFOUND;
    return gm__redis_period_bound(period, rules, rules->keep_weeks + 1, rules->keep_months + 1, at);
}
