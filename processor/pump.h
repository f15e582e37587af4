/*
 * pump.h: moving records from a log into the state, shared by `gamify
 * replay` and gamify-processor: one batch at a time from a log source into
 * the store, and how far the change feed may then be trimmed. Writing
 * outbound events to an output is outsink.h.
 */
#ifndef GM_PUMP_H
#define GM_PUMP_H

#include "err.h"
#include "logsrc.h"
#include "state.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Opens the source uri at from, the offset a state stored (logsrc.h).
 * -ERANGE: the log ends before from, so it lost records the state had
 * already folded (it was cut, replaced or restored from an older copy, or
 * lost a tail written without fsync in a crash); err then says so and that
 * the state must be rebuilt from the log into a fresh folder. *src is new;
 * close with gm_logsrc_close.
 */
int gm_pump_source_open(const char *uri, uint64_t from, struct gm_logsrc **src, struct gm_err *err);

/*
 * Called between records of a batch that has been folding for a while
 * (gm_pump_batch): fn(ctx, st) at most once every every_us microseconds,
 * the first time every_us after the batch's first record. The batch's
 * change records so far can then be read (gm_state_pending_records) and
 * handed on before the batch ends (gamify-processor --redis-early).
 */
struct gm_pump_progress {
    void (*fn)(void *ctx, struct gm_state *st);
    void *ctx;
    int64_t every_us;
};

/* mib MiB in bytes, SIZE_MAX when that does not fit in a size_t (a 32-bit
 * build given --batch-mib 4096): the bound of --batch-mib. */
size_t gm_pump_mib_bytes(int64_t mib);

/*
 * Folds up to max records of src into st as one batch and commits it with
 * the offset after the last record. *n is the number of records folded (0:
 * none was available; nothing is committed) and *next the new offset. The
 * batch also ends once the records it holds reach max_bytes
 * (gm_state_batch_bytes; 0: no bound), so a batch may end short of max
 * before the log's end. *full (may be NULL) tells whether the batch ended at
 * one of the two bounds, so that more records are probably waiting. When
 * stop is not NULL it is checked between records: once set, the batch ends
 * early and is committed. prog (may be NULL; borrowed) is called between
 * records of a long batch. uri names the source in errors. A record the
 * source cannot return whole (GM_ETOOBIG) becomes a dead letter.
 */
int gm_pump_batch(struct gm_state *st, struct gm_logsrc *src, const char *uri, size_t max,
                  size_t max_bytes, const volatile sig_atomic_t *stop,
                  const struct gm_pump_progress *prog, size_t *n, uint64_t *next, bool *full,
                  struct gm_err *err);

struct gm_outsink; /* outsink.h */

/*
 * Tells st which change-feed records every consumer of this process has
 * taken: those before o's cursor (o NULL: all) and before hold (the
 * slowest projector's cursor; INT64_MAX: none runs). The next commits trim
 * them (gm_state_trim_before). A projector enabled later, when the feed
 * has moved on, starts from a rebuild. Returns that point.
 */
int64_t gm_pump_release(struct gm_state *st, struct gm_outsink *o, int64_t hold);

#endif
