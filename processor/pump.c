/*
 * pump.c: one batch from a log source into the store, and how far the
 * change feed may be trimmed once every consumer has read it. See pump.h.
 */
#include "pump.h"

#include "outsink.h"
#include "trace.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
gm_pump_source_open(const char *uri, uint64_t from, struct gm_logsrc **src, struct gm_err *err)
{
    struct gm_err e;
    gm_err_clear(&e);
    int rc = gm_logsrc_open(uri, from, src, &e);
    if (rc == -ERANGE)
        return gm_err_set(
            err, rc,
            "the state is ahead of the log (%s): the log lost records the state had "
            "already folded (it was cut, replaced or restored from an older copy, "
            "or lost a tail written without fsync in a crash); rebuild the state "
            "from the log into a fresh folder: gamify replay --log %s --state NEW_DIR",
            e.msg, uri);
    if (rc && err)
        *err = e;
    return rc;
}

size_t
gm_pump_mib_bytes(int64_t mib)
{
    uint64_t b = (uint64_t)(mib > 0 ? mib : 0) << 20;
    return b > SIZE_MAX ? SIZE_MAX : (size_t)b;
}

int
gm_pump_batch(struct gm_state *st, struct gm_logsrc *src, const char *uri, size_t max,
              size_t max_bytes, const volatile sig_atomic_t *stop,
              const struct gm_pump_progress *prog, size_t *n, uint64_t *next, bool *full,
              struct gm_err *err)
{
    bool at_bound = false;
    if (full)
        *full = false;
    bool json = gm_logsrc_format(src) == GM_RECORD_JSON;
    int rc = 0;
    *n = 0;
    bool open = false;
    int64_t due = 0; /* when prog is next called */
    while (*n < max && !(stop && *stop)) {
        struct gm_record rec;
        int got = gm_logsrc_next(src, &rec);
        if (got == 0)
            break;
        gm_trace("w", "rec", (int64_t)rec.offset, 0);
        if (!open) {
            if ((rc = gm_state_begin(st, err)))
                return rc;
            open = true;
            if (prog)
                due = mono_us() + prog->every_us;
        }
        if (got == GM_ETOOBIG) {
            rc = gm_state_dead_letter(st, (const uint8_t *)"", 0, json, rec.offset, "DECODE",
                                      gm_logsrc_errmsg(src), err);
        } else if (got < 0) {
            rc = gm_err_set(err, got, "reading %s at offset %llu: %s", uri,
                            (unsigned long long)*next, gm_logsrc_errmsg(src));
        } else {
            rc = gm_state_apply(st, rec.data, rec.len, json, rec.offset, rec.append_ms, err);
        }
        if (rc) {
            gm_state_abort(st);
            *n = 0;
            return rc;
        }
        *next = rec.next;
        (*n)++;
        if (*n == max || (max_bytes && gm_state_batch_bytes(st) >= max_bytes)) {
            at_bound = true;
            break;
        }
        if (prog && mono_us() >= due) {
            gm_trace("w", "offer", (int64_t)*next, (int64_t)*n);
            prog->fn(prog->ctx, st);
            due = mono_us() + prog->every_us;
        }
    }
    if (!open)
        return 0;
    gm_trace("w", "folded", (int64_t)*next, (int64_t)*n);
    if (full)
        *full = at_bound;
    return gm_state_commit(st, *next, err);
}

int64_t
gm_pump_release(struct gm_state *st, struct gm_outsink *o, int64_t hold)
{
    int64_t below = gm_state_change_end(st);
    if (hold < below)
        below = hold;
    if (o) {
        char *name;
        int64_t seq;
        if (asprintf(&name, "out:%s", gm_outsink_uri(o)) < 0)
            abort();
        if (gm_state_cursor_get(st, name, &seq) == 0 && seq < below)
            below = seq;
        free(name);
    }
    gm_state_trim_before(st, below);
    return below;
}
