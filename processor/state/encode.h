/*
 * encode.h: hand-written protobuf encoders for the two records every folded
 * event writes, the change-feed record (Change, with its scores, redemption
 * and outbound events) and the ledger entry. protobuf-c sizes a message
 * before packing it and sizes each nested message again as it packs it;
 * these write the same bytes (fields in number order, proto3 defaults left
 * out, negative int32 in ten bytes) with no descriptor walk.
 *
 * They cover the schema they were written for (BoardScore, which grows, is
 * walked by its descriptor: any proto3 string or int64 field below 16 is
 * written): when another message type gained fields, or a record uses a part they leave out (a
 * learner snapshot, ledger copies, pruned periods, unknown fields), gm_encode_*_size returns 0 and
 * the caller packs with protobuf-c. tests/unit/test_encode.c compares them
 * with protobuf-c byte for byte.
 */
#ifndef GM_ENCODE_H
#define GM_ENCODE_H

#include "state.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* The packed size of ch, or 0 when these encoders do not cover it. */
size_t gm_encode_change_size(const Gamify__Internal__Change *ch);
/* Writes ch (covered: its size from gm_encode_change_size) to out. */
void gm_encode_change(const Gamify__Internal__Change *ch, uint8_t *out);

/* The same for a ledger entry. */
size_t gm_encode_ledger_size(const Gamify__Internal__LedgerEntry *e);
void gm_encode_ledger(const Gamify__Internal__LedgerEntry *e, uint8_t *out);

/* The same in one measure of its strings (the fold's path): the packed
 * size of e, 0 when not covered, with the lengths of its strings in *l;
 * then e written to out (the size measured) from those lengths. */
struct gm_ledger_lens {
    size_t user_id, event_id, kind, detail;
};
size_t gm_encode_ledger_measure(const Gamify__Internal__LedgerEntry *e, struct gm_ledger_lens *l);
/* The same when the caller knows the lengths of e's user_id and event_id
 * (the fold's entries: those of its event). */
size_t gm_encode_ledger_measure_ids(const Gamify__Internal__LedgerEntry *e, size_t user_id_len,
                                    size_t event_id_len, struct gm_ledger_lens *l);
void gm_encode_ledger_measured(const Gamify__Internal__LedgerEntry *e,
                               const struct gm_ledger_lens *l, uint8_t *out);

#endif
