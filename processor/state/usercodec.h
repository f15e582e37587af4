/*
 * usercodec.h: the learner record (UserState, proto/internal/state.proto)
 * decoded and encoded by hand. A learner is read and written once per
 * batch that touches it; in a long-lived state (records of a kilobyte and
 * more: every kept leaderboard period, the badges) protobuf-c's generic
 * unpack and its two-pass pack were the largest cost per event
 * (BENCHMARKS.md, "longlog"). These read and write the same bytes with no
 * descriptor walk and no scan pass, so the stored layout, `gamify dump`
 * and `gamify digest` stay what they were and states of any earlier build
 * open as they are.
 *
 * The decoder builds exactly what protobuf-c's unpack would (the same
 * allocations: free the result with
 * gamify__internal__user_state__free_unpacked), so the fold and every
 * reader keep working on a UserState. Both cover the schema they were
 * written for (checked against the generated descriptors once) and the
 * records our own builds write: anything else (an unknown field, a field
 * repeated where it is singular, a string not in ASCII, a schema that
 * gained a field of another kind) makes gm_user_decode return NULL and
 * gm_user_encode_size 0, and the caller uses protobuf-c. The v1 scores of
 * an old state are decoded like any bytes field and converted by the
 * caller (profiles.c, gm__user_unpack).
 * tests/unit/test_usercodec.c compares both with protobuf-c byte for byte.
 */
#ifndef GM_USERCODEC_H
#define GM_USERCODEC_H

#include "state.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes a stored learner record; NULL when not covered (see above) or
 * malformed: the caller then tries protobuf-c. Returns new; free with
 * gamify__internal__user_state__free_unpacked. */
Gamify__Internal__UserState *gm_user_decode(const uint8_t *data, size_t len);

/* Frees st as gamify__internal__user_state__free_unpacked does (any
 * UserState built with the default allocator: decoded by either codec,
 * then changed by the fold), walking only the fields that own memory;
 * NULL is accepted. */
void gm_user_free(Gamify__Internal__UserState *st);

/* The packed size of st, or 0 when not covered (then pack with protobuf-c;
 * a covered record is never empty: user_id is always set). */
size_t gm_user_encode_size(const Gamify__Internal__UserState *st);
/* Writes st (covered: size from gm_user_encode_size) to out; returns the
 * end of what it wrote. */
uint8_t *gm_user_encode(const Gamify__Internal__UserState *st, uint8_t *out);

/*
 * Finds the packed scores (field 27) of a stored record without decoding
 * it: true when the record is in protobuf-c's field order (every field
 * known, by number, the scores last) and holds no v1 scores; then
 * [*key_at, *at) is the field's key and length (both len when it has no
 * scores) and [*at, *at + *n) its bytes. Pruning rewrites a learner's
 * scores this way (expiry.c); false: decode it in full.
 */
bool gm_user_scores_span(const uint8_t *data, size_t len, size_t *key_at, size_t *at, size_t *n);
/* Writes the key and length of packed scores of n bytes (nothing when n is
 * 0, as protobuf-c leaves an empty field out); returns the end. */
uint8_t *gm_user_put_scores(uint8_t *p, size_t n);

#endif
