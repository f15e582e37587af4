/*
 * test_tz.c: TZif time zones: known DST switches, footer rules far in the
 * future, local days, name checks, corrupt files at every truncation, and a
 * differential run against glibc's localtime_r (in forked children, since
 * that needs setenv("TZ")).
 *
 * Expected offsets were computed beforehand with GNU date and hard-coded,
 * e.g. `TZ=Europe/Berlin date -d @1774746000 +%z` prints +0200.
 */
#include "err.h"
#include "tz.h"
#include "tz_slim_data.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SYSTEM_ZONEINFO "/usr/share/zoneinfo"
#define H               3600

static const struct gm_tz *
zone(const char *name)
{
    const struct gm_tz *tz = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_tz_get(name, &tz, &err);
    cr_assert_eq(rc, 0, "gm_tz_get(%s): %s (%s)", name, gm_strerror(rc), err.msg);
    cr_assert_not_null(tz);
    return tz;
}

static void
expect_offsets(const char *name, const int64_t *at, const int32_t *want, size_t n)
{
    const struct gm_tz *tz = zone(name);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(gm_tz_offset(tz, at[i]), want[i], "%s at %lld: got %d, want %d", name,
                     (long long)at[i], gm_tz_offset(tz, at[i]), want[i]);
}

#define EXPECT_OFFSETS(name, at, want)                                                             \
    do {                                                                                           \
        cr_assert_eq(sizeof(at) / sizeof(at[0]), sizeof(want) / sizeof(want[0]));                  \
        expect_offsets(name, at, want, sizeof(at) / sizeof(at[0]));                                \
    } while (0)

/* Reads a whole file into a new exact-size buffer (free with free()). */
static unsigned char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0;
    unsigned char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf = realloc(buf, n + r);
        cr_assert_not_null(buf);
        memcpy(buf + n, chunk, r);
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void
spit(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "create %s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static void
zap(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static char tmpdir[64];

static void
make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gm_tz_test_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    /* zones of our own go under Etc/: only IANA-formed names are looked up */
    char etc[80];
    snprintf(etc, sizeof etc, "%s/Etc", tmpdir);
    cr_assert_eq(mkdir(etc, 0700), 0);
    setenv("GAMIFY_ZONEINFO", tmpdir, 1);
}

static void
remove_tmpdir(void)
{
    char etc[80];
    snprintf(etc, sizeof etc, "%s/Etc", tmpdir);
    rmdir(etc);
    rmdir(tmpdir);
    unsetenv("GAMIFY_ZONEINFO");
    gm_tz_cache_clear_for_tests();
}

/* A parse from an exact-size heap copy, so that ASan sees any overread. */
static int
parse_copy(const unsigned char *img, size_t len, struct gm_tz **out)
{
    unsigned char *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, img, len);
    struct gm_err err;
    gm_err_clear(&err);
    int rc = gm_tz_parse("Test/Zone", copy, len, out, &err);
    free(copy);
    if (rc != 0)
        cr_assert(err.msg[0] != '\0', "error without a message");
    return rc;
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Offsets of the parts of a well-formed v2+ image. */
struct layout {
    size_t hdr2, trans, idx, types, footer;
    uint32_t timecnt, typecnt;
};

static struct layout
layout_of(const unsigned char *img)
{
    struct layout l;
    const unsigned char *h = img;
    size_t v1 = get32(h + 32) * 5 + get32(h + 36) * 6 + get32(h + 40) + get32(h + 28) * 8 +
                get32(h + 24) + get32(h + 20);
    l.hdr2 = 44 + v1;
    h = img + l.hdr2;
    l.timecnt = get32(h + 32);
    l.typecnt = get32(h + 36);
    l.trans = l.hdr2 + 44;
    l.idx = l.trans + l.timecnt * 8;
    l.types = l.idx + l.timecnt;
    l.footer = l.types + l.typecnt * 6 + get32(h + 40) + get32(h + 28) * 12 + get32(h + 24) +
               get32(h + 20);
    return l;
}

/*
 * A minimal valid TZif image of the given version ('\0', '2', '3', '4') with
 * no transitions, one type (utoff) and, for v2+, the given footer. Returns
 * the length written into out (which must hold 512 bytes).
 */
static size_t
build_tzif(char version, int32_t utoff, const char *footer, unsigned char *out)
{
    size_t n = 0;
    int blocks = version ? 2 : 1;
    for (int b = 0; b < blocks; b++) {
        memset(out + n, 0, 44);
        memcpy(out + n, "TZif", 4);
        out[n + 4] = (unsigned char)version;
        put32(out + n + 36, 1); /* typecnt */
        put32(out + n + 40, 4); /* charcnt */
        n += 44;
        put32(out + n, (uint32_t)utoff);
        out[n + 4] = 0;
        out[n + 5] = 0;
        memcpy(out + n + 6, "ZZZ", 4);
        n += 10;
    }
    if (version) {
        size_t f = strlen(footer);
        out[n++] = '\n';
        memcpy(out + n, footer, f);
        n += f;
        out[n++] = '\n';
    }
    return n;
}

/* ---- known instants ---- */

Test(tz, utc_is_built_in)
{
    make_tmpdir(); /* an empty zoneinfo directory: no UTC file there */
    const struct gm_tz *tz = zone("UTC");
    cr_assert_str_eq(gm_tz_name(tz), "UTC");
    int64_t at[] = {INT64_MIN, -1, 0, 1774746000, 5681534400, INT64_MAX};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++)
        cr_assert_eq(gm_tz_offset(tz, at[i]), 0);
    cr_assert_eq(gm_tz_local_day(tz, -1), -1);
    cr_assert_eq(gm_tz_local_day(tz, 0), 0);
    cr_assert_eq(gm_tz_local_day(tz, 86399), 0);
    cr_assert_eq(gm_tz_local_day(tz, 86400), 1);
    cr_assert_eq(gm_tz_local_day(tz, -86400), -1);
    cr_assert_eq(gm_tz_local_day(tz, -86401), -2);
    remove_tmpdir();
}

Test(tz, berlin_2026_switches)
{
    /* 2026-03-29 01:00Z to CEST, 2026-10-25 01:00Z back to CET (GNU date). */
    int64_t at[] = {1774745999, 1774746000, 1792889999, 1792890000, 1767225600, 1782864000};
    int32_t want[] = {1 * H, 2 * H, 2 * H, 1 * H, 1 * H, 2 * H};
    EXPECT_OFFSETS("Europe/Berlin", at, want);
    cr_assert_str_eq(gm_tz_name(zone("Europe/Berlin")), "Europe/Berlin");
}

Test(tz, new_york_2026_switches)
{
    /* 2026-03-08 07:00Z to EDT, 2026-11-01 06:00Z back to EST (GNU date). */
    int64_t at[] = {1772953199, 1772953200, 1793512799, 1793512800};
    int32_t want[] = {-5 * H, -4 * H, -4 * H, -5 * H};
    EXPECT_OFFSETS("America/New_York", at, want);
}

Test(tz, sydney_southern_hemisphere)
{
    /*
     * DST ends 2026-04-04 16:00Z and starts 2026-10-03 16:00Z; 2150 comes
     * from the footer AEST-10AEDT,M10.1.0,M4.1.0/3 (GNU date).
     */
    int64_t at[] = {1775318399, 1775318400, 1791043199, 1791043200,
                    5688374399, 5688374400, 5693328000, 5709139200};
    int32_t want[] = {11 * H, 10 * H, 10 * H, 11 * H, 11 * H, 10 * H, 10 * H, 11 * H};
    EXPECT_OFFSETS("Australia/Sydney", at, want);
}

Test(tz, odd_offsets)
{
    /* 2026-01-15 and 2026-07-15 00:00Z (GNU date). */
    int64_t at[] = {1768435200, 1784073600};
    int32_t kolkata[] = {5 * H + 1800, 5 * H + 1800};
    int32_t kathmandu[] = {5 * H + 2700, 5 * H + 2700};
    int32_t santiago[] = {-3 * H, -4 * H};
    EXPECT_OFFSETS("Asia/Kolkata", at, kolkata);
    EXPECT_OFFSETS("Asia/Kathmandu", at, kathmandu);
    EXPECT_OFFSETS("America/Santiago", at, santiago);
}

Test(tz, berlin_2150_from_footer)
{
    /*
     * Beyond the last stored transition (2037), so the footer decides.
     * Values from `TZ=Europe/Berlin date -d @SECONDS +%z`: 2150-01-15 12:00Z
     * +0100, 2150-07-01 12:00Z +0200, switches 2150-03-29 01:00Z and
     * 2150-10-25 01:00Z.
     */
    int64_t at[] = {5681534400, 5695963200, 5687801999, 5687802000, 5705945999, 5705946000};
    int32_t want[] = {1 * H, 2 * H, 1 * H, 2 * H, 2 * H, 1 * H};
    EXPECT_OFFSETS("Europe/Berlin", at, want);
}

Test(tz, local_day_across_midnight)
{
    const struct gm_tz *berlin = zone("Europe/Berlin");
    const struct gm_tz *ny = zone("America/New_York");
    const struct gm_tz *ktm = zone("Asia/Kathmandu");
    /* 2026-07-01 21:59:59Z is 23:59:59 CEST on day 20635 (2026-07-01). */
    cr_assert_eq(gm_tz_local_day(berlin, 1782943199), 20635);
    cr_assert_eq(gm_tz_local_day(berlin, 1782943200), 20636);
    /* 2026-01-15 05:00Z is midnight EST starting day 20468 (2026-01-15). */
    cr_assert_eq(gm_tz_local_day(ny, 1768453199), 20467);
    cr_assert_eq(gm_tz_local_day(ny, 1768453200), 20468);
    /* 2026-01-14 18:15Z is midnight in Kathmandu (+05:45). */
    cr_assert_eq(gm_tz_local_day(ktm, 1768414499), 20467);
    cr_assert_eq(gm_tz_local_day(ktm, 1768414500), 20468);
    /* Around the epoch: -1800 is 00:30 on 1970-01-01 in Berlin, 18:30 the day before in NY. */
    cr_assert_eq(gm_tz_local_day(berlin, -1800), 0);
    cr_assert_eq(gm_tz_local_day(berlin, -3601), -1);
    cr_assert_eq(gm_tz_local_day(ny, -1800), -1);
    cr_assert_eq(gm_tz_local_day(ny, 5 * H - 1), -1);
    cr_assert_eq(gm_tz_local_day(ny, 5 * H), 0);
    /* Extreme instants do not overflow. */
    (void)gm_tz_local_day(berlin, INT64_MAX);
    (void)gm_tz_local_day(ny, INT64_MIN);
    cr_assert_lt(gm_tz_local_day(ny, INT64_MIN), 0);
    cr_assert_gt(gm_tz_local_day(berlin, INT64_MAX), 0);
}

/* ---- names ---- */

Test(tz, rejects_bad_names)
{
    char longname[201];
    memset(longname, 'A', 200);
    longname[200] = '\0';
    char sixty_five[66];
    memset(sixty_five, 'a', 65);
    sixty_five[65] = '\0';
    const char *bad[] = {
        "",
        "../etc/passwd",
        "/etc/localtime",
        "Europe/../../etc/passwd",
        "Europe/..",
        "Europe/Berlin\n",
        "Europe Berlin",
        "Europe/Berlin.tab",
        "zone.tab",
        "Europe\\Berlin",
        "Nope/Nowhere",
        longname,
        sixty_five,
        "Europe",
        "Europe/",
        /* installed files, but not IANA zone names */
        "EST5EDT",
        "CET",
        "GMT",
        "UTC0",
        "US/Eastern",
        "posix/Europe/Berlin",
        "right/UTC",
        "localtime",
        "posixrules",
        "Factory",
        /* POSIX TZ strings and other forms */
        "UTC+3",
        "EST+5",
        "GMT-2",
        "Etc",
        "Etc/",
        "Europe//Berlin",
        "Europe/Berlin/",
        "Europe/_Berlin",
        "Europe/9",
        "europe/berlin",
        "Europe/Berlin ",
        " Europe/Berlin",
        "Europe/Ber lin",
        "Mars/Olympus_Mons",
        "./Europe/Berlin",
        "Europe/./Berlin",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const struct gm_tz *tz = (const struct gm_tz *)&tz;
        struct gm_err err;
        gm_err_clear(&err);
        int rc = gm_tz_get(bad[i], &tz, &err);
        cr_expect_eq(rc, GM_ENOTFOUND, "\"%s\": got %d", bad[i], rc);
        cr_expect_null(tz, "\"%s\": out not cleared", bad[i]);
        cr_expect(err.msg[0] != '\0', "\"%s\": no message", bad[i]);
    }
}

Test(tz, iana_name_forms)
{
    const char *good[] = {"UTC",
                          "Etc/UTC",
                          "Etc/GMT+3",
                          "Europe/Berlin",
                          "Asia/Tokyo",
                          "America/Port-au-Prince",
                          "America/Argentina/Buenos_Aires",
                          "Antarctica/DumontDUrville",
                          "Indian/Reunion",
                          "Pacific/Pago_Pago"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_expect(gm_tz_name_is_iana(good[i]), "\"%s\" is an IANA name", good[i]);
    const char *bad[] = {"",    "EST5EDT",    "UTC+3",     "../etc",          "/etc/localtime",
                         "GMT", "US/Eastern", "posix/UTC", "Europe/Berlin x", "Europe"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(gm_tz_name_is_iana(bad[i]), "\"%s\" is not", bad[i]);
    cr_expect_not(gm_tz_name_is_iana(NULL));
    struct gm_err err;
    gm_err_clear(&err);
    const struct gm_tz *tz;
    cr_expect_eq(gm_tz_get("EST5EDT", &tz, &err), GM_ENOTFOUND, "installed, but refused");
    cr_expect(strstr(err.msg, "not an IANA time zone name"), "%s", err.msg);
}

Test(tz, names_with_allowed_characters)
{
    /* '+', '-', '_' and digits are all legal. */
    cr_assert_eq(gm_tz_offset(zone("Etc/GMT+5"), 0), -5 * H);
    cr_assert_eq(gm_tz_offset(zone("Etc/GMT-14"), 0), 14 * H);
    cr_assert_eq(gm_tz_offset(zone("America/Port-au-Prince"), 1768435200), -5 * H);
    cr_assert_eq(gm_tz_offset(zone("America/Argentina/Buenos_Aires"), 1768435200), -3 * H);
}

Test(tz, cache_returns_same_zone)
{
    const struct gm_tz *a = zone("Europe/Berlin");
    const struct gm_tz *b = zone("Europe/Berlin");
    cr_assert_eq(a, b);
    cr_assert_neq(a, zone("Europe/Paris"));
    /* Another directory is another cache key. */
    make_tmpdir();
    size_t len;
    unsigned char *img = slurp(SYSTEM_ZONEINFO "/Asia/Tokyo", &len);
    spit(tmpdir, "Etc/Europe_Berlin", img, len);
    const struct gm_tz *c = zone("Etc/Europe_Berlin");
    cr_assert_eq(gm_tz_offset(c, 0), 9 * H);
    const struct gm_tz *d = NULL;
    cr_assert_eq(gm_tz_get("Europe/Berlin", &d, NULL), GM_ENOTFOUND);
    zap(tmpdir, "Etc/Europe_Berlin");
    free(img);
    remove_tmpdir();
}

/* ---- file formats ---- */

Test(tz, versions_1_to_4)
{
    size_t len;
    unsigned char *img = slurp(SYSTEM_ZONEINFO "/Europe/Berlin", &len);
    struct layout l = layout_of(img);
    struct gm_tz *tz = NULL;

    /* Version 1: only the 32-bit block, no footer; good until 2037. */
    unsigned char *v1 = malloc(l.hdr2);
    memcpy(v1, img, l.hdr2);
    v1[4] = 0;
    cr_assert_eq(parse_copy(v1, l.hdr2, &tz), 0);
    cr_assert_eq(gm_tz_offset(tz, 1774745999), 1 * H);
    cr_assert_eq(gm_tz_offset(tz, 1774746000), 2 * H);
    cr_assert_eq(gm_tz_offset(tz, 1792890000), 1 * H);
    gm_tz_free(tz);
    free(v1);

    for (char v = '2'; v <= '4'; v++) {
        img[4] = (unsigned char)v;
        img[l.hdr2 + 4] = (unsigned char)v;
        cr_assert_eq(parse_copy(img, len, &tz), 0, "version %c", v);
        cr_assert_eq(gm_tz_offset(tz, 5687802000), 2 * H);
        gm_tz_free(tz);
    }
    free(img);
}

Test(tz, footer_forms)
{
    static const struct {
        const char *footer;
        int64_t at;
        int32_t want;
    } cases[] = {
        /* A fixed zone with minutes: 2026-01-15. */
        {"<+0330>-3:30", 1768435200, 3 * H + 1800},
        {"<-0230>2:30", 1768435200, -2 * H - 1800},
        {"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 1768435200, 13 * H + 2700},
        /* DST all year (RFC 8536 section 3.3.1's example). */
        {"EST5EDT4,0/0,J365/25", 1768435200, -4 * H},
        {"EST5EDT4,0/0,J365/25", 1784073600, -4 * H},
        {"EST5EDT4,0/0,J365/25", 1767225600, -4 * H},
        {"EST5EDT4,0/0,J365/25", 1798779599, -4 * H}, /* 2027-01-01 04:59:59Z */
        {"EST5EDT4,0/0,J365/25", 1798779600, -4 * H}, /* end 2026 = start 2027 */
        /* Jn never counts Feb 29: J60 is March 1 even in 2028 (a leap year). */
        {"XXX0YYY,J60/0,J300/0", 1835395200, 0}, /* 2028-02-29 00:00Z */
        {"XXX0YYY,J60/0,J300/0", 1835481599, 0}, /* 2028-02-29 23:59:59Z */
        {"XXX0YYY,J60/0,J300/0", 1835481600, H}, /* 2028-03-01 00:00Z */
        /* n counts Feb 29: day 59 is 2028-02-29 but 2027-03-01. */
        {"XXX0YYY,59/0,300/0", 1835395199, 0}, /* 2028-02-28 23:59:59Z */
        {"XXX0YYY,59/0,300/0", 1835395200, H}, /* 2028-02-29 00:00Z */
        {"XXX0YYY,59/0,300/0", 1803859199, 0}, /* 2027-02-28 23:59:59Z */
        {"XXX0YYY,59/0,300/0", 1803859200, H}, /* 2027-03-01 00:00Z */
        /* A negative time pulls next year's change into this year. */
        {"XXX0YYY,J1/-30,J300/0", 1798653599, 0}, /* 2026-12-30 17:59:59Z */
        {"XXX0YYY,J1/-30,J300/0", 1798653600, H}, /* 2026-12-30 18:00Z */
        /* Negative time: Nuuk, -1:00 local on the last Sunday of March 2150. */
        {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 5687802000 - 1, -2 * H},
        {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", 5687802000, -1 * H},
        /* Hours past 24: Jerusalem, Thursday 26:00 = Friday 02:00. */
        {"IST-2IDT,M3.4.4/26,M10.5.0", 1774569599, 2 * H}, /* 2026-03-27 00:00Z - 1 */
        {"IST-2IDT,M3.4.4/26,M10.5.0", 1774569600, 3 * H},
        /* Southern hemisphere with the end before the start in the year. */
        {"<-04>4<-03>,M9.1.6/24,M4.1.6/24", 1768435200, -3 * H},
        {"<-04>4<-03>,M9.1.6/24,M4.1.6/24", 1784073600, -4 * H},
        /* Negative DST (Dublin: IST is standard, GMT the "daylight" time). */
        {"IST-1GMT0,M10.5.0,M3.5.0/1", 1768435200, 0},
        {"IST-1GMT0,M10.5.0,M3.5.0/1", 1784073600, 1 * H},
        /* DST with no rules: the US rules. */
        {"EST5EDT", 1784073600, -4 * H},
        {"EST5EDT", 1768435200, -5 * H},
        /* An empty footer: type 0 throughout. */
        {"", 1768435200, 7 * H},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char img[512];
        size_t len = build_tzif('3', 7 * H, cases[i].footer, img);
        struct gm_tz *tz = NULL;
        cr_assert_eq(parse_copy(img, len, &tz), 0, "footer \"%s\"", cases[i].footer);
        cr_expect_eq(gm_tz_offset(tz, cases[i].at), cases[i].want,
                     "\"%s\" at %lld: got %d, want %d", cases[i].footer, (long long)cases[i].at,
                     gm_tz_offset(tz, cases[i].at), cases[i].want);
        gm_tz_free(tz);
    }
}

Test(tz, bad_footers)
{
    const char *bad[] = {
        "CET-1CEST,M3.5.0,M13.5.0/3",
        "CET-1CEST,M3.5.0,M10.6.0/3",
        "CET-1CEST,M3.5.0,M10.5.7/3",
        "CET-1CEST,M3.5.0",
        "CET-1CEST,M3.5.0,M10.5.0/168",
        "CET-1CEST,M3.5.0,M10.5.0/3x",
        "CET-1CEST,J0,J100",
        "CET-1CEST,366,100",
        "CET-25",
        "CE-1",
        "<+01-1",
        "<+1>-1",
        "CET",
        "-1",
        "CET-1:60",
        "CET-1CEST,M3.5.0,,M10.5.0",
        "CET-99999999999999999999",
        "\x80\x81\x82-1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char img[512];
        size_t len = build_tzif('2', 0, bad[i], img);
        struct gm_tz *tz = NULL;
        cr_expect_eq(parse_copy(img, len, &tz), GM_ECORRUPT, "footer \"%s\"", bad[i]);
        cr_expect_null(tz);
    }
    /* Longer than the footer bound. */
    char longfooter[300];
    memset(longfooter, 'A', sizeof longfooter - 1);
    longfooter[sizeof longfooter - 1] = '\0';
    unsigned char big[1024];
    size_t n = build_tzif('2', 0, "", big);
    n -= 1; /* drop the closing newline, append the long string */
    memcpy(big + n, longfooter, strlen(longfooter));
    n += strlen(longfooter);
    big[n++] = '\n';
    struct gm_tz *tz = NULL;
    cr_expect_eq(parse_copy(big, n, &tz), GM_ECORRUPT);
}

/* ---- corrupt files ---- */

Test(tz, truncated_at_every_offset)
{
    size_t len;
    unsigned char *img = slurp(SYSTEM_ZONEINFO "/Europe/Berlin", &len);
    struct gm_tz *tz = NULL;
    cr_assert_eq(parse_copy(img, len, &tz), 0);
    gm_tz_free(tz);
    for (size_t cut = 0; cut < len; cut++) {
        tz = NULL;
        cr_assert_eq(parse_copy(img, cut, &tz), GM_ECORRUPT, "truncated to %zu of %zu", cut, len);
        cr_assert_null(tz);
    }
    /* The same through files and gm_tz_get, every 7th offset plus the last few. */
    make_tmpdir();
    for (size_t cut = 0; cut < len; cut += (cut + 8 >= len ? 1 : 7)) {
        char name[32];
        snprintf(name, sizeof name, "Etc/Cut%zu", cut);
        spit(tmpdir, name, img, cut);
        const struct gm_tz *ctz = NULL;
        struct gm_err err;
        gm_err_clear(&err);
        cr_assert_eq(gm_tz_get(name, &ctz, &err), GM_ECORRUPT, "cut at %zu", cut);
        cr_assert_null(ctz);
        zap(tmpdir, name);
    }
    free(img);
    remove_tmpdir();
}

Test(tz, garbled_headers_and_data)
{
    size_t len;
    unsigned char *orig = slurp(SYSTEM_ZONEINFO "/Europe/Berlin", &len);
    unsigned char *img = malloc(len);
    struct layout l = layout_of(orig);
    cr_assert_gt(l.timecnt, 2);
    enum {
        MAGIC,
        VERSION,
        VERSION1,
        VERSION_MISMATCH,
        TIMECNT,
        TYPECNT0,
        TYPECNT_BIG,
        ISUTCNT,
        CHARCNT0,
        TYPE_INDEX,
        ORDER,
        UTOFF_MIN,
        ISDST,
        DESIGIDX,
        FOOTER_NL,
        V1_TIMECNT,
        NCASES
    };
    for (int c = 0; c < NCASES; c++) {
        memcpy(img, orig, len);
        unsigned char *h2 = img + l.hdr2;
        switch (c) {
        case MAGIC:
            img[0] = 'X';
            break;
        case VERSION:
            img[4] = h2[4] = '5';
            break;
        case VERSION1:
            img[4] = h2[4] = '1';
            break;
        case VERSION_MISMATCH:
            h2[4] = '3';
            break;
        case TIMECNT:
            put32(h2 + 32, 0xffffffffu);
            break;
        case TYPECNT0:
            put32(h2 + 36, 0);
            break;
        case TYPECNT_BIG:
            put32(h2 + 36, 1000);
            break;
        case ISUTCNT:
            put32(h2 + 20, l.typecnt + 1);
            break;
        case CHARCNT0:
            put32(h2 + 40, 0);
            break;
        case TYPE_INDEX:
            img[l.idx] = 200;
            break;
        case ORDER:
            memcpy(img + l.trans, orig + l.trans + 8, 8);
            memcpy(img + l.trans + 8, orig + l.trans, 8);
            break;
        case UTOFF_MIN:
            put32(img + l.types, 0x80000000u);
            break;
        case ISDST:
            img[l.types + 4] = 2;
            break;
        case DESIGIDX:
            img[l.types + 5] = 255;
            break;
        case FOOTER_NL:
            img[l.footer] = 'X';
            break;
        case V1_TIMECNT:
            put32(img + 32, 0x7fffffffu);
            break;
        }
        struct gm_tz *tz = NULL;
        cr_expect_eq(parse_copy(img, len, &tz), GM_ECORRUPT, "case %d", c);
        cr_expect_null(tz);
    }
    /* A file past the size bound. */
    unsigned char *huge = calloc(300 * 1024, 1);
    memcpy(huge, orig, len);
    struct gm_tz *tz = NULL;
    cr_expect_eq(parse_copy(huge, 300 * 1024, &tz), GM_ECORRUPT);
    make_tmpdir();
    spit(tmpdir, "Etc/Huge", huge, 300 * 1024);
    const struct gm_tz *ctz = NULL;
    cr_expect_eq(gm_tz_get("Etc/Huge", &ctz, NULL), GM_ECORRUPT);
    zap(tmpdir, "Etc/Huge");
    spit(tmpdir, "Etc/Empty", "", 0);
    cr_expect_eq(gm_tz_get("Etc/Empty", &ctz, NULL), GM_ECORRUPT);
    zap(tmpdir, "Etc/Empty");
    remove_tmpdir();
    free(huge);
    free(img);
    free(orig);
}

Test(tz, random_corruption_never_crashes)
{
    size_t len;
    unsigned char *orig = slurp(SYSTEM_ZONEINFO "/America/New_York", &len);
    unsigned char *img = malloc(len);
    uint64_t s = 0x9e3779b97f4a7c15u;
    int ok = 0, corrupt = 0;
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(img, orig, len);
        int flips = 1 + iter % 4;
        for (int k = 0; k < flips; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            /* Aim half the flips at the headers and the footer, where checks live. */
            size_t pos = (s >> 32) % len;
            if (k % 2 == 1)
                pos = (s >> 8) % 2 ? (s >> 32) % 44 : len - 1 - (s >> 32) % 30;
            img[pos] ^= (unsigned char)(1u << ((s >> 16) % 8));
        }
        size_t cut = iter % 5 == 0 ? (s >> 40) % (len + 1) : len;
        struct gm_tz *tz = NULL;
        int rc = parse_copy(img, cut, &tz);
        cr_assert(rc == 0 || rc == GM_ECORRUPT, "iteration %d: rc %d", iter, rc);
        if (rc == 0) {
            ok++;
            for (int64_t t = -4000000000LL; t < 8000000000LL; t += 123456789)
                (void)gm_tz_local_day(tz, t);
            (void)gm_tz_offset(tz, INT64_MIN);
            (void)gm_tz_offset(tz, INT64_MAX);
            gm_tz_free(tz);
        } else {
            corrupt++;
        }
    }
    cr_assert_gt(corrupt, 100);
    free(img);
    free(orig);
}

/* ---- against glibc ---- */

static const char *const diff_zones[] = {
    "Europe/Berlin",       "America/New_York", "Australia/Sydney", "America/Santiago",
    "Asia/Kolkata",        "Asia/Kathmandu",   "Europe/Dublin",    "America/Nuuk",
    "Asia/Jerusalem",      "Pacific/Chatham",  "Antarctica/Troll", "Africa/Casablanca",
    "Europe/London",       "Asia/Tehran",      "Pacific/Apia",     "America/Sao_Paulo",
    "Australia/Lord_Howe",
};

static uint64_t
next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int
count_mismatches(const struct gm_tz *tz, const char *label)
{
    const int64_t lo = 0;            /* 1970-01-01 */
    const int64_t hi = 4102444800LL; /* 2100-01-01 */
    uint64_t s = 88172645463325252u;
    int bad = 0;
    long checked = 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t n = pass == 0 ? 20000 : 2 * 24 * 366 * 4;
        for (int64_t i = 0; i < n; i++) {
            int64_t t;
            if (pass == 0) {
                t = lo + (int64_t)(next_rand(&s) % (uint64_t)(hi - lo));
            } else {
                /* Every hour (and the second before) of 2036-2037 and 2098-2099. */
                int64_t base = i < n / 2 ? 2082758400LL : 4039372800LL;
                t = base + (i % (n / 2)) / 2 * 3600 - (i % 2);
            }
            time_t tt = (time_t)t;
            struct tm tm;
            if (!localtime_r(&tt, &tm))
                continue;
            checked++;
            int32_t ours = gm_tz_offset(tz, t);
            if (ours != tm.tm_gmtoff) {
                if (bad < 5)
                    fprintf(stderr, "%s at %lld: ours %d, glibc %ld\n", label, (long long)t, ours,
                            (long)tm.tm_gmtoff);
                bad++;
            }
        }
    }
    if (checked < 30000)
        bad++;
    return bad;
}

/* Runs count_mismatches in a child with TZ set; returns its mismatch count. */
static int
diff_in_child(const struct gm_tz *tz, const char *tzenv, const char *label)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("TZ", tzenv, 1);
        tzset();
        int bad = count_mismatches(tz, label);
        _exit(bad > 255 ? 255 : bad);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "%s: child died", label);
    return WEXITSTATUS(status);
}

Test(tz, matches_glibc_for_real_zones, .timeout = 100)
{
    for (size_t i = 0; i < sizeof diff_zones / sizeof diff_zones[0]; i++) {
        const struct gm_tz *tz = zone(diff_zones[i]);
        char tzenv[128];
        snprintf(tzenv, sizeof tzenv, ":%s/%s", SYSTEM_ZONEINFO, diff_zones[i]);
        cr_expect_eq(diff_in_child(tz, tzenv, diff_zones[i]), 0, "%s differs from glibc",
                     diff_zones[i]);
    }
}

Test(tz, matches_glibc_for_tz_strings, .timeout = 100)
{
    /*
     * Footer-only zones against glibc's own TZ string parser. glibc picks
     * the rule year from the UTC date, so it is no oracle for rules whose
     * changes cross a year end (such as DST all year, "EST5EDT4,0/0,J365/25",
     * which footer_forms checks by hand); these stay inside their year.
     */
    const char *strings[] = {
        "CET-1CEST,M3.5.0,M10.5.0/3",       "EST5EDT,M3.2.0,M11.1.0",
        "AEST-10AEDT,M10.1.0,M4.1.0/3",     "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
        "IST-2IDT,M3.4.4/26,M10.5.0",       "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
        "IST-1GMT0,M10.5.0,M3.5.0/1",       "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
        "<+00>0<+02>-2,M3.5.0/1,M10.5.0/3", "XXX3YYY,J60/2,J300/2",
        "XXX-3YYY,59/2,300/23:30",          "XXX-3YYY,M3.5.0/-20,M10.5.0/50",
        "XXX5YYY,J32/-30,J300/100",         "<+0330>-3:30",
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        unsigned char img[512];
        size_t len = build_tzif('3', 0, strings[i], img);
        struct gm_tz *tz = NULL;
        cr_assert_eq(parse_copy(img, len, &tz), 0, "%s", strings[i]);
        cr_expect_eq(diff_in_child(tz, strings[i], strings[i]), 0, "%s differs from glibc",
                     strings[i]);
        gm_tz_free(tz);
    }
}

Test(tz, slim_files_match_glibc, .timeout = 100)
{
    static const struct {
        const char *name;
        const unsigned char *img;
        unsigned int len;
    } slim[] = {
        {"Etc/Slim_Berlin", slim_europe_berlin, sizeof slim_europe_berlin},
        {"Etc/Slim_Sydney", slim_australia_sydney, sizeof slim_australia_sydney},
    };
    make_tmpdir();
    for (size_t i = 0; i < sizeof slim / sizeof slim[0]; i++) {
        spit(tmpdir, slim[i].name, slim[i].img, slim[i].len);
        const struct gm_tz *tz = zone(slim[i].name);
        char tzenv[128];
        snprintf(tzenv, sizeof tzenv, ":%s/%s", tmpdir, slim[i].name);
        cr_expect_eq(diff_in_child(tz, tzenv, slim[i].name), 0, "%s differs from glibc",
                     slim[i].name);
        zap(tmpdir, slim[i].name);
    }
    /* The 2026 switches come from the footer alone here. */
    const struct gm_tz *tz = NULL;
    struct gm_tz *parsed = NULL;
    cr_assert_eq(parse_copy(slim_europe_berlin, sizeof slim_europe_berlin, &parsed), 0);
    tz = parsed;
    cr_assert_eq(gm_tz_offset(tz, 1774745999), 1 * H);
    cr_assert_eq(gm_tz_offset(tz, 1774746000), 2 * H);
    cr_assert_eq(gm_tz_offset(tz, 1792889999), 2 * H);
    cr_assert_eq(gm_tz_offset(tz, 1792890000), 1 * H);
    gm_tz_free(parsed);
    remove_tmpdir();
}

/* ---- threads ---- */

static void *
hammer(void *arg)
{
    const char *names[] = {"Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC",
                           "Australia/Sydney"};
    int32_t want[] = {2 * H, -4 * H, 5 * H + 1800, 0, 10 * H}; /* at 2026-07-15 00:00Z */
    uintptr_t seed = (uintptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        size_t k = (seed + (uintptr_t)i) % 5;
        const struct gm_tz *tz = NULL;
        if (gm_tz_get(names[k], &tz, NULL) != 0 || gm_tz_offset(tz, 1784073600) != want[k])
            return (void *)1;
    }
    return NULL;
}

Test(tz, concurrent_lookups)
{
    pthread_t th[8];
    for (uintptr_t i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, hammer, (void *)i), 0);
    for (int i = 0; i < 8; i++) {
        void *res;
        cr_assert_eq(pthread_join(th[i], &res), 0);
        cr_expect_null(res, "thread %d saw a wrong answer", i);
    }
}

/* Pacific/Apia skipped 2011-12-30 (UTC-10 to UTC+14 at 2011-12-30 10:00Z):
 * no instant falls on that local day, so it is the only one skipped. */
Test(tz, days_skipped_apia_2011)
{
    const struct gm_tz *apia = zone("Pacific/Apia");
    int64_t d29 = 15337;                                      /* 2011-12-29 */
    cr_expect_eq(gm_tz_local_day(apia, 1325239199), d29);     /* 2011-12-30T09:59:59Z */
    cr_expect_eq(gm_tz_local_day(apia, 1325239200), d29 + 2); /* 10:00Z: Dec 31 */
    cr_expect_eq(gm_tz_days_skipped(apia, d29, d29 + 2), 1);
    cr_expect_eq(gm_tz_days_skipped(apia, d29 - 5, d29 + 40), 1);
    cr_expect_eq(gm_tz_days_skipped(apia, d29, d29 + 1), 0);
    cr_expect_eq(gm_tz_days_skipped(apia, d29 + 1, d29 + 3), 0);
    cr_expect_eq(gm_tz_days_skipped(apia, d29 - 400, d29), 0);
    /* DST never skips a day; nor does a long gap elsewhere */
    cr_expect_eq(gm_tz_days_skipped(zone("Europe/Berlin"), 0, 90000), 0);
    cr_expect_eq(gm_tz_days_skipped(zone("Australia/Lord_Howe"), 0, 90000), 0);
    cr_expect_eq(gm_tz_days_skipped(zone("UTC"), 0, 90000), 0);
}
