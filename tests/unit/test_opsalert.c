/*
 * test_opsalert.c: the ops alerts' queue and delivery thread without
 * servers: alerts reach a jsonl: destination whole and once; a destination
 * that fails every write (/dev/full) never makes emit wait, a full queue
 * drops and counts, failures are counted and the stop drops what is left;
 * a file: destination holds the packed alerts; bad URIs are refused with a
 * message naming --alerts; the webhook body's shape; an alert emitted while
 * an earlier one is being written is delivered as soon as the write ends.
 */
#include "filelog.h"
#include "opsalert.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/gm-opsalert-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Emits alert number i: kind redis_memory, two periods deleted. */
static void
emit(struct gm_opsalert *a, int i)
{
    char id[64];
    snprintf(id, sizeof id, "redis_memory:p0:%d:0000000000000000", 1000 + i);
    char *periods[] = {"2026-W44", "2026-10"};
    Gamification__V1__RedisMemoryAlert rm = GAMIFICATION__V1__REDIS_MEMORY_ALERT__INIT;
    rm.used_memory_bytes = 900 + i;
    rm.maxmemory_bytes = 1000;
    rm.threshold_permille = 800;
    rm.threshold_bytes = 800;
    rm.n_periods_deleted = 2;
    rm.periods_deleted = periods;
    rm.keys_deleted = 7;
    Google__Protobuf__Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    at.seconds = 1764000000 + i;
    Gamification__V1__OpsAlert al = GAMIFICATION__V1__OPS_ALERT__INIT;
    al.alert_id = id;
    al.kind = "redis_memory";
    al.raised_at = &at;
    al.summary = "test";
    al.detail_case = GAMIFICATION__V1__OPS_ALERT__DETAIL_REDIS_MEMORY;
    al.redis_memory = &rm;
    gm_opsalert_emit(a, &al);
}

/* Waits up to 10 s for delivered to reach n. */
static void
wait_delivered(struct gm_opsalert *a, uint64_t n)
{
    struct gm_opsalert_stats s;
    for (int i = 0; i < 1000; i++) {
        gm_opsalert_stats(a, &s);
        if (s.delivered >= n)
            return;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_assert_fail("delivered %llu of %llu", (unsigned long long)s.delivered,
                   (unsigned long long)n);
}

TestSuite(opsalert, .init = setup, .fini = teardown);

Test(opsalert, jsonl_each_alert_once)
{
    char uri[160], path[128];
    snprintf(path, sizeof path, "%s/alerts.jsonl", dir);
    snprintf(uri, sizeof uri, "jsonl:%s", path);
    struct gm_opsalert_opts o = {.uri = uri};
    struct gm_opsalert *a;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_opsalert_open(&o, &a, &err), 0, "%s", err.msg);
    for (int i = 0; i < 3; i++)
        emit(a, i);
    wait_delivered(a, 3);
    struct gm_opsalert_stats s;
    gm_opsalert_stats(a, &s);
    cr_expect_eq(s.emitted, 3);
    cr_expect_eq(s.failed, 0);
    cr_expect_eq(s.dropped, 0);
    cr_expect_eq(s.targets, 1);
    gm_opsalert_close(a);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *v = json_loads(line, 0, NULL);
        cr_assert_not_null(v, "not JSON: %s", line);
        char want[64];
        snprintf(want, sizeof want, "redis_memory:p0:%d:0000000000000000", 1000 + n);
        cr_expect_str_eq(json_string_value(json_object_get(v, "alertId")), want);
        cr_expect_str_eq(json_string_value(json_object_get(v, "kind")), "redis_memory");
        json_t *rm = json_object_get(v, "redisMemory");
        cr_expect_str_eq(json_string_value(json_object_get(rm, "maxmemoryBytes")), "1000");
        cr_expect_eq(json_integer_value(json_object_get(rm, "thresholdPermille")), 800);
        cr_expect_eq(json_array_size(json_object_get(rm, "periodsDeleted")), 2);
        json_decref(v);
        n++;
    }
    fclose(f);
    cr_expect_eq(n, 3, "%d lines", n);
}

/* /dev/full takes the open and fails every write (ENOSPC). */
Test(opsalert, failing_destination_bounds_the_queue)
{
    struct gm_opsalert_opts o = {.uri = "jsonl:/dev/full", .queue_max = 4, .drain_ms = 200};
    struct gm_opsalert *a;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_opsalert_open(&o, &a, &err), 0, "%s", err.msg);
    double t0 = mono_s();
    for (int i = 0; i < 10; i++)
        emit(a, i);
    cr_expect_lt(mono_s() - t0, 0.5, "emit waited");
    struct gm_opsalert_stats s;
    for (int i = 0; i < 500; i++) {
        gm_opsalert_stats(a, &s);
        if (s.failed > 0)
            break;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    cr_expect_eq(s.emitted, 10);
    cr_expect_eq(s.dropped, 6, "dropped %llu", (unsigned long long)s.dropped);
    cr_expect_eq(s.queued, 4);
    cr_expect_eq(s.delivered, 0);
    cr_expect_gt(s.failed, 0);
    t0 = mono_s();
    gm_opsalert_close(a); /* a is freed; the stop drops the 4 left */
    cr_expect_lt(mono_s() - t0, 3.0, "the stop took %.1f s", mono_s() - t0);
}

Test(opsalert, file_log_destination)
{
    char uri[160], path[128];
    snprintf(path, sizeof path, "%s/alerts", dir);
    snprintf(uri, sizeof uri, "file:%s", path);
    struct gm_opsalert_opts o = {.uri = uri};
    struct gm_opsalert *a;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_opsalert_open(&o, &a, &err), 0, "%s", err.msg);
    emit(a, 0);
    emit(a, 1);
    wait_delivered(a, 2);
    gm_opsalert_close(a);
    struct gm_filelog_reader *r;
    cr_assert_eq(gm_filelog_reader_open(path, 0, &r, &err), 0, "%s", err.msg);
    struct gm_filelog_rec rec;
    int n = 0;
    while (gm_filelog_reader_next(r, &rec) == 1) {
        Gamification__V1__OpsAlert *al =
            gamification__v1__ops_alert__unpack(NULL, rec.len, rec.data);
        cr_assert_not_null(al, "record %d is not an OpsAlert", n);
        cr_expect_eq(al->detail_case, GAMIFICATION__V1__OPS_ALERT__DETAIL_REDIS_MEMORY);
        cr_expect_eq(al->redis_memory->used_memory_bytes, 900 + n);
        cr_expect_eq(al->redis_memory->keys_deleted, 7);
        gamification__v1__ops_alert__free_unpacked(al, NULL);
        n++;
    }
    gm_filelog_reader_close(r);
    cr_expect_eq(n, 2);
}

Test(opsalert, bad_uris)
{
    const char *bad[] = {"http://x/y", "kafka://host:9092", "kafka://host:9092/",
                         "kafka:///t", "kafka://h:1/a/b",   "jsonl:",
                         "file:",      "alerts.jsonl"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct gm_err err;
        gm_err_clear(&err);
        cr_expect_eq(gm_opsalert_check_uri(bad[i], &err), GM_EINVAL, "%s accepted", bad[i]);
        cr_expect(strstr(err.msg, "--alerts") != NULL, "%s: %s", bad[i], err.msg);
        struct gm_opsalert_opts o = {.uri = bad[i]};
        struct gm_opsalert *a = NULL;
        cr_expect_eq(gm_opsalert_open(&o, &a, &err), GM_EINVAL, "%s opened", bad[i]);
        cr_expect_null(a);
    }
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_opsalert_opts o = {.uri = "jsonl:/nonexistent-dir/x.jsonl"};
    struct gm_opsalert *a = NULL;
    cr_expect_lt(gm_opsalert_open(&o, &a, &err), 0);
    cr_expect(strstr(err.msg, "/nonexistent-dir/x.jsonl") != NULL, "%s", err.msg);
    cr_expect_eq(gm_opsalert_check_uri("kafka://h:1,h2:2/alerts", &err), 0);
}

Test(opsalert, webhook_body)
{
    Google__Protobuf__Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    at.seconds = 1764000000;
    Gamification__V1__RedisMemoryAlert rm = GAMIFICATION__V1__REDIS_MEMORY_ALERT__INIT;
    rm.keys_deleted = 3;
    Gamification__V1__OpsAlert al = GAMIFICATION__V1__OPS_ALERT__INIT;
    al.alert_id = "redis_memory:p2:1:00";
    al.kind = "redis_memory";
    al.raised_at = &at;
    al.partition = 2;
    al.detail_case = GAMIFICATION__V1__OPS_ALERT__DETAIL_REDIS_MEMORY;
    al.redis_memory = &rm;
    char *body = gm_opsalert_body(&al);
    cr_assert_not_null(body);
    cr_expect_str_eq(body, "{\"id\":\"redis_memory:p2:1:00\",\"type\":\"ops.alert\","
                           "\"occurredAt\":\"2025-11-24T16:00:00Z\",\"data\":{\"alertId\":"
                           "\"redis_memory:p2:1:00\",\"kind\":\"redis_memory\",\"raisedAt\":"
                           "\"2025-11-24T16:00:00Z\",\"partition\":2,\"redisMemory\":"
                           "{\"keysDeleted\":\"3\"}}}");
    free(body);
}

/*
 * A jsonl: destination that is a full pipe holds the thread in its write of
 * alert 0 while alert 1 is emitted. Once the pipe is drained, alert 1 must
 * follow at once: the thread used to miss it (it compared the queue's length
 * after freeing alert 0 with the count it had taken) and slept until its next
 * timer, an hour.
 */
Test(opsalert, alert_emitted_during_a_write_follows_it)
{
    char path[128], uri[160];
    snprintf(path, sizeof path, "%s/pipe", dir);
    snprintf(uri, sizeof uri, "jsonl:%s", path);
    cr_assert_eq(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK);
    cr_assert_geq(rd, 0);
    int wr = open(path, O_WRONLY | O_NONBLOCK);
    cr_assert_geq(wr, 0);
    char fill[4096];
    memset(fill, 'x', sizeof fill);
    size_t filled = 0;
    while (write(wr, fill, sizeof fill) > 0)
        filled += sizeof fill;
    cr_assert_gt(filled, 0);
    struct gm_opsalert_opts o = {.uri = uri};
    struct gm_opsalert *a;
    struct gm_err err;
    gm_err_clear(&err);
    cr_assert_eq(gm_opsalert_open(&o, &a, &err), 0, "%s", err.msg);
    emit(a, 0);
    struct timespec ts = {0, 200 * 1000000L}; /* the thread is in its write */
    nanosleep(&ts, NULL);
    emit(a, 1);
    nanosleep(&ts, NULL);
    struct gm_opsalert_stats s;
    gm_opsalert_stats(a, &s);
    cr_expect_eq(s.delivered, 0, "the pipe was full, yet %llu delivered",
                 (unsigned long long)s.delivered);
    /* drain the filler, then read until both alerts came */
    char buf[8192];
    size_t got = 0, lines = 0;
    double t0 = mono_s();
    while (lines < 2 && mono_s() - t0 < 5.0) {
        ssize_t r = read(rd, buf, sizeof buf);
        if (r > 0) {
            for (ssize_t i = 0; i < r; i++) {
                if (got + (size_t)i >= filled && buf[i] == '\n')
                    lines++;
            }
            got += (size_t)r;
        } else {
            nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
        }
    }
    cr_expect_eq(lines, 2, "%zu alerts came through the pipe within 5 s", lines);
    gm_opsalert_stats(a, &s);
    cr_expect_eq(s.delivered, 2);
    gm_opsalert_close(a);
    close(wr);
    close(rd);
}
