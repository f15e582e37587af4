/*
 * encode.c: the hand-written encoders of encode.h. Each message has a size
 * function and a write function that visit the fields in the same order;
 * nested sizes are computed once per write (the write of a message returns
 * the end, and its length prefix comes from the size function).
 */
#include "encode.h"

#include "varint.h"

#include "outbound.pb-c.h"

#include <stdbool.h>
#include <string.h>

/* ---- wire primitives (every field number here is below 16: one-byte keys) ---- */

#define WT_VARINT 0
#define WT_LEN    2

static size_t
int64_size(int64_t v)
{
    return v ? 1 + gm__varint_size((uint64_t)v) : 0;
}

static uint8_t *
put_int64(uint8_t *p, unsigned field, int64_t v)
{
    if (!v)
        return p;
    *p++ = (uint8_t)(field << 3 | WT_VARINT);
    return gm__varint_put(p, (uint64_t)v);
}

/* int32 and enums: a negative value is sign-extended to ten bytes */
static size_t
int32_size(int32_t v)
{
    return v ? 1 + gm__varint_size((uint64_t)(int64_t)v) : 0;
}

static uint8_t *
put_int32(uint8_t *p, unsigned field, int32_t v)
{
    return put_int64(p, field, (int64_t)v);
}

static size_t
string_size(const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = strlen(s);
    return 1 + gm__varint_size(n) + n;
}

static uint8_t *
put_string(uint8_t *p, unsigned field, const char *s)
{
    if (!s || !*s)
        return p;
    size_t n = strlen(s);
    *p++ = (uint8_t)(field << 3 | WT_LEN);
    p = gm__varint_put(p, n);
    memcpy(p, s, n);
    return p + n;
}

static size_t
nested_size(size_t inner)
{
    return 1 + gm__varint_size(inner) + inner;
}

static uint8_t *
put_nested_head(uint8_t *p, unsigned field, size_t inner)
{
    *p++ = (uint8_t)(field << 3 | WT_LEN);
    return gm__varint_put(p, inner);
}

/* ---- BoardScore ----
 *
 * Walked by its descriptor, so that a field added to it (proto3 strings and
 * int64s numbered below 16) is written too: the field of this record the
 * schema grows most. */

static bool
score_fields_known(void)
{
    const ProtobufCMessageDescriptor *d = &gamify__internal__board_score__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->id >= 16 || f->label != PROTOBUF_C_LABEL_NONE ||
            (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
            (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_INT64) ||
            (i > 0 && f->id <= d->fields[i - 1].id))
            return false;
    }
    return true;
}

static size_t
score_size(const Gamify__Internal__BoardScore *b)
{
    const ProtobufCMessageDescriptor *d = &gamify__internal__board_score__descriptor;
    size_t n = 0;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const void *m = (const char *)b + d->fields[i].offset;
        n += d->fields[i].type == PROTOBUF_C_TYPE_STRING ? string_size(*(char *const *)m)
                                                         : int64_size(*(const int64_t *)m);
    }
    return n;
}

static uint8_t *
put_score(uint8_t *p, const Gamify__Internal__BoardScore *b)
{
    const ProtobufCMessageDescriptor *d = &gamify__internal__board_score__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const void *m = (const char *)b + f->offset;
        p = f->type == PROTOBUF_C_TYPE_STRING ? put_string(p, f->id, *(char *const *)m)
                                              : put_int64(p, f->id, *(const int64_t *)m);
    }
    return p;
}

/* ---- coverage: the schema these encoders were written for ---- */

static bool
covers(const ProtobufCMessage *m, const ProtobufCMessageDescriptor *d, unsigned n_fields)
{
    return m->descriptor == d && d->n_fields == n_fields && m->n_unknown_fields == 0;
}

/* Whether the schema is the one written for; worked out once (descriptors
 * are constants). */
static bool
schema_known(void)
{
    static _Atomic int known; /* 0 not yet, 1 yes, -1 no */
    int k = known;
    if (k)
        return k > 0;
    bool yes = gamify__internal__change__descriptor.n_fields == 12 && score_fields_known() &&
               gamify__internal__redemption__descriptor.n_fields == 9 &&
               gamify__internal__ledger_entry__descriptor.n_fields == 11 &&
               gamification__v1__outbound_event__descriptor.n_fields == 9 &&
               google__protobuf__timestamp__descriptor.n_fields == 2 &&
               gamification__v1__level_up__descriptor.n_fields == 3 &&
               gamification__v1__badge_earned__descriptor.n_fields == 2 &&
               gamification__v1__streak_updated__descriptor.n_fields == 3 &&
               gamification__v1__reward_redeemed__descriptor.n_fields == 4 &&
               gamification__v1__redemption_rejected__descriptor.n_fields == 3;
    known = yes ? 1 : -1;
    return yes;
}

/* ---- Redemption ---- */

static size_t
redemption_size(const Gamify__Internal__Redemption *r)
{
    return string_size(r->redemption_id) + string_size(r->reward_id) + (r->completed ? 2 : 0) +
           int32_size((int32_t)r->reason) + int64_size(r->seq) + int64_size(r->cost) +
           string_size(r->event_id) + int64_size(r->occurred_at) + string_size(r->user_id);
}

static uint8_t *
put_redemption(uint8_t *p, const Gamify__Internal__Redemption *r)
{
    p = put_string(p, 1, r->redemption_id);
    p = put_string(p, 2, r->reward_id);
    if (r->completed) {
        *p++ = 3 << 3 | WT_VARINT;
        *p++ = 1;
    }
    p = put_int32(p, 4, (int32_t)r->reason);
    p = put_int64(p, 5, r->seq);
    p = put_int64(p, 6, r->cost);
    p = put_string(p, 7, r->event_id);
    p = put_int64(p, 8, r->occurred_at);
    return put_string(p, 9, r->user_id);
}

/* ---- OutboundEvent and its bodies ---- */

static size_t
timestamp_size(const Google__Protobuf__Timestamp *t)
{
    return int64_size(t->seconds) + int32_size(t->nanos);
}

static size_t
body_size(const Gamification__V1__OutboundEvent *o)
{
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        return int32_size(o->level_up->new_level) + int32_size(o->level_up->reward) +
               int64_size(o->level_up->exp);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        return string_size(o->badge_earned->badge_id) + string_size(o->badge_earned->name);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        return int32_size(o->streak_updated->current_streak) +
               int32_size(o->streak_updated->longest_streak) +
               int32_size(o->streak_updated->freezes_used);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        return string_size(o->reward_redeemed->redemption_id) +
               string_size(o->reward_redeemed->reward_id) + int32_size(o->reward_redeemed->cost) +
               int64_size(o->reward_redeemed->coins_after);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        return string_size(o->redemption_rejected->redemption_id) +
               string_size(o->redemption_rejected->reward_id) +
               int32_size((int32_t)o->redemption_rejected->reason);
    default:
        return 0;
    }
}

static uint8_t *
put_body(uint8_t *p, const Gamification__V1__OutboundEvent *o)
{
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        p = put_int32(p, 1, o->level_up->new_level);
        p = put_int32(p, 2, o->level_up->reward);
        return put_int64(p, 3, o->level_up->exp);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        p = put_string(p, 1, o->badge_earned->badge_id);
        return put_string(p, 2, o->badge_earned->name);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        p = put_int32(p, 1, o->streak_updated->current_streak);
        p = put_int32(p, 2, o->streak_updated->longest_streak);
        return put_int32(p, 3, o->streak_updated->freezes_used);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        p = put_string(p, 1, o->reward_redeemed->redemption_id);
        p = put_string(p, 2, o->reward_redeemed->reward_id);
        p = put_int32(p, 3, o->reward_redeemed->cost);
        return put_int64(p, 4, o->reward_redeemed->coins_after);
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        p = put_string(p, 1, o->redemption_rejected->redemption_id);
        p = put_string(p, 2, o->redemption_rejected->reward_id);
        return put_int32(p, 3, (int32_t)o->redemption_rejected->reason);
    default:
        return p;
    }
}

/* The body's field number (10..14; its case is that number), 0 for none. */
static unsigned
body_field(const Gamification__V1__OutboundEvent *o)
{
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        return o->level_up ? 10 : 0;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        return o->badge_earned ? 11 : 0;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        return o->streak_updated ? 12 : 0;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        return o->reward_redeemed ? 13 : 0;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        return o->redemption_rejected ? 14 : 0;
    default:
        return 0;
    }
}

static size_t
outbound_size(const Gamification__V1__OutboundEvent *o)
{
    size_t n = string_size(o->event_id) + string_size(o->user_id) +
               (o->occurred_at ? nested_size(timestamp_size(o->occurred_at)) : 0) +
               string_size(o->cause_event_id);
    if (body_field(o))
        n += nested_size(body_size(o));
    return n;
}

static uint8_t *
put_outbound(uint8_t *p, const Gamification__V1__OutboundEvent *o)
{
    p = put_string(p, 1, o->event_id);
    p = put_string(p, 2, o->user_id);
    if (o->occurred_at) {
        p = put_nested_head(p, 3, timestamp_size(o->occurred_at));
        p = put_int64(p, 1, o->occurred_at->seconds);
        p = put_int32(p, 2, o->occurred_at->nanos);
    }
    p = put_string(p, 4, o->cause_event_id);
    unsigned f = body_field(o);
    if (f) {
        p = put_nested_head(p, f, body_size(o));
        p = put_body(p, o);
    }
    return p;
}

/* Whether an outbound event and its parts are of the known schema. */
static bool
outbound_covered(const Gamification__V1__OutboundEvent *o)
{
    if (!covers(&o->base, &gamification__v1__outbound_event__descriptor, 9))
        return false;
    if (o->occurred_at && o->occurred_at->base.n_unknown_fields)
        return false;
    if (!body_field(o))
        return o->body_case == GAMIFICATION__V1__OUTBOUND_EVENT__BODY__NOT_SET;
    const ProtobufCMessage *b;
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        b = &o->level_up->base;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        b = &o->badge_earned->base;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        b = &o->streak_updated->base;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        b = &o->reward_redeemed->base;
        break;
    default:
        b = &o->redemption_rejected->base;
        break;
    }
    return b->n_unknown_fields == 0;
}

/* ---- Change ---- */

size_t
gm_encode_change_size(const Gamify__Internal__Change *ch)
{
    if (!schema_known() || !covers(&ch->base, &gamify__internal__change__descriptor, 12) ||
        ch->profile || ch->n_ledger || ch->n_pruned_periods)
        return 0;
    size_t n = int64_size(ch->seq) + string_size(ch->user_id) + string_size(ch->event_id) +
               int64_size(ch->occurred_at);
    for (size_t i = 0; i < ch->n_scores; i++) {
        if (!covers(&ch->scores[i]->base, &gamify__internal__board_score__descriptor,
                    gamify__internal__board_score__descriptor.n_fields))
            return 0;
        n += nested_size(score_size(ch->scores[i]));
    }
    if (ch->redemption) {
        if (!covers(&ch->redemption->base, &gamify__internal__redemption__descriptor, 9))
            return 0;
        n += nested_size(redemption_size(ch->redemption));
    }
    for (size_t i = 0; i < ch->n_outbound; i++) {
        if (!outbound_covered(ch->outbound[i]))
            return 0;
        n += nested_size(outbound_size(ch->outbound[i]));
    }
    return n + int64_size(ch->ledger_first) + int64_size(ch->ledger_count);
}

void
gm_encode_change(const Gamify__Internal__Change *ch, uint8_t *out)
{
    uint8_t *p = out;
    p = put_int64(p, 1, ch->seq);
    p = put_string(p, 2, ch->user_id);
    p = put_string(p, 3, ch->event_id);
    p = put_int64(p, 4, ch->occurred_at);
    for (size_t i = 0; i < ch->n_scores; i++) {
        p = put_nested_head(p, 6, score_size(ch->scores[i]));
        p = put_score(p, ch->scores[i]);
    }
    if (ch->redemption) {
        p = put_nested_head(p, 7, redemption_size(ch->redemption));
        p = put_redemption(p, ch->redemption);
    }
    for (size_t i = 0; i < ch->n_outbound; i++) {
        p = put_nested_head(p, 9, outbound_size(ch->outbound[i]));
        p = put_outbound(p, ch->outbound[i]);
    }
    p = put_int64(p, 11, ch->ledger_first);
    put_int64(p, 12, ch->ledger_count);
}

/* ---- LedgerEntry ---- */

/* The bytes of a string field of n bytes (0: left out). */
static size_t
string_size_n(size_t n)
{
    return n ? 1 + gm__varint_size(n) + n : 0;
}

static uint8_t *
put_string_n(uint8_t *p, unsigned field, const char *s, size_t n)
{
    if (!n)
        return p;
    *p++ = (uint8_t)(field << 3 | WT_LEN);
    p = gm__varint_put(p, n);
    memcpy(p, s, n);
    return p + n;
}

size_t
gm_encode_ledger_measure(const Gamify__Internal__LedgerEntry *e, struct gm_ledger_lens *l)
{
    return gm_encode_ledger_measure_ids(e, e->user_id ? strlen(e->user_id) : 0,
                                        e->event_id ? strlen(e->event_id) : 0, l);
}

size_t
gm_encode_ledger_measure_ids(const Gamify__Internal__LedgerEntry *e, size_t user_id_len,
                             size_t event_id_len, struct gm_ledger_lens *l)
{
    if (!schema_known() || !covers(&e->base, &gamify__internal__ledger_entry__descriptor, 11))
        return 0;
    l->user_id = user_id_len;
    l->event_id = event_id_len;
    l->kind = e->kind ? strlen(e->kind) : 0;
    l->detail = e->detail ? strlen(e->detail) : 0;
    return string_size_n(l->user_id) + string_size_n(l->event_id) + string_size_n(l->kind) +
           int64_size(e->exp_delta) + int64_size(e->coins_delta) + int64_size(e->exp_after) +
           int64_size(e->coins_after) + int64_size(e->capped_exp) + int64_size(e->occurred_at) +
           string_size_n(l->detail) + int64_size(e->seq);
}

void
gm_encode_ledger_measured(const Gamify__Internal__LedgerEntry *e, const struct gm_ledger_lens *l,
                          uint8_t *out)
{
    uint8_t *p = out;
    p = put_string_n(p, 1, e->user_id, l->user_id);
    p = put_string_n(p, 2, e->event_id, l->event_id);
    p = put_string_n(p, 3, e->kind, l->kind);
    p = put_int64(p, 4, e->exp_delta);
    p = put_int64(p, 5, e->coins_delta);
    p = put_int64(p, 6, e->exp_after);
    p = put_int64(p, 7, e->coins_after);
    p = put_int64(p, 8, e->capped_exp);
    p = put_int64(p, 9, e->occurred_at);
    p = put_string_n(p, 10, e->detail, l->detail);
    put_int64(p, 11, e->seq);
}

/* The two-call form, on the one-measure path above. */
size_t
gm_encode_ledger_size(const Gamify__Internal__LedgerEntry *e)
{
    struct gm_ledger_lens l;
    return gm_encode_ledger_measure(e, &l);
}

void
gm_encode_ledger(const Gamify__Internal__LedgerEntry *e, uint8_t *out)
{
    struct gm_ledger_lens l;
    gm_encode_ledger_measure(e, &l);
    gm_encode_ledger_measured(e, &l, out);
}
