/*
 * lbscore.h: the score of a leaderboard member in Redis. A sorted set orders
 * by one double, so the projector packs the learner's integer score and the
 * time it reached that score into one exact integer below 2^53:
 *
 *   encoded = score * 2^24 + (2^24 - 1 - tick)
 *
 * Higher scores come first in ZREVRANGE and, for equal scores, the earlier
 * reach (the smaller tick) does; equal encodings fall back to Redis's member
 * order. tick counts from the period's origin: for a week or a month
 * ("2026-W48", "2026-11") seconds since the first day of the period at
 * 00:00 UTC minus one day (so every time zone's local period starts after
 * it), for "all" (and any other name) minutes since 2020-01-01T00:00:00Z.
 * Bounds: |score| <= GM_LBSCORE_MAX (2^29 - 1), tick 0 .. 2^24 - 1 (194
 * days of seconds, covering any week or month; 31.9 years of minutes, to
 * 2051-11); outside them the value is clamped, so out-of-range values tie
 * at the bound, and values in range are always ordered exactly.
 * docs/operations.md ("Redis leaderboards") says how readers decode it.
 */
#ifndef GM_LBSCORE_H
#define GM_LBSCORE_H

#include <stdint.h>

#define GM_LBSCORE_TICK_BITS 24
#define GM_LBSCORE_TICKS     (INT64_C(1) << GM_LBSCORE_TICK_BITS)
#define GM_LBSCORE_MAX       ((INT64_C(1) << 29) - 1)
#define GM_LBSCORE_ALL_EPOCH INT64_C(1577836800) /* 2020-01-01T00:00:00Z */
#define GM_LBSCORE_TEXT_MAX  24

/* The encoding of score reached at reached_at (Unix seconds) in period. */
int64_t gm_lbscore_encode(int64_t score, int64_t reached_at, const char *period);

/* The same as decimal text ("%lld"), the form ZADD takes; returns buf. */
char *gm_lbscore_format(int64_t score, int64_t reached_at, const char *period,
                        char buf[GM_LBSCORE_TEXT_MAX]);

/*
 * Parses the score text Redis replies with (a double: "2516582399",
 * "1.5e+15") into the encoding (*encoded, may be NULL) and the integer score
 * (*score, may be NULL). Returns 0, or -1 for text that is not a number (both
 * set to 0). A value past 2^53 (never written by the projector) is clamped.
 */
int gm_lbscore_parse(const char *text, int64_t *encoded, int64_t *score);

/* The integer score of an encoding: floor(encoded / 2^24). */
int64_t gm_lbscore_score(int64_t encoded);

/* The reach time (Unix seconds, to the tick's unit) of an encoding in period;
 * a clamped reach gives the bound. */
int64_t gm_lbscore_reached(int64_t encoded, const char *period);

#endif
