/*
 * rbatch.c: the Redis calls of concurrent requests in one round trip.
 *
 * Every HTTP thread blocks on its own Redis call (the leaderboard script,
 * carrying the rate-limit check). Measured under load, a call cost more in
 * socket work and wake-ups on both sides than in Redis's script itself. So
 * calls of requests that run at the same time share a round trip: the
 * first caller to find no round trip in progress leads; it takes the queued
 * calls (at most --redis-batch), writes them in one go on its own
 * connection, reads the answers in order and hands each to its caller.
 * Calls that come meanwhile queue; when the leader is done it hands the
 * lead to the first of them, which sends all that queued in one go. No
 * thread waits for a batch to fill: a call alone is sent at once.
 *
 * Each call is still one command (one script run, atomic in Redis); only
 * the writing and reading are shared, so a rate-limit decision is exactly
 * what it was. A failed round trip fails the calls it carried (each
 * caller logs, counts and falls back as before).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

enum { QUEUED, DONE, LEAD };

/* One caller's call; lives on the caller's stack until it is DONE. */
struct gm__rbatch_call {
    const char *cmd; /* RESP text, borrowed */
    size_t len;
    redisReply *reply; /* NULL: the round trip failed */
    int state;
    pthread_cond_t cv;
    struct gm__rbatch_call *next;
};

struct gm__rbatch {
    pthread_mutex_t mu;
    struct gm__rbatch_call *head, *tail; /* queued, not sent */
    bool busy;                           /* a leader is sending or reading */
    size_t max;
};

int
gm__rbatch_new(size_t max, struct gm__rbatch **out)
{
    *out = NULL;
    if (max < 2)
        return 0;
    struct gm__rbatch *rb = calloc(1, sizeof *rb);
    if (!rb)
        abort();
    pthread_mutex_init(&rb->mu, NULL);
    rb->max = max;
    *out = rb;
    return 0;
}

void
gm__rbatch_free(struct gm__rbatch *rb)
{
    if (!rb)
        return;
    pthread_mutex_destroy(&rb->mu);
    free(rb);
}

int
gm__rbatch_call(struct gm__rbatch *rb, struct gm_api_request *req, const char *cmd, size_t len,
                redisReply **out)
{
    struct gm__rbatch_call self = {.cmd = cmd, .len = len, .state = QUEUED};
    pthread_cond_init(&self.cv, NULL);
    pthread_mutex_lock(&rb->mu);
    if (rb->tail)
        rb->tail->next = &self;
    else
        rb->head = &self;
    rb->tail = &self;
    if (!rb->busy) {
        rb->busy = true; /* the queue was empty: this call is its head */
        self.state = LEAD;
    }
    while (self.state == QUEUED)
        pthread_cond_wait(&self.cv, &rb->mu);
    if (self.state == LEAD) {
        /* This call heads the queue: take it and those behind it. */
        struct gm__rbatch_call *batch[256];
        size_t n = 0, max = rb->max < 256 ? rb->max : 256;
        while (rb->head && n < max) {
            batch[n++] = rb->head;
            rb->head = rb->head->next;
        }
        if (!rb->head)
            rb->tail = NULL;
        pthread_mutex_unlock(&rb->mu);

        const char *cmds[256];
        size_t lens[256];
        redisReply *replies[256];
        for (size_t i = 0; i < n; i++)
            cmds[i] = batch[i]->cmd, lens[i] = batch[i]->len;
        gm__redis_pipeline(req, cmds, lens, n, replies);

        pthread_mutex_lock(&rb->mu);
        /* batch[0] is this call (the head); the others are woken with their answers. */
        self.reply = replies[0];
        self.state = DONE;
        for (size_t i = 1; i < n; i++) {
            batch[i]->reply = replies[i];
            batch[i]->state = DONE;
            pthread_cond_signal(&batch[i]->cv);
        }
        if (rb->head) {
            rb->head->state = LEAD;
            pthread_cond_signal(&rb->head->cv);
        } else {
            rb->busy = false;
        }
    }
    pthread_mutex_unlock(&rb->mu);
    pthread_cond_destroy(&self.cv);
    *out = self.reply;
    return self.reply ? 0 : GM_EREDIS;
}
