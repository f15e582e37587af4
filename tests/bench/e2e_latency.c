/*
 * e2e_latency.c: the end-to-end benchmark's probe (tests/bench/run e2e):
 * appends lesson events to a file log at a fixed rate (every 10 ms, one
 * fsynced append of rate/100 events, as tests/bench/paced_produce) and
 * measures, for the first event of each append (a probe), the time from just before its append
 * (gamify's file log appender, fsync included) until its score is visible in
 * Redis: a client subscribed to the leaderboard-changed channel checks, at
 * each message, ZSCORE of every probe not yet seen on the global all-time
 * board. A probe is the first event of a learner of its own, so any score
 * means it arrived.
 *
 * usage: e2e_latency LOG_DIR REDIS_HOST REDIS_PORT PREFIX RATE SECONDS USERS
 * Prints one line: probes=N seen=N p50_ms= p99_ms= max_ms= late_ticks=N.
 * With E2E_LATENCY_STAMPS=PATH it also writes one line per probe: its
 * number, log offset, and CLOCK_MONOTONIC ns when its append began and
 * returned, when the message after which it was seen arrived, and when its
 * ZSCORE was read (0: not seen); tests/bench/e2e_trace joins them with
 * gamify-processor's stamps (meson -Dtrace=true, GAMIFY_TRACE).
 *
 * Lessons: by default event seq's lesson is seq mod 50; with USERS a
 * multiple of 50 each learner then repeats one lesson, so only its first
 * event writes a first-completion key. E2E_LATENCY_LESSONS=N draws each
 * lesson at random among N instead (xorshift, fixed seed), so that most
 * events complete a lesson for the first time, as in the fold bench's
 * generated log.
 *
 * E2E_LATENCY_WARMUP_S=W: W seconds of the same load before the first
 * probe, without probes, so that the measured seconds find the learners
 * already in the state, PostgreSQL and Redis (a running platform) rather
 * than every one of them new (a fresh start).
 */
#include "codec.h"
#include "filelog.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *host, *prefix;
static int port;
static int64_t *sent_ns;      /* per probe: when its append began */
static int64_t *seen_ns;      /* per probe: when its score was read (0: not yet) */
static int64_t *done_ns;      /* per probe: when its append returned */
static int64_t *msg_ns;       /* per probe: when the message it was seen after arrived */
static uint64_t *offsets;     /* per probe: its record's log offset */
static int64_t last_msg_ns;   /* the watcher's: when the last message arrived */
static atomic_long n_sent;    /* probes appended */
static atomic_bool producing; /* false once the producer is done */

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Checks every probe from *low on that was appended and is not seen yet. */
static void
check_probes(redisContext *q, long *low)
{
    long n = atomic_load(&n_sent);
    for (long i = *low; i < n; i++) {
        if (!seen_ns[i])
            redisAppendCommand(q, "ZSCORE %slb:global:all probe-%ld", prefix, i);
    }
    for (long i = *low; i < n; i++) {
        if (seen_ns[i])
            continue;
        redisReply *r;
        if (redisGetReply(q, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "e2e_latency: ZSCORE: %s\n", q->errstr);
            exit(1);
        }
        if (r->type == REDIS_REPLY_STRING) {
            seen_ns[i] = now_ns();
            msg_ns[i] = last_msg_ns;
        }
        freeReplyObject(r);
    }
    while (*low < n && seen_ns[*low])
        (*low)++;
}

static void *
watch(void *arg)
{
    (void)arg;
    redisContext *sub = redisConnect(host, port), *q = redisConnect(host, port);
    if (!sub || sub->err || !q || q->err) {
        fprintf(stderr, "e2e_latency: cannot connect to Redis\n");
        exit(1);
    }
    redisReply *r = redisCommand(sub, "SUBSCRIBE %sleaderboard-changed", prefix);
    freeReplyObject(r);
    struct timeval tv = {0, 100000};
    redisSetTimeout(sub, tv);
    long low = 0;
    int64_t drain_until = 0;
    for (;;) {
        void *msg = NULL;
        if (redisGetReply(sub, &msg) == REDIS_OK) {
            last_msg_ns = now_ns();
            freeReplyObject(msg);
            check_probes(q, &low);
        } else if (sub->err == REDIS_ERR_IO) {
            /* a timeout: hiredis marks the context failed; reconnect */
            redisFree(sub);
            sub = redisConnect(host, port);
            if (!sub || sub->err) {
                fprintf(stderr, "e2e_latency: cannot reconnect to Redis\n");
                exit(1);
            }
            freeReplyObject(redisCommand(sub, "SUBSCRIBE %sleaderboard-changed", prefix));
            redisSetTimeout(sub, tv);
            last_msg_ns = 0;
            check_probes(q, &low); /* a message may have come in between */
        } else {
            fprintf(stderr, "e2e_latency: SUBSCRIBE: %s\n", sub->errstr);
            exit(1);
        }
        if (!atomic_load(&producing)) {
            if (!drain_until)
                drain_until = now_ns() + 10 * 1000000000LL;
            if (low >= atomic_load(&n_sent) || now_ns() > drain_until)
                break;
        }
    }
    redisFree(sub);
    redisFree(q);
    return NULL;
}

static int
cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: e2e_latency LOG_DIR REDIS_HOST REDIS_PORT PREFIX RATE SECONDS "
                        "USERS\n");
        return 2;
    }
    host = argv[2];
    port = atoi(argv[3]);
    prefix = argv[4];
    long rate = strtol(argv[5], NULL, 10), seconds = strtol(argv[6], NULL, 10);
    long users = strtol(argv[7], NULL, 10);
    if (rate < 100 || seconds < 1 || users < 1) {
        fprintf(stderr, "e2e_latency: rate >= 100, seconds >= 1, users >= 1\n");
        return 2;
    }
    const char *lessons_env = getenv("E2E_LATENCY_LESSONS");
    long lessons = lessons_env ? strtol(lessons_env, NULL, 10) : 0;
    if (lessons < 0 || lessons > 1000000) {
        fprintf(
            stderr,
            "e2e_latency: E2E_LATENCY_LESSONS is 0 (each learner repeats one lesson) to 1000000\n");
        return 2;
    }
    const char *warm_env = getenv("E2E_LATENCY_WARMUP_S");
    long warm_s = warm_env ? strtol(warm_env, NULL, 10) : 0;
    if (warm_s < 0 || warm_s > 3600) {
        fprintf(stderr, "e2e_latency: E2E_LATENCY_WARMUP_S is 0 to 3600\n");
        return 2;
    }
    uint64_t rng = 88172645463325252ull;
    struct gm_filelog *log;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_filelog_open(argv[1], NULL, &log, &err)) {
        fprintf(stderr, "e2e_latency: %s\n", err.msg);
        return 1;
    }
    long ticks = seconds * 100;
    size_t per_tick = (size_t)(rate / 100);
    sent_ns = calloc((size_t)ticks, sizeof *sent_ns);
    seen_ns = calloc((size_t)ticks, sizeof *seen_ns);
    done_ns = calloc((size_t)ticks, sizeof *done_ns);
    msg_ns = calloc((size_t)ticks, sizeof *msg_ns);
    offsets = calloc((size_t)ticks, sizeof *offsets);
    uint8_t **bufs = calloc(per_tick, sizeof *bufs);
    size_t *lens = calloc(per_tick, sizeof *lens);
    if (!sent_ns || !seen_ns || !done_ns || !msg_ns || !offsets || !bufs || !lens)
        abort();
    atomic_store(&producing, true);
    pthread_t th;
    pthread_create(&th, NULL, watch, NULL);
    static unsigned long long seq;
    unsigned long long late = 0;
    char tag[32];
    snprintf(tag, sizeof tag, "%lld", (long long)time(NULL));
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    /* ticks below 0 warm up: no probe among their events */
    for (long tick = -warm_s * 100; tick < ticks; tick++) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        for (size_t i = 0; i < per_tick; i++, seq++) {
            char id[64], user[32], lesson[32];
            snprintf(id, sizeof id, "e2e-%s-%llu", tag, seq);
            if (i == 0 && tick >= 0)
                snprintf(user, sizeof user, "probe-%ld", tick);
            else
                snprintf(user, sizeof user, "user-%llu", seq * 7919 % (unsigned long long)users);
            if (lessons > 0) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                snprintf(lesson, sizeof lesson, "lesson-%llu",
                         (unsigned long long)(rng % (uint64_t)lessons));
            } else {
                snprintf(lesson, sizeof lesson, "lesson-%llu", seq % 50);
            }
            Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
            ts.seconds = wall.tv_sec;
            ts.nanos = (int32_t)wall.tv_nsec;
            Gamification__V1__LessonCompleted lc = GAMIFICATION__V1__LESSON_COMPLETED__INIT;
            lc.lesson_id = lesson;
            lc.score = 90;
            Gamification__V1__Event ev = GAMIFICATION__V1__EVENT__INIT;
            ev.event_id = id;
            ev.user_id = user;
            ev.occurred_at = &ts;
            ev.body_case = GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
            ev.lesson_completed = &lc;
            if (gm_event_encode(&ev, &bufs[i], &lens[i], &err)) {
                fprintf(stderr, "e2e_latency: %s\n", err.msg);
                return 1;
            }
        }
        /* The probe counts as sent before its append: the processor may
         * fold it and Redis may announce it before the append (and its
         * fsync) returns, and a probe the watcher does not know of yet is
         * checked only at the next message, up to a tick later. */
        uint64_t warm_offset;
        if (tick >= 0) {
            sent_ns[tick] = now_ns();
            atomic_store(&n_sent, tick + 1);
        }
        int rc = gm_filelog_append(log, (const void *const *)bufs, lens, per_tick,
                                   tick >= 0 ? &offsets[tick] : &warm_offset);
        if (tick >= 0)
            done_ns[tick] = now_ns();
        for (size_t i = 0; i < per_tick; i++)
            free(bufs[i]);
        if (rc) {
            fprintf(stderr, "e2e_latency: append: %s\n", gm_strerror(rc));
            return 1;
        }
        next.tv_nsec += 10000000;
        if (next.tv_nsec >= 1000000000) {
            next.tv_nsec -= 1000000000;
            next.tv_sec++;
        }
        struct timespec mono;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        if (mono.tv_sec > next.tv_sec ||
            (mono.tv_sec == next.tv_sec && mono.tv_nsec > next.tv_nsec))
            late += tick >= 0;
        else
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    atomic_store(&producing, false);
    pthread_join(th, NULL);
    gm_filelog_close(log);
    int64_t *lat = calloc((size_t)ticks, sizeof *lat);
    long n = 0;
    for (long i = 0; i < ticks; i++) {
        if (seen_ns[i])
            lat[n++] = seen_ns[i] - sent_ns[i];
    }
    qsort(lat, (size_t)n, sizeof *lat, cmp64);
    double p50 = n ? (double)lat[n / 2] / 1e6 : -1, p99 = n ? (double)lat[n * 99 / 100] / 1e6 : -1;
    double mx = n ? (double)lat[n - 1] / 1e6 : -1;
    printf("probes=%ld seen=%ld events=%llu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f late_ticks=%llu\n",
           ticks, n, seq, p50, p99, mx, late);
    free(lat);
    const char *stamps = getenv("E2E_LATENCY_STAMPS");
    FILE *f = stamps ? fopen(stamps, "w") : NULL;
    for (long i = 0; f && i < ticks; i++)
        fprintf(f, "%ld %llu %lld %lld %lld %lld\n", i, (unsigned long long)offsets[i],
                (long long)sent_ns[i], (long long)done_ns[i], (long long)msg_ns[i],
                (long long)seen_ns[i]);
    if (f)
        fclose(f);
    free(done_ns);
    free(msg_ns);
    free(offsets);
    free(sent_ns);
    free(seen_ns);
    free(bufs);
    free(lens);
    return n == ticks ? 0 : 1;
}
