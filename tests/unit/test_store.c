/*
 * test_store.c: the LMDB store's own behaviour: the map growing by itself
 * on MDB_MAP_FULL (the fault seam: a tiny initial map), aborted batches
 * leaving nothing, dead letters for records without rules or with bad
 * rules, the dedupe window, and committed offsets.
 */
#include "helpers.h"
#include "learners.h"
#include "state.pb-c.h"
#include "state.h"

#include <criterion/criterion.h>
#include <lmdb.h>
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

static struct gm_state *open_held(const char *path, size_t map_size, size_t hold_bytes, bool seed);

static struct gm_state *
open_store(const char *path, size_t map_size, bool seed)
{
    return open_held(path, map_size, 0, seed);
}

static void
apply_json(struct gm_state *st, const char *js, uint64_t offset)
{
    struct gm_err err;
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)js, strlen(js), true, offset, 0, &err), 0,
                 "%s", err.msg);
}

/* n lesson events for 50 learners, one every 10 minutes from t0. */
static void
fold_lessons(struct gm_state *st, int first, int n)
{
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
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
    cr_assert_eq(gm_state_commit(st, (uint64_t)(first + n), &err), 0, "%s", err.msg);
}

static char *
dump_of(struct gm_state *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_state_dump(st, f, NULL), 0);
    fclose(f);
    return buf;
}

Test(store, map_full_grows_the_map_and_loses_nothing)
{
    char big[80];
    snprintf(big, sizeof big, "%s/big", dir);
    char small[80];
    snprintf(small, sizeof small, "%s/small", dir);
    struct gm_state *a = open_store(big, 0, true);
    struct gm_state *b = open_store(small, 64 * 1024, true);
    for (int k = 0; k < 4; k++) {
        fold_lessons(a, k * 2000, 2000);
        fold_lessons(b, k * 2000, 2000);
    }
    cr_assert_gt(gm_state_stats(b)->map_resizes, 0, "the tiny map had to grow");
    cr_assert_eq(gm_state_stats(a)->map_resizes, 0);
    cr_assert_eq(gm_state_stats(b)->applied, 8000, "every event applied once");
    char *da = dump_of(a), *db = dump_of(b);
    cr_assert_str_eq(da, db);
    unsigned char ha[32], hb[32];
    cr_assert_eq(gm_state_digest(a, ha), 0);
    cr_assert_eq(gm_state_digest(b, hb), 0);
    cr_assert_arr_eq(ha, hb, 32);
    cr_assert_eq(gm_state_offset(b), 8000);
    free(da);
    free(db);
    gm_state_close(a);
    gm_state_close(b);
}

Test(store, aborted_batch_leaves_nothing)
{
    struct gm_state *st = open_store(dir, 0, true);
    fold_lessons(st, 0, 10);
    char *before = dump_of(st);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0);
    apply_json(st,
               "{\"eventId\":\"x\",\"userId\":\"someone-else\",\"occurredAt\":"
               "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\"}}",
               10);
    gm_state_abort(st);
    cr_assert_eq(gm_state_offset(st), 10);
    char *after = dump_of(st);
    cr_assert_str_eq(before, after);
    cr_assert_eq(gm_state_stats(st)->applied, 10, "counters roll back too");
    free(before);
    free(after);
    /* reopened, the committed offset is there */
    gm_state_close(st);
    st = open_store(dir, 0, false);
    cr_assert(gm_state_has_rules(st), "the seeded rules were stored");
    cr_assert_eq(gm_state_offset(st), 10);
    gm_state_close(st);
}

static char *
dlq_of(struct gm_state *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_state_dlq_list(st, f, -1), 0);
    fclose(f);
    return buf;
}

Test(store, events_before_any_rules_wait_in_the_dead_letters)
{
    struct gm_state *st = open_store(dir, 0, false);
    const char *ev = "{\"eventId\":\"early\",\"userId\":\"u\",\"occurredAt\":"
                     "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\"}}";
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0);
    apply_json(st, ev, 0);
    /* invalid rules published: a dead letter too, and the rules stay absent */
    apply_json(st,
               "{\"eventId\":\"rules-bad\",\"userId\":\"ops\",\"occurredAt\":"
               "\"2026-11-25T10:00:00Z\",\"rulesPublished\":{\"rulesYaml\":\"version: 2\\n\"}}",
               1);
    cr_assert_eq(gm_state_commit(st, 2, &err), 0);
    cr_assert_not(gm_state_has_rules(st));
    char *dl = dlq_of(st);
    cr_assert(strstr(dl, "\"reason\":\"NO_RULES\""), "%s", dl);
    cr_assert(strstr(dl, "\"reason\":\"RULES_INVALID\""), "%s", dl);
    free(dl);
    /* once there are rules, the same event (not marked seen) applies */
    size_t len;
    char *yaml = read_rules(&len);
    cr_assert_eq(gm_state_seed_rules(st, yaml, len, &err), 0, "%s", err.msg);
    free(yaml);
    cr_assert_eq(gm_state_begin(st, &err), 0);
    apply_json(st, ev, 2);
    cr_assert_eq(gm_state_commit(st, 3, &err), 0);
    cr_assert_eq(gm_state_stats(st)->applied, 1);
    cr_assert_eq(gm_state_stats(st)->duplicates, 0);
    gm_state_close(st);
}

Test(store, dedupe_window_edges)
{
    struct gm_state *st = open_store(dir, 0, true);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0);
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
    cr_assert_eq(gm_state_stats(st)->duplicates, 1, "at the edge: a duplicate");
    /* one second past the edge: too late, and its id is not recorded */
    apply_json(st,
               "{\"eventId\":\"older\",\"userId\":\"u\",\"occurredAt\":\"2026-09-30T23:59:59Z\","
               "\"lessonCompleted\":{\"lessonId\":\"c\"}}",
               3);
    apply_json(st,
               "{\"eventId\":\"older\",\"userId\":\"u\",\"occurredAt\":\"2026-09-30T23:59:59Z\","
               "\"lessonCompleted\":{\"lessonId\":\"c\"}}",
               4);
    cr_assert_eq(gm_state_stats(st)->too_late, 2);
    cr_assert_eq(gm_state_stats(st)->applied, 2);
    cr_assert_eq(gm_state_commit(st, 5, &err), 0);
    gm_state_close(st);
}

Test(store, undecodable_records_are_dead_letters_with_offsets)
{
    struct gm_state *st = open_store(dir, 0, true);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0);
    const uint8_t garbage[] = {0xff, 0xff, 0xff};
    cr_assert_eq(gm_state_apply(st, garbage, sizeof garbage, false, 77, 0, &err), 0);
    apply_json(st, "{\"eventId\":\"e\"", 78);
    apply_json(st, "{\"eventId\":\"e\",\"userId\":\"u\",\"occurredAt\":\"2026-10-01T00:00:00Z\"}",
               79);
    cr_assert_eq(gm_state_commit(st, 80, &err), 0);
    cr_assert_eq(gm_state_stats(st)->dead_letters, 3);
    char *dl = dlq_of(st);
    cr_assert(strstr(dl, "\"offset\":77,\"reason\":\"DECODE\""), "%s", dl);
    cr_assert(strstr(dl, "\"offset\":78,\"reason\":\"DECODE\""), "%s", dl);
    cr_assert(strstr(dl, "\"offset\":79,\"reason\":\"INVALID\""), "%s", dl);
    free(dl);
    gm_state_close(st);
}

/* ---- periods, locks, read-only opens, errors (issue 10) ---- */

static const char period_rules[] = "version: 1\n"
                                   "timezone: UTC\n"
                                   "levels:\n  thresholds: [0, 100000]\n  level_up_coins: 0\n"
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

static struct gm_state *
open_with(const char *path, const char *yaml, const struct gm_state_opts *o)
{
    struct gm_state_opts opts = o ? *o : (struct gm_state_opts){.no_sync = true};
    struct gm_state *st;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_state_open(path, &opts, &st, &err), 0, "%s", err.msg);
    if (yaml)
        cr_assert_eq(gm_state_seed_rules(st, yaml, strlen(yaml), &err), 0, "%s", err.msg);
    return st;
}

static void
lesson(struct gm_state *st, const char *id, const char *user, const char *when, uint64_t off)
{
    char js[256];
    snprintf(js, sizeof js,
             "{\"eventId\":\"%s\",\"userId\":\"%s\",\"occurredAt\":\"%s\","
             "\"lessonCompleted\":{\"lessonId\":\"l-%s\"}}",
             id, user, when, id);
    apply_json(st, js, off);
}

static char *
dump_user(struct gm_state *st, const char *user)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_state_dump(st, f, user), 0);
    fclose(f);
    return buf;
}

/* The reproduction: keep_weeks 8; one learner on 2026-01-05, another
 * on 2026-03-30. It used to stop with "LMDB apply: Invalid argument". */
Test(store, an_expired_week_is_pruned_not_fatal)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e1", "ann", "2026-01-05T09:00:00Z", 1);
    cr_assert_eq(gm_state_commit(st, 2, &err), 0, "%s", err.msg);
    char *d = dump_user(st, "ann");
    cr_assert(strstr(d, "\"scores\":{\"global\":{\"2026-01\":20,\"2026-W02\":20,\"all\":20}}"),
              "%s", d);
    free(d);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e2", "bob", "2026-03-30T09:00:00Z", 2);
    cr_assert_eq(gm_state_commit(st, 3, &err), 0, "%s", err.msg);
    /* W14 - 8 = W06 is the oldest week kept, 2026-02 the oldest month */
    d = dump_user(st, "ann");
    cr_assert(strstr(d, "\"scores\":{\"global\":{\"all\":20}}"), "%s", d);
    free(d);
    /* the record itself was cleaned by the event that expired the period
     * (two entries: the week and the month) */
    cr_assert_eq(gm_state_stats(st)->periods_pruned, 2);
    gm_state_close(st);
}

/* Pruning cleans a few learners per event, and finishes. */
Test(store, pruning_spreads_over_events_and_finishes)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (int i = 0; i < 100; i++) {
        char id[16], user[16];
        snprintf(id, sizeof id, "a%d", i);
        snprintf(user, sizeof user, "u%03d", i);
        lesson(st, id, user, "2026-01-05T09:00:00Z", (uint64_t)i);
    }
    cr_assert_eq(gm_state_commit(st, 100, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "late", "zed", "2026-03-30T09:00:00Z", 100);
    cr_assert_eq(gm_state_commit(st, 101, &err), 0, "%s", err.msg);
    /* one event: at most 2 learners cleaned (a week and a month each) */
    uint64_t after_one = gm_state_stats(st)->periods_pruned;
    cr_assert(after_one > 0 && after_one <= 4, "%llu", (unsigned long long)after_one);
    /* readers never see the expired periods meanwhile */
    char *d = dump_of(st);
    cr_assert_null(strstr(d, "\"2026-W02\""), "%s", d);
    cr_assert_null(strstr(d, "\"2026-01\""), "%s", d); /* the key, not a reach time */
    free(d);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (int i = 0; i < 60; i++) {
        char id[16];
        snprintf(id, sizeof id, "z%d", i);
        lesson(st, id, "zed", "2026-03-30T10:00:00Z", (uint64_t)(101 + i));
        if (i == 20) /* 22 events so far: 44 learners */
            cr_assert_eq(gm_state_stats(st)->periods_pruned, 88);
    }
    cr_assert_eq(gm_state_commit(st, 161, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_stats(st)->periods_pruned, 200);
    gm_state_close(st);
}

/* A record the caller dead-letters itself survives the map growing later
 * in the same batch (it used to be lost while the offset moved past it). */
Test(store, caller_dead_letters_survive_map_growth)
{
    struct gm_state_opts o = {.no_sync = true, .map_size = 64 << 10};
    struct gm_state *st = open_with(dir, period_rules, &o);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    const char line[] = "{\"a line too long\"}";
    cr_assert_eq(gm_state_dead_letter(st, (const uint8_t *)line, sizeof line - 1, true, 0,
                                      "TOO_BIG", "line over the limit", &err),
                 0, "%s", err.msg);
    for (int i = 1; i < 3000; i++) {
        char id[16], user[16];
        snprintf(id, sizeof id, "g%d", i);
        snprintf(user, sizeof user, "user-%04d", i);
        lesson(st, id, user, "2026-11-02T09:00:00Z", (uint64_t)i);
    }
    cr_assert_eq(gm_state_commit(st, 3000, &err), 0, "%s", err.msg);
    cr_assert_gt(gm_state_stats(st)->map_resizes, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_state_dlq_list(st, f, -1), 0);
    fclose(f);
    cr_assert(strstr(buf, "\"reason\":\"TOO_BIG\""), "%s", buf);
    cr_assert_eq(gm_state_offset(st), 3000);
    free(buf);
    gm_state_close(st);
}

/* What a batch holds for its retry (--batch-mib bounds it): every record's
 * copy counts, a dead letter's reason too, through a map growth, and a
 * commit or an abort gives it all back. */
Test(store, a_batch_counts_the_bytes_it_holds)
{
    struct gm_state_opts o = {.no_sync = true, .map_size = 64 << 10};
    struct gm_state *st = open_with(dir, period_rules, &o);
    struct gm_err err;
    cr_assert_eq(gm_state_batch_bytes(st), 0, "no batch, nothing held");
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_batch_bytes(st), 0);
    size_t last = 0, records = 0;
    for (int i = 1; i < 2000; i++) {
        char id[16], user[16];
        snprintf(id, sizeof id, "g%d", i);
        snprintf(user, sizeof user, "user-%04d", i);
        lesson(st, id, user, "2026-11-02T09:00:00Z", (uint64_t)i);
        size_t now = gm_state_batch_bytes(st);
        cr_assert_gt(now, last, "record %d added nothing", i);
        last = now;
        records++;
    }
    cr_assert_gt(gm_state_stats(st)->map_resizes, 0, "the map grew during the batch");
    /* each record is a JSON line of over 100 bytes, held whole */
    cr_assert_geq(last, records * 100, "%zu bytes for %zu records", last, records);
    const char line[] = "{\"a line too long\"}";
    cr_assert_eq(gm_state_dead_letter(st, (const uint8_t *)line, sizeof line - 1, true, 2000,
                                      "TOO_BIG", "line over the limit", &err),
                 0, "%s", err.msg);
    cr_assert_geq(gm_state_batch_bytes(st), last + sizeof line - 1 + strlen("TOO_BIG"));
    cr_assert_eq(gm_state_commit(st, 2001, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_batch_bytes(st), 0, "a commit gives it back");
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "g-next", "user-0001", "2026-11-02T10:00:00Z", 2001);
    cr_assert_gt(gm_state_batch_bytes(st), 0);
    gm_state_abort(st);
    cr_assert_eq(gm_state_batch_bytes(st), 0, "an abort gives it back");
    gm_state_close(st);
}

Test(store, a_second_writer_is_refused_with_the_holders_pid)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_state *second = NULL;
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_state_opts o = {.no_sync = true};
    int rc = 0;
    /* flock locks belong to the open file description: a second open in
     * the same process conflicts as another process would */
    rc = gm_state_open(dir, &o, &second, &err);
    cr_assert_lt(rc, 0);
    cr_assert_null(second);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    cr_assert(strstr(err.msg, "in use by another writer") && strstr(err.msg, pid), "%s", err.msg);
    /* readers open beside the writer */
    struct gm_state_opts ro = {.read_only = true};
    struct gm_state *reader = open_with(dir, NULL, &ro);
    struct gm_err e2;
    cr_assert_neq(gm_state_begin(reader, &e2), 0);
    gm_state_close(reader);
    gm_state_close(st);
    /* the lock goes with the writer */
    second = open_with(dir, NULL, &o);
    gm_state_close(second);
}

/* Read-only opens create nothing: not a missing state, not a lock file on
 * a copy without one (an mdb_copy backup), not in a read-only folder. */
Test(store, read_only_opens_create_nothing)
{
    char missing[128], copy[128], cmd[1024];
    snprintf(missing, sizeof missing, "%s/nothing-here", dir);
    struct gm_state_opts ro = {.read_only = true};
    struct gm_state *st = NULL;
    struct gm_err err;
    cr_assert_eq(gm_state_open(missing, &ro, &st, &err), GM_ENOTFOUND);
    cr_assert_eq(access(missing, F_OK), -1);

    char state[128];
    snprintf(state, sizeof state, "%s/state", dir);
    st = open_with(state, period_rules, NULL);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e1", "ann", "2026-11-02T09:00:00Z", 1);
    cr_assert_eq(gm_state_commit(st, 2, &err), 0, "%s", err.msg);
    gm_state_close(st);
    snprintf(copy, sizeof copy, "%s/copy", dir);
    snprintf(cmd, sizeof cmd, "mkdir '%s' && cp '%s/data.mdb' '%s/' && chmod 0555 '%s'", copy,
             state, copy, copy);
    cr_assert_eq(system(cmd), 0);
    st = open_with(copy, NULL, &ro);
    char *d = dump_of(st);
    cr_assert(strstr(d, "\"userId\":\"ann\",\"exp\":20"), "%s", d);
    free(d);
    unsigned char md[32];
    cr_assert_eq(gm_state_digest(st, md), 0);
    gm_state_close(st);
    snprintf(cmd, sizeof cmd, "%s/lock.mdb", copy);
    cr_assert_eq(access(cmd, F_OK), -1, "a lock file was created in the copy");
    snprintf(cmd, sizeof cmd, "chmod 0755 '%s'", copy);
    cr_assert_eq(system(cmd), 0);
}

Test(store, future_dated_records_are_dead_letters_by_append_time)
{
    struct gm_state_opts o = {.no_sync = true, .future_skew_s = 3600};
    struct gm_state *st = open_with(dir, period_rules, &o);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    /* appended 2026-11-02T09:00:00Z */
    int64_t appended = 1793610000LL * 1000;
    const char far[] = "{\"eventId\":\"far\",\"userId\":\"ann\",\"occurredAt\":"
                       "\"2199-01-01T00:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l1\"}}";
    const char edge[] = "{\"eventId\":\"edge\",\"userId\":\"ann\",\"occurredAt\":"
                        "\"2026-11-02T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l2\"}}";
    const char next[] = "{\"eventId\":\"next\",\"userId\":\"ann\",\"occurredAt\":"
                        "\"2026-11-02T10:00:01Z\",\"lessonCompleted\":{\"lessonId\":\"l3\"}}";
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)far, sizeof far - 1, true, 0, appended, &err),
                 0);
    /* exactly at the edge (one hour) is accepted, a second later is not */
    cr_assert_eq(
        gm_state_apply(st, (const uint8_t *)edge, sizeof edge - 1, true, 1, appended, &err), 0);
    cr_assert_eq(
        gm_state_apply(st, (const uint8_t *)next, sizeof next - 1, true, 2, appended, &err), 0);
    /* the same record with no append time (jsonl:) is not checked */
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)next, sizeof next - 1, true, 3, 0, &err), 0);
    cr_assert_eq(gm_state_commit(st, 4, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_stats(st)->too_far_ahead, 2);
    /* the far event moved no time: a normal event is not TOO_LATE */
    cr_assert_eq(gm_state_newest_time(st), 1793613601LL);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_state_dlq_list(st, f, -1), 0);
    fclose(f);
    cr_assert(strstr(buf, "\"reason\":\"TOO_FAR_AHEAD\""), "%s", buf);
    cr_assert(strstr(buf, "\"eventId\":\"far\""), "%s", buf);
    free(buf);
    gm_state_close(st);
}

/* The skew's edge is exact to the nanosecond: the append time is a whole
 * millisecond, and an event dated a nanosecond or half a millisecond past
 * append time + skew is TOO_FAR_AHEAD (a millisecond comparison let it in). */
Test(store, future_skew_edge_to_the_nanosecond)
{
    struct gm_state_opts o = {.no_sync = true, .future_skew_s = 3600};
    struct gm_state *st = open_with(dir, period_rules, &o);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    /* appended 2026-11-02T09:00:00.007Z */
    int64_t appended = 1793610000LL * 1000 + 7;
    static const char *const times[] = {
        "2026-11-02T10:00:00.007Z",       /* exactly at the edge: in */
        "2026-11-02T10:00:00.006999999Z", /* before it: in */
        "2026-11-02T10:00:00.007000001Z", /* a nanosecond past: out */
        "2026-11-02T10:00:00.0075Z",      /* half a millisecond past: out */
        "2026-11-02T10:00:00.008Z",       /* a millisecond past: out */
    };
    for (int i = 0; i < 5; i++) {
        char ev[256];
        int n = snprintf(ev, sizeof ev,
                         "{\"eventId\":\"s%d\",\"userId\":\"ann\",\"occurredAt\":\"%s\","
                         "\"lessonCompleted\":{\"lessonId\":\"l%d\"}}",
                         i, times[i], i);
        cr_assert_eq(
            gm_state_apply(st, (const uint8_t *)ev, (size_t)n, true, (uint64_t)i, appended, &err),
            0, "%s", err.msg);
    }
    cr_assert_eq(gm_state_commit(st, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_stats(st)->too_far_ahead, 3);
    char *d = dump_of(st);
    cr_assert(strstr(d, "\"lessonsCompleted\":2,"), "%s", d);
    free(d);
    gm_state_close(st);
}

/* An INVALID dead letter keeps the event id when it decoded. */
Test(store, invalid_dead_letters_keep_their_event_id)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    const char bad[] = "{\"eventId\":\"e-bad\",\"userId\":\"\",\"occurredAt\":"
                       "\"2026-11-02T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l1\"}}";
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)bad, sizeof bad - 1, true, 0, 0, &err), 0);
    cr_assert_eq(gm_state_commit(st, 1, &err), 0, "%s", err.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(gm_state_dlq_list(st, f, -1), 0);
    fclose(f);
    cr_assert(strstr(buf, "\"reason\":\"INVALID\""), "%s", buf);
    cr_assert(strstr(buf, "\"eventId\":\"e-bad\""), "%s", buf);
    free(buf);
    gm_state_close(st);
}

/* Cursor names of any length are kept apart (an --out URI of 116+ bytes
 * used to fail, and two long ones could share a cursor). */
Test(store, long_cursor_names_are_distinct)
{
    struct gm_state *st = open_with(dir, NULL, NULL);
    char a[700], b[700];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = '\0';
    memcpy(b, a, sizeof b);
    b[sizeof b - 2] = 'y';
    struct gm_err err;
    cr_assert_eq(gm_state_cursor_set(st, a, 7, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_cursor_set(st, b, 9, &err), 0, "%s", err.msg);
    int64_t sa, sb;
    cr_assert_eq(gm_state_cursor_get(st, a, &sa), 0);
    cr_assert_eq(gm_state_cursor_get(st, b, &sb), 0);
    cr_assert_eq(sa, 7);
    cr_assert_eq(sb, 9);
    gm_state_close(st);
}

/* An output's size is kept beside its cursor, and a cursor stored with a
 * size still reads as a plain cursor (--out's exactly-once restart). */
Test(store, a_cursor_keeps_a_position)
{
    struct gm_state *st = open_with(dir, NULL, NULL);
    struct gm_err err;
    int64_t seq, pos;
    cr_assert_eq(gm_state_cursor_get_pos(st, "out:a", &seq, &pos), 0);
    cr_assert_eq(seq, 0);
    cr_assert_eq(pos, -1);
    cr_assert_eq(gm_state_cursor_set_pos(st, "out:a", 12, 4096, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_cursor_get_pos(st, "out:a", &seq, &pos), 0);
    cr_assert_eq(seq, 12);
    cr_assert_eq(pos, 4096);
    cr_assert_eq(gm_state_cursor_get(st, "out:a", &seq), 0);
    cr_assert_eq(seq, 12);
    cr_assert_eq(gm_state_cursor_set(st, "out:a", 13, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_cursor_get_pos(st, "out:a", &seq, &pos), 0);
    cr_assert_eq(seq, 13);
    cr_assert_eq(pos, -1);
    gm_state_close(st);
}

/* A stored record that does not decode is named as such, not as an LMDB
 * error ("Located page was wrong type" before). */
Test(store, a_corrupt_learner_record_is_named)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e1", "ann", "2026-11-02T09:00:00Z", 1);
    cr_assert_eq(gm_state_commit(st, 2, &err), 0, "%s", err.msg);
    gm_state_close(st);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "profiles", 0, &dbi), 0);
    MDB_val k = {3, "ann"}, v = {4, "\xff\xff\xff\xff"};
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st = open_with(dir, NULL, NULL);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    const char js[] = "{\"eventId\":\"e2\",\"userId\":\"ann\",\"occurredAt\":"
                      "\"2026-11-02T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l2\"}}";
    gm_err_clear(&err);
    int rc = gm_state_apply(st, (const uint8_t *)js, sizeof js - 1, true, 2, 0, &err);
    cr_assert_eq(rc, GM_ECORRUPT, "%d: %s", rc, err.msg);
    cr_assert(strstr(err.msg, "record of learner ann does not decode"), "%s", err.msg);
    cr_assert_null(strstr(err.msg, "LMDB"), "%s", err.msg);
    /* a batch with a failed record can be neither added to nor committed */
    cr_assert_neq(gm_state_apply(st, (const uint8_t *)js, sizeof js - 1, true, 3, 0, &err), 0);
    cr_assert_neq(gm_state_commit(st, 4, &err), 0);
    cr_assert(strstr(err.msg, "cannot be committed"), "%s", err.msg);
    gm_state_abort(st);
    cr_assert_eq(gm_state_offset(st), 2);
    gm_state_close(st);
}

/* Dedupe ids are deleted a few per event after the window moves; an id
 * older than the window that pruning has not reached yet is not taken for
 * a duplicate (the outcome must not depend on where pruning stands). */
Test(store, an_id_past_the_window_is_forgotten_before_pruning_reaches_it)
{
    struct gm_state_opts o = {.no_sync = true, .dedupe_window_s = 86400};
    struct gm_state *st = open_with(dir, period_rules, &o);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (int i = 0; i < 2000; i++) {
        char id[16];
        snprintf(id, sizeof id, "a%d", i);
        lesson(st, id, "ann", "2026-11-02T09:00:00Z", (uint64_t)i);
    }
    lesson(st, "x", "bob", "2026-11-02T09:00:01Z", 2000);
    lesson(st, "y", "cy", "2026-11-04T09:00:00Z", 2001);
    /* x again, two days later: beyond the one-day window, so new */
    const char again[] = "{\"eventId\":\"x\",\"userId\":\"bob\",\"occurredAt\":"
                         "\"2026-11-04T09:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l-x2\"}}";
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)again, sizeof again - 1, true, 2002, 0, &err),
                 0, "%s", err.msg);
    /* and once more: now a duplicate */
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)again, sizeof again - 1, true, 2003, 0, &err),
                 0, "%s", err.msg);
    cr_assert_eq(gm_state_commit(st, 2004, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_stats(st)->duplicates, 1);
    char *d = dump_user(st, "bob");
    cr_assert(strstr(d, "\"exp\":40,"), "%s", d);
    free(d);
    gm_state_close(st);
}

/* A state written before the expiry queue (no expiry keys, no
 * expiry_indexed mark) is indexed when opened for writing, so its expired
 * periods are pruned like any others. */
Test(store, an_old_state_is_indexed_for_pruning)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e1", "ann", "2026-01-05T09:00:00Z", 1);
    cr_assert_eq(gm_state_commit(st, 2, &err), 0, "%s", err.msg);
    gm_state_close(st);

    /* make it look old: empty the queue and forget that it was built */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi expiry, meta;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "expiry", 0, &expiry), 0);
    cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_drop(txn, expiry, 0), 0);
    MDB_val k = {14, "expiry_indexed"};
    cr_assert_eq(mdb_del(txn, meta, &k, NULL), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st = open_with(dir, NULL, NULL);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e2", "bob", "2026-03-30T09:00:00Z", 2);
    cr_assert_eq(gm_state_commit(st, 3, &err), 0, "%s", err.msg);
    /* ann's week and month, found through the rebuilt queue */
    cr_assert_eq(gm_state_stats(st)->periods_pruned, 2);
    gm_state_close(st);
}

/* A state written before reach times (scores in scores_packed_v1, entries
 * without reached_at) opens: its scores keep their values with reach time 0
 * (the earliest), the next event that changes one sets its reach time, and
 * the record is written back in the new form. */
Test(store, an_old_state_without_reach_times_opens)
{
    struct gm_state *st = open_with(dir, period_rules, NULL);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e1", "ann", "2026-11-02T09:00:00Z", 1);
    cr_assert_eq(gm_state_commit(st, 2, &err), 0, "%s", err.msg);
    gm_state_close(st);

    /* rewrite ann's record as an old state held it */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "profiles", 0, &dbi), 0);
    MDB_val k = {3, "ann"}, v;
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
    Gamify__Internal__UserState *us =
        gamify__internal__user_state__unpack(NULL, v.mv_size, v.mv_data);
    cr_assert_not_null(us);
    ProtobufCBinaryData *sp = &us->scores_packed, *old = &us->scores_packed_v1;
    cr_assert_gt(sp->len, 0);
    old->data = malloc(sp->len);
    old->len = 0;
    for (size_t r = 0; r < sp->len;) {
        size_t n = 1 + sp->data[r];
        n += 1 + sp->data[r + n] + 16; /* board, period, score, reached_at */
        memcpy(old->data + old->len, sp->data + r, n - 8);
        old->len += n - 8;
        r += n;
    }
    free(sp->data);
    sp->data = NULL;
    sp->len = 0;
    uint8_t buf[4096];
    size_t len = gamify__internal__user_state__pack(us, buf);
    gamify__internal__user_state__free_unpacked(us, NULL);
    v.mv_size = len;
    v.mv_data = buf;
    cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    st = open_with(dir, NULL, NULL);
    char *d = dump_user(st, "ann");
    cr_assert(strstr(d, "\"scores\":{\"global\":{\"2026-11\":20,\"2026-W45\":20,\"all\":20}}"),
              "%s", d);
    cr_assert(strstr(d, "\"scoresReachedAt\":{\"global\":{\"2026-11\":\"1970-01-01T00:00:00Z\","
                        "\"2026-W45\":\"1970-01-01T00:00:00Z\",\"all\":\"1970-01-01T00:00:00Z\"}}"),
              "%s", d);
    free(d);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    lesson(st, "e2", "ann", "2026-11-03T09:00:00Z", 2);
    cr_assert_eq(gm_state_commit(st, 3, &err), 0, "%s", err.msg);
    d = dump_user(st, "ann");
    cr_assert(strstr(d, "\"scores\":{\"global\":{\"2026-11\":40,\"2026-W45\":40,\"all\":40}}"),
              "%s", d);
    cr_assert(strstr(d, "\"all\":\"2026-11-03T09:00:00Z\"}}"), "%s", d);
    free(d);
    gm_state_close(st);

    /* written back without the old field */
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "profiles", 0, &dbi), 0);
    cr_assert_eq(mdb_get(txn, dbi, &k, &v), 0);
    us = gamify__internal__user_state__unpack(NULL, v.mv_size, v.mv_data);
    cr_assert_not_null(us);
    cr_assert_eq(us->scores_packed_v1.len, 0);
    cr_assert_gt(us->scores_packed.len, 0);
    gamify__internal__user_state__free_unpacked(us, NULL);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/*
 * The learners of a batch are held decoded until it commits (learners.h).
 * A fold rejected after taking an envelope's zone must leave the held
 * learner as it was: the same events give the same state in one batch as
 * one batch per event.
 */
static const char *const held_events[] = {
    "{\"eventId\":\"h1\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T10:00:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l1\",\"score\":95}}",
    /* rejected (below zero) after the envelope's zone was taken */
    "{\"eventId\":\"h2\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T10:01:00Z\","
    "\"timezone\":\"Asia/Tokyo\",\"adjustment\":{\"exp\":-100000,\"reason\":\"x\"}}",
    /* rejected (unknown zone in the settings) after the envelope's zone */
    "{\"eventId\":\"h3\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T10:02:00Z\","
    "\"timezone\":\"Asia/Tokyo\",\"userSettings\":{\"timezone\":\"Nowhere/Atlantis\"}}",
    /* the learner's local day decides this lesson's streak and cap day */
    "{\"eventId\":\"h4\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-02T16:30:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l2\",\"score\":95}}",
    "{\"eventId\":\"h5\",\"userId\":\"u2\",\"occurredAt\":\"2026-11-02T16:31:00Z\","
    "\"timezone\":\"Asia/Tokyo\",\"adjustment\":{\"exp\":-5,\"reason\":\"y\"}}",
    "{\"eventId\":\"h6\",\"userId\":\"u1\",\"occurredAt\":\"2026-11-03T16:30:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l3\",\"score\":80}}",
};

/* Folds held_events in batches of per events; fills the digest and dump. */
static void
fold_held(const char *path, size_t per, unsigned char md[32], char **dump, size_t *dump_len)
{
    struct gm_state *st = open_store(path, 0, true);
    struct gm_err err;
    size_t n = sizeof held_events / sizeof held_events[0];
    for (size_t i = 0; i < n; i += per) {
        cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
        for (size_t k = i; k < i + per && k < n; k++)
            apply_json(st, held_events[k], k);
        cr_assert_eq(gm_state_commit(st, i + per, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(gm_state_digest(st, md), 0);
    FILE *f = open_memstream(dump, dump_len);
    cr_assert_eq(gm_state_dump(st, f, NULL), 0);
    fclose(f);
    cr_expect_eq(gm_state_stats(st)->rejected, 3);
    gm_state_close(st);
}

Test(store, a_rejected_fold_leaves_the_held_learner_as_it_was)
{
    char a[80], b[80];
    snprintf(a, sizeof a, "%s/one", dir);
    snprintf(b, sizeof b, "%s/each", dir);
    unsigned char ma[32], mb[32];
    char *da, *db;
    size_t la, lb;
    fold_held(a, 100, ma, &da, &la);
    fold_held(b, 1, mb, &db, &lb);
    cr_expect_str_eq(da, db);
    cr_expect_eq(memcmp(ma, mb, 32), 0, "one batch and one batch per event differ");
    free(da);
    free(db);
}

static struct gm_state *
open_held(const char *path, size_t map_size, size_t hold_bytes, bool seed)
{
    struct gm_state_opts opts = {.map_size = map_size, .no_sync = true, .hold_bytes = hold_bytes};
    struct gm_state *st;
    struct gm_err err;
    cr_assert_eq(gm_state_open(path, &opts, &st, &err), 0, "%s", err.msg);
    if (seed) {
        size_t len;
        char *yaml = read_rules(&len);
        cr_assert_eq(gm_state_seed_rules(st, yaml, len, &err), 0, "%s", err.msg);
        free(yaml);
    }
    return st;
}

/*
 * Write-behind learners (held.h) in a map that must grow: the batch that
 * staged learners is applied again (its staging undone first), also when
 * the map fills at the commit's journal record or write-backs. Holding
 * everything (1 MiB) and writing back all the time (4 KiB) give the dump
 * and digest of a plain state, and so does the state reopened (the
 * journal's learners taken back) and continued without holding.
 */
Test(store, held_learners_survive_map_growth_and_reopening)
{
    char plain[80], all[80], some[80];
    snprintf(plain, sizeof plain, "%s/plain", dir);
    snprintf(all, sizeof all, "%s/all", dir);
    snprintf(some, sizeof some, "%s/some", dir);
    struct gm_state *p = open_store(plain, 0, true);
    struct gm_state *a = open_held(all, 64 * 1024, 1 << 20, true);
    struct gm_state *s = open_held(some, 64 * 1024, 4096, true);
    for (int k = 0; k < 3; k++) {
        fold_lessons(p, k * 2000, 2000);
        fold_lessons(a, k * 2000, 2000);
        fold_lessons(s, k * 2000, 2000);
    }
    cr_assert_gt(gm_state_stats(a)->map_resizes, 0, "the tiny map had to grow");
    cr_assert_gt(gm_state_stats(s)->map_resizes, 0, "the tiny map had to grow");
    char *dp = dump_of(p), *da = dump_of(a), *ds = dump_of(s);
    cr_assert_str_eq(dp, da);
    cr_assert_str_eq(dp, ds);
    unsigned char hp[32], ha[32], hs[32];
    cr_assert_eq(gm_state_digest(p, hp), 0);
    cr_assert_eq(gm_state_digest(a, ha), 0);
    cr_assert_eq(gm_state_digest(s, hs), 0);
    cr_assert_arr_eq(hp, ha, 32);
    cr_assert_arr_eq(hp, hs, 32);
    struct gm_state_held h;
    gm_state_held(a, &h);
    cr_assert_eq(h.learners, 50, "every learner held (%zu)", h.learners);
    cr_assert_gt(h.journal_bytes, 0);
    gm_state_held(s, &h);
    cr_assert_lt(h.learners, 50, "4 KiB holds a few learners, not %zu", h.learners);
    free(da);
    free(ds);
    /* reopened: held learners come back from the journal and stay held;
     * without holding they are written back at the open, the journal empty */
    gm_state_close(a);
    a = open_held(all, 0, 1 << 20, false);
    gm_state_held(a, &h);
    cr_assert_eq(h.learners, 50, "the journal gave back %zu learners", h.learners);
    da = dump_of(a);
    cr_assert_str_eq(dp, da);
    free(da);
    gm_state_close(a);
    a = open_held(all, 0, 0, false);
    gm_state_held(a, &h);
    cr_assert_eq(h.learners, 0, "still held: %zu", h.learners);
    cr_assert_eq(h.journal_bytes, 0);
    da = dump_of(a);
    cr_assert_str_eq(dp, da);
    free(da);
    fold_lessons(p, 6000, 500);
    fold_lessons(a, 6000, 500);
    gm_state_held(a, &h);
    cr_assert_eq(h.learners, 0, "held again: %zu", h.learners);
    free(dp);
    dp = dump_of(p);
    da = dump_of(a);
    cr_assert_str_eq(dp, da);
    cr_assert_eq(gm_state_digest(p, hp), 0);
    cr_assert_eq(gm_state_digest(a, ha), 0);
    cr_assert_arr_eq(hp, ha, 32);
    free(dp);
    free(da);
    gm_state_close(p);
    gm_state_close(a);
    gm_state_close(s);
}

/* An aborted batch leaves held learners as they were, also when it had
 * staged learners in the held table (a batch of more than GM_LEARNERS_MAX). */
Test(store, an_aborted_batch_leaves_held_learners)
{
    struct gm_state *st = open_held(dir, 0, 1 << 20, true);
    fold_lessons(st, 0, 100);
    char *before = dump_of(st);
    struct gm_state_held h0, h1;
    gm_state_held(st, &h0);
    cr_assert_eq(h0.learners, 50);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0);
    apply_json(st,
               "{\"eventId\":\"x1\",\"userId\":\"learner-with-a-long-name-3\",\"occurredAt\":"
               "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"new-lesson\"}}",
               100);
    apply_json(st,
               "{\"eventId\":\"x2\",\"userId\":\"a-new-learner\",\"occurredAt\":"
               "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\"}}",
               101);
    /* more learners than a batch keeps decoded (GM_LEARNERS_MAX): the
     * batch stages the first ones in the held table before its end, and
     * the abort must undo that */
    for (int i = 0; i < GM_LEARNERS_MAX + 100; i++) {
        char js[256];
        snprintf(js, sizeof js,
                 "{\"eventId\":\"y%d\",\"userId\":\"many-%d\",\"occurredAt\":"
                 "\"2026-11-25T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l\"}}",
                 i, i);
        apply_json(st, js, 102 + (uint64_t)i);
    }
    gm_state_abort(st);
    gm_state_held(st, &h1);
    cr_assert_eq(h1.learners, h0.learners);
    cr_assert_eq(h1.bytes, h0.bytes);
    char *after = dump_of(st);
    cr_assert_str_eq(before, after);
    free(before);
    free(after);
    gm_state_close(st);
}

/* n lesson events, one per learner of `learners` in turn, as fold_lessons. */
static void
fold_many(struct gm_state *st, int first, int n, int learners)
{
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (int i = first; i < first + n; i++) {
        char js[512];
        time_t tt = (time_t)(1795000000L + i * 60L);
        struct tm tm;
        gmtime_r(&tt, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(js, sizeof js,
                 "{\"eventId\":\"m%d\",\"userId\":\"learner-%d\",\"occurredAt\":\"%s\","
                 "\"lessonCompleted\":{\"lessonId\":\"lesson-%d\",\"score\":%d}}",
                 i, i % learners, ts, i, i % 100);
        apply_json(st, js, (uint64_t)i);
    }
    cr_assert_eq(gm_state_commit(st, (uint64_t)(first + n), &err), 0, "%s", err.msg);
}

/* The dump (and digest, when asked) of a plain state folded by fold_many in
 * `batches` batches of 1,500 events for `learners` learners: returns new. */
static char *
plain_reference(int batches, int learners, unsigned char *digest)
{
    char plain[80];
    snprintf(plain, sizeof plain, "%s/plain", dir);
    struct gm_state *p = open_store(plain, 0, true);
    for (int k = 0; k < batches; k++)
        fold_many(p, k * 1500, 1500, learners);
    char *dp = dump_of(p);
    if (digest)
        cr_assert_eq(gm_state_digest(p, digest), 0);
    gm_state_close(p);
    return dp;
}

/*
 * The map fills in a held batch's commit (its journal record, a write-back,
 * the commit itself) at some of these initial map sizes (768-896 and
 * 1536-1792 KiB when this was written): the batch applied again must
 * journal every learner it changed, also the held ones the failed attempt
 * had already put in its record. Before the fix those were left out of the
 * new record and the journal showed an older copy (a finer sweep, 512-4096
 * KiB by 32, gave 14 wrong dumps; this one fails first at 768 KiB). Each
 * state is compared with a plain one, before and after reopening (the
 * journal's learners taken back).
 */
Test(store, a_held_batch_applied_again_journals_every_learner)
{
    char *dp = plain_reference(2, 1500, NULL);
    int grown = 0;
    for (size_t kib = 512; kib <= 2560; kib += 64) {
        char path[96];
        snprintf(path, sizeof path, "%s/m%zu", dir, kib);
        struct gm_state *s = open_held(path, kib * 1024, 1 << 20, true);
        for (int k = 0; k < 2; k++)
            fold_many(s, k * 1500, 1500, 1500);
        grown += gm_state_stats(s)->map_resizes > 0;
        char *ds = dump_of(s);
        cr_assert_str_eq(ds, dp, "initial map %zu KiB", kib);
        free(ds);
        gm_state_close(s);
        s = open_held(path, 0, 1 << 20, false);
        ds = dump_of(s);
        cr_assert_str_eq(ds, dp, "initial map %zu KiB, reopened", kib);
        free(ds);
        gm_state_close(s);
    }
    cr_assert_gt(grown, 10, "the maps grew (%d)", grown);
    free(dp);
}

/*
 * A writer may keep its dirty pages on the heap (opts.heap_pages: LMDB
 * without MDB_WRITEMAP, gamify-processor's default) or in the map (the
 * replay's): the file is the same, so writers of either kind may follow one
 * another on a state, and a tiny map grows the same way with both. Each
 * batch here switches kind, with and without held learners.
 */
Test(store, writers_with_heap_pages_or_the_map_share_a_state)
{
    unsigned char hp[32];
    char *dp = plain_reference(6, 700, hp);
    for (int held = 0; held < 2; held++) {
        char path[96];
        snprintf(path, sizeof path, "%s/mixed%d", dir, held);
        uint64_t resizes = 0;
        for (int k = 0; k < 6; k++) {
            struct gm_state_opts opts = {.map_size = k ? 0 : 64 * 1024,
                                         .no_sync = true,
                                         .hold_bytes = held ? 1 << 20 : 0,
                                         .heap_pages = k % 2 == 0};
            struct gm_state *s;
            struct gm_err err;
            cr_assert_eq(gm_state_open(path, &opts, &s, &err), 0, "%s", err.msg);
            if (k == 0) {
                size_t len;
                char *yaml = read_rules(&len);
                cr_assert_eq(gm_state_seed_rules(s, yaml, len, &err), 0, "%s", err.msg);
                free(yaml);
            }
            fold_many(s, k * 1500, 1500, 700);
            resizes += gm_state_stats(s)->map_resizes;
            if (k == 5) {
                char *ds = dump_of(s);
                cr_assert_str_eq(ds, dp, "held %d", held);
                free(ds);
                unsigned char hs[32];
                cr_assert_eq(gm_state_digest(s, hs), 0);
                cr_assert_arr_eq(hs, hp, 32);
            }
            gm_state_close(s);
        }
        cr_assert_gt(resizes, 0, "the 64 KiB map grew under a heap-pages writer");
    }
    free(dp);
}
