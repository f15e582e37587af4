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

#include <stdint.h>

struct gm_tz;

/*
 * Returns the zone named name ("UTC", "Europe/Berlin", ...), loading it from
 * the zoneinfo directory (GAMIFY_ZONEINFO, else /usr/share/zoneinfo) on first
 * use. The result is borrowed and valid for the life of the process.
 * Thread-safe. Errors: GM_ENOTFOUND (no such zone, or a name that is not a
 * plain relative path such as "../x"), GM_ECORRUPT (not a TZif file).
 */
int gm_tz_get(const char *name, const struct gm_tz **out, struct gm_err *err);

/* UTC offset in seconds east of UTC in force at utc_seconds. */
int32_t gm_tz_offset(const struct gm_tz *tz, int64_t utc_seconds);

/* The local calendar day (days since 1970-01-01, local) of an instant. */
int64_t gm_tz_local_day(const struct gm_tz *tz, int64_t utc_seconds);

/* The zone's name as given to gm_tz_get; borrowed. */
const char *gm_tz_name(const struct gm_tz *tz);

#endif
