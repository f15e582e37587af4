/*
 * test_timefmt.c: RFC 3339 parsing and formatting.
 */
#include "err.h"
#include "timefmt.h"

#include <criterion/criterion.h>
#include <string.h>

static int
parse(const char *s, int64_t *sec, int32_t *ns)
{
    return gm_time_parse_rfc3339(s, strlen(s), sec, ns);
}

Test(timefmt, parses_utc_and_offsets)
{
    int64_t sec;
    int32_t ns;
    cr_assert_eq(parse("2026-11-25T10:00:00Z", &sec, &ns), 0);
    cr_assert_eq(sec, 1795600800);
    cr_assert_eq(ns, 0);
    cr_assert_eq(parse("2026-11-25T11:30:00+01:30", &sec, &ns), 0);
    cr_assert_eq(sec, 1795600800);
    cr_assert_eq(parse("2026-11-25T05:00:00-05:00", &sec, &ns), 0);
    cr_assert_eq(sec, 1795600800);
    cr_assert_eq(parse("1970-01-01t00:00:00.5z", &sec, &ns), 0);
    cr_assert_eq(sec, 0);
    cr_assert_eq(ns, 500000000);
    cr_assert_eq(parse("2024-02-29T23:59:59.123456789Z", &sec, &ns), 0);
    cr_assert_eq(ns, 123456789);
}

Test(timefmt, rejects_malformed)
{
    const char *bad[] = {
        "",
        "2026-11-25",
        "2026-11-25 10:00:00Z",
        "2026-11-25T10:00:00",
        "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-11-25T24:00:00Z",
        "2026-11-25T10:60:00Z",
        "2026-11-25T10:00:60Z",
        "2026-11-25T10:00:00.Z",
        "2026-11-25T10:00:00.1234567890Z",
        "2026-11-25T10:00:00+0100",
        "2026-11-25T10:00:00+01:00x",
        "2026-11-25T10:00:00Zjunk",
        "0000-01-01T00:00:00Z",
        "20x6-11-25T10:00:00Z",
        "2026-11-25T10:00:00+24:00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t sec;
        int32_t ns;
        cr_expect_eq(parse(bad[i], &sec, &ns), GM_EINVAL, "accepted \"%s\"", bad[i]);
    }
}

Test(timefmt, formats_with_minimal_fraction)
{
    char buf[GM_RFC3339_MAX];
    cr_assert_eq(gm_time_format_rfc3339(1795600800, 0, buf), 0);
    cr_assert_str_eq(buf, "2026-11-25T10:00:00Z");
    gm_time_format_rfc3339(0, 500000000, buf);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.500Z");
    gm_time_format_rfc3339(-1, 1000, buf);
    cr_assert_str_eq(buf, "1969-12-31T23:59:59.000001Z");
    gm_time_format_rfc3339(951782400, 7, buf);
    cr_assert_str_eq(buf, "2000-02-29T00:00:00.000000007Z");
    cr_assert_eq(gm_time_format_rfc3339(253402300800LL, 0, buf), GM_EINVAL);
    cr_assert_eq(gm_time_format_rfc3339(0, 1000000000, buf), GM_EINVAL);
}

Test(timefmt, civil_round_trip_over_centuries)
{
    for (int64_t d = -800000; d <= 800000; d += 37) {
        int64_t y;
        int m, day;
        gm_civil_from_days(d, &y, &m, &day);
        cr_assert_eq(gm_days_from_civil(y, m, day), d, "day %lld", (long long)d);
    }
}
