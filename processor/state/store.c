/*
 * store.c: the LMDB state. One environment, named databases:
 *
 *   profiles     user_id -> UserState (with the learner's leaderboard scores)
 *   first        user_id NUL ('L'|'T') activity id -> "" (first completions)
 *   dedupe       event_id -> be64 occurred_at
 *   dedupe_time  be64 occurred_at event_id -> ""  (to prune by event time)
 *   redemptions  user_id NUL redemption_id -> Redemption
 *   stock        reward_id -> be64 completed redemptions
 *   ledger       be64 seq -> LedgerEntry
 *   changes      be64 seq -> Change  (the projectors' feed)
 *   deadletters  be64 seq -> DeadLetter
 *   rules        be64 seq -> rules YAML, in publication order
 *   expiry       'W'|'M' be64 period index user_id -> ""  (who holds a score
 *                in a week or month: the queue of period pruning)
 *   meta         name -> value (offset, sequence counters, newest time)
 *
 * A batch is one write transaction. Every record of the batch is kept until
 * commit, so that when LMDB's map fills up the batch can be aborted, the map
 * doubled and the batch applied again from its first record.
 *
 * Errors: LMDB's codes never leave this file. Internal steps return 0,
 * MDB_MAP_FULL (the batch is applied again in a bigger map), an LMDB code
 * noted with what failed (db_fail), or one of ours noted with its message
 * (fail); gm_store_apply and friends turn the note into the caller's
 * struct gm_err.
 *
 * One writer at a time: a writer holds an exclusive flock on DIR/writer.lock
 * (with its pid inside) from open to close. Read-only opens (dump, digest,
 * dlq list) take no lock, create nothing and work beside a writer and on a
 * read-only copy.
 */
#include "store.h"

#include "arena.h"
#include "codec.h"
#include "encode.h"
#include "feed.h"
#include "fold.h"
#include "json.h"
#include "learners.h"
#include "log.h"
#include "state.pb-c.h"
#include "timefmt.h"
#include "tz.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE ((size_t)1 << 30)

struct meta {
    uint64_t offset;
    bool has_newest;
    int64_t newest_time;
    int64_t ledger_seq;
    int64_t change_seq;
    int64_t dl_seq;
    int64_t red_seq;
    int64_t rules_seq;
    bool has_periods;
    int64_t week_index;
    int64_t month_index;
    bool has_floors;
    int64_t week_floor;     /* weeks below this index are expired */
    int64_t month_floor;    /* months below this index are expired */
    int64_t prune_pending;  /* 1 while expiry keys below the floors remain */
    int64_t dedupe_pending; /* 1 while dedupe ids older than the window remain */
};

struct pending {
    uint8_t *data; /* in the batch arena */
    size_t len;
    bool json;
    uint64_t offset;
    char *dl_reason, *dl_detail; /* a record the caller dead-lettered itself */
    int64_t append_ms;           /* the log's append time; 0: not recorded */
    int64_t event_ms;            /* occurred_at in milliseconds; 0 until decoded */
};

struct gm_store {
    MDB_env *env;
    MDB_dbi profiles, first, dedupe, dedupe_time, redemptions, stock, ledger, changes, deadletters,
        rules_db, meta_db, expiry;
    bool read_only;
    bool dlq_only;    /* beside a writer: dead letters may only be removed */
    bool has_expiry;  /* read-only opens of old states may lack the database */
    char what_if[65]; /* a what-if state: the SHA-256 (hex) of its rules; "" otherwise */
    int lock_fd;      /* writer.lock, held from open to close; -1 read-only */
    /* mdb_env_set_mapsize needs no transaction of this process active:
     * feeds (other threads' readers) hold it shared, a resize exclusive */
    pthread_rwlock_t resize_lock;
    MDB_txn *txn;
    bool failed;              /* a step of the open batch failed: commit refuses */
    char why[GM_ERR_MSG_MAX]; /* why the current step failed (db_fail, fail) */
    struct gm_store_opts opts;
    int64_t trim_below; /* change-feed records below this may go (gm_store_trim_before) */
    size_t map_size;
    struct meta meta, meta_committed;
    struct gm_rules *rules, *rules_committed;
    struct pending *pend;
    size_t n_pend, cap_pend;
    struct gm_store_stats stats, stats_at_begin;
    int64_t *batch_ms; /* event times of the last committed batch */
    size_t n_batch_ms, cap_batch_ms;
    struct gm_fold_out fo;
    struct gm_learners learners; /* decoded learners of the open batch (learners.h) */
    uint8_t *snap;               /* a learner packed before a fold that may be rejected */
    struct gm_arena ev_arena;    /* the decoded event being applied; reset after it */
    struct gm_arena batch_arena; /* the batch's record copies (pend); reset at its end */
    size_t cap_snap;
};

/* ---- small encodings ---- */

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Builds "a NUL b [NUL c]" into buf; returns its length, 0 if it won't fit. */
static size_t
join_key(uint8_t *buf, size_t cap, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
    size_t n = la + 1 + lb + (c ? 1 + lc : 0);
    if (n > cap)
        return 0;
    memcpy(buf, a, la);
    buf[la] = 0;
    memcpy(buf + la + 1, b, lb);
    if (c) {
        buf[la + 1 + lb] = 0;
        memcpy(buf + la + 2 + lb, c, lc);
    }
    return n;
}

static int
lmdb_error(struct gm_err *err, int rc, const char *what)
{
    return gm_err_set(err, GM_EDB, "LMDB %s: %s", what, mdb_strerror(rc));
}

/* Notes (the first time) that the LMDB call named what failed; returns rc. */
static int
db_fail(struct gm_store *s, int rc, const char *what)
{
    if (rc && rc != MDB_MAP_FULL && !s->why[0])
        snprintf(s->why, sizeof s->why, "LMDB %s: %s", what, mdb_strerror(rc));
    return rc;
}

/* Notes (the first time) why a step failed with our code; returns code. */
static int fail(struct gm_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
fail(struct gm_store *s, int code, const char *fmt, ...)
{
    if (!s->why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->why, sizeof s->why, fmt, ap);
        va_end(ap);
    }
    return code;
}

/*
 * Turns a failed step's code into the caller's error: the note when there is
 * one, else the code's own text. LMDB codes and errno values from LMDB
 * become GM_EDB; ours pass through.
 */
static int
report(struct gm_store *s, struct gm_err *err, int rc, const char *step)
{
    bool ours = rc <= GM_E_BASE && rc > GM_ELAST;
    int code = ours ? rc : GM_EDB;
    if (s->why[0])
        gm_err_set(err, code, "%s: %s", step, s->why);
    else if (ours)
        gm_err_set(err, code, "%s: %s", step, gm_strerror(rc));
    else
        gm_err_set(err, code, "%s: LMDB: %s", step, mdb_strerror(rc));
    s->why[0] = '\0';
    return code;
}

/* ---- meta ---- */

static const char *const meta_names[] = {
    "offset",      "newest_time",   "ledger_seq",    "change_seq",  "dl_seq",
    "red_seq",     "rules_seq",     "week_index",    "month_index", "week_floor",
    "month_floor", "prune_pending", "dedupe_pending"};
enum { META_NEWEST = 1, META_WEEK = 7, META_MONTH = 8, META_WEEK_FLOOR = 9, META_MONTH_FLOOR = 10 };

static int64_t *
meta_slot(struct meta *m, size_t i)
{
    int64_t *slots[] = {(int64_t *)&m->offset, &m->newest_time, &m->ledger_seq,
                        &m->change_seq,        &m->dl_seq,      &m->red_seq,
                        &m->rules_seq,         &m->week_index,  &m->month_index,
                        &m->week_floor,        &m->month_floor, &m->prune_pending,
                        &m->dedupe_pending};
    return slots[i];
}

/*
 * Reads the meta values of txn into *m. Errors: an LMDB code, GM_ECORRUPT
 * (then *bad names the value). Touches nothing of the store but its meta
 * handle, so readers in other threads may call it.
 */
static int
meta_read(MDB_txn *txn, MDB_dbi dbi, struct meta *m, const char **bad)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof meta_names / sizeof meta_names[0]; i++) {
        MDB_val k = {strlen(meta_names[i]), (void *)meta_names[i]}, v;
        int rc = mdb_get(txn, dbi, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return rc;
        if (v.mv_size != 8) {
            *bad = meta_names[i];
            return GM_ECORRUPT;
        }
        *meta_slot(m, i) = (int64_t)get_be64(v.mv_data);
        if (i == META_NEWEST)
            m->has_newest = true;
        if (i == META_WEEK)
            m->has_periods = true;
        if (i == META_WEEK_FLOOR)
            m->has_floors = true;
    }
    return 0;
}

/* meta_read for the writer: a failure is noted (db_fail, fail). */
static int
meta_load(struct gm_store *s, MDB_txn *txn, struct meta *m)
{
    const char *bad = "?";
    int rc = meta_read(txn, s->meta_db, m, &bad);
    if (rc == GM_ECORRUPT)
        return fail(s, rc, "meta value %s does not have 8 bytes", bad);
    return db_fail(s, rc, "meta");
}

static int
meta_save(struct gm_store *s)
{
    for (size_t i = 0; i < sizeof meta_names / sizeof meta_names[0]; i++) {
        if ((i == META_NEWEST && !s->meta.has_newest) ||
            ((i == META_WEEK || i == META_MONTH) && !s->meta.has_periods) ||
            ((i == META_WEEK_FLOOR || i == META_MONTH_FLOOR) && !s->meta.has_floors))
            continue;
        uint8_t buf[8];
        put_be64(buf, (uint64_t)*meta_slot(&s->meta, i));
        MDB_val k = {strlen(meta_names[i]), (void *)meta_names[i]}, v = {8, buf};
        int rc = mdb_put(s->txn, s->meta_db, &k, &v, 0);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- protobuf values ---- */

static int
put_msg(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const ProtobufCMessage *msg, unsigned flags)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    MDB_val v = {size, NULL};
    int rc = mdb_put(txn, dbi, k, &v, flags | MDB_RESERVE);
    if (rc)
        return rc;
    protobuf_c_message_pack(msg, v.mv_data);
    return 0;
}

static int
put_seq_msg(struct gm_store *s, MDB_dbi dbi, int64_t seq, const ProtobufCMessage *msg)
{
    uint8_t kb[8];
    put_be64(kb, (uint64_t)seq);
    MDB_val k = {8, kb};
    return put_msg(s->txn, dbi, &k, msg, MDB_APPEND);
}

/* Appends a change-feed record: hand-encoded (encode.h) when covered. */
static int
put_change(struct gm_store *s, const Gamify__Internal__Change *ch)
{
    size_t size = gm_encode_change_size(ch);
    if (!size)
        return put_seq_msg(s, s->changes, ch->seq, &ch->base);
    uint8_t kb[8];
    put_be64(kb, (uint64_t)ch->seq);
    MDB_val k = {8, kb}, v = {size, NULL};
    int rc = mdb_put(s->txn, s->changes, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc == 0)
        gm_encode_change(ch, v.mv_data);
    return rc;
}

/* Appends a ledger entry: hand-encoded (encode.h) when covered. */
static int
put_ledger(struct gm_store *s, const Gamify__Internal__LedgerEntry *e)
{
    size_t size = gm_encode_ledger_size(e);
    if (!size)
        return put_seq_msg(s, s->ledger, e->seq, &e->base);
    uint8_t kb[8];
    put_be64(kb, (uint64_t)e->seq);
    MDB_val k = {8, kb}, v = {size, NULL};
    int rc = mdb_put(s->txn, s->ledger, &k, &v, MDB_APPEND | MDB_RESERVE);
    if (rc == 0)
        gm_encode_ledger(e, v.mv_data);
    return rc;
}

/* ---- open / close ---- */

/*
 * Takes the writers' lock of dir (DIR/writer.lock, flock, held until close)
 * and writes this process's pid into it. Errors: -EBUSY naming the holder.
 */
static int
take_writer_lock(struct gm_store *s, const char *dir, struct gm_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/writer.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return gm_err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        char held[64] = "";
        ssize_t n = pread(fd, held, sizeof held - 1, 0);
        held[n > 0 ? n : 0] = '\0';
        held[strcspn(held, "\n")] = '\0';
        close(fd);
        if (e == EWOULDBLOCK)
            return gm_err_set(err, -EBUSY,
                              "state %s is in use by another writer (pid %s): one process "
                              "writes a state at a time; stop it first, or read with gamify "
                              "dump/digest/dlq list, which work beside it",
                              dir, held[0] ? held : "unknown");
        return gm_err_set(err, -e, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)len, 0) != len)
        gm_log(GM_LOG_WARN, "cannot write the pid into %s: %s", path, strerror(errno));
    s->lock_fd = fd;
    return 0;
}

/* Whether path exists. */
static bool
exists(const char *dir, const char *name)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

/* Begins a write transaction, adopting a map another process grew. */
static int
rw_begin(struct gm_store *s, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, 0, txn);
    if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(s->env, 0)) == 0) {
        MDB_envinfo info;
        mdb_env_info(s->env, &info);
        s->map_size = info.me_mapsize;
        rc = mdb_txn_begin(s->env, NULL, 0, txn);
    }
    if (rc)
        *txn = NULL;
    return rc;
}

/* Begins a read-only transaction, adopting a map another process grew. */
static int
ro_begin(struct gm_store *s, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(s->env, 0)) == 0)
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc)
        *txn = NULL;
    return rc;
}

static int index_expiry(struct gm_store *s, MDB_txn *txn);

/* Opens the LMDB environment of dir: read-write, or read-only creating nothing. */
static int
open_env(struct gm_store *s, const char *dir, struct gm_err *err)
{
    int rc;
    /* MDB_NOTLS: read transactions (dump, cursors, the outbound feed) are
     * not tied to a thread's slot, so one may be open beside the writer's
     * own transaction in the same thread. */
    unsigned flags = MDB_NORDAHEAD | MDB_NOTLS;
    if (s->read_only) {
        if (!exists(dir, "data.mdb"))
            return gm_err_set(err, GM_ENOTFOUND, "no state in %s (no data.mdb)", dir);
        /* No lock file (a copy made with mdb_copy): read without one rather
         * than create it. */
        flags |= MDB_RDONLY | (exists(dir, "lock.mdb") ? 0 : MDB_NOLOCK);
    } else {
        /* MDB_NOMETASYNC: one fsync per commit instead of two. A machine
         * crash may then undo the last committed batch, never corrupt the
         * state; the batch's offset goes back with it, so the next run folds
         * it again from the log. gm_store_close syncs. */
        flags |= MDB_NOMETASYNC | (s->opts.no_sync ? MDB_NOSYNC : 0);
    }
    for (int attempt = 0;; attempt++) {
        if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 16)) ||
            (!s->read_only && (rc = mdb_env_set_mapsize(s->env, s->map_size))))
            return lmdb_error(err, rc, "environment");
        rc = mdb_env_open(s->env, dir, flags, 0644);
        if (rc == 0)
            break;
        mdb_env_close(s->env);
        s->env = NULL;
        /* a lock file we may not write (a read-only copy): read without it */
        if (s->read_only && attempt == 0 && (rc == EACCES || rc == EROFS || rc == EPERM)) {
            flags |= MDB_NOLOCK;
            continue;
        }
        return gm_err_set(err, GM_EDB, "cannot open state in %s: %s", dir, mdb_strerror(rc));
    }
    /* Another process may have grown the map: adopt its size. */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (info.me_mapsize > s->map_size)
        s->map_size = info.me_mapsize;
    return 0;
}

int
gm_store_open(const char *dir, const struct gm_store_opts *opts, struct gm_store **out,
              struct gm_err *err)
{
    *out = NULL;
    struct gm_store *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->lock_fd = -1;
    if (pthread_rwlock_init(&s->resize_lock, NULL))
        abort();
    if (opts)
        s->opts = *opts;
    s->read_only = s->opts.read_only;
    s->dlq_only = s->opts.dlq_only && !s->read_only;
    if (s->opts.dedupe_window_s <= 0)
        s->opts.dedupe_window_s = GM_STORE_DEFAULT_WINDOW;
    if (s->opts.future_skew_s == 0)
        s->opts.future_skew_s = GM_STORE_DEFAULT_SKEW;
    s->map_size = s->opts.map_size ? s->opts.map_size : DEFAULT_MAP_SIZE;
    gm_fold_out_init(&s->fo);
    gm_learners_init(&s->learners);
    gm_arena_init(&s->ev_arena, 16384);
    gm_arena_init(&s->batch_arena, 1 << 20);

    int rc;
    MDB_txn *txn = NULL;
    if (s->dlq_only && !exists(dir, "data.mdb")) {
        rc = gm_err_set(err, GM_ENOTFOUND, "no state in %s (no data.mdb)", dir);
        goto fail;
    }
    if (!s->read_only && !s->dlq_only) {
        if (mkdir(dir, 0755) && errno != EEXIST) {
            rc = -errno;
            gm_err_set(err, rc, "cannot create state directory %s: %s", dir, strerror(errno));
            goto fail;
        }
        if ((rc = take_writer_lock(s, dir, err)))
            goto fail;
    }
    if ((rc = open_env(s, dir, err)))
        goto fail;
    rc = s->read_only ? ro_begin(s, &txn) : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) {
        txn = NULL;
        rc = lmdb_error(err, rc, "begin");
        goto fail;
    }
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"profiles", &s->profiles},
        {"first", &s->first},
        {"dedupe", &s->dedupe},
        {"dedupe_time", &s->dedupe_time},
        {"redemptions", &s->redemptions},
        {"stock", &s->stock},
        {"ledger", &s->ledger},
        {"changes", &s->changes},
        {"deadletters", &s->deadletters},
        {"rules", &s->rules_db},
        {"meta", &s->meta_db},
        {"expiry", &s->expiry},
    };
    s->has_expiry = true;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, s->read_only ? 0 : MDB_CREATE, dbs[i].dbi);
        if (rc == MDB_NOTFOUND && s->read_only && dbs[i].dbi == &s->expiry) {
            s->has_expiry = false; /* a state from before the expiry queue */
            continue;
        }
        if (rc == MDB_NOTFOUND && s->read_only) {
            rc = gm_err_set(err, GM_ECORRUPT, "%s is not a gamify state (no %s database)", dir,
                            dbs[i].name);
            goto fail;
        }
        if (rc) {
            rc = lmdb_error(err, rc, dbs[i].name);
            goto fail;
        }
    }
    if ((rc = meta_load(s, txn, &s->meta))) {
        rc = report(s, err, rc, "reading the state's meta");
        goto fail;
    }
    MDB_val k = {5, "rules"}, v;
    rc = mdb_get(txn, s->meta_db, &k, &v);
    if (rc == 0) {
        struct gm_err *errs = NULL;
        size_t n_errs = 0;
        if (gm_rules_parse(v.mv_data, v.mv_size, &s->rules, &errs, &n_errs)) {
            gm_err_set(err, GM_ECORRUPT, "stored rules no longer parse: %s",
                       n_errs ? errs[0].msg : "?");
            free(errs);
            rc = GM_ECORRUPT;
            goto fail;
        }
    } else if (rc != MDB_NOTFOUND) {
        rc = lmdb_error(err, rc, "rules");
        goto fail;
    }
    MDB_val wk = {7, "what_if"};
    rc = mdb_get(txn, s->meta_db, &wk, &v);
    if (rc == 0 && v.mv_size == 64) {
        memcpy(s->what_if, v.mv_data, 64);
    } else if (rc == 0) {
        rc = gm_err_set(err, GM_ECORRUPT, "%s: the what-if mark is corrupt", dir);
        goto fail;
    } else if (rc != MDB_NOTFOUND) {
        rc = lmdb_error(err, rc, "what_if");
        goto fail;
    }
    if (s->what_if[0] && !s->read_only && !s->dlq_only && !s->opts.what_if) {
        rc = gm_err_set(err, GM_EINVAL,
                        "%s is a what-if state (gamify replay --rules-override): it shows what "
                        "other rules would have made of the log and cannot be followed or "
                        "continued as the real state; replay into another folder",
                        dir);
        goto fail;
    }
    if (!s->read_only && !s->dlq_only && (rc = index_expiry(s, txn))) {
        rc = report(s, err, rc, "indexing leaderboard periods");
        goto fail;
    }
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        rc = lmdb_error(err, rc, "commit");
        goto fail;
    }
    s->meta_committed = s->meta;
    s->rules_committed = s->rules;
    *out = s;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    gm_store_close(s);
    return rc;
}

void
gm_store_close(struct gm_store *s)
{
    if (!s)
        return;
    gm_store_abort(s);
    if (s->env) {
        if (!s->opts.no_sync && !s->read_only)
            mdb_env_sync(s->env, 1);
        mdb_env_close(s->env);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    pthread_rwlock_destroy(&s->resize_lock);
    gm_rules_free(s->rules);
    free(s->pend);
    free(s->batch_ms);
    gm_fold_out_deinit(&s->fo);
    gm_learners_deinit(&s->learners);
    gm_arena_deinit(&s->ev_arena);
    gm_arena_deinit(&s->batch_arena);
    free(s->snap);
    free(s);
}

bool
gm_store_has_rules(const struct gm_store *s)
{
    return s->rules != NULL;
}

uint64_t
gm_store_offset(const struct gm_store *s)
{
    return s->meta_committed.offset;
}

size_t
gm_store_last_batch_times(const struct gm_store *s, const int64_t **ms)
{
    *ms = s->batch_ms;
    return s->n_batch_ms;
}

int64_t
gm_store_newest_time(const struct gm_store *s)
{
    return s->meta_committed.has_newest ? s->meta_committed.newest_time : 0;
}

const struct gm_store_stats *
gm_store_stats(const struct gm_store *s)
{
    return &s->stats;
}

/* Stores yaml as the current rules and appends it to the history. */
static int
save_rules(struct gm_store *s, const char *yaml, size_t len)
{
    MDB_val k = {5, "rules"}, v = {len, (void *)yaml};
    int rc = mdb_put(s->txn, s->meta_db, &k, &v, 0);
    if (rc)
        return rc;
    uint8_t kb[8];
    put_be64(kb, (uint64_t)s->meta.rules_seq++);
    MDB_val hk = {8, kb};
    return mdb_put(s->txn, s->rules_db, &hk, &v, MDB_APPEND);
}

int
gm_store_seed_rules(struct gm_store *s, const char *yaml, size_t len, struct gm_err *err)
{
    if (s->rules)
        return 0;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    struct gm_rules *r;
    if (gm_rules_parse(yaml, len, &r, &errs, &n_errs)) {
        if (n_errs)
            gm_err_setpos(err, GM_EINVAL, errs[0].line, errs[0].column, "%s", errs[0].msg);
        else
            gm_err_set(err, GM_EINVAL, "invalid rules");
        free(errs);
        return GM_EINVAL;
    }
    int rc = gm_store_begin(s, err);
    if (rc) {
        gm_rules_free(r);
        return rc;
    }
    if ((rc = save_rules(s, yaml, len))) {
        gm_store_abort(s);
        gm_rules_free(r);
        return lmdb_error(err, rc, "seed rules");
    }
    s->rules = r;
    return gm_store_commit(s, s->meta.offset, err);
}

static void
sha256_hex(const char *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int md_len = 0;
    EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
gm_store_set_what_if(struct gm_store *s, const char *yaml, size_t len, struct gm_err *err)
{
    char sha[65];
    sha256_hex(yaml, len, sha);
    if (s->what_if[0]) {
        if (strcmp(s->what_if, sha) == 0)
            return 0; /* resuming the same what-if replay */
        return gm_err_set(err, GM_EINVAL,
                          "this state is a what-if replay under other rules (sha256 %s); "
                          "replay into a fresh folder",
                          s->what_if);
    }
    const struct meta *m = &s->meta_committed;
    if (s->rules || m->offset || m->change_seq || m->ledger_seq || m->dl_seq)
        return gm_err_set(err, GM_EINVAL,
                          "a what-if replay needs a fresh state folder; this one holds a state "
                          "already");
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    struct gm_rules *r;
    if (gm_rules_parse(yaml, len, &r, &errs, &n_errs)) {
        if (n_errs)
            gm_err_setpos(err, GM_EINVAL, errs[0].line, errs[0].column, "%s", errs[0].msg);
        else
            gm_err_set(err, GM_EINVAL, "invalid rules");
        free(errs);
        return GM_EINVAL;
    }
    int rc = gm_store_begin(s, err);
    if (rc) {
        gm_rules_free(r);
        return rc;
    }
    MDB_val wk = {7, "what_if"}, wv = {64, sha};
    if ((rc = save_rules(s, yaml, len)) || (rc = mdb_put(s->txn, s->meta_db, &wk, &wv, 0))) {
        gm_store_abort(s);
        gm_rules_free(r);
        return lmdb_error(err, rc, "what-if rules");
    }
    s->rules = r;
    if ((rc = gm_store_commit(s, s->meta.offset, err)))
        return rc;
    memcpy(s->what_if, sha, sizeof sha);
    return 0;
}

const char *
gm_store_what_if(const struct gm_store *s)
{
    return s->what_if[0] ? s->what_if : NULL;
}

/* ---- batches ---- */

int
gm_store_begin(struct gm_store *s, struct gm_err *err)
{
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is already open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    s->why[0] = '\0';
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
    if (rc) {
        s->txn = NULL;
        return lmdb_error(err, rc, "begin");
    }
    s->meta = s->meta_committed;
    s->stats_at_begin = s->stats;
    s->n_pend = 0;
    s->failed = false;
    return 0;
}

static void
free_pending(struct gm_store *s)
{
    gm_arena_reset(&s->batch_arena); /* every record copy of the batch */
    s->n_pend = 0;
}

/* A copy of len bytes of p in the batch arena, NUL-terminated. */
static void *
batch_copy(struct gm_store *s, const void *p, size_t len)
{
    char *c = gm_arena_alloc(&s->batch_arena, len + 1);
    memcpy(c, p, len);
    c[len] = '\0';
    return c;
}

/* Drops in-memory effects of the open batch (rules switched, counters). */
static void
rollback_memory(struct gm_store *s)
{
    if (s->rules != s->rules_committed) {
        gm_rules_free(s->rules);
        s->rules = s->rules_committed;
    }
    s->meta = s->meta_committed;
    s->stats = s->stats_at_begin;
    gm_learners_clear(&s->learners);
}

void
gm_store_abort(struct gm_store *s)
{
    if (!s || !s->txn)
        return;
    mdb_txn_abort(s->txn);
    s->txn = NULL;
    rollback_memory(s);
    free_pending(s);
}

/* ---- dead letters ---- */

static int
dead_letter(struct gm_store *s, const struct pending *rec, const char *reason, const char *detail,
            const char *event_id)
{
    Gamify__Internal__DeadLetter dl = GAMIFY__INTERNAL__DEAD_LETTER__INIT;
    dl.seq = s->meta.dl_seq;
    dl.offset = rec->offset;
    dl.reason = (char *)reason;
    dl.detail = (char *)detail;
    dl.record.data = rec->data;
    dl.record.len = rec->len;
    dl.json = rec->json;
    dl.event_id = (char *)(event_id ? event_id : "");
    int rc = put_seq_msg(s, s->deadletters, s->meta.dl_seq, &dl.base);
    if (rc)
        return db_fail(s, rc, "deadletters put");
    s->meta.dl_seq++;
    s->stats.dead_letters++;
    gm_log(GM_LOG_WARN, "dead letter at offset %llu: %s: %s", (unsigned long long)rec->offset,
           reason, detail);
    return 0;
}

/* ---- dedupe window ---- */

/* Dedupe ids deleted per folded event while older ones remain. */
#define DEDUPE_PRUNE_PER_EVENT 16

/*
 * Deletes up to DEDUPE_PRUNE_PER_EVENT dedupe ids older than the window
 * behind the newest event time; clears dedupe_pending when none is left.
 * Bounded per event, so that a jump in event time (a log resuming after a
 * silence) does not delete a whole window's ids in one batch; ids not yet
 * deleted are never taken for duplicates (the lookup checks their time).
 */
static int
prune_dedupe(struct gm_store *s)
{
    if (!s->meta.dedupe_pending)
        return 0;
    int budget = DEDUPE_PRUNE_PER_EVENT;
    int64_t edge = s->meta.newest_time - s->opts.dedupe_window_s;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->dedupe_time, &cur);
    if (rc)
        return db_fail(s, rc, "dedupe_time cursor");
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size < 8 || k.mv_size > 8 + GM_ID_MAX || (int64_t)get_be64(k.mv_data) >= edge) {
            s->meta.dedupe_pending = 0;
            break;
        }
        if (budget-- == 0)
            break;
        /* The id is copied out first: k points into a page of dedupe_time,
         * and LMDB may spill or reuse dirty pages during another write. */
        uint8_t idb[GM_ID_MAX];
        MDB_val id = {k.mv_size - 8, idb};
        memcpy(idb, (uint8_t *)k.mv_data + 8, id.mv_size);
        if ((rc = mdb_cursor_del(cur, 0))) {
            db_fail(s, rc, "dedupe_time delete");
            break;
        }
        if ((rc = mdb_del(s->txn, s->dedupe, &id, NULL)) && rc != MDB_NOTFOUND) {
            db_fail(s, rc, "dedupe delete");
            break;
        }
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        s->meta.dedupe_pending = 0;
    return rc == MDB_NOTFOUND ? 0 : db_fail(s, rc, "dedupe_time cursor");
}

/* ---- leaderboard periods ---- */

/* Floor division (C's / truncates toward zero). */
static int64_t
floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Reads a decimal number (optional sign) at *p, before end; false if none. */
static bool
read_int(const char **p, const char *end, int *out)
{
    const char *q = *p;
    bool neg = q < end && *q == '-';
    if (q < end && (*q == '-' || *q == '+'))
        q++;
    if (q == end || *q < '0' || *q > '9')
        return false;
    int64_t v = 0;
    while (q < end && *q >= '0' && *q <= '9' && v < 100000000)
        v = v * 10 + (*q++ - '0');
    *out = (int)(neg ? -v : v);
    *p = q;
    return true;
}

/* The index of a period key: weeks or months since 1970, -1 for "all".
 * Parsed by hand: this runs for every score a learner holds while pruning,
 * where sscanf showed in profiles. */
static int
period_index(const char *p, size_t len, bool *weekly, int64_t *index)
{
    const char *end = p + len;
    int y, n;
    if (len >= GM_PERIOD_KEY_MAX || !read_int(&p, end, &y) || p == end || *p++ != '-')
        return -1;
    bool w = p < end && *p == 'W';
    if (w)
        p++;
    if (!read_int(&p, end, &n))
        return -1;
    if (w) {
        int64_t jan4 = gm_days_from_civil(y, 1, 4);
        int64_t wd = ((jan4 % 7) + 7 + 3) % 7;
        int64_t monday = jan4 - wd + (int64_t)(n - 1) * 7;
        *weekly = true;
        *index = floor_div(monday + 3, 7);
        return 0;
    }
    *weekly = false;
    *index = (int64_t)(y - 1970) * 12 + (n - 1);
    return 0;
}

/* The key text of week or month index idx ("2026-W03", "2026-01"). */
static void
period_name(bool weekly, int64_t idx, char out[GM_PERIOD_KEY_MAX])
{
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
    int64_t wi, mi, day;
    if (weekly) {
        day = idx * 7; /* the Thursday of the week: day 0 was a Thursday */
    } else {
        int64_t y = 1970 + floor_div(idx, 12);
        day = gm_days_from_civil(y, (int)(idx - floor_div(idx, 12) * 12) + 1, 1);
    }
    gm_fold_periods(day, week, month, &wi, &mi);
    memcpy(out, weekly ? week : month, GM_PERIOD_KEY_MAX);
}

/* One entry of a learner's packed scores; pointers into the buffer. */
struct score_entry {
    const char *board, *period;
    size_t board_len, period_len;
};

/* An entry ends with the score and its reach time: the score is at
 * SCORE_AT(n), the reach time at REACHED_AT(n) from the start of an entry
 * of n bytes. */
#define SCORE_TAIL    16
#define SCORE_AT(n)   ((n)-16)
#define REACHED_AT(n) ((n)-8)

/* Reads the entry at p (len bytes left, entries ending in tail bytes);
 * returns its size, 0 if malformed. */
static size_t
score_next_tail(const uint8_t *p, size_t len, struct score_entry *e, size_t tail)
{
    if (len < 1 || len < 1 + (size_t)p[0] + 1)
        return 0;
    e->board_len = p[0];
    e->board = (const char *)p + 1;
    size_t at = 1 + e->board_len;
    e->period_len = p[at];
    e->period = (const char *)p + at + 1;
    at += 1 + e->period_len;
    return len < at + tail ? 0 : at + tail;
}

static size_t
score_next(const uint8_t *p, size_t len, struct score_entry *e)
{
    return score_next_tail(p, len, e, SCORE_TAIL);
}

/*
 * Unpacks a learner's record; NULL if it does not decode. A record of a
 * state before reach times (scores_packed_v1, entries without reached_at)
 * is converted: reach time 0 (unknown, the earliest), so its equal scores
 * keep ranking by member as they did. Returns new; free with
 * gamify__internal__user_state__free_unpacked.
 */
static Gamify__Internal__UserState *
user_unpack(size_t len, const void *data)
{
    Gamify__Internal__UserState *st = gamify__internal__user_state__unpack(NULL, len, data);
    if (!st || !st->scores_packed_v1.len)
        return st;
    ProtobufCBinaryData *old = &st->scores_packed_v1, *sp = &st->scores_packed;
    uint8_t *out = malloc(old->len * 2 + sp->len + 1), *w = out;
    if (!out)
        abort();
    struct score_entry e;
    for (size_t r = 0, n; r < old->len; r += n) {
        if (!(n = score_next_tail(old->data + r, old->len - r, &e, 8)))
            break; /* a malformed tail is dropped */
        memcpy(w, old->data + r, n);
        memset(w + n, 0, 8);
        w += n + 8;
    }
    if (sp->len)
        memcpy(w, sp->data, sp->len), w += sp->len;
    free(old->data);
    free(sp->data);
    old->data = NULL;
    old->len = 0;
    sp->data = out;
    sp->len = (size_t)(w - out);
    return st;
}

/* Whether a period is past keep_weeks / keep_months (by the meta's floors). */
static bool
period_expired(const struct meta *m, const char *period, size_t len)
{
    bool weekly;
    int64_t idx;
    if (!m->has_floors || period_index(period, len, &weekly, &idx))
        return false; /* "all", or no floors yet */
    return idx < (weekly ? m->week_floor : m->month_floor);
}

/*
 * Expiry keys: 'W' or 'M', the period index (sign bit flipped, so that the
 * byte order is the numeric order), then the user id. One per learner and
 * period in which it holds a score: pruning a period visits exactly the
 * learners that have something in it.
 */
#define EXPIRY_HDR 9

static size_t
expiry_key(uint8_t *buf, char kind, int64_t idx, const char *user, size_t ulen)
{
    buf[0] = (uint8_t)kind;
    put_be64(buf + 1, (uint64_t)idx ^ (UINT64_C(1) << 63));
    memcpy(buf + EXPIRY_HDR, user, ulen);
    return EXPIRY_HDR + ulen;
}

static int64_t
expiry_idx(const uint8_t *key)
{
    return (int64_t)(get_be64(key + 1) ^ (UINT64_C(1) << 63));
}

/* Records (once) that user holds a score in week or month idx. */
static int
expiry_add_index(MDB_txn *txn, MDB_dbi dbi, bool weekly, int64_t idx, const char *user, size_t ulen)
{
    uint8_t kb[EXPIRY_HDR + GM_ID_MAX];
    if (ulen > GM_ID_MAX)
        return 0;
    MDB_val k = {expiry_key(kb, weekly ? 'W' : 'M', idx, user, ulen), kb}, empty = {0, ""};
    int rc = mdb_put(txn, dbi, &k, &empty, MDB_NOOVERWRITE);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

/* Records (once) that user holds a score in the period named period. */
static int
expiry_add(MDB_txn *txn, MDB_dbi dbi, const char *period, size_t plen, const char *user,
           size_t ulen)
{
    bool weekly;
    int64_t idx;
    if (period_index(period, plen, &weekly, &idx))
        return 0; /* "all" never expires */
    return expiry_add_index(txn, dbi, weekly, idx, user, ulen);
}

/*
 * States written before the expiry queue existed: index every learner's
 * periods once, when such a state is first opened for writing.
 */
static int
index_expiry(struct gm_store *s, MDB_txn *txn)
{
    MDB_val mk = {14, "expiry_indexed"}, mv;
    int rc = mdb_get(txn, s->meta_db, &mk, &mv);
    if (rc != MDB_NOTFOUND)
        return db_fail(s, rc, "meta expiry_indexed");
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->profiles, &cur)))
        return db_fail(s, rc, "profiles cursor");
    MDB_val k, v;
    size_t n = 0;
    while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Gamify__Internal__UserState *st = user_unpack(v.mv_size, v.mv_data);
        if (!st) {
            rc = fail(s, GM_ECORRUPT, "the stored record of learner %.*s does not decode",
                      (int)k.mv_size, (const char *)k.mv_data);
            break;
        }
        const ProtobufCBinaryData *sp = &st->scores_packed;
        struct score_entry e;
        for (size_t r = 0, len; rc == 0 && r < sp->len; r += len) {
            if (!(len = score_next(sp->data + r, sp->len - r, &e)))
                break;
            rc = db_fail(s,
                         expiry_add(txn, s->expiry, e.period, e.period_len, st->user_id,
                                    strlen(st->user_id)),
                         "expiry put");
        }
        gamify__internal__user_state__free_unpacked(st, NULL);
        n++;
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    uint8_t one[8];
    put_be64(one, 1);
    mv.mv_size = 8;
    mv.mv_data = one;
    if (n)
        gm_log(GM_LOG_INFO, "indexed the leaderboard periods of %zu learners", n);
    return db_fail(s, mdb_put(txn, s->meta_db, &mk, &mv, 0), "meta expiry_indexed");
}

/* A growing list of period names (new strings). */
struct names {
    char **v;
    size_t n, cap;
};

static void
names_add(struct names *l, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v)
            abort();
    }
    if (!(l->v[l->n++] = strdup(name)))
        abort();
}

static void
names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Adds the names of the periods of kind held by someone with from <= idx < to. */
static int
expiring_names(struct gm_store *s, char kind, int64_t from, int64_t to, struct names *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->expiry, &cur);
    if (rc)
        return db_fail(s, rc, "expiry cursor");
    for (int64_t idx = from; idx < to;) {
        uint8_t kb[EXPIRY_HDR];
        MDB_val k = {expiry_key(kb, kind, idx, "", 0), kb}, v;
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)))
            break;
        if (k.mv_size < EXPIRY_HDR || ((uint8_t *)k.mv_data)[0] != (uint8_t)kind)
            break;
        idx = expiry_idx(k.mv_data);
        if (idx >= to)
            break;
        char name[GM_PERIOD_KEY_MAX];
        period_name(kind == 'W', idx, name);
        names_add(out, name);
        idx++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : db_fail(s, rc, "expiry cursor");
}

/*
 * Moves the newest week and month (in the rules' zone) and the floors below
 * which periods are expired. When a floor rises, the periods it passes are
 * announced in one change (projectors drop them) and pruning starts; the
 * learners' records are then cleaned a few per event (prune_step), so that
 * no single event pays for a million learners. Until then readers hide the
 * expired periods by the floors.
 */
static int
advance_periods(struct gm_store *s)
{
    if (!s->rules || !s->meta.has_newest)
        return 0;
    const struct gm_tz *tz;
    if (gm_tz_get(s->rules->timezone, &tz, NULL))
        return 0;
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
    int64_t wi, mi;
    gm_fold_periods(gm_tz_local_day(tz, s->meta.newest_time), week, month, &wi, &mi);
    if (!s->meta.has_periods || wi > s->meta.week_index)
        s->meta.week_index = wi;
    if (!s->meta.has_periods || mi > s->meta.month_index)
        s->meta.month_index = mi;
    s->meta.has_periods = true;
    int64_t wf = s->meta.week_index - s->rules->keep_weeks;
    int64_t mf = s->meta.month_index - s->rules->keep_months;
    if (s->meta.has_floors && wf == s->meta.week_floor && mf == s->meta.month_floor)
        return 0;
    int64_t old_wf = s->meta.has_floors ? s->meta.week_floor : INT64_MIN / 2;
    int64_t old_mf = s->meta.has_floors ? s->meta.month_floor : INT64_MIN / 2;
    s->meta.has_floors = true;
    s->meta.week_floor = wf;
    s->meta.month_floor = mf;
    if (wf <= old_wf && mf <= old_mf)
        return 0; /* kept longer than before: nothing expires */

    struct names names = {0};
    int rc = 0;
    if (mf > old_mf)
        rc = expiring_names(s, 'M', old_mf, mf, &names);
    if (rc == 0 && wf > old_wf)
        rc = expiring_names(s, 'W', old_wf, wf, &names);
    if (rc == 0 && names.n > 0) {
        Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
        ch.seq = s->meta.change_seq;
        ch.occurred_at = s->meta.newest_time;
        ch.pruned_periods = names.v;
        ch.n_pruned_periods = names.n;
        if ((rc = db_fail(s, put_seq_msg(s, s->changes, s->meta.change_seq, &ch.base),
                          "changes put")) == 0)
            s->meta.change_seq++;
        s->meta.prune_pending = 1;
    }
    names_free(&names);
    return rc;
}

/* Removes the expired periods from st's packed scores; returns how many. */
static size_t
drop_expired(struct gm_store *s, Gamify__Internal__UserState *st)
{
    ProtobufCBinaryData *sp = &st->scores_packed;
    size_t w = 0, dropped = 0;
    for (size_t r = 0, n; r < sp->len; r += n) {
        struct score_entry e;
        if (!(n = score_next(sp->data + r, sp->len - r, &e)))
            return 0; /* malformed tail: leave the record as it is */
        if (period_expired(&s->meta, e.period, e.period_len)) {
            dropped++;
            continue;
        }
        memmove(sp->data + w, sp->data + r, n);
        w += n;
    }
    sp->len = w;
    s->stats.periods_pruned += dropped;
    return dropped;
}

/* Drops the expired periods from the record of one learner. */
static int
prune_learner(struct gm_store *s, const char *user, size_t ulen)
{
    /* a learner of this batch is cleaned where it is held, and written back
     * with the batch */
    struct gm_learner_slot *sl = gm_learners_find(&s->learners, user, ulen);
    if (sl) {
        if (drop_expired(s, sl->st))
            sl->dirty = true;
        return 0;
    }
    MDB_val k = {ulen, (void *)user}, v;
    int rc = mdb_get(s->txn, s->profiles, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return db_fail(s, rc, "profiles get");
    Gamify__Internal__UserState *st = user_unpack(v.mv_size, v.mv_data);
    if (!st)
        return fail(s, GM_ECORRUPT, "the stored record of learner %.*s does not decode", (int)ulen,
                    user);
    if (drop_expired(s, st))
        rc = db_fail(s, put_msg(s->txn, s->profiles, &k, &st->base, 0), "profiles put");
    gamify__internal__user_state__free_unpacked(st, NULL);
    return rc;
}

/*
 * Learners cleaned of expired periods per folded event, while any remain.
 * Cleaning one costs about what folding one event does: with 2, pruning a
 * period held by a million learners spreads over half a million events,
 * each batch taking up to about three times its usual time meanwhile
 * (tests/bench/run prune measures it); a learner who is active meanwhile
 * is cleaned by its own event for free.
 */
#define PRUNE_PER_EVENT 2

/*
 * One step of pruning: takes up to PRUNE_PER_EVENT expiry keys below the
 * floors and cleans their learners. It runs once per folded event, so where
 * pruning stands is a function of the log alone (not of batch sizes).
 */
static int
prune_step(struct gm_store *s)
{
    if (!s->meta.prune_pending)
        return 0;
    int budget = PRUNE_PER_EVENT;
    bool found = false;
    int rc = 0;
    for (int kind = 0; kind < 2 && budget > 0 && rc == 0; kind++) {
        char c = kind == 0 ? 'M' : 'W';
        int64_t floor = c == 'W' ? s->meta.week_floor : s->meta.month_floor;
        while (budget > 0 && rc == 0) {
            MDB_cursor *cur;
            if ((rc = db_fail(s, mdb_cursor_open(s->txn, s->expiry, &cur), "expiry cursor")))
                break;
            uint8_t kb[EXPIRY_HDR + GM_ID_MAX];
            MDB_val k = {expiry_key(kb, c, INT64_MIN / 2, "", 0), kb}, v;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            bool take = rc == 0 && k.mv_size >= EXPIRY_HDR && k.mv_size <= EXPIRY_HDR + GM_ID_MAX &&
                        ((uint8_t *)k.mv_data)[0] == (uint8_t)c && expiry_idx(k.mv_data) < floor;
            char user[GM_ID_MAX + 1];
            size_t ulen = 0;
            if (take) {
                /* copied out: the page under the cursor changes with the delete */
                ulen = k.mv_size - EXPIRY_HDR;
                memcpy(user, (uint8_t *)k.mv_data + EXPIRY_HDR, ulen);
                user[ulen] = '\0';
                rc = db_fail(s, mdb_cursor_del(cur, 0), "expiry delete");
            } else if (rc == MDB_NOTFOUND) {
                rc = 0;
            } else {
                db_fail(s, rc, "expiry cursor");
            }
            mdb_cursor_close(cur);
            if (!take || rc)
                break;
            found = true;
            budget--;
            rc = prune_learner(s, user, ulen);
        }
    }
    if (rc == 0 && !found)
        s->meta.prune_pending = 0;
    return rc;
}

/* ---- the learners of the batch (learners.h) ---- */

/*
 * Writes the learners the batch changed back to `profiles` and empties the
 * table. Runs before every commit, and when the table is full. Returns 0 or
 * an LMDB code (MDB_MAP_FULL: the batch is applied again).
 */
static int
write_learners(struct gm_store *s)
{
    int rc = 0;
    for (size_t i = 0; i < s->learners.n && rc == 0; i++) {
        struct gm_learner_slot *sl = &s->learners.slots[i];
        if (!sl->dirty)
            continue;
        MDB_val k = {sl->ulen, sl->user};
        rc = db_fail(s, put_msg(s->txn, s->profiles, &k, &sl->st->base, 0), "profiles put");
    }
    gm_learners_clear(&s->learners);
    return rc;
}

/*
 * The learner user of the open batch: held already, else read from
 * `profiles`, else new (level 1, not written unless an event changes it).
 * *out is borrowed until the next call. Returns 0, an LMDB code or
 * GM_ECORRUPT.
 */
static int
learner_get(struct gm_store *s, const char *user, size_t ulen, struct gm_learner_slot **out)
{
    struct gm_learner_slot *sl = gm_learners_find(&s->learners, user, ulen);
    if (sl) {
        *out = sl;
        return 0;
    }
    int rc;
    if (s->learners.n >= GM_LEARNERS_MAX && (rc = write_learners(s)))
        return rc;
    Gamify__Internal__UserState *st;
    MDB_val k = {ulen, (void *)user}, v;
    rc = mdb_get(s->txn, s->profiles, &k, &v);
    if (rc == 0) {
        st = user_unpack(v.mv_size, v.mv_data);
        if (!st)
            return fail(s, GM_ECORRUPT, "the stored record of learner %s does not decode", user);
    } else if (rc == MDB_NOTFOUND) {
        st = malloc(sizeof *st);
        if (!st)
            abort();
        gamify__internal__user_state__init(st);
        if (!(st->user_id = strdup(user)))
            abort();
        st->level = 1;
    } else {
        return db_fail(s, rc, "profiles get");
    }
    *out = gm_learners_add(&s->learners, user, ulen, st);
    return 0;
}

/* Keeps a packed copy of sl's learner in s->snap; returns its size. */
static size_t
learner_snapshot(struct gm_store *s, const struct gm_learner_slot *sl)
{
    size_t size = gamify__internal__user_state__get_packed_size(sl->st);
    if (size > s->cap_snap) {
        s->cap_snap = size * 2;
        s->snap = realloc(s->snap, s->cap_snap);
        if (!s->snap)
            abort();
    }
    gamify__internal__user_state__pack(sl->st, s->snap);
    return size;
}

/* Puts back the learner learner_snapshot kept (a fold that was rejected). */
static int
learner_restore(struct gm_store *s, struct gm_learner_slot *sl, size_t size)
{
    Gamify__Internal__UserState *st = gamify__internal__user_state__unpack(NULL, size, s->snap);
    if (!st)
        abort(); /* our own packing of a record we hold */
    gamify__internal__user_state__free_unpacked(sl->st, NULL);
    sl->st = st;
    return 0;
}

/* ---- folding one event ---- */

static const char *
outbound_suffix(enum gm_outbound_kind kind)
{
    switch (kind) {
    case GM_OUT_LEVEL_UP:
        return "level";
    case GM_OUT_BADGE_EARNED:
        return "badge";
    case GM_OUT_STREAK_UPDATED:
        return "streak";
    case GM_OUT_REWARD_REDEEMED:
        return "redeemed";
    default:
        return "rejected";
    }
}

/*
 * Writes "EVENT:SUFFIX" and, when tail is not NULL, ":TAIL" into buf (cap
 * bytes), cut short as snprintf would; an outbound event's id. By hand: one
 * per outbound event, where snprintf showed in profiles.
 */
static void
outbound_id(char *buf, size_t cap, const char *event_id, const char *suffix, const char *tail)
{
    const char *parts[5] = {event_id, ":", suffix, tail ? ":" : "", tail ? tail : ""};
    size_t at = 0;
    for (size_t i = 0; i < 5; i++) {
        size_t n = strlen(parts[i]);
        if (n > cap - 1 - at)
            n = cap - 1 - at;
        memcpy(buf + at, parts[i], n);
        at += n;
    }
    buf[at] = '\0';
}

/* The decimal text of v in buf (at least 21 bytes). */
static const char *
decimal(char buf[21], long long v)
{
    char *p = buf + 20;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    *p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

/* The outbound events of one fold, as messages in the arena given. */
struct outbound_set {
    Gamification__V1__OutboundEvent **items;
    size_t n;
    Google__Protobuf__Timestamp ts;
};

static void
build_outbound(const Gamification__V1__Event *ev, const struct gm_fold_out *fo,
               struct gm_arena *arena, struct outbound_set *set)
{
    google__protobuf__timestamp__init(&set->ts);
    set->ts.seconds = ev->occurred_at->seconds;
    set->ts.nanos = ev->occurred_at->nanos;
    set->n = fo->n_outbound;
    set->items = gm_arena_alloc(arena, (fo->n_outbound ? fo->n_outbound : 1) * sizeof *set->items);
    for (size_t i = 0; i < fo->n_outbound; i++) {
        const struct gm_outbound *o = &fo->outbound[i];
        /* one allocation: the envelope, every body kind, and the id text */
        struct {
            Gamification__V1__OutboundEvent oev;
            Gamification__V1__LevelUp lu;
            Gamification__V1__BadgeEarned be;
            Gamification__V1__StreakUpdated su;
            Gamification__V1__RewardRedeemed rr;
            Gamification__V1__RedemptionRejected rj;
            char id[GM_ID_MAX * 2 + 64];
        } *b = gm_arena_alloc(arena, sizeof *b);
        memset(b, 0, sizeof *b);
        gamification__v1__outbound_event__init(&b->oev);
        b->oev.user_id = ev->user_id;
        b->oev.cause_event_id = ev->event_id;
        b->oev.occurred_at = &set->ts;
        b->oev.event_id = b->id;
        const char *suffix = outbound_suffix(o->kind);
        switch (o->kind) {
        case GM_OUT_LEVEL_UP:
            gamification__v1__level_up__init(&b->lu);
            b->lu.new_level = (int32_t)o->a;
            b->lu.reward = (int32_t)o->b;
            b->lu.exp = o->c;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP;
            b->oev.level_up = &b->lu;
            char num[21];
            outbound_id(b->id, sizeof b->id, ev->event_id, suffix, decimal(num, (long long)o->a));
            break;
        case GM_OUT_BADGE_EARNED:
            gamification__v1__badge_earned__init(&b->be);
            b->be.badge_id = (char *)o->id;
            b->be.name = (char *)o->name;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED;
            b->oev.badge_earned = &b->be;
            outbound_id(b->id, sizeof b->id, ev->event_id, suffix, o->id);
            break;
        case GM_OUT_STREAK_UPDATED:
            gamification__v1__streak_updated__init(&b->su);
            b->su.current_streak = (int32_t)o->a;
            b->su.longest_streak = (int32_t)o->b;
            b->su.freezes_used = (int32_t)o->c;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED;
            b->oev.streak_updated = &b->su;
            outbound_id(b->id, sizeof b->id, ev->event_id, suffix, NULL);
            break;
        case GM_OUT_REWARD_REDEEMED:
            gamification__v1__reward_redeemed__init(&b->rr);
            b->rr.redemption_id = (char *)o->id;
            b->rr.reward_id = (char *)o->name;
            b->rr.cost = (int32_t)o->a;
            b->rr.coins_after = o->b;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED;
            b->oev.reward_redeemed = &b->rr;
            outbound_id(b->id, sizeof b->id, ev->event_id, suffix, NULL);
            break;
        case GM_OUT_REDEMPTION_REJECTED:
            gamification__v1__redemption_rejected__init(&b->rj);
            b->rj.redemption_id = (char *)o->id;
            b->rj.reward_id = (char *)o->name;
            b->rj.reason = (Gamification__V1__RejectionReason)o->a;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED;
            b->oev.redemption_rejected = &b->rj;
            outbound_id(b->id, sizeof b->id, ev->event_id, suffix, NULL);
            break;
        }
        set->items[i] = &b->oev;
    }
}

/*
 * Adds delta to the learner's (board, period) score in its packed scores
 * (see state.proto) and returns the new score; *created tells whether the
 * entry is new. A new entry or a changed score takes at as its reach time;
 * *reached is the entry's reach time after the event.
 */
static int64_t
add_score(Gamify__Internal__UserState *st, const char *board, const char *period, int64_t delta,
          int64_t at, bool *created, int64_t *reached)
{
    *created = false;
    ProtobufCBinaryData *sp = &st->scores_packed;
    size_t blen = strlen(board), plen = strlen(period);
    for (size_t r = 0; r < sp->len;) {
        struct score_entry e;
        size_t n = score_next(sp->data + r, sp->len - r, &e);
        if (!n)
            break; /* a corrupt tail is replaced by the new entry below */
        if (e.board_len == blen && e.period_len == plen && memcmp(e.board, board, blen) == 0 &&
            memcmp(e.period, period, plen) == 0) {
            int64_t score = (int64_t)get_be64(sp->data + r + SCORE_AT(n)) + delta;
            put_be64(sp->data + r + SCORE_AT(n), (uint64_t)score);
            if (delta)
                put_be64(sp->data + r + REACHED_AT(n), (uint64_t)at);
            *reached = (int64_t)get_be64(sp->data + r + REACHED_AT(n));
            return score;
        }
        r += n;
    }
    *created = true;
    size_t add = 1 + blen + 1 + plen + SCORE_TAIL;
    uint8_t *data = realloc(sp->data, sp->len + add);
    if (!data)
        abort();
    uint8_t *p = data + sp->len;
    *p++ = (uint8_t)blen;
    memcpy(p, board, blen);
    p += blen;
    *p++ = (uint8_t)plen;
    memcpy(p, period, plen);
    p += plen;
    put_be64(p, (uint64_t)delta);
    put_be64(p + 8, (uint64_t)at);
    *reached = at;
    sp->data = data;
    sp->len += add;
    return delta;
}

static int
fold_event(struct gm_store *s, const struct pending *rec, const Gamification__V1__Event *ev)
{
    int rc;
    Gamify__Internal__UserState *st = NULL;
    Gamify__Internal__Redemption *prior = NULL;
    struct outbound_set obs = {0};
    Gamify__Internal__BoardScore scores[(1 + GM_GROUPS_MAX) * 3];
    Gamify__Internal__BoardScore *score_ptrs[(1 + GM_GROUPS_MAX) * 3];
    Gamify__Internal__LedgerEntry *ledger = NULL, **ledger_ptrs = NULL;
    struct gm_fold_out *fo = &s->fo;
    bool first_inserted = false;
    gm_fold_out_reset(fo);

    /* the learner, held for the rest of the batch */
    MDB_val uk = {strlen(ev->user_id), ev->user_id}, v;
    struct gm_learner_slot *slot = NULL;
    if ((rc = learner_get(s, ev->user_id, uk.mv_size, &slot)))
        goto out;
    st = slot->st;

    /* lookups the fold needs */
    struct gm_fold_in in = {.rules = s->rules, .ev = ev, .next_redemption_seq = s->meta.red_seq};
    uint8_t kb[3 * GM_ID_MAX + 8];
    MDB_val fk = {0, kb};
    if (ev->body_case == GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED ||
        ev->body_case == GAMIFICATION__V1__EVENT__BODY_TOURNAMENT_RESULT) {
        bool lesson = ev->body_case == GAMIFICATION__V1__EVENT__BODY_LESSON_COMPLETED;
        fk.mv_size = join_key(kb, sizeof kb, ev->user_id, lesson ? "L" : "T",
                              lesson ? ev->lesson_completed->lesson_id
                                     : ev->tournament_result->tournament_id);
        /* Inserting the key tells whether it is new; taken back below if
         * the fold does not keep it. */
        MDB_val empty = {0, ""};
        rc = mdb_put(s->txn, s->first, &fk, &empty, MDB_NOOVERWRITE);
        if (rc && rc != MDB_KEYEXIST) {
            db_fail(s, rc, "first put");
            goto out;
        }
        in.first_time = rc == 0;
        first_inserted = in.first_time;
    } else if (ev->body_case == GAMIFICATION__V1__EVENT__BODY_REDEEM_REWARD) {
        fk.mv_size = join_key(kb, sizeof kb, ev->user_id, ev->redeem_reward->redemption_id, NULL);
        rc = mdb_get(s->txn, s->redemptions, &fk, &v);
        if (rc == 0) {
            prior = gamify__internal__redemption__unpack(NULL, v.mv_size, v.mv_data);
            if (!prior) {
                rc = fail(s, GM_ECORRUPT, "the stored redemption %s of learner %s does not decode",
                          ev->redeem_reward->redemption_id, ev->user_id);
                goto out;
            }
        } else if (rc != MDB_NOTFOUND) {
            db_fail(s, rc, "redemptions get");
            goto out;
        }
        in.prior = prior;
        MDB_val sk = {strlen(ev->redeem_reward->reward_id), ev->redeem_reward->reward_id};
        rc = mdb_get(s->txn, s->stock, &sk, &v);
        if (rc == 0 && v.mv_size == 8)
            in.stock_used = (int64_t)get_be64(v.mv_data);
        else if (rc == 0)
            rc = fail(s, GM_ECORRUPT, "the stock count of reward %s has %zu bytes, not 8",
                      ev->redeem_reward->reward_id, v.mv_size);
        else if (rc != MDB_NOTFOUND)
            db_fail(s, rc, "stock get");
        if (rc && rc != MDB_NOTFOUND)
            goto out;
    }

    /* A fold is rejected before it changes the learner, except after an
     * envelope's zone was taken (fold.h): then the learner is kept packed
     * first and put back. */
    size_t snap = ev->timezone && *ev->timezone ? learner_snapshot(s, slot) : 0;
    rc = gm_fold_apply(&in, st, fo);
    if ((rc || fo->rejected) && snap) {
        learner_restore(s, slot, snap);
        st = slot->st;
    }
    if (first_inserted && (rc || fo->rejected || !fo->mark_first)) {
        int drc = mdb_del(s->txn, s->first, &fk, NULL);
        if (drc) {
            rc = db_fail(s, drc, "first delete");
            goto out;
        }
    }
    if (rc && rc != GM_ENOTFOUND) {
        rc = fail(s, rc, "folding event %s of learner %s: %s", ev->event_id, ev->user_id,
                  gm_strerror(rc));
        goto out;
    }
    if (rc == GM_ENOTFOUND) {
        rc = dead_letter(s, rec, "UNKNOWN_TIMEZONE",
                         "a time zone of the learner or the rules is not installed", ev->event_id);
        goto out;
    }
    if (fo->rejected) {
        s->stats.rejected++;
        rc = dead_letter(s, rec, fo->reason, fo->detail, ev->event_id);
        goto out;
    }
    s->stats.applied++;

    /* writes */
    if (fo->redemption) {
        if ((rc = db_fail(s, put_msg(s->txn, s->redemptions, &fk, &fo->new_redemption.base, 0),
                          "redemptions put")))
            goto out;
        s->meta.red_seq++;
    }
    if (fo->stock_taken) {
        uint8_t vb[8];
        put_be64(vb, (uint64_t)(in.stock_used + 1));
        MDB_val sk = {strlen(ev->redeem_reward->reward_id), ev->redeem_reward->reward_id},
                sv = {8, vb};
        if ((rc = db_fail(s, mdb_put(s->txn, s->stock, &sk, &sv, 0), "stock put")))
            goto out;
    }

    size_t n_scores = 0;
    if (fo->boards) {
        /* a late event's score in an expired period is not kept */
        const char *periods[3];
        char kinds[3]; /* 'W', 'M', or 0 for "all" (never expires) */
        int64_t indexes[3];
        bool created_any[3] = {false, false, false};
        size_t n_periods = 0;
        if (s->rules->period_all_time) {
            kinds[n_periods] = 0;
            indexes[n_periods] = 0;
            periods[n_periods++] = "all";
        }
        if (fo->week[0] && !(s->meta.has_floors && fo->week_index < s->meta.week_floor)) {
            kinds[n_periods] = 'W';
            indexes[n_periods] = fo->week_index;
            periods[n_periods++] = fo->week;
        }
        if (fo->month[0] && !(s->meta.has_floors && fo->month_index < s->meta.month_floor)) {
            kinds[n_periods] = 'M';
            indexes[n_periods] = fo->month_index;
            periods[n_periods++] = fo->month;
        }
        for (size_t b = 0; b <= fo->n_groups; b++) {
            const char *board = b == 0 ? "global" : fo->groups[b - 1];
            for (size_t p = 0; p < n_periods; p++) {
                Gamify__Internal__BoardScore *bs = &scores[n_scores];
                gamify__internal__board_score__init(bs);
                bs->board = (char *)board;
                bs->period = (char *)periods[p];
                bool created;
                bs->score = add_score(st, board, periods[p], fo->board_delta,
                                      ev->occurred_at->seconds, &created, &bs->reached_at);
                score_ptrs[n_scores++] = bs;
                created_any[p] |= created;
            }
        }
        /* one expiry key per learner and period, whatever the board */
        for (size_t p = 0; p < n_periods; p++) {
            if (created_any[p] && kinds[p] &&
                (rc = db_fail(s,
                              expiry_add_index(s->txn, s->expiry, kinds[p] == 'W', indexes[p],
                                               ev->user_id, uk.mv_size),
                              "expiry put")))
                goto out;
        }
    }

    int64_t ledger_first = s->meta.ledger_seq;
    if (fo->n_ledger) {
        /* in the event's arena, given back after it */
        ledger = gm_arena_alloc(&s->ev_arena, fo->n_ledger * sizeof *ledger);
        ledger_ptrs = gm_arena_alloc(&s->ev_arena, fo->n_ledger * sizeof *ledger_ptrs);
        for (size_t i = 0; i < fo->n_ledger; i++) {
            const struct gm_ledger *l = &fo->ledger[i];
            Gamify__Internal__LedgerEntry *e = &ledger[i];
            gamify__internal__ledger_entry__init(e);
            e->seq = s->meta.ledger_seq;
            e->user_id = ev->user_id;
            e->event_id = ev->event_id;
            e->kind = (char *)l->kind;
            e->detail = (char *)(l->detail ? l->detail : "");
            e->exp_delta = l->exp_delta;
            e->coins_delta = l->coins_delta;
            e->exp_after = l->exp_after;
            e->coins_after = l->coins_after;
            e->capped_exp = l->capped_exp;
            e->occurred_at = ev->occurred_at->seconds;
            if ((rc = db_fail(s, put_ledger(s, e), "ledger put")))
                goto out;
            s->meta.ledger_seq++;
            ledger_ptrs[i] = e;
        }
    }

    if (fo->touched || n_scores) {
        /* while pruning runs, a learner is cleaned by its own event; after
         * the fold, which only adds to periods that are kept, so that a
         * learner the event did not change stays as stored */
        if (s->meta.prune_pending)
            drop_expired(s, st);
        slot->dirty = true;
    }

    if (fo->touched || fo->redemption || n_scores) {
        build_outbound(ev, fo, &s->ev_arena, &obs);
        Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
        ch.seq = s->meta.change_seq;
        ch.user_id = ev->user_id;
        ch.event_id = ev->event_id;
        ch.occurred_at = ev->occurred_at->seconds;
        /* No learner snapshot and no ledger copies: the projectors read the
         * learner's current record and the ledger range named here. */
        ch.scores = score_ptrs;
        ch.n_scores = n_scores;
        ch.redemption = fo->redemption ? &fo->new_redemption : NULL;
        ch.ledger_first = ledger_first;
        ch.ledger_count = (int64_t)fo->n_ledger;
        ch.outbound = obs.items;
        ch.n_outbound = obs.n;
        if ((rc = db_fail(s, put_change(s, &ch), "changes put")))
            goto out;
        s->meta.change_seq++;
    }
    rc = 0;
out:
    if (prior)
        gamify__internal__redemption__free_unpacked(prior, NULL);
    return rc;
}

static int
publish_rules(struct gm_store *s, const struct pending *rec, const Gamification__V1__Event *ev)
{
    const char *yaml = ev->rules_published->rules_yaml;
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    struct gm_rules *r;
    if (gm_rules_parse(yaml, strlen(yaml), &r, &errs, &n_errs)) {
        char detail[600];
        snprintf(detail, sizeof detail, "%zu error(s); first at %d:%d: %s", n_errs,
                 n_errs ? errs[0].line : 0, n_errs ? errs[0].column : 0,
                 n_errs ? errs[0].msg : "?");
        free(errs);
        return dead_letter(s, rec, "RULES_INVALID", detail, ev->event_id);
    }
    int rc = save_rules(s, yaml, strlen(yaml));
    if (rc) {
        gm_rules_free(r);
        return db_fail(s, rc, "rules put");
    }
    if (s->rules != s->rules_committed)
        gm_rules_free(s->rules);
    s->rules = r;
    s->stats.rules_published++;
    gm_log(GM_LOG_INFO, "rules published by %s at offset %llu (event %s)", ev->user_id,
           (unsigned long long)rec->offset, ev->event_id);
    return 0;
}

/*
 * The event id of a record that decoded but did not validate, so that its
 * dead letter can be found by id; NULL when there is none to show (not
 * decodable, empty, too long, not UTF-8). Fills buf (cap bytes).
 */
static const char *
salvage_event_id(const struct pending *rec, char *buf, size_t cap)
{
    const char *id = NULL;
    Gamification__V1__Event *ev = NULL;
    json_t *root = NULL;
    if (rec->json) {
        root = json_loadb((const char *)rec->data, rec->len, JSON_REJECT_DUPLICATES, NULL);
        json_t *v = json_object_get(root, "eventId");
        id = json_string_value(v ? v : json_object_get(root, "event_id"));
    } else {
        ev = gamification__v1__event__unpack(NULL, rec->len, rec->data);
        id = ev ? ev->event_id : NULL;
    }
    const char *out = NULL;
    if (id && id[0] && strlen(id) < cap) {
        json_t *check = json_string(id); /* NULL unless valid UTF-8 */
        if (check) {
            strcpy(buf, id);
            out = buf;
        }
        json_decref(check);
    }
    json_decref(root);
    if (ev)
        gamification__v1__event__free_unpacked(ev, NULL);
    return out;
}

/*
 * Applies one record; returns 0, MDB_MAP_FULL, or a failure noted in
 * s->why (an LMDB code or ours).
 */
static int
apply_one(struct gm_store *s, const struct pending *rec)
{
    if (rec->dl_reason)
        return dead_letter(s, rec, rec->dl_reason, rec->dl_detail, NULL);
    Gamification__V1__Event *ev = NULL;
    struct gm_err e;
    gm_err_clear(&e);
    /* a protobuf record is decoded into the event arena, given back at once
     * after the fold (no malloc or free per field) */
    bool in_arena = !rec->json;
    int rc = rec->json ? gm_event_from_json((const char *)rec->data, rec->len, &ev, &e)
                       : gm_event_decode_in(rec->data, rec->len, gm_arena_protobuf(&s->ev_arena),
                                            &ev, &e);
    if (rc) {
        char idbuf[GM_ID_MAX + 1];
        bool invalid = rc == GM_EINVAL;
        gm_arena_reset(&s->ev_arena);
        return dead_letter(s, rec, invalid ? "INVALID" : "DECODE", e.msg,
                           invalid ? salvage_event_id(rec, idbuf, sizeof idbuf) : NULL);
    }

    /* Too late first: ids older than the window may already be pruned, so
     * they are never consulted, and pruning time cannot change an outcome. */
    int64_t t = ev->occurred_at->seconds;
    int64_t t_ms = t * 1000 + ev->occurred_at->nanos / 1000000;
    ((struct pending *)rec)->event_ms = t_ms;
    MDB_val idk = {strlen(ev->event_id), ev->event_id}, v;
    /* An event dated far after its own append time would move the newest
     * time (and with it the dedupe window and the periods) into the future
     * for good: refused, by a time the log carries, never the wall clock. */
    if (rec->append_ms > 0 && s->opts.future_skew_s > 0 &&
        t_ms > rec->append_ms + s->opts.future_skew_s * 1000) {
        char detail[160];
        snprintf(detail, sizeof detail,
                 "dated %lld s after its append time (more than the allowed %lld s)",
                 (long long)((t_ms - rec->append_ms) / 1000), (long long)s->opts.future_skew_s);
        s->stats.too_far_ahead++;
        rc = dead_letter(s, rec, "TOO_FAR_AHEAD", detail, ev->event_id);
        goto out;
    }
    if (s->meta.has_newest && t < s->meta.newest_time - s->opts.dedupe_window_s) {
        s->stats.too_late++;
        rc = dead_letter(s, rec, "TOO_LATE", "older than the dedupe window behind the newest event",
                         ev->event_id);
        goto out;
    }
    bool is_rules = ev->body_case == GAMIFICATION__V1__EVENT__BODY_RULES_PUBLISHED;
    if (!s->rules && !is_rules) {
        /* nothing but rules can have been marked seen yet: no dedupe needed */
        rc = dead_letter(s, rec, "NO_RULES", "no rules published or seeded yet", ev->event_id);
        goto out;
    }

    /* Mark the id seen, in the same transaction as its effects; the put
     * itself tells a duplicate (one tree descent, not a get and a put). */
    uint8_t tb[8];
    put_be64(tb, (uint64_t)t);
    v.mv_size = 8;
    v.mv_data = tb;
    rc = mdb_put(s->txn, s->dedupe, &idk, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        /* v is the stored time. An id seen before the window is forgotten
         * as if pruning had reached it already: where pruning stands must
         * not change an outcome. */
        int64_t seen = v.mv_size == 8 ? (int64_t)get_be64(v.mv_data) : INT64_MAX;
        if (!(s->meta.has_newest && seen < s->meta.newest_time - s->opts.dedupe_window_s)) {
            s->stats.duplicates++;
            rc = 0;
            goto out;
        }
        uint8_t old[8 + GM_ID_MAX];
        put_be64(old, (uint64_t)seen);
        memcpy(old + 8, ev->event_id, idk.mv_size);
        MDB_val ok = {8 + idk.mv_size, old}, nv = {8, tb};
        if ((rc = mdb_del(s->txn, s->dedupe_time, &ok, NULL)) && rc != MDB_NOTFOUND) {
            db_fail(s, rc, "dedupe_time delete");
            goto out;
        }
        rc = mdb_put(s->txn, s->dedupe, &idk, &nv, 0);
    }
    if (rc) {
        db_fail(s, rc, "dedupe put");
        goto out;
    }
    uint8_t tk[8 + GM_ID_MAX];
    memcpy(tk, tb, 8);
    memcpy(tk + 8, ev->event_id, idk.mv_size);
    MDB_val tkv = {8 + idk.mv_size, tk}, empty = {0, ""};
    if ((rc = db_fail(s, mdb_put(s->txn, s->dedupe_time, &tkv, &empty, 0), "dedupe_time put")))
        goto out;

    if (is_rules && s->what_if[0])
        s->stats.rules_ignored++; /* a what-if keeps its own rules throughout */
    else if (is_rules)
        rc = publish_rules(s, rec, ev);
    else
        rc = fold_event(s, rec, ev);
    if (rc)
        goto out;

    /* new rules may keep periods longer or shorter */
    bool roll = is_rules && !s->what_if[0];
    if (!s->meta.has_newest || t > s->meta.newest_time) {
        /* Prune and roll periods when the newest time crosses a 15-minute
         * mark (every zone offset is a multiple of 15 minutes, so no local
         * midnight is missed): a function of the events alone. */
        bool cross = !s->meta.has_newest || t / 900 != s->meta.newest_time / 900;
        s->meta.has_newest = true;
        s->meta.newest_time = t;
        if (cross)
            s->meta.dedupe_pending = 1;
        roll = roll || cross;
    }
    if ((roll && (rc = advance_periods(s))) || (rc = prune_dedupe(s)) || (rc = prune_step(s)))
        goto out;
out:
    if (!in_arena)
        gm_event_free(ev);
    gm_arena_reset(&s->ev_arena); /* the event, and what its fold built */
    return rc;
}

/* Sets the map to s->map_size once no feed of another thread is open. */
static int
resize(struct gm_store *s)
{
    pthread_rwlock_wrlock(&s->resize_lock);
    int rc = mdb_env_set_mapsize(s->env, s->map_size);
    pthread_rwlock_unlock(&s->resize_lock);
    return rc;
}

/* MDB_MAP_FULL: abort, double the map, and apply the batch again. */
static int
grow_and_replay(struct gm_store *s, struct gm_err *err)
{
    for (;;) {
        mdb_txn_abort(s->txn);
        s->txn = NULL;
        rollback_memory(s);
        s->map_size *= 2;
        s->stats.map_resizes++;
        int rc = resize(s);
        if (rc)
            return lmdb_error(err, rc, "resize");
        gm_log(GM_LOG_INFO, "LMDB map grown to %zu MiB", s->map_size >> 20);
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn))) {
            s->txn = NULL;
            return lmdb_error(err, rc, "begin");
        }
        s->why[0] = '\0';
        for (size_t i = 0; i < s->n_pend && rc == 0; i++)
            rc = apply_one(s, &s->pend[i]);
        if (rc == MDB_MAP_FULL)
            continue;
        if (rc)
            return report(s, err, rc, "applying the batch again in a grown map");
        return 0;
    }
}

/* Keeps a copy of one record of the batch and applies it. */
static int
add_and_apply(struct gm_store *s, const uint8_t *data, size_t len, bool json, uint64_t offset,
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
    p->json = json;
    p->offset = offset;
    p->append_ms = append_ms;
    p->event_ms = 0;
    p->dl_reason = p->dl_detail = NULL;
    if (reason) {
        p->dl_reason = batch_copy(s, reason, strlen(reason));
        p->dl_detail = batch_copy(s, detail ? detail : "", detail ? strlen(detail) : 0);
    }
    s->why[0] = '\0';
    int rc = apply_one(s, p);
    if (rc == MDB_MAP_FULL) {
        if ((rc = grow_and_replay(s, err)))
            s->failed = true;
        return rc;
    }
    if (rc) {
        s->failed = true;
        char step[64];
        snprintf(step, sizeof step, "record at offset %llu", (unsigned long long)offset);
        return report(s, err, rc, step);
    }
    return 0;
}

int
gm_store_apply(struct gm_store *s, const uint8_t *data, size_t len, bool json, uint64_t offset,
               int64_t append_ms, struct gm_err *err)
{
    return add_and_apply(s, data, len, json, offset, append_ms, NULL, NULL, err);
}

int
gm_store_dead_letter(struct gm_store *s, const uint8_t *data, size_t len, bool json,
                     uint64_t offset, const char *reason, const char *detail, struct gm_err *err)
{
    /* It joins the batch's records, so that a map grown mid-batch stores it
     * again with the rest. */
    return add_and_apply(s, data, len, json, offset, 0, reason, detail, err);
}

void
gm_store_trim_before(struct gm_store *s, int64_t below)
{
    if (below > s->trim_below)
        s->trim_below = below;
}

int64_t
gm_store_change_end(const struct gm_store *s)
{
    return s->meta_committed.change_seq;
}

/*
 * Deletes change-feed records below trim_below, at most twice the batch's
 * records (at least 1,000), in the batch's own transaction: no commit of
 * its own, and the feed shrinks about as fast as it grows.
 */
static int
trim_step(struct gm_store *s)
{
    if (s->trim_below <= 0)
        return 0;
    size_t budget = s->n_pend * 2 > 1000 ? s->n_pend * 2 : 1000;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->changes, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    while (budget-- > 0 && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 8 &&
           (int64_t)get_be64(k.mv_data) < s->trim_below) {
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int
gm_store_commit(struct gm_store *s, uint64_t next_offset, struct gm_err *err)
{
    if (!s->txn)
        return gm_err_set(err, GM_EINVAL, "no batch open");
    if (s->failed)
        return gm_err_set(err, GM_EINVAL, "a record of this batch failed: it cannot be committed");
    for (;;) {
        s->meta.offset = next_offset;
        int rc = write_learners(s);
        if (rc == 0)
            rc = trim_step(s);
        if (rc == 0)
            rc = meta_save(s);
        if (rc == 0) {
            rc = mdb_txn_commit(s->txn);
            s->txn = NULL;
            if (rc == 0)
                break;
            if (rc != MDB_MAP_FULL) {
                rollback_memory(s);
                free_pending(s);
                return lmdb_error(err, rc, "commit");
            }
            /* the aborted commit left no transaction: start one to replay into */
            if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn))) {
                s->txn = NULL;
                rollback_memory(s);
                free_pending(s);
                return lmdb_error(err, rc, "begin");
            }
        } else if (rc != MDB_MAP_FULL) {
            gm_store_abort(s);
            return lmdb_error(err, rc, "writing the batch");
        }
        if ((rc = grow_and_replay(s, err))) {
            gm_store_abort(s);
            return rc;
        }
    }
    s->meta_committed = s->meta;
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

int
gm_store_preload_dedupe(struct gm_store *s, uint64_t n, int64_t t, struct gm_err *err)
{
    const uint64_t per_batch = 1000000;
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    uint8_t tb[8];
    put_be64(tb, (uint64_t)t);
    uint64_t done = 0;
    while (done < n) {
        uint64_t end = done + per_batch < n ? done + per_batch : n;
        int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
        if (rc) {
            s->txn = NULL;
            return lmdb_error(err, rc, "begin");
        }
        uint64_t i;
        for (i = done; i < end && rc == 0; i++) {
            char id[32];
            int len = snprintf(id, sizeof id, "preload-%012llu", (unsigned long long)i);
            uint8_t tk[8 + sizeof id];
            memcpy(tk, tb, 8);
            memcpy(tk + 8, id, (size_t)len);
            MDB_val k = {(size_t)len, id}, v = {8, tb}, tkv = {8 + (size_t)len, tk},
                    empty = {0, ""};
            if ((rc = mdb_put(s->txn, s->dedupe, &k, &v, 0)) == 0)
                rc = mdb_put(s->txn, s->dedupe_time, &tkv, &empty, 0);
        }
        if (rc == 0) {
            rc = mdb_txn_commit(s->txn);
            s->txn = NULL;
            if (rc == 0) {
                done = end;
                continue;
            }
        } else {
            mdb_txn_abort(s->txn);
            s->txn = NULL;
        }
        if (rc != MDB_MAP_FULL)
            return lmdb_error(err, rc, "preload");
        /* grow and redo this batch */
        s->map_size *= 2;
        s->stats.map_resizes++;
        if ((rc = resize(s)))
            return lmdb_error(err, rc, "resize");
    }
    return 0;
}

/* ---- projector cursors and the change feed ---- */

/* LMDB keys are at most 511 bytes: longer names are keyed by their hash. */
#define CURSOR_KEY_MAX 480

/* The meta key of a projector's cursor: "cursor:NAME", or for a name too
 * long for a key "cursor#" and the SHA-256 of the name in hex. */
static size_t
cursor_key(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "cursor:%s", name);
    if (n >= 0 && (size_t)n < cap)
        return (size_t)n;
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (!EVP_Digest(name, strlen(name), md, &mdlen, EVP_sha256(), NULL) || cap < 7 + 65)
        abort();
    memcpy(buf, "cursor#", 7);
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(buf + 7 + 2 * i, 3, "%02x", md[i]);
    return 7 + 2 * (size_t)mdlen;
}

/* A cursor's value: the sequence number, then optionally a position. */
int
gm_store_cursor_get_pos(struct gm_store *s, const char *name, int64_t *seq, int64_t *pos)
{
    char kb[CURSOR_KEY_MAX];
    MDB_val k = {cursor_key(kb, sizeof kb, name), kb}, v;
    MDB_txn *txn;
    *seq = 0;
    *pos = -1;
    if (ro_begin(s, &txn))
        return GM_EDB;
    int rc = mdb_get(txn, s->meta_db, &k, &v);
    if (rc == 0 && (v.mv_size == 8 || v.mv_size == 16))
        *seq = (int64_t)get_be64(v.mv_data);
    if (rc == 0 && v.mv_size == 16)
        *pos = (int64_t)get_be64((const uint8_t *)v.mv_data + 8);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

int
gm_store_cursor_get(struct gm_store *s, const char *name, int64_t *seq)
{
    int64_t pos;
    return gm_store_cursor_get_pos(s, name, seq, &pos);
}

int
gm_store_cursor_set_pos(struct gm_store *s, const char *name, int64_t seq, int64_t pos,
                        struct gm_err *err)
{
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    char kb[CURSOR_KEY_MAX];
    uint8_t vb[16];
    put_be64(vb, (uint64_t)seq);
    put_be64(vb + 8, (uint64_t)pos);
    MDB_val k = {cursor_key(kb, sizeof kb, name), kb}, v = {pos < 0 ? 8 : 16, vb};
    MDB_txn *txn;
    int rc = rw_begin(s, &txn);
    if (rc)
        return lmdb_error(err, rc, "begin");
    if ((rc = mdb_put(txn, s->meta_db, &k, &v, 0))) {
        mdb_txn_abort(txn);
        return lmdb_error(err, rc, "cursor");
    }
    if ((rc = mdb_txn_commit(txn)))
        return lmdb_error(err, rc, "commit");
    return 0;
}

int
gm_store_cursor_set(struct gm_store *s, const char *name, int64_t seq, struct gm_err *err)
{
    return gm_store_cursor_set_pos(s, name, seq, -1, err);
}

int
gm_store_outbound_foreach(struct gm_store *s, int64_t *seq,
                          int (*fn)(void *ctx, const Gamification__V1__OutboundEvent *oev),
                          void *ctx)
{
    MDB_txn *txn;
    if (ro_begin(s, &txn))
        return GM_EDB;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->changes, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return GM_EDB;
    }
    uint8_t kb[8];
    put_be64(kb, (uint64_t)*seq);
    MDB_val k = {8, kb}, v;
    int result = 0;
    struct meta m;
    const char *bad = NULL;
    if (meta_read(txn, s->meta_db, &m, &bad) == 0 && *seq < m.change_seq) {
        /* the feed is contiguous: a gap at *seq means it was trimmed */
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND || (rc == 0 && (int64_t)get_be64(k.mv_data) != *seq))
            result = GM_ENOTFOUND;
        put_be64(kb, (uint64_t)*seq);
        k.mv_size = 8;
        k.mv_data = kb;
    }
    for (rc = result ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && result == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        Gamify__Internal__Change *ch = gamify__internal__change__unpack(NULL, v.mv_size, v.mv_data);
        if (!ch) {
            result = GM_ECORRUPT;
            break;
        }
        for (size_t i = 0; i < ch->n_outbound && result == 0; i++)
            result = fn(ctx, ch->outbound[i]);
        if (result == 0)
            *seq = (int64_t)get_be64(k.mv_data) + 1;
        gamify__internal__change__free_unpacked(ch, NULL);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (result)
        return result;
    return rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

/* ---- reading: dump, digest, dead letters ---- */

static json_t *
redemptions_of(struct gm_store *s, MDB_txn *txn, const char *user)
{
    json_t *arr = json_array();
    MDB_cursor *cur;
    if (mdb_cursor_open(txn, s->redemptions, &cur))
        return arr;
    size_t ulen = strlen(user);
    uint8_t kb[GM_ID_MAX + 2];
    memcpy(kb, user, ulen);
    kb[ulen] = 0;
    MDB_val k = {ulen + 1, kb}, v;
    Gamify__Internal__Redemption **items = NULL;
    size_t n = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size > ulen && memcmp(k.mv_data, user, ulen) == 0 &&
           ((uint8_t *)k.mv_data)[ulen] == 0) {
        Gamify__Internal__Redemption *r =
            gamify__internal__redemption__unpack(NULL, v.mv_size, v.mv_data);
        if (r) {
            items = realloc(items, (n + 1) * sizeof *items);
            if (!items)
                abort();
            items[n++] = r;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    /* log order: by sequence number (insertion sort; a learner has few) */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && items[j - 1]->seq > items[j]->seq; j--) {
            Gamify__Internal__Redemption *t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "redemptionId", json_string(items[i]->redemption_id));
        json_object_set_new(o, "rewardId", json_string(items[i]->reward_id));
        json_object_set_new(o, "status",
                            json_string(items[i]->completed ? "COMPLETED" : "REJECTED"));
        json_object_set_new(
            o, "reason",
            items[i]->completed ? json_null() : json_string(gm_fold_reason_name(items[i]->reason)));
        json_array_append_new(arr, o);
        gamify__internal__redemption__free_unpacked(items[i], NULL);
    }
    free(items);
    return arr;
}

/* A learner's kept scores, sorted: entries point into names (one buffer). */
struct score_list {
    struct gm_score *v;
    size_t n;
    char *names;
};

static int
score_cmp(const void *a, const void *b)
{
    const struct gm_score *x = a, *y = b;
    int c = strcmp(x->board, y->board);
    return c ? c : strcmp(x->period, y->period);
}

/*
 * Collects st's leaderboard scores without the periods expired by m's
 * floors (which pruning may not have reached yet), boards and periods in
 * byte order, into *out (reusing its memory; free with score_list_free).
 */
static void
score_list_fill(struct score_list *out, const Gamify__Internal__UserState *st, const struct meta *m)
{
    const ProtobufCBinaryData *sp = &st->scores_packed;
    size_t n = 0, bytes = 0;
    struct score_entry e;
    for (size_t r = 0, len; r < sp->len; r += len) {
        if (!(len = score_next(sp->data + r, sp->len - r, &e)))
            break;
        n++;
        bytes += e.board_len + e.period_len + 2;
    }
    free(out->v);
    free(out->names);
    out->v = malloc((n ? n : 1) * sizeof *out->v);
    out->names = malloc(bytes ? bytes : 1);
    if (!out->v || !out->names)
        abort();
    out->n = 0;
    char *at = out->names;
    for (size_t r = 0, len; r < sp->len; r += len) {
        if (!(len = score_next(sp->data + r, sp->len - r, &e)))
            break;
        if (period_expired(m, e.period, e.period_len))
            continue;
        struct gm_score *sc = &out->v[out->n++];
        sc->board = at;
        memcpy(at, e.board, e.board_len);
        at[e.board_len] = '\0';
        at += e.board_len + 1;
        sc->period = at;
        memcpy(at, e.period, e.period_len);
        at[e.period_len] = '\0';
        at += e.period_len + 1;
        sc->score = (int64_t)get_be64(sp->data + r + SCORE_AT(len));
        sc->reached_at = (int64_t)get_be64(sp->data + r + REACHED_AT(len));
    }
    qsort(out->v, out->n, sizeof *out->v, score_cmp);
}

static void
score_list_free(struct score_list *l)
{
    free(l->v);
    free(l->names);
    memset(l, 0, sizeof *l);
}

/* The scores as {board: {period: score}} for the dump, or (reached) their
 * reach times as {board: {period: "RFC 3339"}}. */
static json_t *
scores_of(const Gamify__Internal__UserState *st, const struct meta *m, bool reached)
{
    struct score_list l = {0};
    score_list_fill(&l, st, m);
    json_t *o = json_object();
    for (size_t i = 0; i < l.n; i++) {
        json_t *board = json_object_get(o, l.v[i].board);
        if (!board) {
            board = json_object();
            json_object_set_new(o, l.v[i].board, board);
        }
        char at[GM_RFC3339_MAX];
        json_t *val = !reached ? json_integer(l.v[i].score)
                      : gm_time_format_rfc3339(l.v[i].reached_at, 0, at) == 0
                          ? json_string(at)
                          : json_integer(l.v[i].reached_at); /* outside years 1-9999 */
        json_object_set_new(board, l.v[i].period, val);
    }
    score_list_free(&l);
    return o;
}

static int
dump_one(struct gm_store *s, MDB_txn *txn, FILE *to, const MDB_val *k, const MDB_val *v,
         const struct meta *m)
{
    Gamify__Internal__UserState *st = user_unpack(v->mv_size, v->mv_data);
    if (!st) {
        gm_log(GM_LOG_ERROR, "the stored record of learner %.*s does not decode", (int)k->mv_size,
               (const char *)k->mv_data);
        return GM_ECORRUPT;
    }
    json_t *o = json_object();
    json_object_set_new(o, "userId", json_string(st->user_id));
    json_object_set_new(o, "exp", json_integer(st->exp));
    json_object_set_new(o, "level", json_integer(st->level));
    json_object_set_new(o, "coins", json_integer(st->coins));
    json_object_set_new(o, "coinsEarned", json_integer(st->coins_earned));
    json_object_set_new(o, "coinsSpent", json_integer(st->coins_spent));
    json_object_set_new(o, "lessonsCompleted", json_integer(st->lessons_completed));
    json_object_set_new(o, "lessonCompletions", json_integer(st->lesson_completions));
    json_object_set_new(o, "tournamentsPlayed", json_integer(st->tournaments_played));
    json_object_set_new(o, "tournamentWins", json_integer(st->tournament_wins));
    json_object_set_new(o, "tournamentLosses", json_integer(st->tournament_losses));
    json_object_set_new(o, "currentStreak", json_integer(st->current_streak));
    json_object_set_new(o, "longestStreak", json_integer(st->longest_streak));
    json_object_set_new(o, "freezesHeld", json_integer(st->freezes_held));
    json_t *badges = json_array();
    for (size_t i = 0; i < st->n_badges; i++)
        json_array_append_new(badges, json_string(st->badges[i]->id));
    json_object_set_new(o, "badges", badges);
    json_object_set_new(o, "redemptions", redemptions_of(s, txn, st->user_id));
    json_object_set_new(o, "scores", scores_of(st, m, false));
    json_object_set_new(o, "timezone", json_string(st->timezone));
    json_object_set_new(o, "leaderboardOptOut", json_boolean(st->opt_out));
    json_object_set_new(o, "scoresReachedAt", scores_of(st, m, true));
    char *text = json_dumps(o, JSON_COMPACT);
    fprintf(to, "%s\n", text);
    free(text);
    json_decref(o);
    gamify__internal__user_state__free_unpacked(st, NULL);
    return 0;
}

int
gm_store_dump(struct gm_store *s, FILE *to, const char *user)
{
    MDB_txn *txn;
    int rc = ro_begin(s, &txn);
    if (rc)
        return GM_EDB;
    struct meta m; /* this snapshot's floors, not those of the open */
    const char *bad = NULL;
    if ((rc = meta_read(txn, s->meta_db, &m, &bad))) {
        mdb_txn_abort(txn);
        return rc < 0 && rc > GM_E_BASE - 100 ? rc : GM_EDB;
    }
    MDB_val k, v;
    if (user) {
        k.mv_size = strlen(user);
        k.mv_data = (void *)user;
        rc = mdb_get(txn, s->profiles, &k, &v);
        rc = rc == 0              ? dump_one(s, txn, to, &k, &v, &m)
             : rc == MDB_NOTFOUND ? GM_ENOTFOUND
                                  : GM_EDB;
    } else {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, s->profiles, &cur)) == 0) {
            while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
                if ((rc = dump_one(s, txn, to, &k, &v, &m)))
                    break;
            }
            mdb_cursor_close(cur);
            rc = rc == MDB_NOTFOUND ? 0 : rc == GM_ECORRUPT ? rc : GM_EDB;
        } else {
            rc = GM_EDB;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}

int
gm_store_digest(struct gm_store *s, unsigned char out[32])
{
    MDB_txn *txn;
    if (ro_begin(s, &txn))
        return GM_EDB;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        abort();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    /* A what-if state never has the digest of a real one. */
    if (s->what_if[0]) {
        EVP_DigestUpdate(md, "what-if", 8);
        EVP_DigestUpdate(md, s->what_if, 64);
    }
    /* Offsets, the change feed and dead letters depend on the log's format
     * and on the projectors, not on what the events mean: left out. */
    struct {
        const char *name;
        MDB_dbi dbi;
    } dbs[] = {
        {"profiles", s->profiles},       {"first", s->first},   {"dedupe", s->dedupe},
        {"redemptions", s->redemptions}, {"stock", s->stock},   {"ledger", s->ledger},
        {"rules", s->rules_db},          {"expiry", s->expiry},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && rc == 0; i++) {
        if (dbs[i].dbi == s->expiry && !s->has_expiry)
            continue;
        EVP_DigestUpdate(md, dbs[i].name, strlen(dbs[i].name) + 1);
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, dbs[i].dbi, &cur)))
            break;
        MDB_val k, v;
        while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
            uint8_t lens[16];
            put_be64(lens, k.mv_size);
            put_be64(lens + 8, v.mv_size);
            EVP_DigestUpdate(md, lens, 16);
            EVP_DigestUpdate(md, k.mv_data, k.mv_size);
            EVP_DigestUpdate(md, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(cur);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    unsigned int n = 32;
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
    mdb_txn_abort(txn);
    return rc ? GM_EDB : 0;
}

int
gm_store_dlq_take(struct gm_store *s, const char *reason, int64_t seq,
                  int (*fn)(void *ctx, const Gamify__Internal__DeadLetter *dl), void *ctx,
                  size_t *n, struct gm_err *err)
{
    *n = 0;
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    MDB_txn *txn;
    int rc = rw_begin(s, &txn);
    if (rc)
        return lmdb_error(err, rc, "begin");
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn, s->deadletters, &cur))) {
        mdb_txn_abort(txn);
        return lmdb_error(err, rc, "cursor");
    }
    MDB_val k, v;
    int result = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        uint8_t kb[8]; /* the key, copied: the delete changes its page */
        if (k.mv_size != 8) {
            result =
                gm_err_set(err, GM_ECORRUPT, "a dead letter's key has %zu bytes, not 8", k.mv_size);
            break;
        }
        memcpy(kb, k.mv_data, 8);
        Gamify__Internal__DeadLetter *dl =
            gamify__internal__dead_letter__unpack(NULL, v.mv_size, v.mv_data);
        bool take = false;
        if (dl && (!reason || strcmp(dl->reason, reason) == 0) && (seq < 0 || dl->seq == seq)) {
            result = fn(ctx, dl);
            take = result == 1;
        }
        if (dl)
            gamify__internal__dead_letter__free_unpacked(dl, NULL);
        if (result < 0)
            break;
        if (take) {
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
            (*n)++;
            /* the next one: the first key after the deleted one */
            k.mv_size = 8;
            k.mv_data = kb;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            continue;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (result < 0) {
        mdb_txn_abort(txn);
        *n = 0;
        return result;
    }
    if (rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        *n = 0;
        return lmdb_error(err, rc, "dead letters");
    }
    if ((rc = mdb_txn_commit(txn))) {
        *n = 0;
        return lmdb_error(err, rc, "commit");
    }
    return 0;
}

int
gm_store_dlq_list(struct gm_store *s, FILE *to, int partition)
{
    MDB_txn *txn;
    if (ro_begin(s, &txn))
        return GM_EDB;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->deadletters, &cur);
    if (rc) {
        mdb_txn_abort(txn);
        return GM_EDB;
    }
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Gamify__Internal__DeadLetter *dl =
            gamify__internal__dead_letter__unpack(NULL, v.mv_size, v.mv_data);
        if (!dl)
            continue;
        json_t *o = json_object();
        if (partition >= 0)
            json_object_set_new(o, "partition", json_integer(partition));
        json_object_set_new(o, "seq", json_integer(dl->seq));
        json_object_set_new(o, "offset", json_integer((json_int_t)dl->offset));
        json_object_set_new(o, "reason", json_string(dl->reason));
        json_object_set_new(o, "detail", json_string(dl->detail));
        json_t *id = dl->event_id[0] ? json_string(dl->event_id) : NULL;
        json_object_set_new(o, "eventId", id ? id : json_null());
        json_object_set_new(o, "bytes", json_integer((json_int_t)dl->record.len));
        if (dl->json) {
            json_t *rec = json_stringn((const char *)dl->record.data, dl->record.len);
            json_object_set_new(o, "record", rec ? rec : json_null());
        }
        char *text = json_dumps(o, JSON_COMPACT);
        if (text)
            fprintf(to, "%s\n", text);
        free(text);
        json_decref(o);
        gamify__internal__dead_letter__free_unpacked(dl, NULL);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

/* ---- the feed (feed.h): readers for projectors, rebuilds and audits ---- */

struct gm_feed {
    struct gm_store *s;
    bool locked; /* holds s->resize_lock shared */
    MDB_txn *txn;
    struct meta m;
    int64_t start;
    struct gm_rules *rules;
    bool rules_read;
    /* the last learner handed out by gm_feed_learner */
    Gamify__Internal__UserState *st;
    struct gm_learner_badge *badges;
    size_t cap_badges;
    struct score_list scores;
    bool no_scores; /* gm_feed_without_scores */
};

void
gm_feed_without_scores(struct gm_feed *f)
{
    f->no_scores = true;
}

int
gm_feed_open(struct gm_store *s, struct gm_feed **out)
{
    *out = NULL;
    struct gm_feed *f = calloc(1, sizeof *f);
    if (!f)
        abort();
    f->s = s;
    pthread_rwlock_rdlock(&s->resize_lock);
    f->locked = true;
    int rc = ro_begin(s, &f->txn);
    if (rc == 0)
        rc = meta_read(f->txn, s->meta_db, &f->m, &(const char *){NULL});
    MDB_cursor *cur = NULL;
    if (rc == 0 && (rc = mdb_cursor_open(f->txn, s->changes, &cur)) == 0) {
        MDB_val k, v;
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        f->start = rc == 0 && k.mv_size == 8 ? (int64_t)get_be64(k.mv_data) : f->m.change_seq;
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        mdb_cursor_close(cur);
    }
    if (rc) {
        gm_feed_close(f);
        return rc == GM_ECORRUPT ? rc : GM_EDB;
    }
    *out = f;
    return 0;
}

void
gm_feed_close(struct gm_feed *f)
{
    if (!f)
        return;
    if (f->txn)
        mdb_txn_abort(f->txn);
    if (f->locked)
        pthread_rwlock_unlock(&f->s->resize_lock);
    gm_rules_free(f->rules);
    if (f->st)
        gamify__internal__user_state__free_unpacked(f->st, NULL);
    free(f->badges);
    score_list_free(&f->scores);
    free(f);
}

int64_t
gm_feed_end(const struct gm_feed *f)
{
    return f->m.change_seq;
}

int64_t
gm_feed_start(const struct gm_feed *f)
{
    return f->start;
}

int
gm_feed_changes(struct gm_feed *f, int64_t from, size_t max,
                int (*fn)(void *ctx, const struct gm_change *ch), void *ctx, int64_t *next)
{
    *next = from;
    if (from < f->start)
        return GM_ENOTFOUND;
    MDB_cursor *cur;
    if (mdb_cursor_open(f->txn, f->s->changes, &cur))
        return GM_EDB;
    uint8_t kb[8];
    put_be64(kb, (uint64_t)from);
    MDB_val k = {8, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), result = 0;
    struct gm_score *scores = NULL;
    size_t cap = 0;
    for (size_t n = 0; rc == 0 && result == 0 && n < max; n++) {
        Gamify__Internal__Change *ch = gamify__internal__change__unpack(NULL, v.mv_size, v.mv_data);
        if (!ch || k.mv_size != 8) {
            if (ch)
                gamify__internal__change__free_unpacked(ch, NULL);
            result = GM_ECORRUPT;
            break;
        }
        if (ch->n_scores > cap) {
            cap = ch->n_scores;
            scores = realloc(scores, cap * sizeof *scores);
            if (!scores)
                abort();
        }
        for (size_t i = 0; i < ch->n_scores; i++)
            scores[i] = (struct gm_score){ch->scores[i]->board, ch->scores[i]->period,
                                          ch->scores[i]->score, ch->scores[i]->reached_at};
        struct gm_feed_redemption red;
        if (ch->redemption) {
            const Gamify__Internal__Redemption *r = ch->redemption;
            red = (struct gm_feed_redemption){r->redemption_id, r->reward_id,   r->event_id,
                                              r->completed,     (int)r->reason, r->cost,
                                              r->seq,           r->occurred_at};
        }
        struct gm_change c = {
            .seq = (int64_t)get_be64(k.mv_data),
            .user_id = ch->user_id && ch->user_id[0] ? ch->user_id : NULL,
            .event_id = ch->event_id,
            .occurred_at = ch->occurred_at,
            .scores = scores,
            .n_scores = ch->n_scores,
            .redemption = ch->redemption ? &red : NULL,
            .ledger_first = ch->ledger_first,
            .ledger_count = ch->ledger_count,
            .outbound = (const Gamification__V1__OutboundEvent *const *)ch->outbound,
            .n_outbound = ch->n_outbound,
            .pruned_periods = (const char *const *)ch->pruned_periods,
            .n_pruned_periods = ch->n_pruned_periods,
        };
        result = fn(ctx, &c);
        if (result == 0)
            *next = c.seq + 1;
        gamify__internal__change__free_unpacked(ch, NULL);
        if (result == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    free(scores);
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

/* Fills l from the packed learner v (kept in f until the next call). */
static int
feed_fill(struct gm_feed *f, const MDB_val *v, struct gm_learner *l)
{
    if (f->st)
        gamify__internal__user_state__free_unpacked(f->st, NULL);
    Gamify__Internal__UserState *st = f->st = user_unpack(v->mv_size, v->mv_data);
    if (!st)
        return GM_ECORRUPT;
    if (st->n_badges > f->cap_badges) {
        f->cap_badges = st->n_badges;
        f->badges = realloc(f->badges, f->cap_badges * sizeof *f->badges);
        if (!f->badges)
            abort();
    }
    for (size_t i = 0; i < st->n_badges; i++)
        f->badges[i] = (struct gm_learner_badge){st->badges[i]->id, st->badges[i]->earned_at};
    if (!f->no_scores)
        score_list_fill(&f->scores, st, &f->m);
    *l = (struct gm_learner){
        .user_id = st->user_id,
        .exp = st->exp,
        .level = st->level,
        .coins = st->coins,
        .coins_earned = st->coins_earned,
        .coins_spent = st->coins_spent,
        .lessons_completed = st->lessons_completed,
        .lesson_completions = st->lesson_completions,
        .tournaments_played = st->tournaments_played,
        .tournament_wins = st->tournament_wins,
        .tournament_losses = st->tournament_losses,
        .current_streak = st->current_streak,
        .longest_streak = st->longest_streak,
        .freezes_held = st->freezes_held,
        .redemptions = st->redemptions,
        .has_active_day = st->has_active_day,
        .last_active_day = st->last_active_day,
        .timezone = st->timezone,
        .opt_out = st->opt_out,
        .badges = f->badges,
        .n_badges = st->n_badges,
        .scores = f->no_scores ? NULL : f->scores.v,
        .n_scores = f->no_scores ? 0 : f->scores.n,
    };
    return 0;
}

int
gm_feed_learner(struct gm_feed *f, const char *user, struct gm_learner *l)
{
    MDB_val k = {strlen(user), (void *)user}, v;
    int rc = mdb_get(f->txn, f->s->profiles, &k, &v);
    if (rc == MDB_NOTFOUND)
        return GM_ENOTFOUND;
    if (rc)
        return GM_EDB;
    return feed_fill(f, &v, l);
}

int
gm_feed_learners(struct gm_feed *f, int (*fn)(void *ctx, const struct gm_learner *l), void *ctx)
{
    return gm_feed_learners_from(f, NULL, fn, ctx);
}

int
gm_feed_learners_from(struct gm_feed *f, const char *from,
                      int (*fn)(void *ctx, const struct gm_learner *l), void *ctx)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(f->txn, f->s->profiles, &cur))
        return GM_EDB;
    MDB_val k = {from ? strlen(from) : 0, (void *)from}, v;
    int rc, result = 0;
    MDB_cursor_op op = from && from[0] ? MDB_SET_RANGE : MDB_FIRST;
    while (result == 0 && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        struct gm_learner l;
        op = MDB_NEXT;
        if ((result = feed_fill(f, &v, &l)) == 0)
            result = fn(ctx, &l);
    }
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

int
gm_feed_ledger(struct gm_feed *f, int64_t first, int64_t count,
               int (*fn)(void *ctx, const struct gm_ledger_entry *e), void *ctx)
{
    MDB_cursor *cur;
    if (mdb_cursor_open(f->txn, f->s->ledger, &cur))
        return GM_EDB;
    uint8_t kb[8];
    put_be64(kb, (uint64_t)first);
    MDB_val k = {8, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE), result = 0;
    for (int64_t i = 0; rc == 0 && result == 0 && i < count; i++) {
        if (k.mv_size != 8 || (int64_t)get_be64(k.mv_data) >= first + count)
            break;
        Gamify__Internal__LedgerEntry *e =
            gamify__internal__ledger_entry__unpack(NULL, v.mv_size, v.mv_data);
        if (!e) {
            result = GM_ECORRUPT;
            break;
        }
        struct gm_ledger_entry le = {
            .seq = (int64_t)get_be64(k.mv_data),
            .user_id = e->user_id,
            .event_id = e->event_id,
            .kind = e->kind,
            .detail = e->detail,
            .exp_delta = e->exp_delta,
            .coins_delta = e->coins_delta,
            .exp_after = e->exp_after,
            .coins_after = e->coins_after,
            .capped_exp = e->capped_exp,
            .occurred_at = e->occurred_at,
        };
        result = fn(ctx, &le);
        gamify__internal__ledger_entry__free_unpacked(e, NULL);
        if (result == 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (result)
        return result;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

const struct gm_rules *
gm_feed_rules(struct gm_feed *f)
{
    if (!f->rules_read) {
        f->rules_read = true;
        MDB_val k = {5, "rules"}, v;
        if (mdb_get(f->txn, f->s->meta_db, &k, &v) == 0) {
            struct gm_err *errs = NULL;
            size_t n_errs = 0;
            if (gm_rules_parse(v.mv_data, v.mv_size, &f->rules, &errs, &n_errs))
                f->rules = NULL;
            free(errs);
        }
    }
    return f->rules;
}

const struct gm_rules *
gm_feed_rules_cached(struct gm_feed *f, struct gm_feed_rules_cache *c)
{
    MDB_val k = {5, "rules"}, v;
    if (mdb_get(f->txn, f->s->meta_db, &k, &v) != 0) {
        gm_feed_rules_cache_deinit(c);
        return NULL;
    }
    if (c->text && c->len == v.mv_size && memcmp(c->text, v.mv_data, v.mv_size) == 0)
        return c->rules; /* the same text: the same rules, not parsed again */
    gm_feed_rules_cache_deinit(c);
    struct gm_err *errs = NULL;
    size_t n_errs = 0;
    if (gm_rules_parse(v.mv_data, v.mv_size, &c->rules, &errs, &n_errs))
        c->rules = NULL;
    free(errs);
    if (!(c->text = malloc(v.mv_size ? v.mv_size : 1)))
        abort();
    memcpy(c->text, v.mv_data, v.mv_size);
    c->len = v.mv_size;
    return c->rules;
}

void
gm_feed_rules_cache_deinit(struct gm_feed_rules_cache *c)
{
    gm_rules_free(c->rules);
    free(c->text);
    memset(c, 0, sizeof *c);
}

int
gm_feed_stock_used(struct gm_feed *f, const char *reward_id, int64_t *used)
{
    *used = 0;
    MDB_val k = {strlen(reward_id), (void *)reward_id}, v;
    int rc = mdb_get(f->txn, f->s->stock, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return GM_EDB;
    if (v.mv_size != 8)
        return GM_ECORRUPT;
    *used = (int64_t)get_be64(v.mv_data);
    return 0;
}

int
gm_store_trim_changes(struct gm_store *s, int64_t below, uint64_t *n, struct gm_err *err)
{
    *n = 0;
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    if (s->read_only || s->dlq_only)
        return gm_err_set(err, GM_EINVAL, "the state is open read-only");
    /* in transactions of at most 50,000 deletions, so that none holds the
     * writer for long */
    for (;;) {
        MDB_txn *txn;
        int rc = rw_begin(s, &txn);
        if (rc)
            return lmdb_error(err, rc, "begin");
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, s->changes, &cur))) {
            mdb_txn_abort(txn);
            return lmdb_error(err, rc, "changes cursor");
        }
        MDB_val k, v;
        size_t done = 0;
        while (done < 50000 && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 &&
               k.mv_size == 8 && (int64_t)get_be64(k.mv_data) < below) {
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
            done++;
        }
        mdb_cursor_close(cur);
        if (rc && rc != MDB_NOTFOUND) {
            mdb_txn_abort(txn);
            return lmdb_error(err, rc, "trimming the change feed");
        }
        if ((rc = mdb_txn_commit(txn)))
            return lmdb_error(err, rc, "commit");
        *n += done;
        if (done < 50000)
            return 0;
    }
}
