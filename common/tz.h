/*
 * tz.h: IANA time zones from the system zoneinfo (TZif files), without
 * setenv/tzset, so any thread can convert any zone at any time.
 *
 * A loaded zone is immutable and cached for the life of the process.
 * Conversions are pure functions of (zone, instant): the fold uses them to
 * find a learner's local day, DST included.
 */
#ifndef GM_TZ_H
#define GM_TZ_H

#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gm_tz;

/*
 * Returns the zone named name ("UTC", "Europe/Berlin", ...), loading it from
 * the zoneinfo directory (GAMIFY_ZONEINFO, else /usr/share/zoneinfo) on first
 * use. The result is borrowed and valid for the life of the process.
 * Thread-safe. Errors: GM_ENOTFOUND (no such zone, or a name that is not an
 * IANA name by gm_tz_name_is_iana), GM_ECORRUPT (not a TZif file, or an
 * inconsistent one), -errno when the file exists but cannot be read. "UTC" is
 * built in and needs no file. Zones are cached per (directory, name).
 */
int gm_tz_get(const char *name, const struct gm_tz **out, struct gm_err *err);

/*
 * Whether name has the form of an IANA zone name: "UTC", or an area (Africa,
 * America, Antarctica, Arctic, Asia, Atlantic, Australia, Europe, Indian,
 * Pacific, Etc) then one or more locations, each starting with a letter and
 * made of [A-Za-z0-9_+-] ("Europe/Berlin", "America/Argentina/Buenos_Aires",
 * "Etc/GMT+3"). POSIX TZ strings ("EST5EDT", "UTC+3"), the old top-level
 * aliases ("CET", "GMT", "US/Eastern"), the zoneinfo directory's other files
 * ("posix/...", "localtime") and paths are not. At most 64 bytes. Whether
 * the zone is installed is gm_tz_get's question.
 */
bool gm_tz_name_is_iana(const char *name);

/* UTC offset in seconds east of UTC in force at utc_seconds. */
int32_t gm_tz_offset(const struct gm_tz *tz, int64_t utc_seconds);

/* The local calendar day (days since 1970-01-01, local) of an instant. */
int64_t gm_tz_local_day(const struct gm_tz *tz, int64_t utc_seconds);

/*
 * How many local days strictly between from_day and to_day (gm_tz_local_day
 * numbers) the zone skipped, days on which no instant falls: Pacific/Apia
 * went from 2011-12-29 straight to 2011-12-31. Only a change of offset of a
 * day or more skips one, so only the zone's listed transitions are read (a
 * POSIX footer's DST never moves the clock that far).
 */
int64_t gm_tz_days_skipped(const struct gm_tz *tz, int64_t from_day, int64_t to_day);

/* The zone's name as given to gm_tz_get; borrowed. */
const char *gm_tz_name(const struct gm_tz *tz);

/*
 * Parses a TZif image (RFC 8536 / RFC 9636, versions 1 to 4) named name into
 * a zone outside the cache; for fuzzing and tests. Borrows buf. Returns new
 * in *out; free with gm_tz_free. Errors: GM_ECORRUPT, GM_EINVAL (name longer
 * than 64 bytes).
 */
int gm_tz_parse(const char *name, const void *buf, size_t len, struct gm_tz **out,
                struct gm_err *err);

/* Frees a zone from gm_tz_parse; accepts NULL. Never pass a cached zone. */
void gm_tz_free(struct gm_tz *tz);

/*
 * Frees every cached zone, invalidating all pointers gm_tz_get returned; for
 * tests and leak checkers only, with no other thread using zones.
 */
void gm_tz_cache_clear_for_tests(void);

#endif
