/*
 * kproj.c: the Postgres and Redis projectors of one Kafka partition (see
 * kproj.h): each a projrun.h thread, with a step that waits instead of
 * failing while the partition's state is behind the cursor another
 * instance left in Postgres or Redis.
 *
 * One thread per projector and partition, not one per projector stepping
 * through the partitions: an assignment and a revocation are then the start
 * and stop of runners that share nothing (a revocation joins only that
 * partition's threads, and never races another partition's step over a
 * list that changes), a partition whose steps are slow or failing delays no
 * other, and the runner is the one file logs use, unchanged. The price is
 * connections: one to Postgres and one to Redis per assigned partition
 * (libpq and hiredis connections are not shared between threads anyway).
 */
#include "kproj.h"

#include "feed.h"
#include "feedshare.h"
#include "log.h"
#include "pgproj.h"
#include "projrun.h"
#include "whrun.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* One projector of the partition, as its runner's impl. */
struct side {
    bool redis; /* else Postgres */
    void *proj; /* struct gm_pgproj or struct gm_redisproj; owned */
    int32_t partition;
    bool waiting;     /* the state is behind the projector's cursor */
    bool context_set; /* the thread's log context names the partition */
    char context[32]; /* "\"partition\":N", for the thread's log lines */
};

struct gm_kproj {
    struct gm_projrun *pg, *redis, *wh;
    struct gm_feedshare *share;    /* pg's and redis's pass over the feed; NULL: one of them */
    const struct gm_redisproj *rp; /* borrowed from redis's runner, for its guard figures */
    const struct gm_webhooks *whp; /* borrowed from wh's runner */
};

static int64_t
side_cursor(const void *impl)
{
    const struct side *s = impl;
    return s->redis ? gm_redisproj_cursor(s->proj) : gm_pgproj_cursor(s->proj);
}

/* The end of st's change feed as a snapshot now sees it; -1 unknown. */
static int64_t
feed_end(struct gm_state *st)
{
    struct gm_feed *f;
    if (gm_feed_open(st, &f))
        return -1;
    int64_t end = gm_feed_end(f);
    gm_feed_close(f);
    return end;
}

/*
 * A step. GM_EINVAL with the projector's cursor past the end of the feed
 * as it was before the step (the step's own snapshot can only be later)
 * means the read model holds changes this state has not folded yet:
 * another instance projected the partition further before it moved here,
 * and the state is catching up (the fold is deterministic: the same log
 * gives the same change numbers). That is a wait, not a failure.
 */
static int
side_step(void *impl, struct gm_state *st, size_t max, size_t *n, struct gm_err *err)
{
    struct side *s = impl;
    if (!s->context_set) {
        /* thread-local: every line of this projector's thread names it */
        gm_log_set_context(s->context);
        s->context_set = true;
    }
    int64_t end = feed_end(st);
    int rc = s->redis ? gm_redisproj_step(s->proj, st, max, n, err)
                      : gm_pgproj_step(s->proj, st, max, n, err);
    int64_t cursor = side_cursor(s);
    if (rc == GM_EINVAL && end >= 0 && cursor > end) {
        if (!s->waiting)
            gm_log(GM_LOG_INFO,
                   "%s projector: the read model is at change %" PRId64 " of partition %d, "
                   "ahead of this state (%" PRId64 "): another instance projected it further; "
                   "waiting for the state to catch up",
                   s->redis ? "redis" : "postgres", cursor, (int)s->partition, end);
        s->waiting = true;
        *n = 0;
        return 0;
    }
    if (rc == 0 && s->waiting) {
        gm_log(GM_LOG_INFO, "%s projector: the state caught up with the read model",
               s->redis ? "redis" : "postgres");
        s->waiting = false;
    }
    return rc;
}

static int64_t
side_backoff(const void *impl)
{
    const struct side *s = impl;
    /* Postgres has none of its own: the runner's */
    return s->redis ? gm_redisproj_backoff_ms(s->proj) : 0;
}

static void
side_close(void *impl)
{
    struct side *s = impl;
    if (s->redis)
        gm_redisproj_close(s->proj);
    else
        gm_pgproj_close(s->proj);
    free(s);
}

static const struct gm_projector_ops pg_ops = {"postgres", side_step, NULL, side_cursor,
                                               side_close};
static const struct gm_projector_ops redis_ops = {"redis", side_step, side_backoff, side_cursor,
                                                  side_close};

/* A new side for proj (taken). */
static struct side *
side_new(bool redis, void *proj, int32_t partition)
{
    struct side *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->redis = redis;
    s->proj = proj;
    s->partition = partition;
    snprintf(s->context, sizeof s->context, "\"partition\":%d", (int)partition);
    return s;
}

int
gm_kproj_start(const struct gm_kproj_conf *conf, int32_t partition, const char *state_dir,
               struct gm_state *st, struct gm_kproj **out, struct gm_err *err)
{
    *out = NULL;
    if (!conf->conninfo && !conf->redis_url && !conf->webhooks)
        return 0;
    struct gm_kproj *kp = calloc(1, sizeof *kp);
    if (!kp)
        abort();
    int rc = 0;
    if (conf->conninfo && conf->redis_url)
        kp->share = gm_feedshare_new(GM_FEEDSHARE_CHANGES);
    if (conf->conninfo) {
        struct gm_pgproj *pp;
        if ((rc = gm_pgproj_open(conf->conninfo, (int)partition, &pp, err)))
            goto out;
        gm_pgproj_set_share(pp, kp->share);
        /* the runner takes the side, and closes it when it cannot start */
        if ((rc = gm_projrun_start(&pg_ops, side_new(false, pp, partition), st, &kp->pg, err)))
            goto out;
        gm_projrun_set_linger(kp->pg, conf->pg_linger_ms);
    }
    if (conf->redis_url) {
        struct gm_redisproj *rp;
        if ((rc = gm_redisproj_open(conf->redis_url, (int)partition, &conf->redis_opts, &rp, err)))
            goto out;
        gm_redisproj_set_share(rp, kp->share);
        if ((rc = gm_projrun_start(&redis_ops, side_new(true, rp, partition), st, &kp->redis, err)))
            goto out;
        kp->rp = rp;
    }
    /* the webhooks' own step: the delivery state is the partition's, so it
     * is never behind or ahead of this state */
    if (conf->webhooks &&
        (rc = gm_whrun_start(conf->webhooks, state_dir, st, &kp->wh, &kp->whp, err)))
        goto out;
out:
    if (rc) {
        gm_kproj_stop(kp);
        return rc;
    }
    *out = kp;
    return 0;
}

void
gm_kproj_hurry(struct gm_kproj *kp)
{
    if (kp)
        gm_projrun_hurry(kp->pg);
}

void
gm_kproj_wake(struct gm_kproj *kp)
{
    if (!kp)
        return;
    gm_projrun_wake(kp->pg);
    gm_projrun_wake(kp->redis);
    gm_projrun_wake(kp->wh);
}

int64_t
gm_kproj_hold(const struct gm_kproj *kp)
{
    if (!kp)
        return INT64_MAX;
    int64_t a = gm_projrun_hold(kp->pg), b = gm_projrun_hold(kp->redis);
    int64_t c = gm_projrun_hold(kp->wh);
    a = a < b ? a : b;
    return a < c ? a : c;
}

static void
side_stats(const struct gm_projrun *r, int64_t end, struct gm_kproj_side_stats *out)
{
    *out = (struct gm_kproj_side_stats){0};
    if (!r)
        return;
    struct gm_projrun_stats ps;
    gm_projrun_stats(r, &ps);
    out->on = true;
    out->changes = ps.changes;
    out->failures = ps.failures;
    /* unknown cursor: all of it; ahead of the state (waiting): nothing */
    out->lag = ps.cursor < 0 ? end : ps.cursor > end ? 0 : end - ps.cursor;
}

void
gm_kproj_stats(const struct gm_kproj *kp, int64_t end, struct gm_kproj_stats *out)
{
    side_stats(kp ? kp->pg : NULL, end, &out->pg);
    side_stats(kp ? kp->redis : NULL, end, &out->redis);
    out->guard = (struct gm_redisproj_guard_stats){.used_memory = -1, .maxmemory = -1};
    if (kp && kp->rp)
        gm_redisproj_guard_stats(kp->rp, &out->guard);
    out->wh_on = kp && kp->whp;
    out->wh = (struct gm_webhooks_stats){0};
    out->wh_lag = 0;
    if (out->wh_on) {
        gm_webhooks_stats(kp->whp, &out->wh);
        int64_t cursor = gm_webhooks_cursor(kp->whp);
        out->wh_lag = cursor < 0 ? end : cursor > end ? 0 : end - cursor;
    }
}

void
gm_kproj_stop(struct gm_kproj *kp)
{
    if (!kp)
        return;
    gm_projrun_stop(kp->pg);
    gm_projrun_stop(kp->redis);
    gm_projrun_stop(kp->wh);
    gm_feedshare_free(kp->share); /* after its readers */
    free(kp);
}
