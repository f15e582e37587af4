/*
 * projrun.c: a projector's thread beside the writer (see projrun.h).
 */
#include "projrun.h"

#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP_MAX     10000 /* changes per step */
#define IDLE_WAIT_MS 50    /* longest sleep when up to date (a commit wakes it sooner) */

struct gm_projrun {
    struct gm_projector_ops ops;
    void *impl;
    struct gm_store *st;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken, stop;
    atomic_int_fast64_t cursor;
    atomic_uint_fast64_t changes, failures;
    int64_t backoff_ms; /* the runner's own, for projectors without one */
};

/* Waits up to ms or until woken or stopped; call with mu held. */
static void
nap(struct gm_projrun *r, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    while (!r->woken && !r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0) {
    }
    r->woken = false;
}

static void *
run(void *arg)
{
    struct gm_projrun *r = arg;
    char last_err[GM_ERR_MSG_MAX] = "";
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        struct gm_err err;
        gm_err_clear(&err);
        size_t n = 0;
        int rc = r->ops.step(r->impl, r->st, STEP_MAX, &n, &err);
        atomic_store(&r->cursor, r->ops.cursor(r->impl));
        int64_t wait = 0;
        if (rc) {
            atomic_fetch_add(&r->failures, 1);
            /* one line per distinct failure, not one per retry */
            if (strcmp(last_err, err.msg) != 0) {
                gm_log(GM_LOG_ERROR, "%s projector: %s (retrying with backoff)", r->ops.name,
                       err.msg[0] ? err.msg : gm_strerror(rc));
                snprintf(last_err, sizeof last_err, "%s", err.msg);
            }
            if (r->ops.backoff_ms) {
                wait = r->ops.backoff_ms(r->impl);
            } else {
                r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : 100;
                if (r->backoff_ms > 10000)
                    r->backoff_ms = 10000;
                wait = r->backoff_ms;
            }
            if (wait <= 0)
                wait = 100;
        } else {
            if (last_err[0])
                gm_log(GM_LOG_INFO, "%s projector: working again", r->ops.name);
            last_err[0] = '\0';
            r->backoff_ms = 0;
            atomic_fetch_add(&r->changes, n);
            if (n == 0)
                wait = IDLE_WAIT_MS;
        }
        if (wait > 0) {
            pthread_mutex_lock(&r->mu);
            nap(r, wait);
            pthread_mutex_unlock(&r->mu);
        }
    }
    return NULL;
}

int
gm_projrun_start(const struct gm_projector_ops *ops, void *impl, struct gm_store *st,
                 struct gm_projrun **out, struct gm_err *err)
{
    *out = NULL;
    struct gm_projrun *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->ops = *ops;
    r->impl = impl;
    r->st = st;
    atomic_store(&r->cursor, -1);
    if (pthread_mutex_init(&r->mu, NULL) || pthread_cond_init(&r->cv, NULL))
        abort();
    if (pthread_create(&r->thread, NULL, run, r)) {
        ops->close(impl);
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
        return gm_err_set(err, GM_EIO, "cannot start the %s projector's thread", ops->name);
    }
    *out = r;
    return 0;
}

void
gm_projrun_wake(struct gm_projrun *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->woken = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int64_t
gm_projrun_hold(const struct gm_projrun *r)
{
    if (!r)
        return INT64_MAX;
    int64_t c = atomic_load(&((struct gm_projrun *)r)->cursor);
    return c < 0 ? 0 : c;
}

void
gm_projrun_stats(const struct gm_projrun *r, struct gm_projrun_stats *out)
{
    struct gm_projrun *m = (struct gm_projrun *)r;
    out->changes = atomic_load(&m->changes);
    out->failures = atomic_load(&m->failures);
    out->cursor = atomic_load(&m->cursor);
}

void
gm_projrun_stop(struct gm_projrun *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    r->ops.close(r->impl);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
