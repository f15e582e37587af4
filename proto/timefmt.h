/*
 * timefmt.h: RFC 3339 timestamps <-> (seconds, nanoseconds) since the Unix
 * epoch, the form google.protobuf.Timestamp takes in the proto3 JSON
 * mapping. Pure arithmetic on the proleptic Gregorian calendar: no time
 * zone database, no locale, no global state.
 */
#ifndef GM_TIMEFMT_H
#define GM_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Days since 1970-01-01 of a civil date (month 1-12, day 1-31). */
int64_t gm_days_from_civil(int64_t year, int month, int day);

/* The civil date of a day count since 1970-01-01. */
void gm_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (len bytes of s;
 * 't' and 'z' accepted in either case, 1-9 fraction digits) into seconds
 * and nanoseconds since the epoch, UTC. Years 0001-9999 only. Returns 0 or
 * GM_EINVAL.
 */
int gm_time_parse_rfc3339(const char *s, size_t len, int64_t *seconds, int32_t *nanos);

#define GM_RFC3339_MAX 40

/*
 * Formats as UTC with a 'Z', with 0, 3, 6 or 9 fraction digits (as few as
 * needed), into buf of at least GM_RFC3339_MAX bytes. Returns 0, or
 * GM_EINVAL for a time outside years 0001-9999 or nanos outside 0-999999999.
 */
int gm_time_format_rfc3339(int64_t seconds, int32_t nanos, char *buf);

#endif
