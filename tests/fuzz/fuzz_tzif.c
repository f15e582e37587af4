/*
 * fuzz_tzif.c: gm_tz_parse on the bytes as a TZif file (a zoneinfo file is
 * outside our control: a broken or hostile one must be GM_ECORRUPT, not a
 * crash). An accepted zone is asked for offsets and local days over a
 * spread of instants, the int64 extremes included, which must stay within
 * the offsets a TZif file may hold and agree with each other.
 */
#include "fuzz.h"
#include "tz.h"

#define DAY INT64_C(86400)

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && (a < 0) != (b < 0))
        q--;
    return q;
}

static void
probe(const struct gm_tz *tz, int64_t t)
{
    int32_t off = gm_tz_offset(tz, t);
    /* RFC 8536 3.2: utoff in [-89999, 93599]; footer offsets are hh:mm:ss
     * up to 24:59:59, DST one hour more by default: the same range. */
    GM_FUZZ_CHECK(off >= -89999 && off <= 93599, "an offset within RFC 8536's range");
    GM_FUZZ_CHECK(gm_tz_offset(tz, t) == off, "offsets are a pure function");
    int64_t day = gm_tz_local_day(tz, t);
    if (t > INT64_MIN / 2 && t < INT64_MAX / 2)
        GM_FUZZ_CHECK(day == floor_div(t + off, DAY), "the local day is that of t + offset");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gm_tz *tz = NULL;
    struct gm_err err;

    if (size > GM_FUZZ_INPUT_MAX)
        return 0;
    gm_err_clear(&err);
    int rc = gm_tz_parse("Fuzz/Zone", data, size, &tz, &err);
    if (rc) {
        GM_FUZZ_CHECK(rc == GM_ECORRUPT && !tz, "a bad TZif image is GM_ECORRUPT");
        GM_FUZZ_CHECK(err.code == rc && err.msg[0], "a failed parse says why");
        return 0;
    }
    GM_FUZZ_CHECK(tz, "a parse that succeeds returns a zone");

    static const int64_t fixed[] = {
        INT64_MIN,
        INT64_MIN + 1,
        -(INT64_C(1) << 59),
        -(INT64_C(1) << 50) - 1,
        -(INT64_C(1) << 40),
        INT32_MIN - INT64_C(1),
        INT32_MIN,
        -1,
        0,
        1,
        946684800,  /* 2000 */
        1711846800, /* 2024-03-31 01:00 UTC, EU DST start */
        1729990800, /* 2024-10-27 01:00 UTC, EU DST end */
        1710054000, /* 2024-03-10 07:00 UTC, US DST start */
        INT32_MAX,
        INT32_MAX + INT64_C(1),
        7258118400, /* 2200 */
        INT64_C(1) << 40,
        (INT64_C(1) << 50) + 1,
        INT64_C(1) << 59,
        INT64_MAX - 1,
        INT64_MAX,
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        probe(tz, fixed[i]);
    /* Every 9 days (plus a bit) across 2023..2027, DST switches included. */
    for (int64_t t = 1672531200; t < 1830297600; t += 9 * DAY + 3599)
        probe(tz, t);
    gm_tz_free(tz);
    return 0;
}
