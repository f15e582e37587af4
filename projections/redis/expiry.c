/*
 * expiry.c: when a week's or a month's leaderboard key expires. The state
 * drops a finished period once the newest event is keep_weeks (keep_months)
 * periods past it; the key's TTL ends at the same boundary on the wall
 * clock, so a key outlives its period by exactly what the rules keep, and
 * the time is a function of the period key and the rules alone.
 */
#include "redis_int.h"

#include "fold.h"

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

/*
 * The local midnight that starts the period `after` periods after period
 * (weeks or months, by the key's kind). Returns 0 or GM_ENOTFOUND.
 */
int
gm__redis_period_bound(const char *period, const struct gm_rules *rules, int64_t weeks_after,
                       int64_t months_after, int64_t *at)
{
    bool weekly;
    int64_t idx, day;
    char canon[GM_PERIOD_KEY_MAX], padded[GM_PERIOD_KEY_MAX];
    if (!period || period[0] < '0' || period[0] > '9' || strlen(period) >= GM_PERIOD_KEY_MAX)
        return GM_ENOTFOUND;
    if (strlen(period) == 7 && period[5] == 'W') {
        /* a week of one digit ("2026-W5") is that week */
        memcpy(padded, period, 6);
        padded[6] = '0';
        memcpy(padded + 7, period + 6, 2);
        period = padded;
    }
    /* the fold's own reading of a period key (core/fold.h); only a key it
     * writes itself (its canonical name) has a bound */
    if (gm_fold_period_parse(period, strlen(period), &weekly, &idx))
        return GM_ENOTFOUND;
    gm_fold_period_name(weekly, idx, canon);
    if (strcmp(canon, period) != 0)
        return GM_ENOTFOUND;
    if (weekly) {
        /* week idx holds day idx * 7, a Thursday (as 1970-01-01 was) */
        day = (idx + weeks_after) * 7 - 3;
    } else {
        int64_t m = idx + months_after, y = floor_div(m, 12);
        day = gm_days_from_civil(1970 + y, (int)(m - y * 12) + 1, 1);
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
