/*
 * cmd_replay_kafka.c: `gamify replay --log kafka://HOST:PORT/TOPIC`, the
 * audit replay of a whole topic. Every partition is folded into its own
 * state (STATE/partition-N, as a processor keeps them) from that state's
 * offset to the high watermark the partition had when the replay started,
 * then the replay stops. It reads with kafka_read.h: no consumer group,
 * nothing committed, so it runs beside a processor of the same topic.
 */
#include "cmd_state.h"
#include "cmd_util.h"
#include "diskguard.h"
#include "kafka_read.h"
#include "outsink.h"
#include "pump.h"
#include "rules.h"
#include "state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A partition with no record for this long while short of its end stops
 * the replay: the cluster went away, or the topic lost records meanwhile. */
#define STALL_S 60.0

struct rpart {
    struct gm_state *st;
    bool in_batch;
    size_t n;            /* records in the open batch */
    uint64_t batch_next; /* offset after the open batch's last record */
    uint64_t records;
    uint64_t batches; /* committed */
};

static int
open_part(const struct gm_replay_kafka_opts *o, int32_t id, struct rpart *p, struct gm_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/partition-%d", o->state, (int)id);
    int rc = gm_state_open(path, &o->store, &p->st, err);
    if (rc)
        return rc;
    if (o->override_text &&
        (rc = gm_state_set_what_if(p->st, o->override_text, o->override_len, err)))
        return rc;
    if (o->rules_text)
        rc = gm_state_seed_rules(p->st, o->rules_text, o->rules_len, err);
    p->batch_next = gm_state_offset(p->st);
    return rc;
}

static int
commit_part(struct rpart *p, struct gm_outsink *sink, bool no_feed, struct gm_err *err)
{
    if (!p->in_batch)
        return 0;
    p->in_batch = false;
    int rc = gm_state_commit(p->st, p->batch_next, err);
    p->batches += rc == 0;
    if (rc == 0 && sink)
        rc = gm_outsink_publish(sink, p->st, err);
    if (rc == 0 && no_feed) /* the partition's next commits delete what is released */
        gm_pump_release(p->st, sink, INT64_MAX);
    return rc;
}

static void
progress(const struct gm_kafka_reader *r, uint64_t records, double secs)
{
    size_t n;
    const struct gm_kafka_part_range *pr = gm_kafka_reader_parts(r, &n);
    fprintf(stderr, "replay: %llu records, %.0f records/s;", (unsigned long long)records,
            secs > 0 ? (double)records / secs : 0.0);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " partition %d: %llu/%lld", (int)pr[i].partition,
                (unsigned long long)gm_kafka_reader_position(r, i), (long long)pr[i].high);
    fprintf(stderr, "\n");
}

int
gm__replay_kafka(const char *rest, const struct gm_replay_kafka_opts *o)
{
    struct gm_err err;
    gm_err_clear(&err);
    struct gm_kafka_reader *r = NULL;
    struct gm_outsink *sink = NULL;
    struct rpart *parts = NULL;
    uint64_t *from = NULL;
    size_t n = 0;
    int code = 2, rc;
    if ((rc = gm_kafka_reader_open(rest, &r, &err)))
        goto fail;
    const struct gm_kafka_part_range *pr = gm_kafka_reader_parts(r, &n);
    if (mkdir(o->state, 0755) && errno != EEXIST) {
        rc = gm_err_set(&err, -errno, "cannot create %s: %s", o->state, strerror(errno));
        goto fail;
    }
    parts = calloc(n, sizeof *parts);
    from = calloc(n, sizeof *from);
    if (!parts || !from)
        abort();
    for (size_t i = 0; i < n; i++) {
        if ((rc = open_part(o, pr[i].partition, &parts[i], &err))) {
            code = err.line ? 1 : 2;
            if (err.line)
                fprintf(stderr, "gamify replay: %s:%d:%d: %s\n",
                        o->override ? o->override : o->rules, err.line, err.column, err.msg);
            else
                fprintf(stderr, "gamify replay: partition %d: %s\n", (int)pr[i].partition, err.msg);
            goto out;
        }
        from[i] = gm_state_offset(parts[i].st);
    }
    if (o->out_uri && (rc = gm_outsink_open(o->out_uri, &sink, &err)))
        goto fail;
    gm_outsink_set_shared(sink); /* every partition's state writes to it */
    if (!o->quiet)
        fprintf(stderr,
                "replay: kafka topic %s: %zu partitions, up to the high watermarks of now\n",
                gm_kafka_reader_topic(r), n);
    if ((rc = gm_kafka_reader_start(r, from, &err)))
        goto fail;
    double start = gm__now_s(), last_report = start, last_record = start;
    uint64_t records = 0;
    struct gm_diskguard guard;
    gm_diskguard_init(&guard, o->state, o->min_free_mib);
    for (;;) {
        struct gm_kafka_msg msg;
        rc = gm_kafka_reader_next(r, 200, &msg, &err);
        if (rc < 0)
            goto fail;
        double t = gm__now_s();
        if (rc == 2)
            break;
        if (rc == 1) {
            size_t i = 0;
            while (i < n && pr[i].partition != msg.partition)
                i++;
            struct rpart *p = &parts[i];
            struct gm_err low;
            if (!p->in_batch && gm_diskguard_low(&guard, &low)) {
                /* what is open is committed: run again to continue */
                for (size_t j = 0; j < n; j++)
                    if ((rc = commit_part(&parts[j], sink, o->no_feed, &err)))
                        goto fail;
                rc = gm_err_set(&err, GM_EIO, "stopped (run again to continue): %s", low.msg);
                goto fail;
            }
            if (!p->in_batch) {
                if ((rc = gm_state_begin(p->st, &err)))
                    goto fail;
                p->in_batch = true;
                p->n = 0;
            }
            if ((rc = gm_state_apply(p->st, msg.data, msg.len, false, msg.offset, msg.append_ms,
                                     &err)))
                goto fail;
            p->batch_next = msg.offset + 1;
            p->records++;
            records++;
            last_record = t;
            /* every partition has a batch open at once: they share the bound */
            if ((++p->n >= o->batch || gm_state_batch_bytes(p->st) >= o->batch_bytes / n) &&
                (rc = commit_part(p, sink, o->no_feed, &err)))
                goto fail;
        } else if (t - last_record >= STALL_S) {
            rc = gm_err_set(&err, GM_EKAFKA,
                            "no record from the cluster for %.0f s short of the partitions' "
                            "ends; stopping (what was folded is committed: run again to resume)",
                            STALL_S);
            for (size_t i = 0; i < n; i++)
                commit_part(&parts[i], sink, o->no_feed, &(struct gm_err){0});
            goto fail;
        }
        if (!o->quiet && t - last_report >= 1.0) {
            progress(r, records, t - start);
            last_report = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = commit_part(&parts[i], sink, o->no_feed, &err)))
            goto fail;
    }
    double secs = gm__now_s() - start;
    if (!o->quiet) {
        struct gm_state_stats sum = {0};
        uint64_t written = gm_outsink_written(sink), batches = 0;
        for (size_t i = 0; i < n; i++) {
            batches += parts[i].batches;
            const struct gm_state_stats *ss = gm_state_stats(parts[i].st);
            char note[160];
            fprintf(stderr,
                    "replay: partition %d: %llu records, %llu applied, %llu duplicates, %llu "
                    "dead letters, %llu rules published%s; offset %llu\n",
                    (int)pr[i].partition, (unsigned long long)parts[i].records,
                    (unsigned long long)ss->applied, (unsigned long long)ss->duplicates,
                    (unsigned long long)ss->dead_letters, (unsigned long long)ss->rules_published,
                    gm__what_if_note(parts[i].st, ss, note, sizeof note),
                    (unsigned long long)gm_state_offset(parts[i].st));
            sum.applied += ss->applied;
            sum.duplicates += ss->duplicates;
            sum.dead_letters += ss->dead_letters;
            sum.rules_published += ss->rules_published;
            sum.rules_ignored += ss->rules_ignored;
        }
        char note[160];
        fprintf(stderr,
                "replay: done: %llu records of %zu partitions in %.2f s (%.0f/s), %llu batches: "
                "%llu applied, "
                "%llu duplicates, %llu dead letters, %llu rules published%s; %llu outbound "
                "events written\n",
                (unsigned long long)records, n, secs, secs > 0 ? (double)records / secs : 0.0,
                (unsigned long long)batches, (unsigned long long)sum.applied,
                (unsigned long long)sum.duplicates, (unsigned long long)sum.dead_letters,
                (unsigned long long)sum.rules_published,
                n ? gm__what_if_note(parts[0].st, &sum, note, sizeof note) : "",
                (unsigned long long)written);
    }
    code = 0;
    goto out;
fail:
    fprintf(stderr, "gamify replay: %s\n", err.msg[0] ? err.msg : gm_strerror(rc));
    code = 2;
out:
    for (size_t i = 0; i < n && parts; i++) {
        if (parts[i].in_batch)
            gm_state_abort(parts[i].st);
        gm_state_close(parts[i].st);
    }
    gm_outsink_close(sink);
    gm_kafka_reader_close(r);
    free(parts);
    free(from);
    return code;
}
