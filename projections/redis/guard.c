/*
 * guard.c: the memory guard. When Redis's memory nears its maxmemory the
 * oldest finished periods go first (DESIGN section 1: "high Redis memory ->
 * delete old keys, alert operators"): their keys are the least read, and the
 * state still holds them, so a rebuild brings them back once there is room.
 *
 * Each action ends with an ops alert (an OpsAlert of kind redis_memory)
 * handed to the projector's on_alert, which queues it for the alerts
 * destination and webhooks (projections/outbound/opsalert.h).
 */
#include "redis_int.h"

#include "log.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* What one guard action did, for its alert. */
struct action {
    long long used, max, mark, used_after;
    char **periods; /* deleted, oldest first; borrowed from the finished list */
    size_t n_periods;
    uint64_t keys;
};

/* FNV-1a over the periods deleted, each followed by a newline. */
static uint64_t
periods_hash(const struct action *a)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < a->n_periods; i++) {
        for (const char *c = a->periods[i];; c++) {
            h ^= (uint8_t)(*c ? *c : '\n');
            h *= 0x100000001b3ULL;
            if (!*c)
                break;
        }
    }
    return h;
}

/* Hands the alert of action a to on_alert (when set and not throttled). */
static void
emit_alert(struct gm_redisproj *p, const struct action *a)
{
    if (!p->on_alert)
        return;
    int64_t mono = gm__redis_now_ms();
    bool still_above = a->used_after > a->mark;
    /* nothing (more) to delete: the same news every guard run, told once
     * per alert_repeat_ms, counting an alert that deleted and says so */
    if (a->n_periods == 0 && p->alert_idle_ms && mono - p->alert_idle_ms < p->alert_repeat_ms)
        return;
    if (still_above)
        p->alert_idle_ms = mono;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char id[128], host[256] = "", summary[512];
    snprintf(id, sizeof id, "redis_memory:p%d:%" PRId64 ":%016" PRIx64, p->partition, at_ms,
             periods_hash(a));
    if (gethostname(host, sizeof host - 1))
        host[0] = '\0';
    if (a->n_periods)
        snprintf(summary, sizeof summary,
                 "Redis used_memory %lld bytes above %d permille of maxmemory %lld: deleted %zu "
                 "finished leaderboard periods (%llu keys, oldest %s), used_memory now %lld%s",
                 a->used, p->memory_permille, a->max, a->n_periods, (unsigned long long)a->keys,
                 a->periods[0], a->used_after, still_above ? ", still above the mark" : "");
    else
        snprintf(summary, sizeof summary,
                 "Redis used_memory %lld bytes above %d permille of maxmemory %lld with no "
                 "finished leaderboard period left to delete",
                 a->used, p->memory_permille, a->max);
    Google__Protobuf__Timestamp raised = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    raised.seconds = at_ms / 1000;
    raised.nanos = (int32_t)(at_ms % 1000) * 1000000;
    Gamification__V1__RedisMemoryAlert rm = GAMIFICATION__V1__REDIS_MEMORY_ALERT__INIT;
    rm.used_memory_bytes = a->used;
    rm.maxmemory_bytes = a->max;
    rm.threshold_permille = p->memory_permille;
    rm.threshold_bytes = a->mark;
    rm.n_periods_deleted = a->n_periods;
    rm.periods_deleted = a->periods;
    rm.keys_deleted = (int64_t)a->keys;
    rm.used_memory_after_bytes = a->used_after;
    rm.still_above = still_above;
    rm.key_prefix = p->prefix;
    Gamification__V1__OpsAlert al = GAMIFICATION__V1__OPS_ALERT__INIT;
    al.alert_id = id;
    al.kind = "redis_memory";
    al.raised_at = &raised;
    al.partition = p->partition;
    al.host = host;
    al.summary = summary;
    al.detail_case = GAMIFICATION__V1__OPS_ALERT__DETAIL_REDIS_MEMORY;
    al.redis_memory = &rm;
    p->on_alert(p->alert_ctx, &al);
}

int
gm_redisproj_guard(struct gm_redisproj *p, const struct gm_rules *rules, int64_t now,
                   struct gm_err *err)
{
    long long used, max;
    struct finished *fin = NULL;
    size_t n_fin = 0;
    char *boards = NULL, *periods = NULL, *lb = NULL;
    struct action act = {0};
    bool acted = false;
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
    acted = true;
    act = (struct action){.used = used, .max = max, .mark = mark, .used_after = used};
    p->stats.guard_alerts++;
    atomic_fetch_add(&p->g_actions, 1);
    atomic_store(&p->g_last, now);
    gm_log(GM_LOG_WARN,
           "ALERT redis memory guard: used_memory %lld above %d permille of maxmemory %lld: "
           "deleting the oldest finished leaderboard periods",
           used, p->memory_permille, max);
    if ((rc = finished_periods(p, rules, now, &fin, &n_fin, err)))
        goto out;
    if (!(act.periods = calloc(n_fin ? n_fin : 1, sizeof *act.periods)))
        abort();
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
        act.periods[act.n_periods++] = fin[i].period;
        act.keys += (uint64_t)r->integer;
        p->stats.guard_periods_deleted++;
        p->stats.guard_keys_deleted += (uint64_t)r->integer;
        atomic_fetch_add(&p->g_periods, 1);
        atomic_fetch_add(&p->g_keys, (uint64_t)r->integer);
        gm_log(GM_LOG_WARN, "redis memory guard: deleted period %s (%lld keys)", fin[i].period,
               r->integer);
        freeReplyObject(r);
        /* boards kept elsewhere (gamify-api's mirror) are read again */
        gm__redis_queue_scores(p, NULL);
        if ((rc = gm__redis_reply(p, &r, err)))
            goto out;
        freeReplyObject(r);
        if ((rc = memory(p, &used, &max, err)))
            goto out;
        atomic_store(&p->g_used, used);
        act.used_after = used;
    }
    if (used > mark)
        gm_log(GM_LOG_ERROR,
               "ALERT redis memory guard: used_memory %lld still above %d permille of "
               "maxmemory %lld with no finished period left to delete",
               used, p->memory_permille, max);
out:
    /* also after a failure part way: what was deleted is worth telling */
    if (acted)
        emit_alert(p, &act);
    free(act.periods);
    for (size_t i = 0; i < n_fin; i++)
        free(fin[i].period);
    free(fin);
    free(boards);
    free(periods);
    free(lb);
    return rc;
}
