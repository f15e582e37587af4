/*
 * redis_int.h: what the Redis projector's files share and nobody else
 * sees: the projector struct, the connection with its pipeline, key names
 * and the list of (board, period) pairs a batch touched.
 */
#ifndef GM_REDIS_INT_H
#define GM_REDIS_INT_H

#include "feed.h"
#include "lbscores.h"
#include "redisproj.h"

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gm_redisproj {
    char *host, *user, *password; /* user and password NULL when not given */
    int port, db;
    int partition;
    char prefix[GM_REDISPROJ_PREFIX_MAX + 1];
    int timeout_ms;
    int64_t max_backoff_ms, backoff_ms;
    int64_t cursor;  /* -1: not read yet */
    redisContext *c; /* NULL: not connected */
    /* c holds a WATCH of this partition's cursor key, set while the cursor
     * was p->cursor: the next batch needs no GET (project.c) */
    bool watching;
    size_t queued; /* replies owed by the pipeline */
    int memory_permille;
    int64_t guard_interval_ms;
    int64_t guard_last_ms; /* monotonic time of the last guard run; 0: never */
    void (*on_alert)(void *ctx, const Gamification__V1__OpsAlert *alert); /* NULL: none */
    void *alert_ctx;
    int64_t alert_repeat_ms;
    int64_t alert_idle_ms; /* monotonic time of the last alert that left memory above the
                              mark; 0: none */
    struct gm_redisproj_stats stats;
    char *url;                        /* as given, for the reconcile's rebuild */
    struct gm_feed_rules_cache rules; /* the rules of the last step */
    struct gm_feedshare *share;       /* borrowed; NULL: none */
    /* the changes [early_from, early_end) of share generation early_gen
     * were written early (gm_redisproj_early), without the cursor: once
     * committed, a step only moves the cursor over them. early_end -1:
     * none */
    int64_t early_from, early_end;
    uint64_t early_gen;
    uint64_t early_rules; /* a hash of the rules text the early write used (its TTLs) */
    /* the reconcile: settings, schedule and where the sample resumes */
    int64_t recon_interval_ms, recon_next_ms; /* next run, monotonic */
    size_t recon_sample;
    uint64_t recon_rebuild_drift;
    bool recon_whole;
    char *recon_from; /* user id the next sample starts at; NULL: the first */
    /* counters other threads read (gm_redisproj_guard_stats, _reconcile_stats) */
    _Atomic uint64_t g_actions, g_periods, g_keys;
    _Atomic int64_t g_used, g_max, g_last;
    _Atomic uint64_t r_runs, r_skipped, r_errors, r_drift, r_last_drift, r_rebuilds;
    _Atomic uint64_t r_recreated, r_removed, r_sampled;
};

/* Monotonic milliseconds. */
int64_t gm__redis_now_ms(void);

/* The live leaderboard keys (SCAN PREFIXlb:*): *keys new, sorted (free each
 * and the array). Errors: GM_EREDIS. */
int gm__redis_live_keys(struct gm_redisproj *p, char ***keys, size_t *n, struct gm_err *err);

/* Runs the reconcile when it is on and due (from a step); its failures
 * are logged, never the step's. */
int gm__redis_maybe_reconcile(struct gm_redisproj *p, struct gm_state *st, struct gm_err *err);

/* The step found the change feed trimmed past the cursor (Redis lost its
 * data, or its cursor): with the reconcile on and whole, rebuilds every
 * board from st (err says why on entry). Errors: those of the rebuild. */
int gm__redis_heal_trimmed(struct gm_redisproj *p, struct gm_state *st, struct gm_err *err);

/* Parses url into p's host, port, db, user and password. */
int gm__redis_parse_url(struct gm_redisproj *p, const char *url, struct gm_err *err);

/* Connects (AUTH, SELECT) unless connected. Errors: GM_EREDIS. */
int gm__redis_connect(struct gm_redisproj *p, struct gm_err *err);

/* Drops the connection and whatever the pipeline held. */
void gm__redis_drop(struct gm_redisproj *p);

/* Queues one command (binary-safe arguments); its reply is owed. */
void gm__redis_append(struct gm_redisproj *p, int argc, const char **argv, const size_t *len);

/* printf-style, for commands of plain arguments (%s, %b, %lld). */
void gm__redis_appendf(struct gm_redisproj *p, const char *fmt, ...);

/* Reads the next owed reply: *r is new (freeReplyObject). Errors: GM_EREDIS
 * (connection; the connection is dropped). */
int gm__redis_reply(struct gm_redisproj *p, redisReply **r, struct gm_err *err);

/* Reads every owed reply; an error reply fails with GM_EREDIS and its text. */
int gm__redis_drain(struct gm_redisproj *p, struct gm_err *err);

/* The names of p's keys; each new (free with free()). */
char *gm__redis_board_key(const struct gm_redisproj *p, const char *board, const char *period);
char *gm__redis_name(const struct gm_redisproj *p, const char *suffix); /* prefix + suffix */
char *gm__redis_cursor_key(const struct gm_redisproj *p, int partition);

/* The (board, period) pairs a batch touched, strings owned. */
struct gm__pair {
    char *board, *period;
};

struct gm__pairs {
    struct gm__pair *v;
    size_t n, cap;
};

void gm__pairs_add(struct gm__pairs *l, const char *board, const char *period);
/* Sorts v[from..n) and removes duplicates there. */
void gm__pairs_unique(struct gm__pairs *l, size_t from);
void gm__pairs_clear(struct gm__pairs *l);

/*
 * Queues SADD of the boards and periods of v[from..n) to the boards and
 * periods sets, and their keys' TTLs (EXPIREAT, or PERSIST for "all" when
 * persist is set) by rules (NULL: no TTLs); key_of names each pair's key.
 */
void gm__redis_queue_pairs(struct gm_redisproj *p, const struct gm__pairs *l, size_t from,
                           const struct gm_rules *rules, bool persist);

/*
 * Queues the PUBLISH of a leaderboard-scores message (common/lbscores.h) on
 * PREFIX "leaderboard-scores": m's when m is given and holds items (else
 * nothing is queued: returns false), or a lone reset when m is NULL. Its
 * reply is owed.
 */
bool gm__redis_queue_scores(struct gm_redisproj *p, const struct gm_lbscores *m);

/* The leaderboard-changed message of a batch (docs/operations.md):
 * {"partition":P,"next":SEQ,"changed":[{"board":B,"period":K},...],
 * "pruned":[K,...]}, the first max_pairs pairs, with "truncated":true when
 * pairs holds more. New; free(). */
char *gm__redis_message(const struct gm__pairs *pairs, size_t max_pairs, char *const *pruned,
                        size_t n_pruned, int partition, int64_t next);

/* The local midnight starting the period weeks_after (months_after)
 * periods after period, by the key's kind; 0 or GM_ENOTFOUND ("all"). */
int gm__redis_period_bound(const char *period, const struct gm_rules *rules, int64_t weeks_after,
                           int64_t months_after, int64_t *at);

/* The Lua script that deletes periods on every board (ARGV: lb prefix,
 * periods; KEYS: boards set, periods set). */
extern const char gm__redis_prune_script[];

/* The projector's prune of one partition (docs/operations.md, "Pruned
 * periods and partitions"): marks the periods pruned by the partition and
 * deletes a period's keys once every partition of the partitions set has
 * pruned it (ARGV: lb prefix, partition, pruned-mark prefix, periods;
 * KEYS: boards set, periods set, partitions set). */
extern const char gm__redis_prune_part_script[];

#endif
