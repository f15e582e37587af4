/*
 * opsalert.h: operator alerts (OpsAlert, proto/gamification/v1/outbound.proto)
 * and their delivery. An alert is not a state event: it never enters the
 * change feed or the outbound stream (--out), which carry exactly the
 * events of the state. Whoever raises one (the Redis memory guard, in a
 * projector's thread) hands it to gm_opsalert_emit, which packs a copy into
 * a bounded queue and returns at once; a thread of its own delivers each
 * queued alert to the destination and to every webhook endpoint that wants
 * "ops.alert", each target in queue order, retrying with backoff. A target
 * that is down stalls nothing but the alerts; a full queue drops the new
 * alert and counts it.
 *
 * Destinations (the URI forms of --out): jsonl:PATH (one JSON line per
 * alert, appended and fsynced; jsonl:- is standard output), file:DIR (a
 * file log of protobuf OpsAlert records) and kafka://HOST:PORT[,..]/TOPIC
 * (protobuf OpsAlert, key = the alert's kind, header gamify-id = its id,
 * idempotent producer; opened by the delivery thread, so a broker that is
 * down at start delays alerts, not the processor).
 *
 * At least once while the process runs: the destination is retried until
 * it takes the alert, an endpoint up to its max_attempts. A retry after a
 * lost answer delivers the same alert_id again: consumers dedupe on it. The
 * queue is in memory: alerts still queued when the process dies, or after
 * the drain time at close, are lost (counted as dropped; the log line and
 * the guard's metrics remain).
 */
#ifndef GM_OPSALERT_H
#define GM_OPSALERT_H

#include "err.h"
#include "outbound.pb-c.h"
#include "webhook.h"

#include <stddef.h>
#include <stdint.h>

struct gm_opsalert;

struct gm_opsalert_opts {
    const char *uri; /* the destination; NULL: webhook endpoints only */
    /* endpoints that want GM_WH_OPS_ALERT are copied at open (NULL: none) */
    const struct gm_webhook_config *webhooks;
    size_t queue_max;         /* alerts waiting at most; 0: 256 */
    int64_t retry_initial_ms; /* the destination's wait after a failure, doubling; 0: 500 */
    int64_t retry_max_ms;     /* its longest wait; 0: 30000 */
    int64_t drain_ms;         /* at close, how long queued alerts may still take; 0: 5000 */
};

/* Counters since open (any thread). */
struct gm_opsalert_stats {
    uint64_t emitted;   /* alerts handed to gm_opsalert_emit */
    uint64_t delivered; /* deliveries: an alert taken by one target */
    uint64_t failed;    /* failed attempts (each retried, or given up) */
    uint64_t dropped;   /* alerts not queued (full), and targets given up on (an
                           endpoint's max_attempts, undelivered at close) */
    uint64_t queued;    /* alerts waiting now */
    uint64_t targets;   /* the destination (if any) and the endpoints */
};

/* Checks the form of a destination URI, without opening it. Errors:
 * GM_EINVAL, GM_EUNSUPPORTED, with err naming --alerts. */
int gm_opsalert_check_uri(const char *uri, struct gm_err *err);

/*
 * Opens the destination (jsonl: and file: now, so a bad path fails here;
 * kafka:// in the delivery thread) and starts the delivery thread. *out is
 * new; close with gm_opsalert_close. Errors: GM_EINVAL, GM_EUNSUPPORTED,
 * -errno, those of gm_filelog_open, with err.
 */
int gm_opsalert_open(const struct gm_opsalert_opts *opts, struct gm_opsalert **out,
                     struct gm_err *err);

/* Queues a copy of alert (borrowed for the call) and returns without
 * waiting on any target; a full queue drops it (counted, logged). Any
 * thread. a NULL: nothing. */
void gm_opsalert_emit(struct gm_opsalert *a, const Gamification__V1__OpsAlert *alert);

/* gm_opsalert_emit with ctx the struct gm_opsalert, for callbacks
 * (gm_redisproj_opts.on_alert). */
void gm_opsalert_emit_cb(void *ctx, const Gamification__V1__OpsAlert *alert);

/* The JSON body an endpoint gets: {"id","type":"ops.alert","occurredAt",
 * "data"} with data the alert in the proto3 JSON mapping. Returns new;
 * free with free(); NULL if alert cannot be expressed. */
char *gm_opsalert_body(const Gamification__V1__OpsAlert *alert);

void gm_opsalert_stats(const struct gm_opsalert *a, struct gm_opsalert_stats *out);

/* Delivers what is queued for up to drain_ms, stops the thread, closes the
 * destination and frees a; what is left is counted as dropped and logged.
 * NULL is fine. */
void gm_opsalert_close(struct gm_opsalert *a);

#endif
