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
 *   meta         name -> value (offset, sequence counters, newest time)
 *
 * A batch is one write transaction. Every record of the batch is kept until
 * commit, so that when LMDB's map fills up the batch can be aborted, the map
 * doubled and the batch applied again from its first record.
 */
#include "store.h"

#include "codec.h"
#include "fold.h"
#include "json.h"
#include "log.h"
#include "state.pb-c.h"
#include "timefmt.h"
#include "tz.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
};

struct pending {
    uint8_t *data;
    size_t len;
    bool json;
    uint64_t offset;
    int64_t append_ms; /* the log's append time; 0: not recorded */
    int64_t event_ms;  /* occurred_at in milliseconds; 0 until decoded */
};

struct gm_store {
    MDB_env *env;
    MDB_dbi profiles, first, dedupe, dedupe_time, redemptions, stock, ledger, changes, deadletters,
        rules_db, meta_db;
    MDB_txn *txn;
    struct gm_store_opts opts;
    size_t map_size;
    struct meta meta, meta_committed;
    struct gm_rules *rules, *rules_committed;
    struct pending *pend;
    size_t n_pend, cap_pend;
    struct gm_store_stats stats, stats_at_begin;
    int64_t *batch_ms; /* event times of the last committed batch */
    size_t n_batch_ms, cap_batch_ms;
    struct gm_fold_out fo;
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

/* ---- meta ---- */

static const char *const meta_names[] = {"offset",     "newest_time", "ledger_seq",
                                         "change_seq", "dl_seq",      "red_seq",
                                         "rules_seq",  "week_index",  "month_index"};

static int64_t *
meta_slot(struct meta *m, size_t i)
{
    int64_t *slots[] = {(int64_t *)&m->offset, &m->newest_time, &m->ledger_seq,
                        &m->change_seq,        &m->dl_seq,      &m->red_seq,
                        &m->rules_seq,         &m->week_index,  &m->month_index};
    return slots[i];
}

static int
meta_load(struct gm_store *s, MDB_txn *txn, struct meta *m)
{
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < sizeof meta_names / sizeof meta_names[0]; i++) {
        MDB_val k = {strlen(meta_names[i]), (void *)meta_names[i]}, v;
        int rc = mdb_get(txn, s->meta_db, &k, &v);
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc)
            return rc;
        if (v.mv_size != 8)
            return MDB_CORRUPTED;
        *meta_slot(m, i) = (int64_t)get_be64(v.mv_data);
        if (i == 1)
            m->has_newest = true;
        if (i == 7)
            m->has_periods = true;
    }
    return 0;
}

static int
meta_save(struct gm_store *s)
{
    for (size_t i = 0; i < sizeof meta_names / sizeof meta_names[0]; i++) {
        if ((i == 1 && !s->meta.has_newest) || ((i == 7 || i == 8) && !s->meta.has_periods))
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

/* ---- open / close ---- */

int
gm_store_open(const char *dir, const struct gm_store_opts *opts, struct gm_store **out,
              struct gm_err *err)
{
    *out = NULL;
    struct gm_store *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    if (opts)
        s->opts = *opts;
    if (s->opts.dedupe_window_s <= 0)
        s->opts.dedupe_window_s = GM_STORE_DEFAULT_WINDOW;
    if (s->opts.future_skew_s == 0)
        s->opts.future_skew_s = GM_STORE_DEFAULT_SKEW;
    s->map_size = s->opts.map_size ? s->opts.map_size : DEFAULT_MAP_SIZE;
    gm_fold_out_init(&s->fo);

    int rc;
    MDB_txn *txn = NULL;
    if (mkdir(dir, 0755) && errno != EEXIST) {
        rc = -errno;
        gm_err_set(err, rc, "cannot create state directory %s: %s", dir, strerror(errno));
        goto fail;
    }
    if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 16)) ||
        (rc = mdb_env_set_mapsize(s->env, s->map_size))) {
        rc = lmdb_error(err, rc, "environment");
        goto fail;
    }
    /* MDB_NOMETASYNC: one fsync per commit instead of two. A machine crash
     * may then undo the last committed batch, never corrupt the state; the
     * batch's offset goes back with it, so the next run folds it again from
     * the log. gm_store_close syncs, so a clean stop loses nothing. */
    unsigned flags = MDB_NORDAHEAD | MDB_NOMETASYNC | (s->opts.no_sync ? MDB_NOSYNC : 0);
    if ((rc = mdb_env_open(s->env, dir, flags, 0644))) {
        gm_err_set(err, GM_EDB, "cannot open state in %s: %s", dir, mdb_strerror(rc));
        rc = GM_EDB;
        goto fail;
    }
    /* Another process may have grown the map: adopt its size. */
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    if (info.me_mapsize > s->map_size)
        s->map_size = info.me_mapsize;

    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn))) {
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
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        if ((rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbs[i].dbi))) {
            rc = lmdb_error(err, rc, dbs[i].name);
            goto fail;
        }
    }
    if ((rc = meta_load(s, txn, &s->meta))) {
        rc = lmdb_error(err, rc, "meta");
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
        if (!s->opts.no_sync)
            mdb_env_sync(s->env, 1);
        mdb_env_close(s->env);
    }
    gm_rules_free(s->rules);
    free(s->pend);
    free(s->batch_ms);
    gm_fold_out_deinit(&s->fo);
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

/* ---- batches ---- */

int
gm_store_begin(struct gm_store *s, struct gm_err *err)
{
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is already open");
    int rc = mdb_txn_begin(s->env, NULL, 0, &s->txn);
    if (rc) {
        s->txn = NULL;
        return lmdb_error(err, rc, "begin");
    }
    s->meta = s->meta_committed;
    s->stats_at_begin = s->stats;
    s->n_pend = 0;
    return 0;
}

static void
free_pending(struct gm_store *s)
{
    for (size_t i = 0; i < s->n_pend; i++)
        free(s->pend[i].data);
    s->n_pend = 0;
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
        return rc;
    s->meta.dl_seq++;
    s->stats.dead_letters++;
    gm_log(GM_LOG_WARN, "dead letter at offset %llu: %s: %s", (unsigned long long)rec->offset,
           reason, detail);
    return 0;
}

/* ---- dedupe window ---- */

/* Deletes dedupe ids older than the window behind the newest event time. */
static int
prune_dedupe(struct gm_store *s)
{
    int64_t edge = s->meta.newest_time - s->opts.dedupe_window_s;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->dedupe_time, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size < 8 || (int64_t)get_be64(k.mv_data) >= edge)
            break;
        MDB_val id = {k.mv_size - 8, (uint8_t *)k.mv_data + 8};
        if ((rc = mdb_del(s->txn, s->dedupe, &id, NULL)) && rc != MDB_NOTFOUND)
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- leaderboard periods ---- */

/* The index of a period key: weeks or months since 1970, -1 for "all". */
static int
period_index(const char *p, size_t len, bool *weekly, int64_t *index)
{
    char buf[GM_PERIOD_KEY_MAX];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, p, len);
    buf[len] = '\0';
    int y, n;
    char w;
    if (sscanf(buf, "%d-%c%d", &y, &w, &n) == 3 && w == 'W') {
        int64_t jan4 = gm_days_from_civil(y, 1, 4);
        int64_t wd = ((jan4 % 7) + 7 + 3) % 7;
        int64_t monday = jan4 - wd + (int64_t)(n - 1) * 7;
        *weekly = true;
        *index = (monday + 3) / 7;
        return 0;
    }
    if (sscanf(buf, "%d-%d", &y, &n) == 2) {
        *weekly = false;
        *index = (int64_t)(y - 1970) * 12 + (n - 1);
        return 0;
    }
    return -1;
}

/* One entry of a learner's packed scores; pointers into the buffer. */
struct score_entry {
    const char *board, *period;
    size_t board_len, period_len;
};

/* Reads the entry at p (len bytes left); returns its size, 0 if malformed. */
static size_t
score_next(const uint8_t *p, size_t len, struct score_entry *e)
{
    if (len < 1 || len < 1 + (size_t)p[0] + 1)
        return 0;
    e->board_len = p[0];
    e->board = (const char *)p + 1;
    size_t at = 1 + e->board_len;
    e->period_len = p[at];
    e->period = (const char *)p + at + 1;
    at += 1 + e->period_len;
    return len < at + 8 ? 0 : at + 8;
}

static bool
period_expired(const struct gm_store *s, const char *period)
{
    bool weekly;
    int64_t idx;
    if (period_index(period, strlen(period), &weekly, &idx))
        return false; /* "all" */
    return weekly ? idx < s->meta.week_index - s->rules->keep_weeks
                  : idx < s->meta.month_index - s->rules->keep_months;
}

/*
 * Drops finished periods past keep_weeks / keep_months from every learner;
 * the names of the periods dropped are added to *names (new strings).
 */
static int
prune_periods(struct gm_store *s, char ***names, size_t *n_names)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(s->txn, s->profiles, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
        Gamify__Internal__UserState *st =
            gamify__internal__user_state__unpack(NULL, v.mv_size, v.mv_data);
        if (!st) {
            rc = MDB_CORRUPTED;
            break;
        }
        ProtobufCBinaryData *sp = &st->scores_packed;
        size_t w = 0;
        bool changed = false;
        for (size_t r = 0; r < sp->len;) {
            struct score_entry e;
            size_t n = score_next(sp->data + r, sp->len - r, &e);
            if (!n) {
                rc = MDB_CORRUPTED;
                break;
            }
            char period[GM_PERIOD_KEY_MAX];
            snprintf(period, sizeof period, "%.*s", (int)e.period_len, e.period);
            if (period_expired(s, period)) {
                bool known = false;
                for (size_t j = 0; j < *n_names && !known; j++)
                    known = strcmp((*names)[j], period) == 0;
                if (!known) {
                    *names = realloc(*names, (*n_names + 1) * sizeof **names);
                    (*names)[(*n_names)++] = strdup(period);
                }
                changed = true;
            } else {
                memmove(sp->data + w, sp->data + r, n);
                w += n;
            }
            r += n;
        }
        if (rc == 0 && changed) {
            sp->len = w;
            MDB_val key = k;
            rc = put_msg(s->txn, s->profiles, &key, &st->base, MDB_CURRENT);
        }
        gamify__internal__user_state__free_unpacked(st, NULL);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Called when the newest event time moved forward. */
static int
advance_periods(struct gm_store *s)
{
    if (!s->rules)
        return 0;
    const struct gm_tz *tz;
    if (gm_tz_get(s->rules->timezone, &tz, NULL))
        return 0;
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
    int64_t wi, mi;
    gm_fold_periods(gm_tz_local_day(tz, s->meta.newest_time), week, month, &wi, &mi);
    if (s->meta.has_periods && wi <= s->meta.week_index && mi <= s->meta.month_index)
        return 0;
    s->meta.has_periods = true;
    s->meta.week_index = wi > s->meta.week_index ? wi : s->meta.week_index;
    s->meta.month_index = mi > s->meta.month_index ? mi : s->meta.month_index;

    Gamify__Internal__Change ch = GAMIFY__INTERNAL__CHANGE__INIT;
    char **names = NULL;
    size_t n = 0;
    int rc = prune_periods(s, &names, &n);
    ch.pruned_periods = names;
    ch.n_pruned_periods = n;
    if (rc == 0 && n > 0) {
        ch.seq = s->meta.change_seq;
        ch.occurred_at = s->meta.newest_time;
        if ((rc = put_seq_msg(s, s->changes, s->meta.change_seq, &ch.base)) == 0)
            s->meta.change_seq++;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
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

/* The outbound events of one fold, as messages; free with free_outbound. */
struct outbound_set {
    Gamification__V1__OutboundEvent **items;
    size_t n;
    Google__Protobuf__Timestamp ts;
};

static void
build_outbound(const Gamification__V1__Event *ev, const struct gm_fold_out *fo,
               struct outbound_set *set)
{
    google__protobuf__timestamp__init(&set->ts);
    set->ts.seconds = ev->occurred_at->seconds;
    set->ts.nanos = ev->occurred_at->nanos;
    set->n = fo->n_outbound;
    set->items = calloc(fo->n_outbound ? fo->n_outbound : 1, sizeof *set->items);
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
        } *b = calloc(1, sizeof *b);
        if (!b)
            abort();
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
            snprintf(b->id, sizeof b->id, "%s:%s:%lld", ev->event_id, suffix, (long long)o->a);
            break;
        case GM_OUT_BADGE_EARNED:
            gamification__v1__badge_earned__init(&b->be);
            b->be.badge_id = (char *)o->id;
            b->be.name = (char *)o->name;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED;
            b->oev.badge_earned = &b->be;
            snprintf(b->id, sizeof b->id, "%s:%s:%s", ev->event_id, suffix, o->id);
            break;
        case GM_OUT_STREAK_UPDATED:
            gamification__v1__streak_updated__init(&b->su);
            b->su.current_streak = (int32_t)o->a;
            b->su.longest_streak = (int32_t)o->b;
            b->su.freezes_used = (int32_t)o->c;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED;
            b->oev.streak_updated = &b->su;
            snprintf(b->id, sizeof b->id, "%s:%s", ev->event_id, suffix);
            break;
        case GM_OUT_REWARD_REDEEMED:
            gamification__v1__reward_redeemed__init(&b->rr);
            b->rr.redemption_id = (char *)o->id;
            b->rr.reward_id = (char *)o->name;
            b->rr.cost = (int32_t)o->a;
            b->rr.coins_after = o->b;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED;
            b->oev.reward_redeemed = &b->rr;
            snprintf(b->id, sizeof b->id, "%s:%s", ev->event_id, suffix);
            break;
        case GM_OUT_REDEMPTION_REJECTED:
            gamification__v1__redemption_rejected__init(&b->rj);
            b->rj.redemption_id = (char *)o->id;
            b->rj.reward_id = (char *)o->name;
            b->rj.reason = (Gamification__V1__RejectionReason)o->a;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED;
            b->oev.redemption_rejected = &b->rj;
            snprintf(b->id, sizeof b->id, "%s:%s", ev->event_id, suffix);
            break;
        }
        set->items[i] = &b->oev;
    }
}

static void
free_outbound(struct outbound_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->items[i]); /* the envelope is the first member of its block */
    free(set->items);
}

/*
 * Adds delta to the learner's (board, period) score in its packed scores
 * (see state.proto) and returns the new score.
 */
static int64_t
add_score(Gamify__Internal__UserState *st, const char *board, const char *period, int64_t delta)
{
    ProtobufCBinaryData *sp = &st->scores_packed;
    size_t blen = strlen(board), plen = strlen(period);
    for (size_t r = 0; r < sp->len;) {
        struct score_entry e;
        size_t n = score_next(sp->data + r, sp->len - r, &e);
        if (!n)
            break; /* a corrupt tail is replaced by the new entry below */
        if (e.board_len == blen && e.period_len == plen && memcmp(e.board, board, blen) == 0 &&
            memcmp(e.period, period, plen) == 0) {
            int64_t score = (int64_t)get_be64(sp->data + r + n - 8) + delta;
            put_be64(sp->data + r + n - 8, (uint64_t)score);
            return score;
        }
        r += n;
    }
    size_t add = 1 + blen + 1 + plen + 8;
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

    /* the learner */
    MDB_val uk = {strlen(ev->user_id), ev->user_id}, v;
    rc = mdb_get(s->txn, s->profiles, &uk, &v);
    if (rc == 0) {
        st = gamify__internal__user_state__unpack(NULL, v.mv_size, v.mv_data);
        if (!st) {
            rc = MDB_CORRUPTED;
            goto out;
        }
    } else if (rc == MDB_NOTFOUND) {
        st = malloc(sizeof *st);
        if (!st)
            abort();
        gamify__internal__user_state__init(st);
        st->user_id = strdup(ev->user_id);
        st->level = 1;
    } else {
        goto out;
    }

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
        if (rc && rc != MDB_KEYEXIST)
            goto out;
        in.first_time = rc == 0;
        first_inserted = in.first_time;
    } else if (ev->body_case == GAMIFICATION__V1__EVENT__BODY_REDEEM_REWARD) {
        fk.mv_size = join_key(kb, sizeof kb, ev->user_id, ev->redeem_reward->redemption_id, NULL);
        rc = mdb_get(s->txn, s->redemptions, &fk, &v);
        if (rc == 0) {
            prior = gamify__internal__redemption__unpack(NULL, v.mv_size, v.mv_data);
            if (!prior) {
                rc = MDB_CORRUPTED;
                goto out;
            }
        } else if (rc != MDB_NOTFOUND) {
            goto out;
        }
        in.prior = prior;
        MDB_val sk = {strlen(ev->redeem_reward->reward_id), ev->redeem_reward->reward_id};
        rc = mdb_get(s->txn, s->stock, &sk, &v);
        if (rc == 0 && v.mv_size == 8)
            in.stock_used = (int64_t)get_be64(v.mv_data);
        else if (rc && rc != MDB_NOTFOUND)
            goto out;
    }

    rc = gm_fold_apply(&in, st, fo);
    if (first_inserted && (rc || fo->rejected || !fo->mark_first)) {
        int drc = mdb_del(s->txn, s->first, &fk, NULL);
        if (drc) {
            rc = drc;
            goto out;
        }
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
        if ((rc = put_msg(s->txn, s->redemptions, &fk, &fo->new_redemption.base, 0)))
            goto out;
        s->meta.red_seq++;
    }
    if (fo->stock_taken) {
        uint8_t vb[8];
        put_be64(vb, (uint64_t)(in.stock_used + 1));
        MDB_val sk = {strlen(ev->redeem_reward->reward_id), ev->redeem_reward->reward_id},
                sv = {8, vb};
        if ((rc = mdb_put(s->txn, s->stock, &sk, &sv, 0)))
            goto out;
    }

    size_t n_scores = 0;
    if (fo->boards) {
        const char *periods[3];
        size_t n_periods = 0;
        if (s->rules->period_all_time)
            periods[n_periods++] = "all";
        if (fo->week[0] &&
            !(s->meta.has_periods && fo->week_index < s->meta.week_index - s->rules->keep_weeks))
            periods[n_periods++] = fo->week;
        if (fo->month[0] &&
            !(s->meta.has_periods && fo->month_index < s->meta.month_index - s->rules->keep_months))
            periods[n_periods++] = fo->month;
        for (size_t b = 0; b <= fo->n_groups; b++) {
            const char *board = b == 0 ? "global" : fo->groups[b - 1];
            for (size_t p = 0; p < n_periods; p++) {
                Gamify__Internal__BoardScore *bs = &scores[n_scores];
                gamify__internal__board_score__init(bs);
                bs->board = (char *)board;
                bs->period = (char *)periods[p];
                bs->score = add_score(st, board, periods[p], fo->board_delta);
                score_ptrs[n_scores++] = bs;
            }
        }
    }

    int64_t ledger_first = s->meta.ledger_seq;
    if (fo->n_ledger) {
        ledger = calloc(fo->n_ledger, sizeof *ledger);
        ledger_ptrs = calloc(fo->n_ledger, sizeof *ledger_ptrs);
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
            if ((rc = put_seq_msg(s, s->ledger, s->meta.ledger_seq, &e->base)))
                goto out;
            s->meta.ledger_seq++;
            ledger_ptrs[i] = e;
        }
    }

    if (fo->touched || n_scores) {
        if ((rc = put_msg(s->txn, s->profiles, &uk, &st->base, 0)))
            goto out;
    }

    if (fo->touched || fo->redemption || n_scores) {
        build_outbound(ev, fo, &obs);
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
        if ((rc = put_seq_msg(s, s->changes, s->meta.change_seq, &ch.base)))
            goto out;
        s->meta.change_seq++;
    }
    rc = 0;
out:
    free_outbound(&obs);
    free(ledger);
    free(ledger_ptrs);
    if (prior)
        gamify__internal__redemption__free_unpacked(prior, NULL);
    if (st)
        gamify__internal__user_state__free_unpacked(st, NULL);
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
        return rc;
    }
    if (s->rules != s->rules_committed)
        gm_rules_free(s->rules);
    s->rules = r;
    s->stats.rules_published++;
    gm_log(GM_LOG_INFO, "rules published by %s at offset %llu (event %s)", ev->user_id,
           (unsigned long long)rec->offset, ev->event_id);
    return 0;
}

/* Applies one record; returns 0 or an LMDB code (MDB_MAP_FULL included). */
static int
apply_one(struct gm_store *s, const struct pending *rec)
{
    Gamification__V1__Event *ev = NULL;
    struct gm_err e;
    gm_err_clear(&e);
    int rc = rec->json ? gm_event_from_json((const char *)rec->data, rec->len, &ev, &e)
                       : gm_event_decode(rec->data, rec->len, &ev, &e);
    if (rc)
        return dead_letter(s, rec, rc == GM_EINVAL ? "INVALID" : "DECODE", e.msg, NULL);

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
        s->stats.duplicates++;
        rc = 0;
        goto out;
    }
    if (rc)
        goto out;
    uint8_t tk[8 + GM_ID_MAX];
    memcpy(tk, tb, 8);
    memcpy(tk + 8, ev->event_id, idk.mv_size);
    MDB_val tkv = {8 + idk.mv_size, tk}, empty = {0, ""};
    if ((rc = mdb_put(s->txn, s->dedupe_time, &tkv, &empty, 0)))
        goto out;

    if (is_rules)
        rc = publish_rules(s, rec, ev);
    else
        rc = fold_event(s, rec, ev);
    if (rc)
        goto out;

    if (!s->meta.has_newest || t > s->meta.newest_time) {
        /* Prune and roll periods when the newest time crosses a 15-minute
         * mark (every zone offset is a multiple of 15 minutes, so no local
         * midnight is missed): a function of the events alone. */
        bool cross = !s->meta.has_newest || t / 900 != s->meta.newest_time / 900;
        s->meta.has_newest = true;
        s->meta.newest_time = t;
        if (cross && ((rc = prune_dedupe(s)) || (rc = advance_periods(s))))
            goto out;
    }
out:
    gm_event_free(ev);
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
        int rc = mdb_env_set_mapsize(s->env, s->map_size);
        if (rc)
            return lmdb_error(err, rc, "resize");
        gm_log(GM_LOG_INFO, "LMDB map grown to %zu MiB", s->map_size >> 20);
        if ((rc = mdb_txn_begin(s->env, NULL, 0, &s->txn))) {
            s->txn = NULL;
            return lmdb_error(err, rc, "begin");
        }
        for (size_t i = 0; i < s->n_pend && rc == 0; i++)
            rc = apply_one(s, &s->pend[i]);
        if (rc == MDB_MAP_FULL)
            continue;
        if (rc)
            return lmdb_error(err, rc, "apply");
        return 0;
    }
}

int
gm_store_apply(struct gm_store *s, const uint8_t *data, size_t len, bool json, uint64_t offset,
               int64_t append_ms, struct gm_err *err)
{
    if (!s->txn)
        return gm_err_set(err, GM_EINVAL, "no batch open");
    if (s->n_pend == s->cap_pend) {
        s->cap_pend = s->cap_pend ? s->cap_pend * 2 : 256;
        s->pend = realloc(s->pend, s->cap_pend * sizeof *s->pend);
        if (!s->pend)
            abort();
    }
    struct pending *p = &s->pend[s->n_pend++];
    p->data = malloc(len ? len : 1);
    if (!p->data)
        abort();
    memcpy(p->data, data, len);
    p->len = len;
    p->json = json;
    p->offset = offset;
    p->append_ms = append_ms;
    p->event_ms = 0;
    int rc = apply_one(s, p);
    if (rc == MDB_MAP_FULL)
        return grow_and_replay(s, err);
    if (rc)
        return lmdb_error(err, rc, "apply");
    return 0;
}

int
gm_store_dead_letter(struct gm_store *s, const uint8_t *data, size_t len, bool json,
                     uint64_t offset, const char *reason, const char *detail, struct gm_err *err)
{
    if (!s->txn)
        return gm_err_set(err, GM_EINVAL, "no batch open");
    struct pending p = {.data = (uint8_t *)data, .len = len, .json = json, .offset = offset};
    int rc = dead_letter(s, &p, reason, detail, NULL);
    if (rc)
        return lmdb_error(err, rc, "dead letter");
    return 0;
}

int
gm_store_commit(struct gm_store *s, uint64_t next_offset, struct gm_err *err)
{
    if (!s->txn)
        return gm_err_set(err, GM_EINVAL, "no batch open");
    for (;;) {
        s->meta.offset = next_offset;
        int rc = meta_save(s);
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
            return lmdb_error(err, rc, "meta");
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
        if ((rc = mdb_env_set_mapsize(s->env, s->map_size)))
            return lmdb_error(err, rc, "resize");
    }
    return 0;
}

/* ---- projector cursors and the change feed ---- */

static size_t
cursor_key(char *buf, size_t cap, const char *name)
{
    int n = snprintf(buf, cap, "cursor:%s", name);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

int
gm_store_cursor_get(struct gm_store *s, const char *name, int64_t *seq)
{
    char kb[128];
    MDB_val k = {cursor_key(kb, sizeof kb, name), kb}, v;
    MDB_txn *txn;
    *seq = 0;
    if (!k.mv_size || mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return GM_EDB;
    int rc = mdb_get(txn, s->meta_db, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        *seq = (int64_t)get_be64(v.mv_data);
    mdb_txn_abort(txn);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : GM_EDB;
}

int
gm_store_cursor_set(struct gm_store *s, const char *name, int64_t seq, struct gm_err *err)
{
    if (s->txn)
        return gm_err_set(err, GM_EINVAL, "a batch is open");
    char kb[128];
    uint8_t vb[8];
    put_be64(vb, (uint64_t)seq);
    MDB_val k = {cursor_key(kb, sizeof kb, name), kb}, v = {8, vb};
    if (!k.mv_size)
        return gm_err_set(err, GM_EINVAL, "cursor name too long");
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
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
gm_store_outbound_foreach(struct gm_store *s, int64_t *seq,
                          int (*fn)(void *ctx, const Gamification__V1__OutboundEvent *oev),
                          void *ctx)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
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
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0 && result == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
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

static int
dump_one(struct gm_store *s, MDB_txn *txn, FILE *to, const MDB_val *v)
{
    Gamify__Internal__UserState *st =
        gamify__internal__user_state__unpack(NULL, v->mv_size, v->mv_data);
    if (!st)
        return GM_ECORRUPT;
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
    json_object_set_new(o, "timezone", json_string(st->timezone));
    json_object_set_new(o, "leaderboardOptOut", json_boolean(st->opt_out));
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
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return GM_EDB;
    MDB_val k, v;
    if (user) {
        k.mv_size = strlen(user);
        k.mv_data = (void *)user;
        rc = mdb_get(txn, s->profiles, &k, &v);
        rc = rc == 0 ? dump_one(s, txn, to, &v) : rc == MDB_NOTFOUND ? GM_ENOTFOUND : GM_EDB;
    } else {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, s->profiles, &cur)) == 0) {
            while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
                if ((rc = dump_one(s, txn, to, &v)))
                    break;
            }
            mdb_cursor_close(cur);
            rc = rc == MDB_NOTFOUND ? 0 : rc < 0 ? rc : GM_EDB;
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
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return GM_EDB;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    /* Offsets, the change feed and dead letters depend on the log's format
     * and on the projectors, not on what the events mean: left out. */
    struct {
        const char *name;
        MDB_dbi dbi;
    } dbs[] = {
        {"profiles", s->profiles},       {"first", s->first}, {"dedupe", s->dedupe},
        {"redemptions", s->redemptions}, {"stock", s->stock}, {"ledger", s->ledger},
        {"rules", s->rules_db},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && rc == 0; i++) {
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
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
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
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
            if (rc == 0)
                continue;
            if (rc != EINVAL && rc != MDB_NOTFOUND)
                break;
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
gm_store_dlq_list(struct gm_store *s, FILE *to)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
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
        json_object_set_new(o, "seq", json_integer(dl->seq));
        json_object_set_new(o, "offset", json_integer((json_int_t)dl->offset));
        json_object_set_new(o, "reason", json_string(dl->reason));
        json_object_set_new(o, "detail", json_string(dl->detail));
        json_object_set_new(o, "eventId", json_string(dl->event_id));
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
