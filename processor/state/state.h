/*
 * state.h: the LMDB state of one log (or one Kafka partition): learner
 * state, dedupe ids, first-completion keys, redemptions, the ledger, the
 * change feed, leaderboard scores, dead letters and meta (source offset,
 * rules history), all in one environment so that one write transaction
 * commits a batch of events together with the source offset.
 *
 * Use: open, then for each batch begin, apply every record, commit with the
 * offset after the last record. A crash before commit loses the batch and
 * nothing else: the next run resumes from the committed offset.
 */
#ifndef GM_STATE_H
#define GM_STATE_H

#include "err.h"
#include "outbound.pb-c.h"
#include "state.pb-c.h"
#include "rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GM_STATE_DEFAULT_WINDOW (30LL * 86400)
#define GM_STATE_DEFAULT_SKEW   3600LL /* seconds an event may be dated after its append */

struct gm_state_opts {
    int64_t dedupe_window_s; /* 0: 30 days of event time */
    size_t map_size;         /* initial LMDB map size; 0: 1 GiB; grows by itself */
    bool no_sync;            /* commit without fsync (tests, what-if replays) */
    int64_t future_skew_s;   /* 0: GM_STATE_DEFAULT_SKEW; negative: no check */
    bool read_only;          /* dump, digest, dlq list: no lock, nothing created */
    bool dlq_only;           /* dlq requeue: no writer lock; only gm_state_dlq_take */
    bool what_if;            /* the caller will call gm_state_set_what_if: a what-if state
                                may be opened for writing (refused otherwise) */
    size_t hold_bytes;       /* write-behind learners (held.h): records held in memory and
                                journaled before they are written back; 0: off */
    bool heap_pages;         /* a writer's dirty pages on the heap, written at the commit
                                (LMDB without MDB_WRITEMAP: no page faults or TLB flushes
                                for the map; costs heap with large batches) */
};

struct gm_state_stats {
    uint64_t applied;      /* events folded */
    uint64_t duplicates;   /* skipped: event id already seen */
    uint64_t dead_letters; /* stored as dead letters (all reasons) */
    uint64_t too_late;     /* of which TOO_LATE */
    uint64_t rejected;     /* of which rejected by the fold */
    uint64_t rules_published;
    uint64_t map_resizes;
    uint64_t periods_pruned; /* expired (board, period) scores removed from learners */
    uint64_t too_far_ahead;  /* dead letters TOO_FAR_AHEAD */
    uint64_t rules_ignored;  /* RulesPublished events a what-if state counted and ignored */
    uint64_t redemptions;    /* redemption outcomes recorded (completed or rejected) */
};

struct gm_state;

/*
 * Opens (creating if needed) the state in directory dir. A writer takes the
 * state's exclusive lock (DIR/writer.lock) until close; a second writer gets
 * -EBUSY with the holder's pid in err. With opts->read_only nothing is
 * locked or created (GM_ENOTFOUND when dir holds no state) and only the
 * reading calls (dump, digest, dlq list, cursors, outbound) may be used. *out
 * is new; close with gm_state_close. Errors: -errno, GM_EDB, GM_ECORRUPT,
 * GM_ENOTFOUND with err filled.
 */
int gm_state_open(const char *dir, const struct gm_state_opts *opts, struct gm_state **out,
                  struct gm_err *err);

/*
 * Uses yaml as the rules when the state has none yet (the log has published
 * none); stores it, so later runs need no --rules. Returns 0 (also when
 * rules are already stored and yaml is ignored), GM_EINVAL with err for bad
 * rules.
 */
int gm_state_seed_rules(struct gm_state *s, const char *yaml, size_t len, struct gm_err *err);

/*
 * Makes s a what-if state (`gamify replay --rules-override`): the rules yaml
 * are in force from the first event and every RulesPublished event is
 * counted (rules_ignored) and ignored. The mark is stored: dump and digest
 * show it, and a writer that did not ask for it (opts.what_if) is refused,
 * so a processor never follows such a state. s must be fresh (nothing
 * folded, no rules), or already a what-if state of the same rules (a
 * resumed replay). Errors: GM_EINVAL (rules invalid, with line and column;
 * another state), GM_EDB.
 */
int gm_state_set_what_if(struct gm_state *s, const char *yaml, size_t len, struct gm_err *err);

/* The SHA-256 (hex) of a what-if state's rules; NULL for a normal state. */
const char *gm_state_what_if(const struct gm_state *s);

/* True when the state has rules (seeded or published). */
bool gm_state_has_rules(const struct gm_state *s);

/* The committed source offset: where the next run resumes. */
uint64_t gm_state_offset(const struct gm_state *s);

/* Starts a batch (one LMDB write transaction). */
int gm_state_begin(struct gm_state *s, struct gm_err *err);

/*
 * Applies one record of the batch: decode (JSON line when json, else
 * protobuf), validate, dedupe, fold, write. append_ms is the time the log
 * says the record was appended (milliseconds since 1970; 0 when the log
 * carries none, as with jsonl:): an event dated more than future_skew_s
 * after it is a dead letter (TOO_FAR_AHEAD). A record that cannot be
 * applied becomes a dead letter with its reason and offset; that is not an
 * error. Errors are operational only (LMDB failed; the batch must be
 * aborted).
 */
int gm_state_apply(struct gm_state *s, const uint8_t *data, size_t len, bool json, uint64_t offset,
                   int64_t append_ms, struct gm_err *err);

/*
 * Stores a record the caller could not even read (e.g. a JSON line over the
 * size limit) as a dead letter of the open batch, with reason and detail.
 */
int gm_state_dead_letter(struct gm_state *s, const uint8_t *data, size_t len, bool json,
                         uint64_t offset, const char *reason, const char *detail,
                         struct gm_err *err);

/* Commits the batch with next_offset as the source offset. */
int gm_state_commit(struct gm_state *s, uint64_t next_offset, struct gm_err *err);

/*
 * Sets fn to be called by gm_state_commit, in the committing thread, once
 * the batch is written and just before its LMDB commit (the fsync, about a
 * millisecond): the change records of the batch can then be read with
 * gm_state_pending_records and handed on while the disk works (the Redis
 * projector's early hand-over). The batch may still fail to commit; the
 * caller learns that from gm_state_commit's result. fn may be called more
 * than once for one commit (a map growth replays the batch). NULL: none.
 */
void gm_state_set_precommit(struct gm_state *s, void (*fn)(void *ctx, struct gm_state *s),
                            void *ctx);

/*
 * Inside a precommit callback, or between records of an open batch (the
 * progress hook of gm_pump_batch): calls fn for each change record the
 * open batch wrote from sequence number from on (at the earliest
 * gm_state_change_end(s), up to gm_state_pending_end(s)), in order, with
 * its stored bytes (changefmt.h; borrowed for the call). A record, once
 * written, does not change for the rest of the batch. Returns fn's result
 * when not 0, GM_EDB, or GM_EINVAL without an open batch.
 */
int gm_state_pending_records(struct gm_state *s, int64_t from,
                             int (*fn)(void *ctx, int64_t seq, const void *data, size_t len),
                             void *ctx);

/* The sequence number after the open batch's last change record (the
 * committed end without a batch). */
int64_t gm_state_pending_end(const struct gm_state *s);

/* Abandons the batch; NULL-safe, and harmless without a batch. */
void gm_state_abort(struct gm_state *s);

/*
 * The bytes of heap the open batch holds to apply its records again should
 * the map fill up (a copy of each record and its entry); 0 without a batch.
 * Callers end a batch before this passes their bound (--batch-mib), so that
 * the heap stays bounded whatever the records' sizes and the batch's count.
 */
size_t gm_state_batch_bytes(const struct gm_state *s);

/*
 * The occurred_at times, in milliseconds, of the records of the last
 * committed batch (0 for records that did not decode); *ms is borrowed until
 * the next commit. For lag metrics.
 */
size_t gm_state_last_batch_times(const struct gm_state *s, const int64_t **ms);

/* The newest event time folded (seconds), or 0 before the first. */
int64_t gm_state_newest_time(const struct gm_state *s);

/* Counters since open. */
const struct gm_state_stats *gm_state_stats(const struct gm_state *s);

/*
 * Writes the audit view (DESIGN section 3): one JSON object per learner per
 * line, sorted by userId; only user when not NULL. Returns 0 or GM_ENOTFOUND
 * for an unknown user.
 */
int gm_state_dump(struct gm_state *s, FILE *to, const char *user);

/* Write-behind learners (gm_state_opts.hold_bytes): how many are held,
 * the bytes of their records, and the bytes of the journal that holds them
 * (what gamify-processor's /metrics shows). */
struct gm_state_held {
    size_t learners, bytes, journal_bytes;
};
void gm_state_held(const struct gm_state *s, struct gm_state_held *out);

/* SHA-256 of the canonical state (independent of batching and offsets). */
int gm_state_digest(struct gm_state *s, unsigned char out[32]);

/*
 * For each dead letter (in order) whose reason equals reason (NULL: any) and
 * whose sequence number equals seq (-1: any), calls fn; deletes it when fn
 * returns 1, keeps it when 0, and stops with fn's error when negative (what
 * was deleted before stays deleted only if the whole call succeeds). *n is
 * the number deleted. No batch may be open.
 */
int gm_state_dlq_take(struct gm_state *s, const char *reason, int64_t seq,
                      int (*fn)(void *ctx, const Gamify__Internal__DeadLetter *dl), void *ctx,
                      size_t *n, struct gm_err *err);

/*
 * Writes the dead letters as JSON lines (seq, offset, reason, detail,
 * eventId or null, bytes, and the record when it is a JSON line); with
 * partition >= 0 each line starts with "partition". Errors: GM_EDB.
 */
int gm_state_dlq_list(struct gm_state *s, FILE *to, int partition);

/*
 * A projector's cursor: the sequence number of the next change-feed record
 * it has not processed (0 when it has never run). Stored in the state under
 * name; setting it is its own small transaction (no batch may be open).
 */
int gm_state_cursor_get(struct gm_state *s, const char *name, int64_t *seq);
int gm_state_cursor_set(struct gm_state *s, const char *name, int64_t seq, struct gm_err *err);

/*
 * The same with a position in the consumer's output stored beside the
 * cursor in the same transaction (an outbound file's size when seq was
 * reached), so that after a crash the consumer can tell what it wrote past
 * the cursor. *pos is -1 when none was stored.
 */
int gm_state_cursor_get_pos(struct gm_state *s, const char *name, int64_t *seq, int64_t *pos);
int gm_state_cursor_set_pos(struct gm_state *s, const char *name, int64_t seq, int64_t pos,
                            struct gm_err *err);

/*
 * Calls fn for every outbound event of the change feed from sequence *seq
 * on, in order, and leaves *seq after the last change read. The message
 * passed to fn is borrowed for the call. Stops early and returns fn's
 * result when it is not 0. GM_ENOTFOUND: the records from *seq on were
 * trimmed (an output added after the feed was trimmed).
 */
int gm_state_outbound_foreach(struct gm_state *s, int64_t *seq,
                              int (*fn)(void *ctx, const Gamification__V1__OutboundEvent *oev),
                              void *ctx);

/*
 * Lets the change-feed records below sequence number below go: every
 * consumer has them. Later commits delete them a bounded number at a time
 * inside their own transactions. Never moves back.
 */
void gm_state_trim_before(struct gm_state *s, int64_t below);

/* The sequence number the next change will get (committed). */
int64_t gm_state_change_end(const struct gm_state *s);

/*
 * Deletes the change-feed records below sequence number below (those every
 * enabled projector has processed), in transactions of its own (no batch
 * may be open); *n is how many. Readers of trimmed records get
 * GM_ENOTFOUND from gm_feed_changes and must rebuild.
 */
int gm_state_trim_changes(struct gm_state *s, int64_t below, uint64_t *n, struct gm_err *err);

/* Closes; aborts an open batch; NULL is fine. */
void gm_state_close(struct gm_state *s);

#endif
