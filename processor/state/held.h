/*
 * held.h: write-behind learners (gm_state_opts.hold_bytes). A learner a
 * batch changed is not written to `profiles` at its commit: its packed
 * record goes into that commit's record of the `journal` database (an
 * append: pages at the end of one tree, not a random page of `profiles`
 * per learner) and stays here, in memory, "held". Held learners are written
 * back to `profiles` oldest first, once, however often they changed
 * meanwhile, when the held records pass hold_bytes or the journal four
 * times that; journal records older than every learner still held are then
 * deleted. So the writer's commits stay short under load (the random
 * writes of a burst are spread over later commits, and a learner active in
 * many batches is written once), which is what issue 12's latency and
 * issue 15's rate wait on (BENCHMARKS.md "journalfloor", "heldexp").
 *
 * What a reader sees does not change: the newest copy of a learner is the
 * newest journal record holding it, else `profiles` (journal.h builds that
 * view for readers in other transactions). A writer that opens a state
 * whose journal holds records takes its learners back in (after a crash or
 * a stop they are the held ones); with hold_bytes 0 its first commit then
 * writes them all back, after which commits write `profiles` directly, as
 * before this file.
 *
 * Changes of the open batch are undone with it (gm__held_rollback): a
 * learner staged by a batch that is aborted (map full, an error) is held
 * as it was before.
 */
#ifndef GM_HELD_H
#define GM_HELD_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gm_held_rec {
    char *user; /* owned, NUL-terminated */
    size_t ulen;
    uint8_t *b; /* the packed record, exactly as `profiles` would hold it; owned */
    size_t len;
    uint64_t first; /* key of the journal record with its oldest change not written back */
    struct gm_held_rec *older, *newer; /* by first: the write-back order */
    bool wb;                           /* chosen for write-back by the open commit */
    uint64_t in_rec;                   /* next_key + 1 of the last record holding it */
};

struct gm_held_undo {
    struct gm_held_rec *rec;
    uint8_t *b; /* the bytes before the batch staged it; NULL: the batch added rec */
    size_t len;
    uint64_t in_rec; /* rec's in_rec before the batch: an aborted commit's record
                      * must not make the batch applied again skip rec */
};

struct gm_held_jrec {
    uint64_t key;
    size_t size;
};

struct gm_held {
    size_t cap_bytes;           /* 0: write through once nothing is held */
    struct gm_held_rec **index; /* open addressing, backward-shift deletion */
    size_t index_cap;
    struct gm_held_rec *oldest, *newest;
    size_t n, bytes;
    uint64_t next_key; /* of the next journal record */
    /* the journal's records, oldest first (a ring): what trimming deletes */
    struct gm_held_jrec *jr;
    size_t jr_head, jr_n, jr_cap, journal_bytes;
    /* the open batch: staged learners (undo log) and the record it writes */
    struct gm_held_undo *undo;
    size_t n_undo, cap_undo;
    uint8_t *rec;
    size_t rec_len, rec_cap;
    size_t rec_written; /* the size of the record gm__held_write put, 0: none */
};

struct gm_state;

void gm__held_init(struct gm_held *h, size_t cap_bytes);
void gm__held_deinit(struct gm_held *h);

/* Whether the open batch must go through the journal (something is held,
 * or holding is on). */
bool gm__held_active(const struct gm_held *h);

/* The held record of user, or NULL; borrowed until the next change. */
const struct gm_held_rec *gm__held_find(const struct gm_held *h, const char *user, size_t ulen);

/* Stages the packed record b (len bytes, copied) of user in the open batch. */
void gm__held_stage(struct gm_held *h, const char *user, size_t ulen, const uint8_t *b, size_t len);

/*
 * At the open batch's commit, in its transaction: appends the batch's
 * journal record (feed_end: the change feed's end after the batch), writes
 * back the oldest held learners past the bounds and deletes the journal
 * records no held learner needs. Returns 0 or an LMDB code.
 */
int gm__held_write(struct gm_held *h, MDB_txn *txn, MDB_dbi profiles, MDB_dbi journal,
                   int64_t feed_end);

/* After the commit: forgets the learners written back. */
void gm__held_committed(struct gm_held *h);

/* The batch was aborted: every learner as it was before it. */
void gm__held_rollback(struct gm_held *h);

/* Takes the journal's learners in (a writer opening a state); 0 or an LMDB code. */
int gm__held_load(struct gm_held *h, MDB_txn *txn, MDB_dbi journal);

/* The journal record format, shared with journal.c: 8 bytes of feed end,
 * then per learner a big-endian u32 length and the user id, a u32 length
 * and the packed record. Calls fn for each learner; returns false when the
 * record is malformed. */
bool gm__journal_each(const uint8_t *p, size_t n, int64_t *feed_end,
                      void (*fn)(void *ctx, const char *user, size_t ulen, const uint8_t *b,
                                 size_t len),
                      void *ctx);

#endif
