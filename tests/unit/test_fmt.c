/*
 * test_fmt.c: common/fmt.h against snprintf, which it replaces on the API's
 * request path.
 */
#include "fmt.h"

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

Test(fmt, i64_as_snprintf)
{
    const int64_t vals[] = {0,   1,         -1,         9,         10,        -10,          99,
                            100, 123456789, -987654321, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char want[32], got[GM_FMT_I64_MAX];
        snprintf(want, sizeof want, "%" PRId64, vals[i]);
        size_t n = gm_fmt_i64(got, vals[i]);
        cr_assert_str_eq(got, want);
        cr_assert_eq(n, strlen(want));
    }
}

Test(fmt, join_cuts_like_snprintf)
{
    const char *parts[] = {"gamify:", "lb:", "global", ":", "all"};
    char buf[64];
    cr_assert_eq(gm_fmt_join(buf, sizeof buf, parts, 5), strlen("gamify:lb:global:all"));
    cr_assert_str_eq(buf, "gamify:lb:global:all");
    for (size_t cap = 1; cap < 24; cap++) {
        char want[24], got[24];
        memset(got, 'x', sizeof got);
        int wn =
            snprintf(want, cap, "%s%s%s%s%s", parts[0], parts[1], parts[2], parts[3], parts[4]);
        size_t gn = gm_fmt_join(got, cap, parts, 5);
        cr_assert_eq(gn, (size_t)wn, "cap %zu", cap);
        cr_assert_str_eq(got, want, "cap %zu", cap);
        cr_assert_eq(got[cap], 'x', "cap %zu: wrote past the buffer", cap);
    }
    cr_assert_eq(gm_fmt_join(buf, sizeof buf, parts, 0), 0);
    cr_assert_str_eq(buf, "");
}
