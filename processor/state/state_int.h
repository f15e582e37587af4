/*
 * state_int.h: what the files of processor/state/ share and nothing outside
 * reads: the state's struct, the meta values, the records of a batch, the
 * byte helpers and packed-score codec (inline: they are on every event's
 * path), and the gm__ functions one file calls in another.
 *
 * One environment, named databases:
 *
 *   profiles     user_id -> UserState (with the learner's leaderboard scores)
 *   first        user_id NUL ('L'|'T') activity id -> "" (first completions)
 *   dedupe       event_id -> be64 occurred_at
 *   dedupe_time  be64 occurred_at event_id -> ""  (to prune by event time)
 *   redemptions  user_id NUL redemption_id -> Redemption
 *   stock        reward_id -> be64 completed redemptions
 *   ledger       be64 seq -> LedgerEntry
 *   changes      be64 seq -> a change record (changefmt.h; the projectors' feed)
 *   deadletters  be64 seq -> DeadLetter
 *   rules        be64 seq -> rules YAML, in publication order
 *   expiry       'W'|'M' be64 period index user_id -> ""  (who holds a score
 *                in a week or month: the queue of period pruning)
 *   meta         name -> value (offset, sequence counters, newest time)
 *   journal      be64 key -> the learners one commit changed, packed (held.h:
 *                write-behind learners; their newest copy until written back)
 *
 * Errors: LMDB's codes never leave this folder. Internal steps return 0,
 * MDB_MAP_FULL (the batch is applied again in a bigger map), an LMDB code
 * noted with what failed (gm__db_fail), or one of ours noted with its
 * message (gm__fail); gm_state_apply and friends turn the note into the
 * caller's struct gm_err (gm__report).
 */
#ifndef GM_STATE_INT_H
#define GM_STATE_INT_H

#include "state.h"

#include "arena.h"
#include "changefmt.h"
#include "feed.h"
#include "fold.h"
#include "encode.h"
#include "held.h"
#include "learners.h"
#include "state.pb-c.h"
#include "usercodec.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The initial map size when gm_state_opts gives none; it grows by itself. */
#define DEFAULT_MAP_SIZE ((size_t)1 << 30)

/* The meta values (meta.c), as read at begin and changed by the batch. */
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
    int64_t newest_nanos;   /* the nanoseconds of newest_time (0 in older states) */
};

/* One record of the open batch, kept until commit (batch.c). */
struct pending {
    uint8_t *data; /* in the batch arena */
    size_t len;
    bool json;
    uint64_t offset;
    char *dl_reason, *dl_detail; /* a record the caller dead-lettered itself */
    int64_t append_ms;           /* the log's append time; 0: not recorded */
    int64_t event_ms;            /* occurred_at in milliseconds; 0 until decoded */
};

struct gm_state {
    MDB_env *env;
    MDB_dbi profiles, first, dedupe, dedupe_time, redemptions, stock, ledger, changes, deadletters,
        rules_db, meta_db, expiry, journal;
    bool read_only;
    bool dlq_only;    /* beside a writer: dead letters may only be removed */
    bool has_expiry;  /* read-only opens of old states may lack the database */
    bool has_journal; /* the same */
    char what_if[65]; /* a what-if state: the SHA-256 (hex) of its rules; "" otherwise */
    int lock_fd;      /* writer.lock, held from open to close; -1 read-only */
    /* mdb_env_set_mapsize needs no transaction of this process active:
     * feeds (other threads' readers) hold it shared, a resize exclusive */
    pthread_rwlock_t resize_lock;
    MDB_txn *txn;
    /* the open batch's cursors on ledger, changes and deadletters (append.c) */
    MDB_cursor *app_cur[3];
    uint8_t *chbuf; /* a change record being encoded (gm__put_change) */
    size_t cap_chbuf;
    bool failed;              /* a step of the open batch failed: commit refuses */
    char why[GM_ERR_MSG_MAX]; /* why the current step failed (gm__db_fail, gm__fail) */
    struct gm_state_opts opts;
    int64_t trim_below; /* change-feed records below this may go (gm_state_trim_before) */
    size_t map_size;
    struct meta meta, meta_committed;
    struct gm_rules *rules, *rules_committed;
    struct pending *pend;
    size_t n_pend, cap_pend;
    size_t pend_bytes; /* what the open batch holds for a retry: its copies and entries */
    struct gm_state_stats stats, stats_at_begin;
    int64_t *batch_ms; /* event times of the last committed batch */
    size_t n_batch_ms, cap_batch_ms;
    struct gm_fold_out fo;
    struct gm_learners learners; /* decoded learners of the open batch (learners.h) */
    struct gm_held held;         /* write-behind learners (held.h) */
    bool held_used;              /* the open commit went through held.h */
    uint8_t *snap;               /* a learner packed before a fold that may be rejected */
    struct gm_arena ev_arena;    /* the decoded event being applied; reset after it */
    struct gm_arena batch_arena; /* the batch's record copies (pend); reset at its end */
    size_t cap_snap;
    /* gm_state_set_precommit: called before each commit's fsync */
    void (*precommit)(void *ctx, struct gm_state *s);
    void *precommit_ctx;
};

/* Big-endian 8-byte values: sequence keys, times, counters. */
static inline void
gm__put_be64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8); /* one store: the byte loop was not folded into one */
}

static inline uint64_t
gm__get_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
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
static inline size_t
gm__score_next_tail(const uint8_t *p, size_t len, struct score_entry *e, size_t tail)
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

static inline size_t
gm__score_next(const uint8_t *p, size_t len, struct score_entry *e)
{
    return gm__score_next_tail(p, len, e, SCORE_TAIL);
}

/*
 * A board or period name looked up in packed scores, its first 16 bytes
 * kept as two big-endian words and masks (zero past its end): compared
 * with an entry's name in two loads and no call. Made once per event for
 * each of its boards and periods (gm__add_score runs for every pair).
 */
struct gm__score_name {
    const char *s;
    size_t len;
    uint64_t w[2], m[2];
};

static inline uint64_t
gm__name_mask(size_t n)
{
    return n >= 8 ? ~UINT64_C(0) : ~(~UINT64_C(0) >> (8 * n));
}

/* Sets *nm to s (len bytes, borrowed while *nm is used), s having at
 * least 16 bytes that can be read (a period key's buffer, a padded
 * constant). */
static inline void
gm__score_name_init16(struct gm__score_name *nm, const char *s, size_t len)
{
    nm->s = s;
    nm->len = len;
    nm->m[0] = gm__name_mask(len);
    nm->m[1] = len <= 8 ? 0 : gm__name_mask(len - 8);
    nm->w[0] = gm__get_be64((const uint8_t *)s) & nm->m[0];
    nm->w[1] = gm__get_be64((const uint8_t *)s + 8) & nm->m[1];
}

/* The same for any s. */
static inline void
gm__score_name_init(struct gm__score_name *nm, const char *s, size_t len)
{
    char b[16] = {0};
    memcpy(b, s, len < 16 ? len : 16);
    gm__score_name_init16(nm, b, len);
    nm->s = s;
}

/* Whether the name at p (nm->len bytes, and 16 readable from p: an entry
 * from gm__score_next has its 16-byte tail after its names) is nm. */
static inline bool
gm__score_name_is(const char *p, const struct gm__score_name *nm)
{
    if (nm->len > 16)
        return memcmp(p, nm->s, nm->len) == 0;
    return (gm__get_be64((const uint8_t *)p) & nm->m[0]) == nm->w[0] &&
           (gm__get_be64((const uint8_t *)p + 8) & nm->m[1]) == nm->w[1];
}

/* A learner's kept scores, sorted: entries point into names (one buffer). */
struct score_list {
    struct gm_score *v;
    size_t n;
    char *names;
};

/* Puts msg packed under k (flags as for mdb_put). */
static inline int
gm__put_msg(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const ProtobufCMessage *msg, unsigned flags)
{
    size_t size = protobuf_c_message_get_packed_size(msg);
    MDB_val v = {size, NULL};
    int rc = mdb_put(txn, dbi, k, &v, flags | MDB_RESERVE);
    if (rc)
        return rc;
    protobuf_c_message_pack(msg, v.mv_data);
    return 0;
}

/* Puts a learner record under k: hand-encoded (usercodec.h) when covered. */
static inline int
gm__put_user(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, const Gamify__Internal__UserState *st)
{
    size_t size = gm_user_encode_size(st);
    if (!size)
        return gm__put_msg(txn, dbi, k, &st->base, 0);
    MDB_val v = {size, NULL};
    int rc = mdb_put(txn, dbi, k, &v, MDB_RESERVE);
    if (rc == 0)
        gm_user_encode(st, v.mv_data);
    return rc;
}

/* append.c: reserves size bytes under the big-endian sequence number seq
 * at the end of ledger, changes or deadletters (dbi), through the batch's
 * cursor on it; *out is valid until the next write. Returns an LMDB code. */
int gm__append_reserve(struct gm_state *s, MDB_dbi dbi, int64_t seq, size_t size, void **out);
/* Closes the batch's append cursors: before its transaction ends. */
void gm__append_close(struct gm_state *s);

/* Appends msg under the big-endian sequence number seq. */
static inline int
gm__put_seq_msg(struct gm_state *s, MDB_dbi dbi, int64_t seq, const ProtobufCMessage *msg)
{
    void *p;
    int rc = gm__append_reserve(s, dbi, seq, protobuf_c_message_get_packed_size(msg), &p);
    if (rc == 0)
        protobuf_c_message_pack(msg, p);
    return rc;
}

/* Appends a change-feed record: size is that of its compact form
 * (changefmt.h), encoded into s->chbuf by gm__change_compact_encode, or 0
 * when that form does not cover ch: then written as protobuf. */
static inline int
gm__put_change(struct gm_state *s, const Gamify__Internal__Change *ch, size_t size)
{
    if (!size)
        return gm__put_seq_msg(s, s->changes, ch->seq, &ch->base);
    void *p;
    int rc = gm__append_reserve(s, s->changes, ch->seq, size, &p);
    if (rc == 0)
        memcpy(p, s->chbuf, size);
    return rc;
}

/* Appends a ledger entry: hand-encoded (encode.h) when covered; user_len
 * and event_len are the lengths of e's user_id and event_id. */
static inline int
gm__put_ledger(struct gm_state *s, const Gamify__Internal__LedgerEntry *e, size_t user_len,
               size_t event_len)
{
    struct gm_ledger_lens lens;
    size_t size = gm_encode_ledger_measure_ids(e, user_len, event_len, &lens);
    if (!size)
        return gm__put_seq_msg(s, s->ledger, e->seq, &e->base);
    void *p;
    int rc = gm__append_reserve(s, s->ledger, e->seq, size, &p);
    if (rc == 0)
        gm_encode_ledger_measured(e, &lens, p);
    return rc;
}

/* The outbound events of one fold, as messages in the arena given. */
struct outbound_set {
    Gamification__V1__OutboundEvent **items;
    size_t n;
    Google__Protobuf__Timestamp ts;
    /* every item's id (once named) is what gm__outbound_id_of rebuilds
     * from it (false only for a level past int32, which the id keeps and
     * the body cuts) */
    bool ids_derived;
};

/* Notes (the first time) that the LMDB call named what failed; returns rc. */
void gm__db_note(struct gm_state *s, int rc, const char *what);
static inline int
gm__db_fail(struct gm_state *s, int rc, const char *what)
{
    if (rc && rc != MDB_MAP_FULL && !s->why[0])
        gm__db_note(s, rc, what);
    return rc;
}

/* Notes (the first time) why a step failed with our code; returns code. */
int gm__fail(struct gm_state *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* keycmp.c: LMDB's default key order (bytes unsigned, then the shorter
 * first), set on every database of the state: <0, 0 or >0. */
int gm__keycmp(const MDB_val *a, const MDB_val *b);

/* env.c */
int gm__lmdb_error(struct gm_err *err, int rc, const char *what);
int gm__report(struct gm_state *s, struct gm_err *err, int rc, const char *step);
int gm__rw_begin(struct gm_state *s, MDB_txn **txn);
int gm__ro_begin(struct gm_state *s, MDB_txn **txn);

/* meta.c */
int gm__meta_read(MDB_txn *txn, MDB_dbi dbi, struct meta *m, const char **bad);
int gm__meta_load(struct gm_state *s, MDB_txn *txn, struct meta *m);
int gm__meta_save(struct gm_state *s);

/* batch.c */
int gm__resize(struct gm_state *s);

/* apply.c */
int gm__apply_one(struct gm_state *s, const struct pending *rec);

/* profiles.c */
Gamify__Internal__UserState *gm__user_unpack(size_t len, const void *data);
int gm__write_learners(struct gm_state *s);
int gm__write_held(struct gm_state *s, bool *used);

/* journal.c: the newest copy of each held learner, for readers (held.h). */
struct gm__overlay_ent {
    const char *user;
    size_t ulen;
    const uint8_t *b;
    size_t len;
};
struct gm__overlay {
    struct gm__overlay_ent *v;
    size_t n, cap;
    size_t *index; /* open addressing: entry number + 1, 0 empty */
    size_t index_cap;
};
/* Fills o from txn's journal: every learner of the records whose changes
 * reach past since (INT64_MIN: all), its newest copy. The entries borrow
 * txn's pages. Returns 0 or an LMDB code (o then empty). */
int gm__overlay_build(struct gm_state *s, MDB_txn *txn, int64_t since, struct gm__overlay *o);
void gm__overlay_free(struct gm__overlay *o);
/* The overlay's copy of user into *v (borrowed), or false. */
bool gm__overlay_get(const struct gm__overlay *o, const char *user, size_t ulen, MDB_val *v);
/* Calls fn for every learner in key order from `from` (NULL: the first),
 * the overlay's copy where it has one, else the one in `profiles`; stops
 * at fn's first non-zero result and returns it. Returns 0 or an LMDB code. */
int gm__learners_walk(struct gm_state *s, MDB_txn *txn, const struct gm__overlay *o,
                      const char *from, size_t from_len,
                      int (*fn)(void *ctx, const MDB_val *k, const MDB_val *v), void *ctx);
int gm__learner_load(struct gm_state *s, const char *user, size_t ulen,
                     struct gm_learner_slot **out);
size_t gm__learner_snapshot(struct gm_state *s, const struct gm_learner_slot *sl);
int gm__learner_restore(struct gm_state *s, struct gm_learner_slot *sl, size_t size);

/* scores.c */
int64_t gm__add_score(Gamify__Internal__UserState *st, size_t *cap, const char *board, size_t blen,
                      const char *period, size_t plen, int64_t delta, int64_t at, bool *created,
                      int64_t *reached);
int64_t gm__add_score_named(Gamify__Internal__UserState *st, size_t *cap,
                            const struct gm__score_name *board, const struct gm__score_name *period,
                            int64_t delta, int64_t at, bool *created, int64_t *reached);
void gm__score_list_fill(struct score_list *out, const Gamify__Internal__UserState *st,
                         const struct meta *m);
void gm__score_list_free(struct score_list *l);

/* outbound.c */
/* Builds the outbound events of fo (ev's fold) into set, in arena; their
 * ids left empty (event_id ""), for gm__name_outbound. */
void gm__build_outbound(const Gamification__V1__Event *ev, const struct gm_fold_out *fo,
                        struct gm_arena *arena, struct outbound_set *set);
/* Writes the ids of set's events (built by gm__build_outbound for the same
 * ev and fo) into their event_id buffers. */
void gm__name_outbound(const Gamification__V1__Event *ev, const struct gm_fold_out *fo,
                       struct outbound_set *set);
/* The bytes an outbound event id takes at most, with its NUL. */
#define GM_OUTBOUND_ID_MAX (GM_ID_MAX * 2 + 64)
/* The id gm__name_outbound gives o, caused by event_id, into buf
 * (GM_OUTBOUND_ID_MAX bytes): what the compact change form rebuilds. */
void gm__outbound_id_of(const char *event_id, const Gamification__V1__OutboundEvent *o, char *buf);

/* deadletter.c */
int gm__dead_letter(struct gm_state *s, const struct pending *rec, const char *reason,
                    const char *detail, const char *event_id);
const char *gm__salvage_event_id(const struct pending *rec, char *buf, size_t cap);

/* dedupe.c */
int gm__prune_dedupe_some(struct gm_state *s);

/* stock.c: recounts the stock table of an older state from its redemptions, once */
int gm__count_stock(struct gm_state *s, MDB_txn *txn);

/* expiry.c */
bool gm__period_expired(const struct meta *m, const char *period, size_t len);
int gm__expiry_add_index(MDB_txn *txn, MDB_dbi dbi, bool weekly, int64_t idx, const char *user,
                         size_t ulen);
int gm__index_expiry(struct gm_state *s, MDB_txn *txn);
int gm__advance_periods(struct gm_state *s);
size_t gm__drop_expired(struct gm_state *s, Gamify__Internal__UserState *st);
int gm__prune_step_some(struct gm_state *s);

/* publish.c */
int gm__publish_rules(struct gm_state *s, const struct pending *rec,
                      const Gamification__V1__Event *ev);
/* A what-if's RulesPublished: counted and ignored, but rules that do not
 * check are a RULES_INVALID dead letter as in the real fold. */
int gm__ignore_rules(struct gm_state *s, const struct pending *rec,
                     const Gamification__V1__Event *ev);

/* feed.c */
int gm__trim_step(struct gm_state *s);

/*
 * On every event's path, inline: the learner of the open batch (held
 * already, else gm__learner_load), and a step of dedupe and period pruning
 * when one is pending.
 */
static inline int
gm__learner_get(struct gm_state *s, const char *user, size_t ulen, struct gm_learner_slot **out)
{
    struct gm_learner_slot *sl = gm_learners_find(&s->learners, user, ulen);
    if (sl) {
        *out = sl;
        return 0;
    }
    return gm__learner_load(s, user, ulen, out);
}

static inline int
gm__prune_dedupe(struct gm_state *s)
{
    return s->meta.dedupe_pending ? gm__prune_dedupe_some(s) : 0;
}

static inline int
gm__prune_step(struct gm_state *s)
{
    return s->meta.prune_pending ? gm__prune_step_some(s) : 0;
}

#endif
