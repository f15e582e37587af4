/*
 * prune_bench.c: the pause when a leaderboard period expires (issue 10).
 * LEARNERS learners each score in one week; batches of 1,000 events in
 * the next week give the baseline batch time; then one event nine weeks
 * later expires that week (and its month) for every learner, and batches
 * of 1,000 events go on while pruning cleans 8 learners per event.
 * Durable commits (GAMIFY_BENCH_NO_SYNC set: without fsync), the default
 * dedupe window. Reports the baseline (median) batch time, the batch holding the expiry,
 * the slowest batch while pruning runs, how many events pruning took, and
 * ratios to the baseline (ratios do not drift with the machine's speed).
 * usage: prune_bench STATE_DIR LEARNERS
 */
#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char rules[] = "version: 1\n"
                            "timezone: UTC\n"
                            "levels:\n  thresholds: [0, 100000000]\n  level_up_coins: 0\n"
                            "activities:\n"
                            "  lesson_completed: { exp: 20, coins: 5 }\n"
                            "  tournament_result:\n"
                            "    win: { exp: 50, coins: 20 }\n"
                            "    draw: { exp: 20, coins: 5 }\n"
                            "    loss: { exp: 10, coins: 0 }\n"
                            "leaderboards:\n"
                            "  periods: [all_time, weekly, monthly]\n"
                            "  keep_weeks: 8\n"
                            "  keep_months: 1\n";

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, const struct gm_err *err)
{
    fprintf(stderr, "prune_bench: %s: %s\n", what, err->msg);
    exit(1);
}

static uint64_t offset;

/* One batch of n lessons by learners first.. (mod learners) on day (text). */
static double
batch(struct gm_state *st, uint64_t first, uint64_t n, uint64_t learners, const char *day,
      const char *tag)
{
    struct gm_err err;
    double t0 = now();
    if (gm_state_begin(st, &err))
        die("begin", &err);
    for (uint64_t i = 0; i < n; i++) {
        char js[256];
        int len = snprintf(js, sizeof js,
                           "{\"eventId\":\"%s-%llu\",\"userId\":\"learner-%07llu\",\"occurredAt\":"
                           "\"%sT10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"%s-%llu\"}}",
                           tag, (unsigned long long)(first + i),
                           (unsigned long long)((first + i) % learners), day, tag,
                           (unsigned long long)(first + i));
        if (gm_state_apply(st, (const uint8_t *)js, (size_t)len, true, offset++, 0, &err))
            die("apply", &err);
    }
    if (gm_state_commit(st, offset, &err))
        die("commit", &err);
    return now() - t0;
}

static int
dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: prune_bench STATE_DIR LEARNERS\n");
        return 2;
    }
    uint64_t learners = strtoull(argv[2], NULL, 10);
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_state *st;
    /* the default dedupe window: the jump of nine weeks also expires every
     * dedupe id, which are deleted a few per event like the periods */
    struct gm_state_opts opts = {.no_sync = getenv("GAMIFY_BENCH_NO_SYNC") != NULL};
    if (gm_state_open(argv[1], &opts, &st, &err))
        die("open", &err);
    if (gm_state_seed_rules(st, rules, strlen(rules), &err))
        die("rules", &err);
    /* every learner scores in 2026-W02 (and 2026-01) */
    for (uint64_t i = 0; i < learners; i += 20000)
        batch(st, i, learners - i < 20000 ? learners - i : 20000, learners, "2026-01-05", "a");
    /* baseline: the next week, nothing expires */
    double base[30];
    for (int i = 0; i < 30; i++)
        base[i] = batch(st, (uint64_t)i * 1000, 1000, learners, "2026-01-13", "b");
    qsort(base, 30, sizeof base[0], dcmp);
    double median = base[15];
    /* nine weeks later: 2026-W02 and 2026-01 expire for every learner */
    uint64_t pruned0 = gm_state_stats(st)->periods_pruned;
    double expiry = batch(st, 0, 1000, learners, "2026-03-16", "c");
    double worst = expiry;
    uint64_t events = 1000, batches = 1;
    while (gm_state_stats(st)->periods_pruned - pruned0 < 2 * learners) {
        double t = batch(st, events, 1000, learners, "2026-03-16", "c");
        worst = t > worst ? t : worst;
        events += 1000;
        batches++;
        if (batches > 2 * learners) {
            fprintf(stderr, "prune_bench: pruning does not finish\n");
            return 1;
        }
    }
    /* after: nothing left to prune */
    double after[30];
    for (int i = 0; i < 30; i++)
        after[i] = batch(st, events + (uint64_t)i * 1000, 1000, learners, "2026-03-17", "d");
    qsort(after, 30, sizeof after[0], dcmp);
    printf("learners=%llu baseline_batch_ms=%.2f expiry_batch_ms=%.2f worst_pruning_batch_ms=%.2f "
           "after_batch_ms=%.2f expiry_ratio=%.2f worst_ratio=%.2f pruning_events=%llu "
           "entries_pruned=%llu\n",
           (unsigned long long)learners, median * 1e3, expiry * 1e3, worst * 1e3, after[15] * 1e3,
           expiry / median, worst / median, (unsigned long long)events,
           (unsigned long long)(gm_state_stats(st)->periods_pruned - pruned0));
    gm_state_close(st);
    return 0;
}
