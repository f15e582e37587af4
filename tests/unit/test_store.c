/*
 * test_store.c: the LMDB store's own behaviour: the map growing by itself
 * on MDB_MAP_FULL (the fault seam: a tiny initial map), aborted batches
 * leaving nothing, dead letters for records without rules or with bad
 * rules, the dedupe window, and committed offsets.
 */
#include "helpers.h"
#include "store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/gm-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(store, .init = setup, .fini = teardown);

static char *
read_rules(size_t *len)
{
    FILE *f = fopen(test_example_path("rules.yaml"), "rb");
    cr_assert_not_null(f);
    char *buf = calloc(1, 1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    return buf;
}

static struct gm_store *
open_store(const char *path, size_t map_size, bool seed)
{
    struct gm_store_opts opts = {.map_size = map_size, .no_sync = true};
    struct gm_store *st;
    struct gm_err err;
    cr_assert_eq(gm_store_open(path, &opts, &st, &err), 0, "%s", err.msg);
    if (seed) {
        size_t len;
        char *yaml = read_rules(&len);
        cr_assert_eq(gm_store_seed_rules(st, yaml, len, &err), 0, "%s", err.msg);
        free(yaml);
    }
    return st;
}

static void
apply_json(struct gm_store *st, const char *js, uint64_t offset)
{
    struct gm_err err;
    cr_assert_eq(gm_store_apply(st, (const uint8_t *)js, strlen(js), true, offset, 0, &err), 0,
                 "%s", err.msg);
}

/* n lesson events for 50 learners, one every 10 minutes from t0. */
static void
fold_lessons(struct gm_store *st, int first, int n)
{
    struct gm_err err;
    cr_assert_eq(gm_store_begin(st, &err), 0, "%s", err.msg);
    for (int i = first; i < first + n; i++) {
        char js[512];
        long t = 1795000000L + i * 600L;
        snprintf(js, sizeof js,
                 "{\"eventId\":\"e%d\",\"userId\":\"learner-with-a-long-name-%d\","
                 "\"occurredAt\":\"%s\",\"groupIds\":[\"class-%d\"],"
                 "\"lessonCompleted\":{\"lessonId\":\"lesson-%d\",\"score\":%d}}",
                 i, i % 50, "2026-11-20T10:00:00Z", i % 7, i, i % 100);
        /* a real timestamp per event */
        char ts[32];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        char *at = strstr(js, "2026-11-20T10:00:00Z");
        memcpy(at, ts, strlen(ts));
        apply_json(st, js, (uint64_t)i);
    }
    cr_assert_eq(gm_store_commit(st, (uint64_t)(first + n), &err), 0, "%s", err.msg);
}

static char *
dump_of(struct gm_store *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_store_dump(st, f, NULL), 0);
    fclose(f);
    return buf;
}

Test(store, map_full_grows_the_map_and_loses_nothing)
{
    char big[80];
    snprintf(big, sizeof big, "%s/big", dir);
    char small[80];
    snprintf(small, sizeof small, "%s/small", dir);
    struct gm_store *a = open_store(big, 0, true);
    struct gm_store *b = open_store(small, 64 * 1024, true);
    for (int k = 0; k < 4; k++) {
        fold_lessons(a, k * 2000, 2000);
        fold_lessons(b, k * 2000, 2000);
    }
    cr_assert_gt(gm_store_stats(b)->map_resizes, 0, "the tiny map had to grow");
    cr_assert_eq(gm_store_stats(a)->map_resizes, 0);
    cr_assert_eq(gm_store_stats(b)->applied, 8000, "every event applied once");
    char *da = dump_of(a), *db = dump_of(b);
    cr_assert_str_eq(da, db);
    unsigned char ha[32], hb[32];
    cr_assert_eq(gm_store_digest(a, ha), 0);
    cr_assert_eq(gm_store_digest(b, hb), 0);
    cr_assert_arr_eq(ha, hb, 32);
    cr_assert_eq(gm_store_offset(b), 8000);
    free(da);
    free(db);
    gm_store_close(a);
    gm_store_close(b);
}

Test(store, aborted_batch_leaves_nothing)
{
    struct gm_store *st = open_store(dir, 0, true);
    fold_lessons(st, 0, 10);
    char *before = dump_of(st);
    struct gm_err err;
    cr_assert_eq(gm_store_begin(st, &err), 0);
    apply_json(st,
               "{\"eventId\":\"x\",\"userId\":\"someone-else\",\"occurredAt\":"
               "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\"}}",
               10);
    gm_store_abort(st);
    cr_assert_eq(gm_store_offset(st), 10);
    char *after = dump_of(st);
    cr_assert_str_eq(before, after);
    cr_assert_eq(gm_store_stats(st)->applied, 10, "counters roll back too");
    free(before);
    free(after);
    /* reopened, the committed offset is there */
    gm_store_close(st);
    st = open_store(dir, 0, false);
    cr_assert(gm_store_has_rules(st), "the seeded rules were stored");
    cr_assert_eq(gm_store_offset(st), 10);
    gm_store_close(st);
}

static char *
dlq_of(struct gm_store *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_store_dlq_list(st, f, -1), 0);
    fclose(f);
    return buf;
}

Test(store, events_before_any_rules_wait_in_the_dead_letters)
{
    struct gm_store *st = open_store(dir, 0, false);
    const char *ev = "{\"eventId\":\"early\",\"userId\":\"u\",\"occurredAt\":"
                     "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\"}}";
    struct gm_err err;
    cr_assert_eq(gm_store_begin(st, &err), 0);
    apply_json(st, ev, 0);
    /* invalid rules published: a dead letter too, and the rules stay absent */
    apply_json(st,
               "{\"eventId\":\"rules-bad\",\"userId\":\"ops\",\"occurredAt\":"
               "\"2026-11-25T10:00:00Z\",\"rulesPublished\":{\"rulesYaml\":\"version: 2\\n\"}}",
               1);
    cr_assert_eq(gm_store_commit(st, 2, &err), 0);
    cr_assert_not(gm_store_has_rules(st));
    char *dl = dlq_of(st);
    cr_assert(strstr(dl, "\"reason\":\"NO_RULES\""), "%s", dl);
    cr_assert(strstr(dl, "\"reason\":\"RULES_INVALID\""), "%s", dl);
    free(dl);
    /* once there are rules, the same event (not marked seen) applies */
    size_t len;
    char *yaml = read_rules(&len);
    cr_assert_eq(gm_store_seed_rules(st, yaml, len, &err), 0, "%s", err.msg);
    free(yaml);
    cr_assert_eq(gm_store_begin(st, &err), 0);
    apply_json(st, ev, 2);
    cr_assert_eq(gm_store_commit(st, 3, &err), 0);
    cr_assert_eq(gm_store_stats(st)->applied, 1);
    cr_assert_eq(gm_store_stats(st)->duplicates, 0);
    gm_store_close(st);
}

Test(store, dedupe_window_edges)
{
    struct gm_store *st = open_store(dir, 0, true);
    struct gm_err err;
    cr_assert_eq(gm_store_begin(st, &err), 0);
    /* t0, then t0 + 30 days: t0 is exactly at the edge, still remembered */
    apply_json(st,
               "{\"eventId\":\"old\",\"userId\":\"u\",\"occurredAt\":\"2026-10-01T00:00:00Z\","
               "\"lessonCompleted\":{\"lessonId\":\"a\"}}",
               0);
    apply_json(st,
               "{\"eventId\":\"new\",\"userId\":\"u\",\"occurredAt\":\"2026-10-31T00:00:00Z\","
               "\"lessonCompleted\":{\"lessonId\":\"b\"}}",
               1);
    apply_json(st,
               "{\"eventId\":\"old\",\"userId\":\"u\",\"occurredAt\":\"2026-10-01T00:00:00Z\","
               "\"lessonCompleted\":{\"lessonId\":\"a\"}}",
               2);
    cr_assert_eq(gm_store_stats(st)->duplicates, 1, "at the edge: a duplicate");
    /* one second past the edge: too late, and its id is not recorded */
    apply_json(st,
               "{\"eventId\":\"older\",\"userId\":\"u\",\"occurredAt\":\"2026-09-30T23:59:59Z\","
               "\"lessonCompleted\":{\"lessonId\":\"c\"}}",
               3);
    apply_json(st,
               "{\"eventId\":\"older\",\"userId\":\"u\",\"occurredAt\":\"2026-09-30T23:59:59Z\","
               "\"lessonCompleted\":{\"lessonId\":\"c\"}}",
               4);
    cr_assert_eq(gm_store_stats(st)->too_late, 2);
    cr_assert_eq(gm_store_stats(st)->applied, 2);
    cr_assert_eq(gm_store_commit(st, 5, &err), 0);
    gm_store_close(st);
}

Test(store, undecodable_records_are_dead_letters_with_offsets)
{
    struct gm_store *st = open_store(dir, 0, true);
    struct gm_err err;
    cr_assert_eq(gm_store_begin(st, &err), 0);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    cr_assert_eq(gm_store_apply(st, garbage, sizeof garbage, false, 77, 0, &err), 0);
    apply_json(st, "{\"eventId\":\"e\"", 78);
    apply_json(st, "{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-10-01T00:00:00Z\"}",
               79);
    cr_assert_eq(gm_store_commit(st, 80, &err), 0);
    cr_assert_eq(gm_store_stats(st)->dead_letters, 3);
    char *dl = dlq_of(st);
    cr_assert(strstr(dl, "\"offset\":77,\"reason\":\"DECODE\""), "%s", dl);
    cr_assert(strstr(dl, "\"offset\":78,\"reason\":\"DECODE\""), "%s", dl);
    cr_assert(strstr(dl, "\"offset\":79,\"reason\":\"INVALID\""), "%s", dl);
    free(dl);
    gm_store_close(st);
}
