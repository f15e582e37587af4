/*
 * trace.h: latency stamps for benchmarks (meson -Dtrace=true only). Each
 * stamp is a CLOCK_MONOTONIC reading with who (a thread's role), what (a
 * stage) and two numbers (offsets, counts), kept in memory and written at
 * exit to the file named by GAMIFY_TRACE, one "ns who what a b" line each.
 * tests/bench/e2e_trace joins them with the probe's own stamps to tell
 * which stage of an event's way to Redis holds its time. Without the
 * option every call compiles to nothing.
 */
#ifndef GM_TRACE_H
#define GM_TRACE_H

#include "gm_config.h"

#include <stdint.h>

#if GM_TRACE
/* Records one stamp (who and what are borrowed; string literals). Thread-safe;
 * stamps past the buffer (1M) are dropped and counted. */
void gm_trace(const char *who, const char *what, int64_t a, int64_t b);
#else
static inline void
gm_trace(const char *who, const char *what, int64_t a, int64_t b)
{
    (void)who;
    (void)what;
    (void)a;
    (void)b;
}
#endif

#endif
