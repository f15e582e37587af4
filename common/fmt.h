/*
 * fmt.h: integers and joined strings written into a caller's buffer
 * without snprintf, for the API's per-request path (each snprintf call
 * costs several hundred instructions; a leaderboard request made a dozen).
 */
#ifndef GM_FMT_H
#define GM_FMT_H

#include <stddef.h>
#include <stdint.h>

#define GM_FMT_I64_MAX 21 /* "-9223372036854775808" and its NUL */

/* Writes v in decimal, NUL-terminated, into buf; returns its length. */
size_t gm_fmt_i64(char buf[GM_FMT_I64_MAX], int64_t v);

/*
 * Writes parts[0..n) one after the other, NUL-terminated, into buf of size
 * cap (cap >= 1), cut to cap - 1 bytes like snprintf; returns the length
 * the whole would have.
 */
size_t gm_fmt_join(char *buf, size_t cap, const char *const *parts, size_t n);

#endif
