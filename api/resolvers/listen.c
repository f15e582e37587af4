/*
 * listen.c: the redemption listener. One thread per backend holds one
 * Postgres connection LISTENing on gamify_redemption (the Postgres
 * projector NOTIFYs there when it commits a redemption, docs/operations.md)
 * and wakes the redeemReward calls waiting for that (user, redemption).
 * A notification only wakes: the waiter reads the outcome from the
 * redemptions table, so a missed or garbled one costs latency, never a
 * wrong answer. While the connection is down the waiters poll the table.
 */
#include "internal.h"
#include "log.h"

#include <jansson.h>
#include <poll.h>
#include <string.h>
#include <time.h>

static void
wake(struct gm_api_backend *b, const char *payload)
{
    json_error_t je;
    json_t *j = json_loads(payload, 0, &je);
    const char *user = json_string_value(json_object_get(j, "userId"));
    const char *red = json_string_value(json_object_get(j, "redemptionId"));
    if (user && red) {
        pthread_mutex_lock(&b->wmu);
        for (struct gm__waiter *w = b->waiters; w; w = w->next) {
            if (strcmp(w->user_id, user) == 0 && strcmp(w->redemption_id, red) == 0) {
                w->woken = true;
                pthread_cond_signal(&w->cv);
            }
        }
        pthread_mutex_unlock(&b->wmu);
    } else {
        gm_log(GM_LOG_WARN, "redemption listener: a notification without userId/redemptionId");
    }
    json_decref(j);
}

/*
 * A change either way wakes every waiter to read the table once: when
 * LISTEN is lost, a waiter sleeping on notifications must start polling;
 * when it is back, a waiter that polled last before the outcome was
 * committed (its NOTIFY went to nobody) must look once more now that no
 * later one can be missed.
 */
void
gm__listening_set(struct gm_api_backend *b, bool on)
{
    pthread_mutex_lock(&b->wmu);
    if (b->listening != on) {
        b->listening = on;
        for (struct gm__waiter *w = b->waiters; w; w = w->next) {
            w->woken = true;
            pthread_cond_signal(&w->cv);
        }
    }
    pthread_mutex_unlock(&b->wmu);
}

/* Sleeps ms unless stopped; returns whether stopped. */
static bool
pause_ms(struct gm_api_backend *b, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&b->wmu);
    while (!b->stop && pthread_cond_timedwait(&b->stop_cv, &b->wmu, &ts) == 0) {
    }
    bool stop = b->stop;
    pthread_mutex_unlock(&b->wmu);
    return stop;
}

static bool
stopping(struct gm_api_backend *b)
{
    pthread_mutex_lock(&b->wmu);
    bool s = b->stop;
    pthread_mutex_unlock(&b->wmu);
    return s;
}

static void *
listener_main(void *arg)
{
    struct gm_api_backend *b = arg;
    PGconn *c = NULL;
    int backoff = 100;
    while (!stopping(b)) {
        if (!c) {
            c = gm__pg_connect(b);
            if (c) {
                PGresult *res = PQexec(c, "LISTEN gamify_redemption");
                if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                    gm_log(GM_LOG_WARN, "redemption listener: LISTEN: %s", PQerrorMessage(c));
                    PQfinish(c);
                    c = NULL;
                }
                PQclear(res);
            }
            if (!c) {
                if (pause_ms(b, backoff))
                    break;
                backoff = backoff < 2000 ? backoff * 2 : 2000;
                continue;
            }
            backoff = 100;
            atomic_fetch_add(&b->listener_restarts, 1);
            gm__listening_set(b, true);
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int n = poll(&pfd, 1, 100);
        if (n < 0)
            continue;
        if (n > 0 && !PQconsumeInput(c)) {
            gm_log(GM_LOG_WARN, "redemption listener: connection lost: %s", PQerrorMessage(c));
            gm__listening_set(b, false);
            PQfinish(c);
            c = NULL;
            continue;
        }
        PGnotify *nt;
        while ((nt = PQnotifies(c))) {
            wake(b, nt->extra);
            PQfreemem(nt);
        }
    }
    gm__listening_set(b, false);
    PQfinish(c);
    return NULL;
}

int
gm__listener_start(struct gm_api_backend *b, struct gm_err *err)
{
    if (pthread_create(&b->listener, NULL, listener_main, b) != 0)
        return gm_err_set(err, GM_EIO, "cannot start the redemption listener thread");
    b->listener_started = true;
    return 0;
}

void
gm__listener_stop(struct gm_api_backend *b)
{
    if (!b->listener_started)
        return;
    pthread_mutex_lock(&b->wmu);
    b->stop = true;
    pthread_cond_broadcast(&b->stop_cv);
    pthread_mutex_unlock(&b->wmu);
    pthread_join(b->listener, NULL);
    b->listener_started = false;
}

void
gm__waiter_add(struct gm_api_backend *b, struct gm__waiter *w)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->woken = false;
    pthread_mutex_lock(&b->wmu);
    w->next = b->waiters;
    b->waiters = w;
    pthread_mutex_unlock(&b->wmu);
}

bool
gm__waiter_wait(struct gm_api_backend *b, struct gm__waiter *w, int64_t until_ms, bool *listening)
{
    int64_t now = gm__now_ms();
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ms = until_ms - now;
    if (ms < 0)
        ms = 0;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&b->wmu);
    while (!w->woken && b->listening && pthread_cond_timedwait(&w->cv, &b->wmu, &ts) == 0) {
    }
    bool woken = w->woken;
    w->woken = false;
    *listening = b->listening;
    pthread_mutex_unlock(&b->wmu);
    return woken;
}

void
gm__waiter_remove(struct gm_api_backend *b, struct gm__waiter *w)
{
    pthread_mutex_lock(&b->wmu);
    for (struct gm__waiter **pp = &b->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&b->wmu);
    pthread_cond_destroy(&w->cv);
}
