/*
 * guard.c: the memory guard. When Redis's memory nears its maxmemory the
 * oldest finished periods go first (DESIGN section 1: "high Redis memory ->
 * delete old keys, alert operators"): their keys are the least read, and the
 * state still holds them, so a rebuild brings them back once there is room.
 */
#include "redis_int.h"

#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* used_memory and maxmemory from INFO memory. */
static int
memory(struct gm_redisproj *p, long long *used, long long *max, struct gm_err *err)
{
    redisReply *r;
    gm__redis_appendf(p, "INFO memory");
    if (gm__redis_reply(p, &r, err))
        return GM_EREDIS;
    int rc = 0;
    const char *u = r->type == REDIS_REPLY_STRING ? strstr(r->str, "\nused_memory:") : NULL;
    const char *m = u ? strstr(r->str, "\nmaxmemory:") : NULL;
    if (!u || !m)
        rc = gm_err_set(err, GM_EREDIS, "Redis INFO memory: no used_memory or maxmemory");
    else {
        *used = strtoll(u + strlen("\nused_memory:"), NULL, 10);
        *max = strtoll(m + strlen("\nmaxmemory:"), NULL, 10);
    }
    freeReplyObject(r);
    return rc;
}

struct finished {
    char *period;
    int64_t end;
};

static int
finished_cmp(const void *a, const void *b)
{
    const struct finished *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->period, y->period);
}

/* The finished periods of the periods set, oldest first: *out new. */
static int
finished_periods(struct gm_redisproj *p, const struct gm_rules *rules, int64_t now,
                 struct finished **out, size_t *n, struct gm_err *err)
{
    char *key = gm__redis_name(p, "periods");
    redisReply *r;
    gm__redis_appendf(p, "SMEMBERS %s", key);
    free(key);
    *out = NULL;
    *n = 0;
    if (gm__redis_reply(p, &r, err))
        return GM_EREDIS;
    if (r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return gm_err_set(err, GM_EREDIS, "Redis SMEMBERS periods: unexpected reply");
    }
    *out = calloc(r->elements ? r->elements : 1, sizeof **out);
    if (!*out)
        abort();
    for (size_t i = 0; i < r->elements; i++) {
        int64_t end;
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            gm__redis_period_bound(r->element[i]->str, rules, 1, 1, &end) || end > now)
            continue; /* "all", or not finished */
        if (!((*out)[*n].period = strdup(r->element[i]->str)))
            abort();
        (*out)[(*n)++].end = end;
    }
    freeReplyObject(r);
    qsort(*out, *n, sizeof **out, finished_cmp);
    return 0;
}

int
gm_redisproj_guard(struct gm_redisproj *p, const struct gm_rules *rules, int64_t now,
                   struct gm_err *err)
{
    long long used, max;
    struct finished *fin = NULL;
    size_t n_fin = 0;
    char *boards = NULL, *periods = NULL, *lb = NULL;
    int rc;
    if (p->memory_permille <= 0)
        return 0;
    if ((rc = gm__redis_connect(p, err)) || (rc = memory(p, &used, &max, err)))
        goto out;
    atomic_store(&p->g_used, used);
    atomic_store(&p->g_max, max);
    long long mark = max / 1000 * p->memory_permille + max % 1000 * p->memory_permille / 1000;
    if (max == 0 || used <= mark)
        goto out;
    p->stats.guard_alerts++;
    atomic_fetch_add(&p->g_actions, 1);
    atomic_store(&p->g_last, now);
    gm_log(GM_LOG_WARN,
           "ALERT redis memory guard: used_memory %lld above %d permille of maxmemory %lld: "
           "deleting the oldest finished leaderboard periods",
           used, p->memory_permille, max);
    if ((rc = finished_periods(p, rules, now, &fin, &n_fin, err)))
        goto out;
    boards = gm__redis_name(p, "boards");
    periods = gm__redis_name(p, "periods");
    lb = gm__redis_name(p, "lb:");
    for (size_t i = 0; i < n_fin && used > mark; i++) {
        const char *argv[] = {"EVAL", gm__redis_prune_script, "2", boards, periods,
                              lb,     fin[i].period};
        redisReply *r;
        gm__redis_append(p, 7, argv, NULL);
        if ((rc = gm__redis_reply(p, &r, err)))
            goto out;
        if (r->type != REDIS_REPLY_INTEGER) {
            rc = gm_err_set(err, GM_EREDIS, "Redis: deleting period %s: %s", fin[i].period,
                            r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            goto out;
        }
        p->stats.guard_periods_deleted++;
        p->stats.guard_keys_deleted += (uint64_t)r->integer;
        atomic_fetch_add(&p->g_periods, 1);
        atomic_fetch_add(&p->g_keys, (uint64_t)r->integer);
        gm_log(GM_LOG_WARN, "redis memory guard: deleted period %s (%lld keys)", fin[i].period,
               r->integer);
        freeReplyObject(r);
        if ((rc = memory(p, &used, &max, err)))
            goto out;
        atomic_store(&p->g_used, used);
    }
    if (used > mark)
        gm_log(GM_LOG_ERROR,
               "ALERT redis memory guard: used_memory %lld still above %d permille of "
               "maxmemory %lld with no finished period left to delete",
               used, p->memory_permille, max);
out:
    for (size_t i = 0; i < n_fin; i++)
        free(fin[i].period);
    free(fin);
    free(boards);
    free(periods);
    free(lb);
    return rc;
}
