/*
 * bench.h: what benchmarks (tests/bench) do to a state that the programs
 * never do. Built into the library gm_state_bench, which only tests/bench
 * links.
 */
#ifndef GM_STATE_BENCH_H
#define GM_STATE_BENCH_H

#include "state.h"

/*
 * Stores n synthetic dedupe ids ("preload-%012llu") seen at event time t,
 * in batches of its own, as if n events had been folded (their effects are
 * not). Fails if a batch is open.
 */
int gm_state_preload_dedupe(struct gm_state *s, uint64_t n, int64_t t, struct gm_err *err);

#endif
