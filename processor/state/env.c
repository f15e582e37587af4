/*
 * env.c: the LMDB environment of a state: opening it (the writer's lock,
 * the named databases, the stored rules and what-if mark), closing it,
 * transactions that adopt a map another process grew, what the state
 * tells about itself (offset, newest time, counters), and the notes of a
 * failed step that become the caller's struct gm_err.
 *
 * One writer at a time: a writer holds an exclusive flock on DIR/writer.lock
 * (with its pid inside) from open to close. Read-only opens (dump, digest,
 * dlq list) take no lock, create nothing and work beside a writer and on a
 * read-only copy.
 */
#include "state_int.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
gm__lmdb_error(struct gm_err *err, int rc, const char *what)
{
    return gm_err_set(err, GM_EDB, "LMDB %s: %s", what, mdb_strerror(rc));
}

/* The slow path of gm__db_fail: notes that the LMDB call named what failed. */
void
gm__db_note(struct gm_state *s, int rc, const char *what)
{
    snprintf(s->why, sizeof s->why, "LMDB %s: %s", what, mdb_strerror(rc));
}

int
gm__fail(struct gm_state *s, int code, const char *fmt, ...)
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
int
gm__report(struct gm_state *s, struct gm_err *err, int rc, const char *step)
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

/*
 * Takes the writers' lock of dir (DIR/writer.lock, flock, held until close)
 * and writes this process's pid into it. Errors: -EBUSY naming the holder.
 */
static int
take_writer_lock(struct gm_state *s, const char *dir, struct gm_err *err)
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
int
gm__rw_begin(struct gm_state *s, MDB_txn **txn)
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
int
gm__ro_begin(struct gm_state *s, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(s->env, 0)) == 0)
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc)
        *txn = NULL;
    return rc;
}

/* Opens the LMDB environment of dir: read-write, or read-only creating nothing. */
static int
open_env(struct gm_state *s, const char *dir, struct gm_err *err)
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
         * it again from the log. gm_state_close syncs. */
        /* MDB_WRITEMAP (unless opts.heap_pages): a write transaction's
         * dirty pages are pages of the map (the page cache), not copies on
         * the heap: a batch of 50,000 records dirtied about 150 MiB of heap
         * without it, and commits write them with one msync instead of a
         * write per page. The data file is as large as the map (sparse:
         * only written pages take disk). The costs: every first write to a
         * page after a commit takes a page fault, each msync write-protects
         * the pages again (a TLB flush on every core), which made half the
         * daemon's time at 20,000 events/s in small batches (BENCHMARKS.md
         * "heappages"); and a write to a page the disk has no room for
         * faults (SIGBUS) instead of failing the commit, so the state's
         * disk must not fill up (docs/operations.md). One writer at a time
         * (the lock) may choose either: the file is the same; readers open
         * it read-only, which this does not touch. `gamify dlq requeue`
         * (dlq_only) writes beside the running processor, and LMDB advises
         * against mixing the two kinds at once: it takes the processor's
         * default, heap pages (its transactions are tiny). */
        bool heap = s->opts.heap_pages || s->dlq_only;
        flags |= MDB_NOMETASYNC | (heap ? 0 : MDB_WRITEMAP) | (s->opts.no_sync ? MDB_NOSYNC : 0);
    }
    for (int attempt = 0;; attempt++) {
        if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 16)) ||
            (!s->read_only && (rc = mdb_env_set_mapsize(s->env, s->map_size))))
            return gm__lmdb_error(err, rc, "environment");
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
gm_state_open(const char *dir, const struct gm_state_opts *opts, struct gm_state **out,
              struct gm_err *err)
{
    *out = NULL;
    struct gm_state *s = calloc(1, sizeof *s);
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
        s->opts.dedupe_window_s = GM_STATE_DEFAULT_WINDOW;
    if (s->opts.future_skew_s == 0)
        s->opts.future_skew_s = GM_STATE_DEFAULT_SKEW;
    s->map_size = s->opts.map_size ? s->opts.map_size : DEFAULT_MAP_SIZE;
    gm_fold_out_init(&s->fo);
    gm_learners_init(&s->learners);
    gm__held_init(&s->held, s->opts.hold_bytes);
    gm_arena_init(&s->ev_arena, 16384);
    gm_arena_init(&s->batch_arena, 1 << 20);

    int rc;
    MDB_txn *txn = NULL;
    if (s->dlq_only && !exists(dir, "data.mdb")) {
        rc = gm_err_set(err, GM_ENOTFOUND, "no state in %s (no data.mdb)", dir);
        goto gm__fail;
    }
    if (!s->read_only && !s->dlq_only) {
        if (mkdir(dir, 0755) && errno != EEXIST) {
            rc = -errno;
            gm_err_set(err, rc, "cannot create state directory %s: %s", dir, strerror(errno));
            goto gm__fail;
        }
        if ((rc = take_writer_lock(s, dir, err)))
            goto gm__fail;
    }
    if ((rc = open_env(s, dir, err)))
        goto gm__fail;
    rc = s->read_only ? gm__ro_begin(s, &txn) : mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) {
        txn = NULL;
        rc = gm__lmdb_error(err, rc, "begin");
        goto gm__fail;
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
        {"journal", &s->journal},
    };
    s->has_expiry = true;
    s->has_journal = true;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        rc = mdb_dbi_open(txn, dbs[i].name, s->read_only ? 0 : MDB_CREATE, dbs[i].dbi);
        if (rc == MDB_NOTFOUND && s->read_only && dbs[i].dbi == &s->expiry) {
            s->has_expiry = false; /* a state from before the expiry queue */
            continue;
        }
        if (rc == MDB_NOTFOUND && s->read_only && dbs[i].dbi == &s->journal) {
            s->has_journal = false; /* a state from before write-behind learners */
            continue;
        }
        if (rc == MDB_NOTFOUND && s->read_only) {
            rc = gm_err_set(err, GM_ECORRUPT, "%s is not a gamify state (no %s database)", dir,
                            dbs[i].name);
            goto gm__fail;
        }
        if (rc) {
            rc = gm__lmdb_error(err, rc, dbs[i].name);
            goto gm__fail;
        }
        /* LMDB's default order, compared faster (keycmp.c) */
        if ((rc = mdb_set_compare(txn, *dbs[i].dbi, gm__keycmp))) {
            rc = gm__lmdb_error(err, rc, dbs[i].name);
            goto gm__fail;
        }
    }
    if ((rc = gm__meta_load(s, txn, &s->meta))) {
        rc = gm__report(s, err, rc, "reading the state's meta");
        goto gm__fail;
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
            goto gm__fail;
        }
    } else if (rc != MDB_NOTFOUND) {
        rc = gm__lmdb_error(err, rc, "rules");
        goto gm__fail;
    }
    MDB_val wk = {7, "what_if"};
    rc = mdb_get(txn, s->meta_db, &wk, &v);
    if (rc == 0 && v.mv_size == 64) {
        memcpy(s->what_if, v.mv_data, 64);
    } else if (rc == 0) {
        rc = gm_err_set(err, GM_ECORRUPT, "%s: the what-if mark is corrupt", dir);
        goto gm__fail;
    } else if (rc != MDB_NOTFOUND) {
        rc = gm__lmdb_error(err, rc, "what_if");
        goto gm__fail;
    }
    if (s->what_if[0] && !s->read_only && !s->dlq_only && !s->opts.what_if) {
        rc = gm_err_set(err, GM_EINVAL,
                        "%s is a what-if state (gamify replay --rules-override): it shows what "
                        "other rules would have made of the log and cannot be followed or "
                        "continued as the real state; replay into another folder",
                        dir);
        goto gm__fail;
    }
    if (!s->read_only && !s->dlq_only && (rc = gm__index_expiry(s, txn))) {
        rc = gm__report(s, err, rc, "indexing leaderboard periods");
        goto gm__fail;
    }
    if (!s->read_only && !s->dlq_only && (rc = gm__count_stock(s, txn))) {
        rc = gm__report(s, err, rc, "counting the stock of rewards");
        goto gm__fail;
    }
    /* the learners a previous writer held: the journal has their newest */
    bool held_written = false;
    if (!s->read_only && !s->dlq_only && (rc = gm__held_load(&s->held, txn, s->journal))) {
        rc = gm__lmdb_error(err, rc, "reading the learner journal");
        goto gm__fail;
    }
    /* holding off: they go back to `profiles` now, and the journal empties
     * (so that a version without write-behind learners can open it next) */
    if (!s->read_only && !s->dlq_only && !s->opts.hold_bytes && s->held.n) {
        if ((rc = gm__held_write(&s->held, txn, s->profiles, s->journal, s->meta.change_seq))) {
            rc = gm__lmdb_error(err, rc, "writing the journal's learners back");
            goto gm__fail;
        }
        held_written = true;
    }
    if ((rc = mdb_txn_commit(txn))) {
        txn = NULL;
        rc = gm__lmdb_error(err, rc, "commit");
        goto gm__fail;
    }
    if (held_written)
        gm__held_committed(&s->held);
    s->meta_committed = s->meta;
    s->rules_committed = s->rules;
    *out = s;
    return 0;
gm__fail:
    if (txn)
        mdb_txn_abort(txn);
    gm_state_close(s);
    return rc;
}

void
gm_state_close(struct gm_state *s)
{
    if (!s)
        return;
    gm_state_abort(s);
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
    gm__held_deinit(&s->held);
    gm_arena_deinit(&s->ev_arena);
    gm_arena_deinit(&s->batch_arena);
    free(s->snap);
    free(s->chbuf);
    free(s);
}

bool
gm_state_has_rules(const struct gm_state *s)
{
    return s->rules != NULL;
}

uint64_t
gm_state_offset(const struct gm_state *s)
{
    return s->meta_committed.offset;
}

size_t
gm_state_last_batch_times(const struct gm_state *s, const int64_t **ms)
{
    *ms = s->batch_ms;
    return s->n_batch_ms;
}

int64_t
gm_state_newest_time(const struct gm_state *s)
{
    return s->meta_committed.has_newest ? s->meta_committed.newest_time : 0;
}

const struct gm_state_stats *
gm_state_stats(const struct gm_state *s)
{
    return &s->stats;
}
