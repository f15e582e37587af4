/*
 * changefmt.h: the bytes of a change-feed record (the `changes` database)
 * and reading them back as feed.h's struct gm_change.
 *
 * Two forms are stored. The compact form (written since issue 15) starts
 * with the bytes 00 01, which no protobuf record can (field number 0 does
 * not exist): varints, no field tags, no sequence number (the key holds
 * it); boards named once per record, periods as packed numbers ("all",
 * week or month index), reach times relative to the event's time, and
 * outbound events as their kind and body only: the id, learner, cause and
 * time are rebuilt from the change on reading, exactly as the fold made
 * them. Anything it does not cover (a pruned-periods record, a learner
 * snapshot, an outbound event or period that would not be rebuilt byte for
 * byte) is written as the protobuf Change of proto/internal/state.proto,
 * the only form of states from before; readers take both.
 */
#ifndef GM_CHANGEFMT_H
#define GM_CHANGEFMT_H

#include "arena.h"
#include "feed.h"
#include "state.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the writer of a change knows of it already, so the encoder does
 * not measure it again: the lengths of its ids, and per score entry
 * (ch->scores[i]) its board's length and its period's code
 * (gm__change_period_code). */
struct gm__change_known {
    size_t user_id_len, event_id_len;
    const size_t *board_lens;
    const uint64_t *period_codes;
};

/* The code a period key is written as in a compact record (1 "all", a week
 * or month index, or 0: written as text). */
uint64_t gm__change_period_code(const char *key);
/* The same for the key the fold named for week (weekly) or month idx. */
uint64_t gm__change_period_code_of_index(bool weekly, int64_t idx, const char *key);

/* Writes ch in the compact form to *buf, growing it
 * (realloc; *cap its size, kept by the caller across records) as needed;
 * returns the record's size, or 0 when the form does not cover ch.
 * outbound_built: ch's outbound events are those gm__build_outbound made
 * for ch's event with ids_derived set (the fold's own change), so their
 * ids (named or not yet: this form does not hold them), times and
 * learners are what the reader rebuilds and the check of each (an id built
 * again and compared) is skipped; false checks them.
 * known: what the caller knows of ch (borrowed for the call), or NULL to
 * measure it here. */
size_t gm__change_compact_encode(const Gamify__Internal__Change *ch, bool outbound_built,
                                 const struct gm__change_known *known, uint8_t **buf, size_t *cap);

/* The same with a buffer of their own, for tests: the compact size of ch
 * (0: not covered), and the record written to out (its size from
 * gm__change_compact_size). */
size_t gm__change_compact_size(const Gamify__Internal__Change *ch);
void gm__change_compact_write(const Gamify__Internal__Change *ch, uint8_t *out);

/* What decoded records point into: kept by a reader, reused record after
 * record. */
struct gm__change_reader {
    struct gm_arena arena; /* strings, scores and outbound events of the last record */
};

void gm__change_reader_init(struct gm__change_reader *r);
void gm__change_reader_deinit(struct gm__change_reader *r);

/*
 * Decodes the record (data, len) stored under seq into *ch, in either form.
 * *ch borrows from r until the next call or the deinit. Errors:
 * GM_ECORRUPT.
 */
int gm__change_decode(struct gm__change_reader *r, int64_t seq, const void *data, size_t len,
                      struct gm_change *ch);

/* The same, everything *ch points to drawn from a (not reset): for readers
 * that keep several decoded changes at once. Errors: GM_ECORRUPT. */
int gm__change_decode_into(struct gm_arena *a, int64_t seq, const void *data, size_t len,
                           struct gm_change *ch);

#endif
