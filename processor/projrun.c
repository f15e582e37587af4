/*
 * projrun.c: a projector's thread beside the writer (see projrun.h).
 */
#include "projrun.h"

#include "log.h"
#include "trace.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STEP_MAX     10000 /* changes per step */
#define IDLE_WAIT_MS 50    /* longest sleep when up to date (a commit wakes it sooner) */
#define COMMITS_MAX  4096  /* commit notes kept; past it, neighbours merge */

const uint64_t gm_projrun_step_bounds_us[GM_PROJRUN_STEP_BUCKETS] = {
    1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

/* The changes before end were committed at ms (wall clock) or later. */
struct commit_note {
    int64_t end, ms;
};

struct gm_projrun {
    struct gm_projector_ops ops;
    void *impl;
    struct gm_state *st;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool woken, stop;
    bool early;        /* under mu: an offer waits (gm_projrun_wake_early) */
    bool committed;    /* under mu: a commit came since the last step began */
    bool backing_off;  /* under mu: waiting out a failure's backoff */
    bool hurry;        /* under mu: end the linger (gm_projrun_hurry) */
    int64_t linger_ms; /* under mu: gm_projrun_set_linger */
    atomic_int_fast64_t cursor;
    atomic_uint_fast64_t changes, failures, retries, early_changes, early_failures;
    atomic_uint_fast64_t step_le[GM_PROJRUN_STEP_BUCKETS], step_count, step_us_sum;
    int64_t backoff_ms; /* the runner's own, for projectors without one */
    /* under mu: the commits whose changes the projector may not have yet,
     * oldest first, ranges [notes[i-1].end, notes[i].end) */
    struct commit_note notes[COMMITS_MAX];
    size_t n_notes;
};

static int64_t
wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Notes that the changes before end exist since ms; call with mu held. */
static void
note_commit(struct gm_projrun *r, int64_t end, int64_t ms)
{
    int64_t cursor = atomic_load(&r->cursor);
    size_t drop = 0; /* notes the projector is past */
    while (drop < r->n_notes && r->notes[drop].end <= cursor)
        drop++;
    memmove(r->notes, r->notes + drop, (r->n_notes - drop) * sizeof *r->notes);
    r->n_notes -= drop;
    if (r->n_notes > 0 && end <= r->notes[r->n_notes - 1].end)
        return; /* nothing new */
    if (r->n_notes == COMMITS_MAX) {
        /* merge neighbours: a range keeps its older time, so the lag is
         * never understated */
        for (size_t i = 0; i < COMMITS_MAX / 2; i++)
            r->notes[i] = (struct commit_note){r->notes[2 * i + 1].end, r->notes[2 * i].ms};
        r->n_notes = COMMITS_MAX / 2;
    }
    r->notes[r->n_notes++] = (struct commit_note){end, ms};
}

/* ms from now on the monotonic clock, the condition variable's clock. */
static struct timespec
deadline(int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    return until;
}

/* Waits up to ms or until woken or stopped; with full, until stopped only
 * (a backoff: commits keep waking the thread, and a server that is down
 * must not be retried at the writer's pace). Call with mu held. */
static void
nap(struct gm_projrun *r, int64_t ms, bool full)
{
    struct timespec until = deadline(ms);
    while ((full || !r->woken) && !r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0) {
    }
    r->woken = false;
}

/* After a step that caught up: waits out the linger, unless stopped or
 * hurried. Call with mu held. */
static void
linger(struct gm_projrun *r)
{
    if (r->linger_ms <= 0 || r->hurry || r->stop)
        return;
    struct timespec until = deadline(r->linger_ms);
    gm_trace(r->ops.name, "linger", r->linger_ms, 0);
    while (!r->hurry && !r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) == 0) {
    }
}

static void *
run(void *arg)
{
    struct gm_projrun *r = arg;
    char last_err[GM_ERR_MSG_MAX] = "";
    /* named, so that top -H and /proc/PID/task show each projector's CPU */
    char name[16];
    snprintf(name, sizeof name, "proj-%s", r->ops.name);
    pthread_setname_np(pthread_self(), name);
    for (;;) {
        pthread_mutex_lock(&r->mu);
        bool stop = r->stop, early = r->early;
        r->early = false;
        if (!early)
            r->committed = false; /* the step below takes it */
        pthread_mutex_unlock(&r->mu);
        if (stop)
            break;
        struct gm_err err;
        gm_err_clear(&err);
        size_t n = 0;
        if (early && r->ops.early && !last_err[0]) {
            /* before the commit lands: the step after it only moves the
             * cursor over what this wrote */
            gm_trace(r->ops.name, "early.start", 0, 0);
            int erc = r->ops.early(r->impl, STEP_MAX, &n, &err);
            gm_trace(r->ops.name, "early.done", (int64_t)n, erc);
            if (erc) {
                atomic_fetch_add(&r->early_failures, 1);
                gm_log(GM_LOG_DEBUG, "%s projector: early hand-over: %s", r->ops.name,
                       err.msg[0] ? err.msg : gm_strerror(erc));
            } else {
                atomic_fetch_add(&r->early_changes, n);
            }
            pthread_mutex_lock(&r->mu);
            /* wait for the commit's wake (bounded), unless it came already */
            if (!r->woken && !r->stop)
                nap(r, IDLE_WAIT_MS, false);
            else
                r->woken = false;
            /* a newer offer of a batch not committed yet (a long batch
             * offered as it goes): write it first; once a commit came, the
             * step moves the cursor before anything else */
            bool again = r->early && !r->committed && !r->stop;
            r->committed = false;
            pthread_mutex_unlock(&r->mu);
            gm_err_clear(&err);
            n = 0;
            if (again)
                continue;
        }
        if (last_err[0])
            atomic_fetch_add(&r->retries, 1);
        pthread_mutex_lock(&r->mu);
        r->hurry = false; /* this step takes what a hurry was for */
        pthread_mutex_unlock(&r->mu);
        int64_t t0 = mono_us();
        gm_trace(r->ops.name, "step.start", 0, 0);
        int rc = r->ops.step(r->impl, r->st, STEP_MAX, &n, &err);
        uint64_t us = (uint64_t)(mono_us() - t0);
        gm_trace(r->ops.name, "step.done", (int64_t)n, rc);
        atomic_store(&r->cursor, r->ops.cursor(r->impl));
        if (rc == 0 && n > 0) {
            atomic_fetch_add(&r->step_count, 1);
            atomic_fetch_add(&r->step_us_sum, us);
            for (int i = 0; i < GM_PROJRUN_STEP_BUCKETS; i++)
                if (us <= gm_projrun_step_bounds_us[i])
                    atomic_fetch_add(&r->step_le[i], 1);
        }
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
            if (n == 0) {
                wait = IDLE_WAIT_MS;
            } else if (n < STEP_MAX) {
                pthread_mutex_lock(&r->mu);
                linger(r);
                pthread_mutex_unlock(&r->mu);
            }
        }
        if (wait > 0) {
            pthread_mutex_lock(&r->mu);
            r->backing_off = rc != 0;
            nap(r, wait, rc != 0);
            r->backing_off = false;
            pthread_mutex_unlock(&r->mu);
        }
    }
    return NULL;
}

int
gm_projrun_start(const struct gm_projector_ops *ops, void *impl, struct gm_state *st,
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
    /* timed waits on the monotonic clock: a wall clock set back must not
     * stretch a nap */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int cv_rc = pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_mutex_init(&r->mu, NULL) || cv_rc)
        abort();
    /* what the feed holds now waits since the start, as far as we know */
    note_commit(r, gm_state_change_end(st), wall_ms());
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
    int64_t end = gm_state_change_end(r->st), ms = wall_ms();
    pthread_mutex_lock(&r->mu);
    note_commit(r, end, ms);
    r->woken = true;
    r->committed = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void
gm_projrun_set_linger(struct gm_projrun *r, int64_t ms)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->linger_ms = ms > 0 ? ms : 0;
    pthread_mutex_unlock(&r->mu);
}

void
gm_projrun_hurry(struct gm_projrun *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->hurry = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void
gm_projrun_wake_early(struct gm_projrun *r)
{
    if (!r || !r->ops.early)
        return;
    pthread_mutex_lock(&r->mu);
    if (!r->backing_off) {
        r->early = true;
        r->woken = true;
        pthread_cond_signal(&r->cv);
    }
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
    out->retries = atomic_load(&m->retries);
    out->early_changes = atomic_load(&m->early_changes);
    out->early_failures = atomic_load(&m->early_failures);
    out->cursor = atomic_load(&m->cursor);
    out->step_count = atomic_load(&m->step_count);
    out->step_us_sum = atomic_load(&m->step_us_sum);
    for (int i = 0; i < GM_PROJRUN_STEP_BUCKETS; i++)
        out->step_le[i] = atomic_load(&m->step_le[i]);
    out->lag_ms = 0;
    int64_t now = wall_ms();
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_notes; i++) {
        if (m->notes[i].end > out->cursor) {
            out->lag_ms = now > m->notes[i].ms ? now - m->notes[i].ms : 0;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
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
