/*
 * tz.c: IANA time zones read straight from TZif files (RFC 8536 and its
 * successor RFC 9636, versions 1 to 4), so that conversions never touch the
 * process-wide TZ state (setenv/tzset/localtime are not thread-safe).
 *
 * A zone is its transition table plus the POSIX TZ string from the footer,
 * which gives the rules after the last transition (Debian's "slim" files
 * carry all future rules only there). The bytes come from an untrusted file:
 * every count is bounded and checked against the file size before use, and
 * anything inconsistent is GM_ECORRUPT. Leap-second records ("right/" zones)
 * are skipped: instants here are POSIX seconds.
 *
 * Loaded zones live in a mutex-protected hash table for the life of the
 * process, so the pointers handed out never dangle.
 */
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_NAME_MAX      64
#define TZ_FILE_MAX      (256 * 1024)
#define TZ_FOOTER_MAX    128
#define TZ_DEFAULT_DIR   "/usr/share/zoneinfo"
#define TZ_BUCKETS       64
#define SECS_PER_DAY     INT64_C(86400)
#define TZIF_HEADER_SIZE 44
/* RFC 8536 3.2: utoff SHOULD lie in [-89999, 93599]; we require it. */
#define UTOFF_MIN (-89999)
#define UTOFF_MAX 93599
/* Footer arithmetic is done on instants clamped to about +-35 million years. */
#define FOOTER_T_LIMIT (INT64_C(1) << 50)

enum rule_kind {
    RULE_JULIAN,     /* Jn: 1..365, February 29 never counted */
    RULE_ZERO_BASED, /* n: 0..365, February 29 counted */
    RULE_MONTH_WEEK, /* Mm.w.d: day d of week w (5 = last) of month m */
};

struct tz_rule {
    enum rule_kind kind;
    int day;      /* Jn or n */
    int month;    /* 1..12 */
    int week;     /* 1..5 */
    int wday;     /* 0 = Sunday */
    int32_t secs; /* local time of day of the change, -167h..167h */
};

/* A parsed POSIX TZ string; offsets are seconds east of UTC. */
struct tz_posix {
    int32_t std_off;
    int32_t dst_off;
    bool has_dst;
    struct tz_rule start; /* into DST, in standard local time */
    struct tz_rule end;   /* out of DST, in daylight local time */
};

struct gm_tz {
    struct gm_tz *next; /* cache chain */
    uint32_t hash;
    char *dir; /* zoneinfo directory it was loaded from; NULL when built in */
    char name[TZ_NAME_MAX + 1];
    uint32_t ntrans;
    int64_t *trans;      /* ascending instants */
    uint8_t *trans_type; /* index into utoff per transition */
    uint32_t ntypes;
    int32_t *utoff;
    bool has_footer; /* footer present and non-empty */
    struct tz_posix footer;
};

static int32_t utc_utoff[1] = {0};
static struct gm_tz utc_zone = {
    .name = "UTC",
    .ntypes = 1,
    .utoff = utc_utoff,
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gm_tz *cache[TZ_BUCKETS];

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static int64_t
floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return r;
}

static bool
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* H. Hinnant's days_from_civil. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t
year_of_day(int64_t z)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    return yoe + era * 400 + (m <= 2);
}

static int
month_days(int64_t y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return len[m - 1] + (m == 2 && is_leap(y));
}

/* The day (since the epoch) on which rule r falls in year y. */
static int64_t
rule_day(const struct tz_rule *r, int64_t y)
{
    int64_t jan1 = days_from_civil(y, 1, 1);
    switch (r->kind) {
    case RULE_JULIAN:
        return jan1 + r->day - 1 + (is_leap(y) && r->day >= 60);
    case RULE_ZERO_BASED:
        return jan1 + r->day;
    case RULE_MONTH_WEEK:
    default: {
        int64_t first = days_from_civil(y, r->month, 1);
        int first_wday = (int)floor_mod(first + 4, 7); /* 1970-01-01: Thursday */
        int mday = 1 + (r->wday - first_wday + 7) % 7 + (r->week - 1) * 7;
        while (mday > month_days(y, r->month))
            mday -= 7;
        return first + mday - 1;
    }
    }
}

/* ---- POSIX TZ strings (RFC 8536 3.3, with the version 3 extensions) ---- */

struct cursor {
    const char *p;
};

static bool
parse_num(struct cursor *c, int min, int max, int *out)
{
    const char *p = c->p;
    int v = 0;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p - '0');
        if (v > max)
            return false;
        p++;
    }
    if (v < min)
        return false;
    c->p = p;
    *out = v;
    return true;
}

/* hh[:mm[:ss]] with an optional sign; hours up to max_hours. */
static bool
parse_hms(struct cursor *c, int max_hours, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (*c->p == '+' || *c->p == '-') {
        sign = *c->p == '-' ? -1 : 1;
        c->p++;
    }
    if (!parse_num(c, 0, max_hours, &h))
        return false;
    if (*c->p == ':') {
        c->p++;
        if (!parse_num(c, 0, 59, &m))
            return false;
        if (*c->p == ':') {
            c->p++;
            if (!parse_num(c, 0, 59, &s))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return true;
}

static bool
parse_abbr(struct cursor *c)
{
    const char *p = c->p;
    size_t n = 0;
    if (*p == '<') {
        p++;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '+' || *p == '-') {
            p++;
            n++;
        }
        if (*p != '>')
            return false;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            p++;
            n++;
        }
    }
    if (n < 3)
        return false;
    c->p = p;
    return true;
}

static bool
parse_rule(struct cursor *c, struct tz_rule *r)
{
    if (*c->p == 'J') {
        c->p++;
        r->kind = RULE_JULIAN;
        if (!parse_num(c, 1, 365, &r->day))
            return false;
    } else if (*c->p == 'M') {
        c->p++;
        r->kind = RULE_MONTH_WEEK;
        if (!parse_num(c, 1, 12, &r->month) || *c->p++ != '.' || !parse_num(c, 1, 5, &r->week) ||
            *c->p++ != '.' || !parse_num(c, 0, 6, &r->wday))
            return false;
    } else {
        r->kind = RULE_ZERO_BASED;
        if (!parse_num(c, 0, 365, &r->day))
            return false;
    }
    r->secs = 2 * 3600;
    if (*c->p == '/') {
        c->p++;
        if (!parse_hms(c, 167, &r->secs))
            return false;
    }
    return true;
}

/* Parses a whole TZ string; false on any deviation from the grammar. */
static bool
parse_posix(const char *s, struct tz_posix *tp)
{
    struct cursor c = {s};
    int32_t off;
    memset(tp, 0, sizeof *tp);
    if (!parse_abbr(&c) || !parse_hms(&c, 24, &off))
        return false;
    tp->std_off = -off;
    if (*c.p == '\0')
        return true;
    if (!parse_abbr(&c))
        return false;
    tp->has_dst = true;
    tp->dst_off = tp->std_off + 3600;
    if (*c.p != ',' && *c.p != '\0') {
        if (!parse_hms(&c, 24, &off))
            return false;
        tp->dst_off = -off;
    }
    if (*c.p == '\0') {
        /* No rules: the US rules, as tzcode and glibc assume. */
        tp->start = (struct tz_rule){RULE_MONTH_WEEK, 0, 3, 2, 0, 7200};
        tp->end = (struct tz_rule){RULE_MONTH_WEEK, 0, 11, 1, 0, 7200};
        return true;
    }
    if (*c.p++ != ',' || !parse_rule(&c, &tp->start) || *c.p++ != ',' || !parse_rule(&c, &tp->end))
        return false;
    return *c.p == '\0';
}

struct change {
    int64_t at;
    bool dst;
};

/* Offset in force at t under the footer rules. */
static int32_t
posix_offset(const struct tz_posix *tp, int64_t t)
{
    if (!tp->has_dst)
        return tp->std_off;
    if (t > FOOTER_T_LIMIT)
        t = FOOTER_T_LIMIT;
    if (t < -FOOTER_T_LIMIT)
        t = -FOOTER_T_LIMIT;
    /*
     * Rule times may reach +-167 hours, so a year's changes can spill into
     * its neighbours and southern zones start DST after they end it: take
     * the changes of the years around t, in order, and keep the last one
     * at or before t. On a tie the end goes first, so a zone whose DST ends
     * exactly when the next begins (DST all year) stays in DST.
     */
    int64_t y = year_of_day(floor_div(t + tp->std_off, SECS_PER_DAY));
    struct change ch[8];
    int n = 0;
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        ch[n++] = (struct change){
            rule_day(&tp->start, yy) * SECS_PER_DAY + tp->start.secs - tp->std_off, true};
        ch[n++] = (struct change){
            rule_day(&tp->end, yy) * SECS_PER_DAY + tp->end.secs - tp->dst_off, false};
    }
    for (int i = 1; i < n; i++) {
        struct change k = ch[i];
        int j = i - 1;
        while (j >= 0 && (ch[j].at > k.at || (ch[j].at == k.at && ch[j].dst && !k.dst))) {
            ch[j + 1] = ch[j];
            j--;
        }
        ch[j + 1] = k;
    }
    bool dst = false;
    for (int i = 0; i < n && ch[i].at <= t; i++)
        dst = ch[i].dst;
    return dst ? tp->dst_off : tp->std_off;
}

/* ---- TZif parsing ---- */

struct tzif_header {
    char version;
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t
be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

static int
read_header(const unsigned char *buf, size_t len, size_t at, struct tzif_header *h,
            struct gm_err *err)
{
    if (len - at < TZIF_HEADER_SIZE)
        return gm_err_set(err, GM_ECORRUPT, "truncated TZif header");
    const unsigned char *p = buf + at;
    if (memcmp(p, "TZif", 4) != 0)
        return gm_err_set(err, GM_ECORRUPT, "not a TZif file (bad magic)");
    h->version = (char)p[4];
    if (h->version != 0 && (h->version < '2' || h->version > '4'))
        return gm_err_set(err, GM_ECORRUPT, "unsupported TZif version 0x%02x", p[4]);
    h->isutcnt = be32(p + 20);
    h->isstdcnt = be32(p + 24);
    h->leapcnt = be32(p + 28);
    h->timecnt = be32(p + 32);
    h->typecnt = be32(p + 36);
    h->charcnt = be32(p + 40);
    /* Each count is below the file bound, so the sizes below cannot overflow. */
    if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 || h->timecnt > TZ_FILE_MAX ||
        h->leapcnt > TZ_FILE_MAX || h->charcnt > TZ_FILE_MAX ||
        (h->isutcnt != 0 && h->isutcnt != h->typecnt) ||
        (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
        return gm_err_set(err, GM_ECORRUPT, "inconsistent TZif header counts");
    return 0;
}

static size_t
data_size(const struct tzif_header *h, size_t timesize)
{
    return (size_t)h->timecnt * timesize + h->timecnt + (size_t)h->typecnt * 6 + h->charcnt +
           (size_t)h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

static void
tz_free(struct gm_tz *tz)
{
    if (!tz || tz == &utc_zone)
        return;
    free(tz->dir);
    free(tz->trans);
    free(tz->trans_type);
    free(tz->utoff);
    free(tz);
}

/*
 * Parses a TZif image into a new zone (borrows buf; returns new, free with
 * tz_free). Errors: GM_ECORRUPT.
 */
static int
tz_parse(const char *name, const unsigned char *buf, size_t len, struct gm_tz **out,
         struct gm_err *err)
{
    struct tzif_header h;
    struct gm_tz *tz = NULL;
    size_t at = 0, timesize = 4;
    int rc;

    *out = NULL;
    if (len > TZ_FILE_MAX) {
        rc = gm_err_set(err, GM_ECORRUPT, "TZif file larger than %d bytes", TZ_FILE_MAX);
        goto out;
    }
    rc = read_header(buf, len, 0, &h, err);
    if (rc < 0)
        goto out;
    at = TZIF_HEADER_SIZE;
    if (h.version != 0) {
        /* Skip the 32-bit block; the 64-bit one follows with its own header. */
        size_t v1 = data_size(&h, 4);
        if (len - at < v1) {
            rc = gm_err_set(err, GM_ECORRUPT, "truncated TZif version 1 data");
            goto out;
        }
        at += v1;
        char version = h.version;
        rc = read_header(buf, len, at, &h, err);
        if (rc < 0)
            goto out;
        if (h.version != version) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif headers disagree on the version");
            goto out;
        }
        at += TZIF_HEADER_SIZE;
        timesize = 8;
    }
    if (len - at < data_size(&h, timesize)) {
        rc = gm_err_set(err, GM_ECORRUPT, "truncated TZif data");
        goto out;
    }

    tz = calloc(1, sizeof *tz);
    if (!tz)
        abort();
    snprintf(tz->name, sizeof tz->name, "%s", name);
    tz->ntrans = h.timecnt;
    tz->ntypes = h.typecnt;
    tz->trans = calloc(h.timecnt ? h.timecnt : 1, sizeof *tz->trans);
    tz->trans_type = calloc(h.timecnt ? h.timecnt : 1, 1);
    tz->utoff = calloc(h.typecnt, sizeof *tz->utoff);
    if (!tz->trans || !tz->trans_type || !tz->utoff)
        abort();

    const unsigned char *p = buf + at;
    for (uint32_t i = 0; i < h.timecnt; i++, p += timesize) {
        tz->trans[i] = timesize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1]) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif transitions not in ascending order");
            goto out;
        }
    }
    for (uint32_t i = 0; i < h.timecnt; i++, p++) {
        if (*p >= h.typecnt) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif transition type %u out of range", *p);
            goto out;
        }
        tz->trans_type[i] = *p;
    }
    for (uint32_t i = 0; i < h.typecnt; i++, p += 6) {
        int32_t off = (int32_t)be32(p);
        if (off < UTOFF_MIN || off > UTOFF_MAX || p[4] > 1 || p[5] >= h.charcnt) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif local time type %u invalid", i);
            goto out;
        }
        tz->utoff[i] = off;
    }
    if (p[h.charcnt - 1] != '\0') {
        rc = gm_err_set(err, GM_ECORRUPT, "TZif abbreviations not NUL-terminated");
        goto out;
    }
    p += h.charcnt + (size_t)h.leapcnt * (timesize + 4);
    for (uint32_t i = 0; i < h.isstdcnt + h.isutcnt; i++, p++) {
        if (*p > 1) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif indicator not 0 or 1");
            goto out;
        }
    }
    at += data_size(&h, timesize);

    if (timesize == 8) {
        /* The footer: "\n" TZ-string "\n". */
        const unsigned char *nl;
        if (at >= len || buf[at] != '\n' ||
            !(nl = memchr(buf + at + 1, '\n',
                          len - at - 1 < TZ_FOOTER_MAX + 1 ? len - at - 1 : TZ_FOOTER_MAX + 1))) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif footer missing or unterminated");
            goto out;
        }
        size_t n = (size_t)(nl - (buf + at + 1));
        char tzstr[TZ_FOOTER_MAX + 1];
        memcpy(tzstr, buf + at + 1, n);
        tzstr[n] = '\0';
        if (memchr(tzstr, '\0', n)) {
            rc = gm_err_set(err, GM_ECORRUPT, "TZif footer contains NUL");
            goto out;
        }
        if (n > 0) {
            if (!parse_posix(tzstr, &tz->footer)) {
                rc = gm_err_set(err, GM_ECORRUPT, "TZif footer \"%s\" is not a TZ string", tzstr);
                goto out;
            }
            tz->has_footer = true;
        }
    }
    *out = tz;
    tz = NULL;
    rc = 0;
out:
    tz_free(tz);
    return rc;
}

/* ---- loading and the cache ---- */

bool
gm_tz_name_is_iana(const char *name)
{
    /* the areas of the tz database's zone1970.tab, and Etc */
    static const char *const areas[] = {"Africa", "America",  "Antarctica", "Arctic",
                                        "Asia",   "Atlantic", "Australia",  "Europe",
                                        "Indian", "Pacific",  "Etc"};
    if (!name)
        return false;
    size_t n = strlen(name);
    if (n == 0 || n > TZ_NAME_MAX)
        return false;
    if (strcmp(name, "UTC") == 0)
        return true;
    const char *slash = strchr(name, '/');
    if (!slash)
        return false;
    bool area = false;
    for (size_t i = 0; i < sizeof areas / sizeof areas[0] && !area; i++)
        area = strlen(areas[i]) == (size_t)(slash - name) &&
               memcmp(areas[i], name, (size_t)(slash - name)) == 0;
    if (!area)
        return false;
    /* locations: each starts with a letter (no "..", no empty part) */
    for (const char *p = slash + 1;; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return false;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '_' || *p == '+' || *p == '-')
            p++;
        if (*p == '\0')
            return true;
        if (*p != '/')
            return false;
    }
}

static uint32_t
hash_key(const char *dir, const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *s = dir; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    h = (h ^ 0) * 16777619u;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Reads the whole file at path into buf (returns new, free with free()). */
static int
read_file(const char *path, const char *name, unsigned char **out, size_t *outlen,
          struct gm_err *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct stat sb;
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            rc = gm_err_set(err, GM_ENOTFOUND, "unknown time zone \"%s\"", name);
        else
            rc = gm_err_set(err, -errno, "time zone \"%s\": %s: %s", name, path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sb) != 0) {
        rc = gm_err_set(err, -errno, "time zone \"%s\": %s: %s", name, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        rc = gm_err_set(err, GM_ENOTFOUND, "unknown time zone \"%s\"", name);
        goto out;
    }
    /* Read one byte past the bound so that a file that grew is still caught. */
    buf = malloc(TZ_FILE_MAX + 1);
    if (!buf)
        abort();
    while (len < TZ_FILE_MAX + 1) {
        ssize_t r = read(fd, buf + len, TZ_FILE_MAX + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = gm_err_set(err, -errno, "time zone \"%s\": %s: %s", name, path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len > TZ_FILE_MAX) {
        rc = gm_err_set(err, GM_ECORRUPT, "time zone \"%s\": file larger than %d bytes", name,
                        TZ_FILE_MAX);
        goto out;
    }
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

int
gm_tz_get(const char *name, const struct gm_tz **out, struct gm_err *err)
{
    struct gm_tz *tz = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    char path[PATH_MAX];
    int rc;

    *out = NULL;
    if (!gm_tz_name_is_iana(name)) {
        rc = gm_err_set(err, GM_ENOTFOUND,
                        "not an IANA time zone name (want UTC, Etc/... or Area/Location such as "
                        "\"Europe/Berlin\", at most %d characters of [A-Za-z0-9_+-/])",
                        TZ_NAME_MAX);
        goto out;
    }
    if (strcmp(name, "UTC") == 0) {
        *out = &utc_zone;
        rc = 0;
        goto out;
    }
    const char *dir = getenv("GAMIFY_ZONEINFO");
    if (!dir || !*dir)
        dir = TZ_DEFAULT_DIR;
    uint32_t h = hash_key(dir, name);

    pthread_mutex_lock(&cache_lock);
    for (struct gm_tz *c = cache[h % TZ_BUCKETS]; c; c = c->next) {
        if (c->hash == h && strcmp(c->name, name) == 0 && strcmp(c->dir, dir) == 0) {
            *out = c;
            break;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    if (*out) {
        rc = 0;
        goto out;
    }

    /* Load outside the lock; a racing loader of the same zone loses below. */
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
        rc = gm_err_set(err, GM_ENOTFOUND, "time zone \"%s\": path too long", name);
        goto out;
    }
    rc = read_file(path, name, &buf, &len, err);
    if (rc < 0)
        goto out;
    rc = tz_parse(name, buf, len, &tz, err);
    if (rc < 0) {
        gm_err_where(err, path);
        goto out;
    }
    tz->dir = strdup(dir);
    if (!tz->dir)
        abort();
    tz->hash = h;

    pthread_mutex_lock(&cache_lock);
    for (struct gm_tz *c = cache[h % TZ_BUCKETS]; c; c = c->next) {
        if (c->hash == h && strcmp(c->name, name) == 0 && strcmp(c->dir, dir) == 0) {
            *out = c;
            break;
        }
    }
    if (!*out) {
        tz->next = cache[h % TZ_BUCKETS];
        cache[h % TZ_BUCKETS] = tz;
        *out = tz;
        tz = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
    rc = 0;
out:
    tz_free(tz);
    free(buf);
    return rc;
}

int
gm_tz_parse(const char *name, const void *buf, size_t len, struct gm_tz **out, struct gm_err *err)
{
    if (!name || strlen(name) > TZ_NAME_MAX)
        return gm_err_set(err, GM_EINVAL, "time zone name too long");
    return tz_parse(name, buf, len, out, err);
}

void
gm_tz_free(struct gm_tz *tz)
{
    tz_free(tz);
}

void
gm_tz_cache_clear_for_tests(void)
{
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < TZ_BUCKETS; i++) {
        struct gm_tz *c = cache[i];
        while (c) {
            struct gm_tz *next = c->next;
            tz_free(c);
            c = next;
        }
        cache[i] = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
}

/* ---- conversions ---- */

int32_t
gm_tz_offset(const struct gm_tz *tz, int64_t utc_seconds)
{
    if (tz->ntrans == 0)
        return tz->has_footer ? posix_offset(&tz->footer, utc_seconds) : tz->utoff[0];
    if (utc_seconds < tz->trans[0])
        return tz->utoff[0];
    if (utc_seconds > tz->trans[tz->ntrans - 1] && tz->has_footer)
        return posix_offset(&tz->footer, utc_seconds);
    /* The last transition at or before utc_seconds. */
    uint32_t lo = 0, hi = tz->ntrans;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] <= utc_seconds)
            lo = mid;
        else
            hi = mid;
    }
    return tz->utoff[tz->trans_type[lo]];
}

int64_t
gm_tz_local_day(const struct gm_tz *tz, int64_t utc_seconds)
{
    /* Split before adding the offset so that no instant can overflow. */
    int64_t day = floor_div(utc_seconds, SECS_PER_DAY);
    int64_t sec = floor_mod(utc_seconds, SECS_PER_DAY) + gm_tz_offset(tz, utc_seconds);
    return day + floor_div(sec, SECS_PER_DAY);
}

int64_t
gm_tz_days_skipped(const struct gm_tz *tz, int64_t from_day, int64_t to_day)
{
    if (to_day - from_day < 2 || tz->ntrans == 0)
        return 0;
    /* Transitions near the range: a local day is within a day of the UTC
     * day, and offsets stay within a few days; guard the products. */
    const int64_t lim = INT64_C(1) << 40;
    int64_t lo_t = (from_day < -lim ? -lim : from_day) * SECS_PER_DAY - 3 * SECS_PER_DAY;
    int64_t hi_t = (to_day > lim ? lim : to_day) * SECS_PER_DAY + 3 * SECS_PER_DAY;
    uint32_t lo = 0, hi = tz->ntrans; /* the first transition at or after lo_t */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (tz->trans[mid] < lo_t)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t skipped = 0;
    for (uint32_t i = lo; i < tz->ntrans && tz->trans[i] <= hi_t; i++) {
        int64_t t = tz->trans[i];
        int64_t before = i == 0 ? tz->utoff[0] : tz->utoff[tz->trans_type[i - 1]];
        int64_t after = tz->utoff[tz->trans_type[i]];
        if (after - before < SECS_PER_DAY)
            continue;
        /* the last local day before the jump and the first after it */
        int64_t d0 = floor_div(t - 1 + before, SECS_PER_DAY);
        int64_t d1 = floor_div(t + after, SECS_PER_DAY);
        int64_t a = d0 + 1 > from_day + 1 ? d0 + 1 : from_day + 1;
        int64_t b = d1 - 1 < to_day - 1 ? d1 - 1 : to_day - 1;
        if (b >= a)
            skipped += b - a + 1;
    }
    return skipped;
}

const char *
gm_tz_name(const struct gm_tz *tz)
{
    return tz->name;
}
