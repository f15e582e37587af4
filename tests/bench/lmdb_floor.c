/*
 * lmdb_floor.c: the least LMDB work a durable fold of the fold benchmark's
 * log has to do, with no fold at all, so that `tests/bench/run lmdbfloor`
 * can say how fast this machine's disk and LMDB let any fold go (issue 15's
 * targets are measured against it).
 *
 * Per event it writes what the design keeps per event (DESIGN section 3):
 * the event id in the dedupe tree and in the time-ordered dedupe index, a
 * first-completion key for nine events in ten (the share of lessons in the
 * generated log), one ledger entry and one change record (appends). Per
 * learner met in a batch: one read and one write of a record of --reclen
 * bytes (the learner table of the real fold writes each learner back once
 * per batch at best). A durable commit (MDB_WRITEMAP | MDB_NOMETASYNC, as
 * gamify's writer) every --batch events. No expiry index, no dead letters,
 * no decoding, no rules: the real fold does all of this and more.
 *
 * --rate R paces the events as a producer appending R a second would:
 * each batch takes the events that have arrived (at most --batch), as
 * gamify-processor's writer does, and the run reports how long events
 * waited for the writer to be free (a batch's start minus their arrival:
 * the least any fold that commits durably before it takes the next batch
 * can add to an event's latency) and how long the commits took, p50, p99
 * and max (issue 12's latency target is measured against it).
 *
 * --journal N (0: off) keeps the learners the way a learner journal would,
 * to measure that design before building it: a learner changed in a batch
 * is not written to `profiles` then; the batch appends one `journal` record
 * holding every learner it changed, and the writer keeps them in memory. A
 * learner is written back to `profiles` N batches after it first changed
 * (once, however often it changed meanwhile), and journal records older
 * than every learner still waiting are deleted. After a crash the journal's
 * newest copy of each waiting learner is its state. --first learner leaves
 * out the first-completion tree, as if each learner's completed lessons
 * were kept in its own record (give --reclen the larger record that makes).
 * --sorted writes a batch's learners back in key order (without --journal).
 * The run also reports the bytes the process wrote to the disk per event
 * (/proc/self/io).
 *
 * --from N numbers the events from N (their ids, times and sequence
 * numbers), so that a second run can go on in the state of a first: a
 * paced run over learners who already have records and lessons.
 *
 * --pipeline-us X models a writer split over the two cores: a second
 * thread "folds" each batch while the main thread writes and commits the
 * one before it (one batch ahead at most, as a fold stage feeding a write
 * stage would). Its fold of an event is a read of a random learner's
 * record in a read transaction and a spin until X microseconds per event
 * have passed; the writes are the same as without it. The rate then says
 * what a pipelined writer whose fold costs X per event could reach here at
 * best, with both stages and the kernel's writeback sharing the cores.
 *
 * --preload N first stores N other event ids in the dedupe tree and its
 * time index, untimed ("preload-NNNNNNNNNNNN" at the log's first second,
 * as tests/bench/preload_dedupe does for the fold benchmark's run with
 * 10,000,000 ids stored), then syncs and starts the timed run.
 *
 * Ids: --ids bench gives the generated log's shapes ("g42-N" event ids,
 * "user-N" learners, "lesson-N"), --ids uuid random 36-character event ids
 * (what producers usually send; each insert lands on a random page).
 * Learners are drawn uniformly (xorshift, fixed seed), as gen_events does.
 *
 * usage: lmdb_floor DIR [--events N] [--users N] [--batch N] [--reclen N] [--sorted]
 *                       [--ids bench|uuid] [--no-sync] [--rate R] [--journal N]
 *                       [--first tree|learner] [--from N] [--preload N]
 *                       [--pipeline-us X]
 * Prints one line: events=... batch=... seconds=... events_per_s=...
 */
#include <lmdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void
check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "lmdb_floor: %s: %s\n", what, mdb_strerror(rc));
        exit(1);
    }
}

static uint64_t rng = 88172645463325252ull;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0-100) of the n values of v, sorting v; 0 when empty. */
static double
pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* The bytes this process has had written to storage (/proc/self/io); 0 if unknown. */
static long long
written_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    long long v = 0;
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "write_bytes: %lld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Writes the n learners of users to profiles, each a record of reclen bytes of rec. */
static void
put_learners(MDB_txn *txn, MDB_dbi profiles, const uint32_t *users, size_t n, int reclen, char *rec)
{
    for (size_t j = 0; j < n; j++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "user-%u", users[j]);
        MDB_val kv = {(size_t)kl, k}, vv = {(size_t)reclen, rec};
        check(mdb_put(txn, profiles, &kv, &vv, 0), "profile put");
    }
}

/* Stores n ids in dedupe and dedupe_time (untimed), in commits of 1,000,000, then syncs. */
static void
preload_ids(MDB_env *env, MDB_dbi dedupe, MDB_dbi dedupe_time, long n)
{
    uint64_t at_be = __builtin_bswap64(1793534400u);
    for (long done = 0; done < n;) {
        MDB_txn *txn;
        check(mdb_txn_begin(env, NULL, 0, &txn), "preload begin");
        for (long end = done + 1000000 < n ? done + 1000000 : n; done < end; done++) {
            char tk[8 + 32];
            int idl = snprintf(tk + 8, sizeof tk - 8, "preload-%012ld", done);
            memcpy(tk, &at_be, 8);
            MDB_val k = {(size_t)idl, tk + 8}, v = {8, &at_be};
            MDB_val tkv = {8 + (size_t)idl, tk}, empty = {0, ""};
            check(mdb_put(txn, dedupe, &k, &v, 0), "preload put");
            check(mdb_put(txn, dedupe_time, &tkv, &empty, 0), "preload time put");
        }
        check(mdb_txn_commit(txn), "preload commit");
    }
    check(mdb_env_sync(env, 1), "preload sync");
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The fold stage of --pipeline-us: batches folded and batches committed, under one lock. */
struct stage {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long folded, committed, n_batches, batch, events, users;
    double us; /* per event */
    MDB_env *env;
    MDB_dbi profiles;
    double wait_s; /* how long the writer waited for folded batches */
};

static void *
fold_stage(void *arg)
{
    struct stage *f = arg;
    uint64_t r = 0x2545f4914f6cdd1dull;
    unsigned sink = 0;
    for (long b = 0; b < f->n_batches; b++) {
        pthread_mutex_lock(&f->mu);
        while (b > f->committed + 1) /* one batch ahead of the writer at most */
            pthread_cond_wait(&f->cv, &f->mu);
        pthread_mutex_unlock(&f->mu);
        long n = b + 1 < f->n_batches ? f->batch : f->events - b * f->batch;
        MDB_txn *rtxn;
        check(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &rtxn), "fold begin");
        double t0 = now_s();
        for (long k = 0; k < n; k++) {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            char uk[24];
            int ukl = snprintf(uk, sizeof uk, "user-%u", (unsigned)(r % (uint64_t)f->users));
            MDB_val key = {(size_t)ukl, uk}, v;
            if (mdb_get(rtxn, f->profiles, &key, &v) == 0)
                sink += ((const unsigned char *)v.mv_data)[v.mv_size / 2];
            double due = t0 + (double)(k + 1) * f->us / 1e6;
            while (now_s() < due)
                ;
        }
        mdb_txn_abort(rtxn);
        pthread_mutex_lock(&f->mu);
        f->folded = b + 1;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    return (void *)(uintptr_t)sink;
}

int
main(int argc, char **argv)
{
    long events = 1000000, users = 100000, batch = 50000, journal = 0, from = 0, preload = 0;
    double pipeline_us = 0;
    int reclen = 569, uuid = 0, no_sync = 0, first_tree = 1, sorted_writes = 0;
    double rate = 0;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-sync"))
            no_sync = 1;
        else if (!strcmp(a, "--sorted"))
            sorted_writes = 1;
        else if (v && !strcmp(a, "--events"))
            events = atol(argv[++i]);
        else if (v && !strcmp(a, "--users"))
            users = atol(argv[++i]);
        else if (v && !strcmp(a, "--batch"))
            batch = atol(argv[++i]);
        else if (v && !strcmp(a, "--reclen"))
            reclen = atoi(argv[++i]);
        else if (v && !strcmp(a, "--rate"))
            rate = atof(argv[++i]);
        else if (v && !strcmp(a, "--journal"))
            journal = atol(argv[++i]);
        else if (v && !strcmp(a, "--from"))
            from = atol(argv[++i]);
        else if (v && !strcmp(a, "--preload"))
            preload = atol(argv[++i]);
        else if (v && !strcmp(a, "--pipeline-us"))
            pipeline_us = atof(argv[++i]);
        else if (v && !strcmp(a, "--first"))
            first_tree = strcmp(argv[++i], "learner") != 0;
        else if (v && !strcmp(a, "--ids"))
            uuid = !strcmp(argv[++i], "uuid");
        else if (a[0] != '-' && !dir)
            dir = a;
        else {
            fprintf(stderr, "lmdb_floor: unknown argument %s\n", a);
            return 2;
        }
    }
    if (!dir || events < 1 || users < 1 || batch < 1 || reclen < 1 || reclen > 4000 || rate < 0 ||
        journal < 0 || from < 0 || preload < 0 || pipeline_us < 0 ||
        (pipeline_us > 0 && rate > 0)) {
        fprintf(stderr, "usage: lmdb_floor DIR [--events N] [--users N] [--batch N] "
                        "[--reclen 1..4000] [--ids bench|uuid] [--no-sync] [--rate R] "
                        "[--journal N] [--first tree|learner] [--from N] [--sorted] "
                        "[--preload N] [--pipeline-us X (not with --rate)]\n");
        return 2;
    }

    if (from) /* another stream of learners and lessons than the run before */
        rng ^= (uint64_t)from * 0x9e3779b97f4a7c15ull;
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi profiles, dedupe, dedupe_time, first, ledger, changes, jdb;
    check(mdb_env_create(&env), "env");
    check(mdb_env_set_mapsize(env, (size_t)16 << 30), "mapsize");
    check(mdb_env_set_maxdbs(env, 8), "maxdbs");
    check(mdb_env_open(env, dir,
                       MDB_NOMETASYNC | MDB_WRITEMAP | MDB_NORDAHEAD | (no_sync ? MDB_NOSYNC : 0),
                       0644),
          "open");
    check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
    check(mdb_dbi_open(txn, "profiles", MDB_CREATE, &profiles), "profiles");
    check(mdb_dbi_open(txn, "dedupe", MDB_CREATE, &dedupe), "dedupe");
    check(mdb_dbi_open(txn, "dedupe_time", MDB_CREATE, &dedupe_time), "dedupe_time");
    check(mdb_dbi_open(txn, "first", MDB_CREATE, &first), "first");
    check(mdb_dbi_open(txn, "ledger", MDB_CREATE, &ledger), "ledger");
    check(mdb_dbi_open(txn, "changes", MDB_CREATE, &changes), "changes");
    check(mdb_dbi_open(txn, "journal", MDB_CREATE, &jdb), "journal");
    check(mdb_txn_commit(txn), "commit");
    preload_ids(env, dedupe, dedupe_time, preload);
    struct rusage ru0; /* the timed run's CPU only, not the preload's */
    getrusage(RUSAGE_SELF, &ru0);

    uint32_t *seen = calloc((size_t)users, sizeof *seen);
    uint32_t *touched = malloc((size_t)batch * sizeof *touched);
    double *waits = rate > 0 ? malloc((size_t)events * sizeof *waits) : NULL;
    double *commits = malloc(((size_t)events + 1) * sizeof *commits); /* a batch: 1 event or more */
    size_t n_commits = 0;
    /* the journal: each learner's batch of first change (-1: written back), and
     * the learners waiting, in the order they first changed (a ring) */
    long *since = malloc((size_t)users * sizeof *since);
    uint32_t *waiting = malloc((size_t)users * sizeof *waiting), *wb = NULL;
    size_t w_head = 0, w_n = 0;
    char *jrec = NULL;
    if (!seen || !touched || !commits || (rate > 0 && !waits) || !since || !waiting)
        abort();
    for (long u = 0; u < users; u++)
        since[u] = -1;
    if (journal && (!(jrec = malloc((size_t)batch * (size_t)(24 + reclen))) ||
                    !(wb = malloc((size_t)users * sizeof *wb))))
        abort();
    long n_batch = 0, j_low = 0, written_back = 0;
    long long wbytes0 = written_bytes();
    uint32_t gen = 1;
    long n_touched = 0;
    static char rec[4096];
    memset(rec, 7, sizeof rec);
    struct stage fs = {.n_batches = (events + batch - 1) / batch,
                       .batch = batch,
                       .events = events,
                       .users = users,
                       .us = pipeline_us,
                       .env = env,
                       .profiles = profiles};
    pthread_t fold_thread;
    pthread_mutex_init(&fs.mu, NULL);
    pthread_cond_init(&fs.cv, NULL);
    double t0 = now_s();
    if (pipeline_us > 0 && pthread_create(&fold_thread, NULL, fold_stage, &fs) != 0)
        abort();
    long batch_end = 0; /* the open batch ends before this event */
    for (long i = 0; i < events; i++) {
        if (i == batch_end) { /* a new batch: what has arrived, at most batch */
            batch_end = i + batch < events ? i + batch : events;
            if (rate > 0) {
                double t = now_s();
                long arrived = (long)((t - t0) * rate) + 1;
                if (arrived <= i) { /* idle until the next event arrives */
                    double due = t0 + (double)i / rate;
                    usleep((useconds_t)((due - t) * 1e6) + 1);
                    t = now_s();
                    arrived = (long)((t - t0) * rate) + 1;
                }
                if (arrived < batch_end)
                    batch_end = arrived > i ? arrived : i + 1;
                for (long j = i; j < batch_end; j++) {
                    double w = t - (t0 + (double)j / rate);
                    waits[j] = w > 0 ? w : 0;
                }
            }
            if (pipeline_us > 0) { /* this batch must have been folded */
                double w0 = now_s();
                pthread_mutex_lock(&fs.mu);
                while (fs.folded <= n_batch)
                    pthread_cond_wait(&fs.cv, &fs.mu);
                pthread_mutex_unlock(&fs.mu);
                fs.wait_s += now_s() - w0;
            }
            check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
        }
        uint32_t u = (uint32_t)(next_rand() % (uint64_t)users);
        char uk[24];
        int ukl = snprintf(uk, sizeof uk, "user-%u", u);
        if (seen[u] != gen) {
            seen[u] = gen;
            touched[n_touched++] = u;
            if (since[u] < 0) { /* not held by the journal: read it */
                MDB_val k = {(size_t)ukl, uk}, v;
                int rc = mdb_get(txn, profiles, &k, &v);
                if (rc != MDB_NOTFOUND)
                    check(rc, "profile get");
                if (!rc)
                    rec[0] ^= ((const char *)v.mv_data)[v.mv_size / 2];
            }
        }
        /* the event id, in the dedupe tree and in its time index */
        char id[48];
        int idl;
        if (uuid) {
            uint64_t a = next_rand(), b = next_rand();
            idl = snprintf(id, sizeof id, "%08x-%04x-%04x-%04x-%012llx", (unsigned)a,
                           (unsigned)(a >> 32) & 0xffff, (unsigned)(a >> 48), (unsigned)b & 0xffff,
                           (unsigned long long)(b >> 16) & 0xffffffffffffull);
        } else {
            idl = snprintf(id, sizeof id, "g42-%ld", from + i);
        }
        uint64_t at = (uint64_t)(1793534400 + (from + i) / 20), at_be = __builtin_bswap64(at);
        MDB_val k = {(size_t)idl, id}, v = {8, &at_be};
        check(mdb_put(txn, dedupe, &k, &v, MDB_NOOVERWRITE), "dedupe put");
        char tk[56];
        memcpy(tk, &at_be, 8);
        memcpy(tk + 8, id, (size_t)idl);
        MDB_val tkv = {8 + (size_t)idl, tk}, empty = {0, ""};
        check(mdb_put(txn, dedupe_time, &tkv, &empty, 0), "dedupe_time put");
        if (next_rand() % 10 != 0 && first_tree) { /* a lesson: its first-completion key */
            char fk[48];
            int fl = snprintf(fk, sizeof fk, "%s/lesson-%u", uk, (unsigned)(next_rand() % 100));
            MDB_val fkv = {(size_t)fl, fk}, fv = {8, &at_be};
            int rc = mdb_put(txn, first, &fkv, &fv, MDB_NOOVERWRITE);
            if (rc != MDB_KEYEXIST)
                check(rc, "first put");
        }
        uint64_t seq = __builtin_bswap64((uint64_t)(from + i));
        MDB_val sk = {8, &seq}, lv = {48, rec}, cv = {64, rec};
        check(mdb_put(txn, ledger, &sk, &lv, MDB_APPEND), "ledger put");
        check(mdb_put(txn, changes, &sk, &cv, MDB_APPEND), "changes put");
        if (i + 1 == batch_end && !journal) {
            if (sorted_writes)
                qsort(touched, (size_t)n_touched, sizeof *touched, cmp_u32);
            put_learners(txn, profiles, touched, (size_t)n_touched, reclen, rec);
        } else if (i + 1 == batch_end) {
            /* one journal record: every learner the batch changed */
            size_t jl = 0;
            for (long j = 0; j < n_touched; j++) {
                uint32_t tu = touched[j];
                jl += (size_t)snprintf(jrec + jl, 24, "user-%u", tu) + 1;
                memcpy(jrec + jl, rec, (size_t)reclen);
                jl += (size_t)reclen;
                if (since[tu] < 0) {
                    since[tu] = n_batch;
                    waiting[(w_head + w_n++) % (size_t)users] = tu;
                }
            }
            uint64_t jk = __builtin_bswap64((uint64_t)n_batch);
            MDB_val jkv = {8, &jk}, jv = {jl, jrec};
            check(mdb_put(txn, jdb, &jkv, &jv, MDB_APPEND), "journal put");
            /* write back the learners waiting for journal batches, in key order */
            size_t n_wb = 0;
            while (w_n && since[waiting[w_head]] <= n_batch - journal) {
                wb[n_wb++] = waiting[w_head];
                since[waiting[w_head]] = -1;
                w_head = (w_head + 1) % (size_t)users;
                w_n--;
            }
            qsort(wb, n_wb, sizeof *wb, cmp_u32);
            put_learners(txn, profiles, wb, n_wb, reclen, rec);
            written_back += (long)n_wb;
            /* journal records older than every waiting learner are not needed */
            long keep = w_n ? since[waiting[w_head]] : n_batch + 1;
            for (; j_low < keep; j_low++) {
                uint64_t dk = __builtin_bswap64((uint64_t)j_low);
                MDB_val dkv = {8, &dk};
                int rc = mdb_del(txn, jdb, &dkv, NULL);
                if (rc != MDB_NOTFOUND)
                    check(rc, "journal del");
            }
        }
        if (i + 1 == batch_end) {
            n_batch++;
            n_touched = 0;
            gen++;
            double c0 = now_s();
            check(mdb_txn_commit(txn), "commit");
            commits[n_commits++] = now_s() - c0;
            if (pipeline_us > 0) {
                pthread_mutex_lock(&fs.mu);
                fs.committed = n_batch;
                pthread_cond_broadcast(&fs.cv);
                pthread_mutex_unlock(&fs.mu);
            }
        }
    }
    double sec = now_s() - t0;
    if (pipeline_us > 0)
        pthread_join(fold_thread, NULL);
    long long wbytes = written_bytes() - wbytes0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("events=%ld users=%ld batch=%ld reclen=%d ids=%s preload=%ld sync=%s seconds=%.2f "
           "events_per_s=%.0f user_s=%.2f sys_s=%.2f ",
           events, users, batch, reclen, uuid ? "uuid" : "bench", preload, no_sync ? "no" : "yes",
           sec, (double)events / sec,
           (double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (double)(ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6,
           (double)(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6);
    size_t nc = n_commits;
    double c50 = pct(commits, nc, 50), c99 = pct(commits, nc, 99), cmax = pct(commits, nc, 100);
    printf("disk_bytes_per_event=%.0f journal=%ld written_back=%ld first=%s ",
           (double)wbytes / events, journal, written_back, first_tree ? "tree" : "learner");
    if (pipeline_us > 0)
        printf("pipeline_us=%.2f fold_wait_s=%.2f ", pipeline_us, fs.wait_s);
    printf("commits=%zu commit_ms_p50=%.2f commit_ms_p99=%.2f commit_ms_max=%.2f", nc, c50 * 1e3,
           c99 * 1e3, cmax * 1e3);
    if (rate > 0) {
        double w50 = pct(waits, (size_t)events, 50), w99 = pct(waits, (size_t)events, 99);
        double wmax = pct(waits, (size_t)events, 100);
        printf(" rate=%.0f wait_ms_p50=%.2f wait_ms_p99=%.2f wait_ms_max=%.2f", rate, w50 * 1e3,
               w99 * 1e3, wmax * 1e3);
    }
    printf("\n");
    free(waits);
    free(commits);
    mdb_env_close(env);
    free(seen);
    free(touched);
    free(since);
    free(waiting);
    free(wb);
    free(jrec);
    return 0;
}
