/*
 * timefmt.c: RFC 3339 parsing and formatting with civil-date arithmetic
 * (the days-from-civil method: shift the year to start in March so the
 * leap day is last, then count 400-year eras of 146097 days).
 */
#include "timefmt.h"

#include "err.h"

#include <stdio.h>

int64_t
gm_days_from_civil(int64_t year, int month, int day)
{
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t yoe = year - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void
gm_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (m <= 2);
    *month = m;
    *day = d;
}

static int
digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int
gm_time_parse_rfc3339(const char *s, size_t len, int64_t *seconds, int32_t *nanos)
{
    int year, month, day, hour, min, sec;
    if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return GM_EINVAL;
    if (digits(s, 4, &year) || digits(s + 5, 2, &month) || digits(s + 8, 2, &day) ||
        digits(s + 11, 2, &hour) || digits(s + 14, 2, &min) || digits(s + 17, 2, &sec))
        return GM_EINVAL;
    if (year < 1 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || min > 59 || sec > 59)
        return GM_EINVAL;

    size_t i = 19;
    int32_t ns = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd == 9)
                return GM_EINVAL;
            ns = ns * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0)
            return GM_EINVAL;
        for (; nd < 9; nd++)
            ns *= 10;
    }
    if (i >= len)
        return GM_EINVAL;

    int64_t offset = 0;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int oh, om;
        if (len - i != 6 || s[i + 3] != ':' || digits(s + i + 1, 2, &oh) ||
            digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return GM_EINVAL;
        offset = (int64_t)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return GM_EINVAL;
    }
    if (i != len)
        return GM_EINVAL;

    *seconds = gm_days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
    *nanos = ns;
    return 0;
}

/* Writes v (0 <= v < 10^width) in width decimal digits, zero-padded, at *p. */
static void
put_digits(char **p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        (*p)[i] = (char)('0' + v % 10);
        v /= 10;
    }
    *p += width;
}

int
gm_time_format_rfc3339(int64_t seconds, int32_t nanos, char *buf)
{
    /* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
    if (seconds < -62135596800LL || seconds > 253402300799LL || nanos < 0 || nanos > 999999999)
        return GM_EINVAL;
    int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    int64_t rem = seconds - days * 86400;
    int64_t y;
    int m, d;
    gm_civil_from_days(days, &y, &m, &d);
    /* By hand, not snprintf: API responses format a time per badge. */
    char *p = buf;
    put_digits(&p, y, 4);
    *p++ = '-';
    put_digits(&p, m, 2);
    *p++ = '-';
    put_digits(&p, d, 2);
    *p++ = 'T';
    put_digits(&p, rem / 3600, 2);
    *p++ = ':';
    put_digits(&p, rem / 60 % 60, 2);
    *p++ = ':';
    put_digits(&p, rem % 60, 2);
    if (nanos != 0) {
        *p++ = '.';
        if (nanos % 1000000 == 0)
            put_digits(&p, nanos / 1000000, 3);
        else if (nanos % 1000 == 0)
            put_digits(&p, nanos / 1000, 6);
        else
            put_digits(&p, nanos, 9);
    }
    *p++ = 'Z';
    *p = 0;
    return 0;
}
