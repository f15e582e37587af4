/*
 * paced_produce.c: appends lesson events to a file log at a fixed rate,
 * each stamped with the wall clock as it is appended, for the processor's
 * lag benchmark (the processor then measures commit time minus occurred_at).
 * usage: paced_produce DIR EVENTS_PER_SECOND SECONDS USERS
 * Appends every 10 ms (rate/100 events per append, fsync per append).
 */
#include "codec.h"
#include "filelog.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int
main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: paced_produce DIR EVENTS_PER_SECOND SECONDS USERS\n");
        return 2;
    }
    long rate = strtol(argv[2], NULL, 10), seconds = strtol(argv[3], NULL, 10);
    long users = strtol(argv[4], NULL, 10);
    if (rate < 100 || seconds < 1 || users < 1) {
        fprintf(stderr, "paced_produce: rate >= 100, seconds >= 1, users >= 1\n");
        return 2;
    }
    struct gm_filelog *log;
    struct gm_err err;
    gm_err_clear(&err);
    if (gm_filelog_open(argv[1], NULL, &log, &err)) {
        fprintf(stderr, "paced_produce: %s\n", err.msg);
        return 1;
    }
    size_t per_tick = (size_t)(rate / 100);
    uint8_t **bufs = calloc(per_tick, sizeof *bufs);
    size_t *lens = calloc(per_tick, sizeof *lens);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    unsigned long long seq = 0, late_ticks = 0;
    for (long tick = 0; tick < seconds * 100; tick++) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        for (size_t i = 0; i < per_tick; i++, seq++) {
            char id[32], user[32], lesson[32];
            snprintf(id, sizeof id, "paced-%llu", seq);
            snprintf(user, sizeof user, "user-%llu", seq * 7919 % (unsigned long long)users);
            snprintf(lesson, sizeof lesson, "lesson-%llu", seq % 50);
            Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
            ts.seconds = now.tv_sec;
            ts.nanos = (int32_t)now.tv_nsec;
            Gamification__V1__LessonCompleted lc = GAMIFICATION__V1__LESSON_COMPLETED__INIT;
            lc.lesson_id = lesson;
            lc.score = (int32_t)(seq % 101);
            Gamification__V1__Event ev = GAMIFICATION__V1__EVENT__INIT;
            ev.event_id = id;
            ev.user_id = user;
            ev.occurred_at = &ts;
            ev.body_case = GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
            ev.lesson_completed = &lc;
            if (gm_event_encode(&ev, &bufs[i], &lens[i], &err)) {
                fprintf(stderr, "paced_produce: %s\n", err.msg);
                return 1;
            }
        }
        int rc = gm_filelog_append(log, (const void *const *)bufs, lens, per_tick, NULL);
        for (size_t i = 0; i < per_tick; i++)
            free(bufs[i]);
        if (rc) {
            fprintf(stderr, "paced_produce: append: %s\n", gm_strerror(rc));
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
            late_ticks++;
        else
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    gm_filelog_close(log);
    free(bufs);
    free(lens);
    printf("appended %llu events in %ld s (%llu of %ld ticks late)\n", seq, seconds, late_ticks,
           seconds * 100);
    return 0;
}
