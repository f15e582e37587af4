/*
 * batch.c: batches: one LMDB write transaction each. Every record of a
 * batch is kept (in the batch arena) until commit, so that when the map
 * fills up the batch is aborted, the map doubled and the records applied
 * again; commit writes the held learners back, trims the change feed a
 * little and stores the meta with the source offset.
 */
#include "state_int.h"

#include "log.h"
#include "trace.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

int
gm_state_begin(struct gm_state *s, struct gm_err *err)
{
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is already open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    s->why[0] = '\0';
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
    if (rc) {
        s->txn = NULL;
        return gm__lmdb_error(err, rc, "begin");
    }
    s->meta = s->meta_committed;
    s->stats_at_begin = s->stats;
    s->n_pend = 0;
    s->pend_bytes = 0;
    s->failed = false;
    return 0;
}

static void
free_pending(struct gm_state *s)
{
    gm_arena_reset(&s->batch_arena); /* every record copy of the batch */
    s->n_pend = 0;
    s->pend_bytes = 0;
}

/* A copy of len bytes of p in the batch arena, NUL-terminated. */
static void *
batch_copy(struct gm_state *s, const void *p, size_t len)
{
    char *c = gm_arena_alloc(&s->batch_arena, len + 1);
    memcpy(c, p, len);
    c[len] = '\0';
    return c;
}

/* Drops in-memory effects of the open batch (rules switched, counters). */
static void
rollback_memory(struct gm_state *s)
{
    if (s->rules != s->rules_committed) {
        gm_rules_free(s->rules);
        s->rules = s->rules_committed;
    }
    s->meta = s->meta_committed;
    s->stats = s->stats_at_begin;
    gm_learners_clear(&s->learners);
    gm__held_rollback(&s->held);
}

size_t
gm_state_batch_bytes(const struct gm_state *s)
{
    return s->txn ? s->pend_bytes : 0;
}

void
gm_state_abort(struct gm_state *s)
{
    if (!s || !s->txn)
        return;
    gm__append_close(s);
    mdb_txn_abort(s->txn);
    s->txn = NULL;
    rollback_memory(s);
    free_pending(s);
}

/* Sets the map to s->map_size once no feed of another thread is open. */
int
gm__resize(struct gm_state *s)
{
    pthread_rwlock_wrlock(&s->resize_lock);
    int rc = mdb_env_set_mapsize(s->env, s->map_size);
    pthread_rwlock_unlock(&s->resize_lock);
    return rc;
}

/* A failed commit. When it failed writing (LMDB says EIO for a short write,
 * ENOSPC) it says how much room the state's disk has left, the usual cause
 * with heap pages (opts.heap_pages; with the map a full disk is SIGBUS). */
static int
commit_error(struct gm_state *s, struct gm_err *err, int rc)
{
    const char *path = NULL;
    struct statvfs vfs;
    if ((rc == EIO || rc == ENOSPC) && mdb_env_get_path(s->env, &path) == 0 && path &&
        statvfs(path, &vfs) == 0)
        return gm_err_set(err, GM_EDB,
                          "LMDB commit: %s (the state's disk has %llu MiB free; nothing "
                          "committed is lost: make room, then start again)",
                          mdb_strerror(rc),
                          (unsigned long long)(((uint64_t)vfs.f_bavail * vfs.f_frsize) >> 20));
    return gm__lmdb_error(err, rc, "commit");
}

/* MDB_MAP_FULL: abort, double the map, and apply the batch again. */
static int
grow_and_replay(struct gm_state *s, struct gm_err *err)
{
    for (;;) {
        gm__append_close(s);
        mdb_txn_abort(s->txn);
        s->txn = NULL;
        rollback_memory(s);
        s->map_size *= 2;
        s->stats.map_resizes++;
        int rc = gm__resize(s);
        if (rc)
            return gm__lmdb_error(err, rc, "gm__resize");
        gm_log(GM_LOG_INFO, "LMDB map grown to %zu MiB", s->map_size >> 20);
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn))) {
            s->txn = NULL;
            return gm__lmdb_error(err, rc, "begin");
        }
        s->why[0] = '\0';
        for (size_t i = 0; i < s->n_pend && rc == 0; i++)
            rc = gm__apply_one(s, &s->pend[i]);
        if (rc == MDB_MAP_FULL)
            continue;
        if (rc)
            return gm__report(s, err, rc, "applying the batch again in a grown map");
        return 0;
    }
}

/* Keeps a copy of one record of the batch and applies it. */
static int
add_and_apply(struct gm_state *s, const uint8_t *data, size_t len, bool json, uint64_t offset,
              int64_t append_ms, const char *reason, const char *detail, struct gm_err *err)
{
    if (!s->txn)
        return gm_err_set(err, GM_EINVAL, "no batch open");
    if (s->failed)
        return gm_err_set(err, GM_EINVAL, "an earlier record of this batch failed: abort it");
    if (s->n_pend == s->cap_pend) {
        s->cap_pend = s->cap_pend ? s->cap_pend * 2 : 256;
        s->pend = realloc(s->pend, s->cap_pend * sizeof *s->pend);
        if (!s->pend)
            abort();
    }
    struct pending *p = &s->pend[s->n_pend++];
    p->data = batch_copy(s, data, len);
    p->len = len;
    s->pend_bytes += sizeof *p + ((len + 1 + 15) & ~(size_t)15);
    p->json = json;
    p->offset = offset;
    p->append_ms = append_ms;
    p->event_ms = 0;
    p->dl_reason = p->dl_detail = NULL;
    if (reason) {
        p->dl_reason = batch_copy(s, reason, strlen(reason));
        p->dl_detail = batch_copy(s, detail ? detail : "", detail ? strlen(detail) : 0);
        s->pend_bytes += strlen(reason) + (detail ? strlen(detail) : 0) + 32;
    }
    s->why[0] = '\0';
    int rc = gm__apply_one(s, p);
    if (rc == MDB_MAP_FULL) {
        if ((rc = grow_and_replay(s, err)))
            s->failed = true;
        return rc;
    }
    if (rc) {
        s->failed = true;
        char step[64];
        snprintf(step, sizeof step, "record at offset %llu", (unsigned long long)offset);
        return gm__report(s, err, rc, step);
    }
    return 0;
}

int
gm_state_apply(struct gm_state *s, const uint8_t *data, size_t len, bool json, uint64_t offset,
               int64_t append_ms, struct gm_err *err)
{
    return add_and_apply(s, data, len, json, offset, append_ms, NULL, NULL, err);
}

int
gm_state_dead_letter(struct gm_state *s, const uint8_t *data, size_t len, bool json,
                     uint64_t offset, const char *reason, const char *detail, struct gm_err *err)
{
    /* It joins the batch's records, so that a map grown mid-batch stores it
     * again with the rest. */
    return add_and_apply(s, data, len, json, offset, 0, reason, detail, err);
}

int
gm_state_commit(struct gm_state *s, uint64_t next_offset, struct gm_err *err)
{
    if (!s->txn)
        return gm_err_set(err, GM_EINVAL, "no batch open");
    if (s->failed)
        return gm_err_set(err, GM_EINVAL, "a record of this batch failed: it cannot be committed");
    for (;;) {
        /* no append after this point; the trim below deletes from changes */
        gm__append_close(s);
        s->meta.offset = next_offset;
        int rc = gm__write_learners(s);
        if (rc == 0)
            rc = gm__write_held(s, &s->held_used);
        if (rc == 0)
            rc = gm__trim_step(s);
        if (rc == 0)
            rc = gm__meta_save(s);
        gm_trace("w", "precommit", (int64_t)next_offset, rc);
        if (rc == 0 && s->precommit)
            s->precommit(s->precommit_ctx, s);
        if (rc == 0) {
            gm_trace("w", "txn_commit", (int64_t)next_offset, 0);
            rc = mdb_txn_commit(s->txn);
            s->txn = NULL;
            gm_trace("w", "committed", (int64_t)next_offset, rc);
            if (rc == 0)
                break;
            if (rc != MDB_MAP_FULL) {
                rollback_memory(s);
                free_pending(s);
                return commit_error(s, err, rc);
            }
            /* the aborted commit left no transaction: start one to replay into */
            if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn))) {
                s->txn = NULL;
                rollback_memory(s);
                free_pending(s);
                return gm__lmdb_error(err, rc, "begin");
            }
        } else if (rc != MDB_MAP_FULL) {
            gm_state_abort(s);
            return gm__lmdb_error(err, rc, "writing the batch");
        }
        if ((rc = grow_and_replay(s, err))) {
            gm_state_abort(s);
            return rc;
        }
    }
    s->meta_committed = s->meta;
    if (s->held_used)
        gm__held_committed(&s->held);
    if (s->cap_batch_ms < s->n_pend) {
        s->cap_batch_ms = s->n_pend;
        s->batch_ms = realloc(s->batch_ms, s->cap_batch_ms * sizeof *s->batch_ms);
        if (!s->batch_ms)
            abort();
    }
    for (size_t i = 0; i < s->n_pend; i++)
        s->batch_ms[i] = s->pend[i].event_ms;
    s->n_batch_ms = s->n_pend;
    if (s->rules_committed != s->rules)
        gm_rules_free(s->rules_committed);
    s->rules_committed = s->rules;
    free_pending(s);
    return 0;
}
