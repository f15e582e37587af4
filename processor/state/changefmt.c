/*
 * changefmt.c: the compact form of a change-feed record, its writer, and
 * the reader of both stored forms (compact and protobuf). See changefmt.h.
 *
 * Compact record (every integer a varint; "sint" zigzag-encoded; "str" a
 * varint length then the bytes):
 *
 *   00 01                       the mark of this form, version 1
 *   varint flags                bit 0: a redemption follows the scores
 *   str user_id, str event_id, sint occurred_at (seconds)
 *   sint ledger_first, sint ledger_count
 *   varint n_scores, varint n_boards, then per board:
 *     str board, varint n, then n times:
 *       varint period   1 "all"; 2 + (zigzag(index) << 1 | weekly) a week
 *                       or month key (gm_fold_period_name); 0 a str follows
 *       sint score, sint reached_at - occurred_at
 *   [redemption] str redemption_id, str reward_id, varint completed,
 *       sint reason, sint seq, sint cost, varint same (bit 0 event_id,
 *       bit 1 user_id, bit 2 occurred_at are the change's), then those
 *       that are not: str event_id, str user_id, sint occurred_at
 *   varint n_outbound, then per event: varint body field (10 level_up,
 *       11 badge_earned, 12 streak_updated, 13 reward_redeemed,
 *       14 redemption_rejected), sint nanos of its time, the body's fields
 *       in field order (sint for numbers, str for strings)
 *
 * An outbound event's id, learner, cause and time (seconds) are the
 * change's, its id rebuilt by gm__outbound_id_of: the writer checks that
 * each is so and otherwise leaves the record to protobuf.
 */
#include "changefmt.h"

#include "state_int.h"
#include "varint.h"

#include <stdlib.h>
#include <string.h>

/* ---- writing: one walk into a buffer that grows as it goes ---- */

/*
 * The header and the scores of a record (most of its bytes) are written
 * unchecked into room reserved once for their worst case (every varint ten
 * bytes); the redemption and outbound events, rare, check their room as
 * they go.
 */
struct wbuf {
    uint8_t *at, *end;
    uint8_t **buf; /* the caller's buffer and capacity, kept up to date */
    size_t *bufcap;
};

static void
w_room_slow(struct wbuf *w, size_t k)
{
    size_t n = (size_t)(w->at - *w->buf), cap = *w->bufcap * 2;
    while (cap < n + k)
        cap *= 2;
    uint8_t *p = realloc(*w->buf, cap);
    if (!p)
        abort();
    *w->buf = p;
    *w->bufcap = cap;
    w->at = p + n;
    w->end = p + cap;
}

/* Makes room for k more bytes. */
static inline void
w_room(struct wbuf *w, size_t k)
{
    if ((size_t)(w->end - w->at) < k)
        w_room_slow(w, k);
}

/* Unchecked: the room is reserved. */
static inline void
u_varint(struct wbuf *w, uint64_t v)
{
    w->at = gm__varint_put(w->at, v);
}

static inline void
u_sint(struct wbuf *w, int64_t v)
{
    u_varint(w, gm__zigzag(v));
}

static inline void
u_bytes(struct wbuf *w, const char *s, size_t n)
{
    u_varint(w, n);
    if (n)
        memcpy(w->at, s, n);
    w->at += n;
}

/* Checked. */
static inline void
w_varint(struct wbuf *w, uint64_t v)
{
    w_room(w, 10);
    u_varint(w, v);
}

static inline void
w_sint(struct wbuf *w, int64_t v)
{
    w_varint(w, gm__zigzag(v));
}

static void
w_str(struct wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    w_room(w, 10 + n);
    u_bytes(w, s, n);
}

static bool
same_str(const char *a, const char *b)
{
    return a == b || strcmp(a ? a : "", b ? b : "") == 0;
}

/* Whether score entries i and j name the same board. */
static inline bool
same_board(const Gamify__Internal__Change *ch, const struct gm__change_known *kn, size_t i,
           size_t j)
{
    const char *a = ch->scores[i]->board, *b = ch->scores[j]->board;
    return a == b || (kn->board_lens[i] == kn->board_lens[j] && same_str(a, b));
}

/* The period code of key (see the top of the file); 0: written as text. */
static uint64_t
period_code_of(const char *key)
{
    bool weekly;
    int64_t idx;
    if (gm_fold_period_parse(key, strlen(key), &weekly, &idx))
        return 0;
    /* the parse takes more than the canonical keys ("2026-W3"): only a
     * key that comes back the same is coded */
    char back[GM_PERIOD_KEY_MAX];
    gm_fold_period_name(weekly, idx, back);
    if (strcmp(back, key) != 0)
        return 0;
    uint64_t zz = ((uint64_t)idx << 1) ^ (uint64_t)(idx >> 63);
    return 2 + (zz << 1 | (weekly ? 1 : 0));
}

/*
 * The same, remembered: a writer sees the same few keys (this week, this
 * month) for days, and naming a period back costs hundreds of
 * instructions. Per thread (a Kafka processor writes partitions in
 * threads of their own).
 */
uint64_t
gm__change_period_code(const char *key)
{
    static _Thread_local struct {
        char key[GM_PERIOD_KEY_MAX];
        uint64_t code;
    } memo[4];
    static _Thread_local unsigned memo_next;
    if (!key)
        return 0;
    size_t n = strlen(key);
    if (n == 3 && memcmp(key, "all", 3) == 0)
        return 1;
    if (n == 0 || n >= GM_PERIOD_KEY_MAX)
        return 0;
    /* zero-padded to the memo's fixed size: compared without a call */
    char k[GM_PERIOD_KEY_MAX] = {0};
    memcpy(k, key, n);
    for (unsigned i = 0; i < 4; i++)
        if (memcmp(memo[i].key, k, GM_PERIOD_KEY_MAX) == 0)
            return memo[i].code;
    uint64_t code = period_code_of(key);
    unsigned at = memo_next++ % 4;
    memcpy(memo[at].key, k, GM_PERIOD_KEY_MAX);
    memo[at].code = code;
    return code;
}

/*
 * The code of the fold's own week or month key, whose text is a function of
 * its index (gm_fold_periods names both from the same day): remembered by
 * the index, so an event's two keys cost a compare each, not a strlen, a
 * copy and a memo search by text. A new index takes the text's code once.
 */
uint64_t
gm__change_period_code_of_index(bool weekly, int64_t idx, const char *key)
{
    static _Thread_local struct {
        bool set;
        int64_t idx;
        uint64_t code;
    } memo[2]; /* [1] weeks, [0] months */
    if (!memo[weekly].set || memo[weekly].idx != idx) {
        memo[weekly].code = gm__change_period_code(key);
        memo[weekly].idx = idx;
        memo[weekly].set = true;
    }
    return memo[weekly].code;
}

/* The body message of o, NULL when none is set. */
static const ProtobufCMessage *
body_of(const Gamification__V1__OutboundEvent *o)
{
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        return o->level_up ? &o->level_up->base : NULL;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        return o->badge_earned ? &o->badge_earned->base : NULL;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        return o->streak_updated ? &o->streak_updated->base : NULL;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        return o->reward_redeemed ? &o->reward_redeemed->base : NULL;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        return o->redemption_rejected ? &o->redemption_rejected->base : NULL;
    default:
        return NULL;
    }
}

/* The schema this form was written for (descriptors are constants). */
static bool
schema_known(void)
{
    return gamify__internal__change__descriptor.n_fields == 12 &&
           gamify__internal__board_score__descriptor.n_fields == 4 &&
           gamify__internal__redemption__descriptor.n_fields == 9 &&
           gamification__v1__outbound_event__descriptor.n_fields == 9 &&
           google__protobuf__timestamp__descriptor.n_fields == 2 &&
           gamification__v1__level_up__descriptor.n_fields == 3 &&
           gamification__v1__badge_earned__descriptor.n_fields == 2 &&
           gamification__v1__streak_updated__descriptor.n_fields == 3 &&
           gamification__v1__reward_redeemed__descriptor.n_fields == 4 &&
           gamification__v1__redemption_rejected__descriptor.n_fields == 3;
}

/* Whether o is rebuilt byte for byte from its kind, body and nanos. */
static bool
outbound_covered(const Gamify__Internal__Change *ch, const Gamification__V1__OutboundEvent *o)
{
    const ProtobufCMessage *b = body_of(o);
    if (!b || b->n_unknown_fields || o->base.n_unknown_fields || !o->occurred_at ||
        o->occurred_at->base.n_unknown_fields || o->occurred_at->seconds != ch->occurred_at ||
        !same_str(o->user_id, ch->user_id) || !same_str(o->cause_event_id, ch->event_id))
        return false;
    char id[GM_OUTBOUND_ID_MAX];
    gm__outbound_id_of(ch->event_id ? ch->event_id : "", o, id);
    return same_str(o->event_id, id);
}

static bool
covered(const Gamify__Internal__Change *ch, bool outbound_built)
{
    if (!schema_known() || ch->base.n_unknown_fields || ch->profile || ch->n_ledger ||
        ch->n_pruned_periods || !ch->user_id || !ch->user_id[0])
        return false;
    for (size_t i = 0; i < ch->n_scores; i++)
        if (ch->scores[i]->base.n_unknown_fields)
            return false;
    if (ch->redemption && ch->redemption->base.n_unknown_fields)
        return false;
    if (outbound_built)
        return true;
    for (size_t i = 0; i < ch->n_outbound; i++)
        if (!outbound_covered(ch, ch->outbound[i]))
            return false;
    return true;
}

static void
put_outbound(struct wbuf *w, const Gamification__V1__OutboundEvent *o)
{
    w_varint(w, (uint64_t)o->body_case); /* the body's field number */
    w_sint(w, o->occurred_at->nanos);
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        w_sint(w, o->level_up->new_level);
        w_sint(w, o->level_up->reward);
        w_sint(w, o->level_up->exp);
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        w_str(w, o->badge_earned->badge_id);
        w_str(w, o->badge_earned->name);
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        w_sint(w, o->streak_updated->current_streak);
        w_sint(w, o->streak_updated->longest_streak);
        w_sint(w, o->streak_updated->freezes_used);
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        w_str(w, o->reward_redeemed->redemption_id);
        w_str(w, o->reward_redeemed->reward_id);
        w_sint(w, o->reward_redeemed->cost);
        w_sint(w, o->reward_redeemed->coins_after);
        break;
    default: /* covered: redemption_rejected */
        w_str(w, o->redemption_rejected->redemption_id);
        w_str(w, o->redemption_rejected->reward_id);
        w_sint(w, o->redemption_rejected->reason);
        break;
    }
}

static void
put_change(struct wbuf *w, const Gamify__Internal__Change *ch, const struct gm__change_known *kn)
{
    /* the worst case of the header and the scores: 2 + 8 varints, the two
     * ids; per entry, as if each were a run of its own: its board, 5
     * varints (the board's length, the run's count, the period code, the
     * score, the reach time) and a period as text */
    size_t room = 2 + 8 * 10 + kn->user_id_len + kn->event_id_len;
    for (size_t i = 0; i < ch->n_scores; i++) {
        const char *period = ch->scores[i]->period;
        room += kn->board_lens[i] + 5 * 10 +
                (kn->period_codes[i] ? 0 : 10 + (period ? strlen(period) : 0));
    }
    w_room(w, room);
    *w->at++ = 0;
    *w->at++ = 1;
    u_varint(w, ch->redemption ? 1 : 0);
    u_bytes(w, ch->user_id, kn->user_id_len);
    u_bytes(w, ch->event_id, kn->event_id_len);
    u_sint(w, ch->occurred_at);
    u_sint(w, ch->ledger_first);
    u_sint(w, ch->ledger_count);
    /* scores in runs of one board */
    size_t n_boards = 0;
    for (size_t i = 0; i < ch->n_scores; i++)
        if (i == 0 || !same_board(ch, kn, i, i - 1))
            n_boards++;
    u_varint(w, ch->n_scores);
    u_varint(w, n_boards);
    for (size_t i = 0; i < ch->n_scores;) {
        size_t j = i + 1;
        while (j < ch->n_scores && same_board(ch, kn, j, i))
            j++;
        u_bytes(w, ch->scores[i]->board, kn->board_lens[i]);
        u_varint(w, j - i);
        for (; i < j; i++) {
            const Gamify__Internal__BoardScore *b = ch->scores[i];
            uint64_t code = kn->period_codes[i];
            u_varint(w, code);
            if (!code)
                u_bytes(w, b->period, b->period ? strlen(b->period) : 0);
            u_sint(w, b->score);
            u_sint(w, b->reached_at - ch->occurred_at);
        }
    }
    if (ch->redemption) {
        const Gamify__Internal__Redemption *r = ch->redemption;
        w_str(w, r->redemption_id);
        w_str(w, r->reward_id);
        w_varint(w, r->completed ? 1 : 0);
        w_sint(w, r->reason);
        w_sint(w, r->seq);
        w_sint(w, r->cost);
        bool same_ev = same_str(r->event_id, ch->event_id);
        bool same_user = same_str(r->user_id, ch->user_id);
        bool same_time = r->occurred_at == ch->occurred_at;
        w_varint(w, (same_ev ? 1u : 0u) | (same_user ? 2u : 0u) | (same_time ? 4u : 0u));
        if (!same_ev)
            w_str(w, r->event_id);
        if (!same_user)
            w_str(w, r->user_id);
        if (!same_time)
            w_sint(w, r->occurred_at);
    }
    w_varint(w, ch->n_outbound);
    for (size_t i = 0; i < ch->n_outbound; i++)
        put_outbound(w, ch->outbound[i]);
}

size_t
gm__change_compact_encode(const Gamify__Internal__Change *ch, bool outbound_built,
                          const struct gm__change_known *known, uint8_t **buf, size_t *cap)
{
    if (!covered(ch, outbound_built))
        return 0;
    if (*cap < 256) {
        if (!(*buf = realloc(*buf, 256)))
            abort();
        *cap = 256;
    }
    struct wbuf w = {*buf, *buf + *cap, buf, cap};
    if (known) {
        put_change(&w, ch, known);
    } else {
        /* measured here (tests, and any writer that does not know them) */
        size_t *lens = malloc((ch->n_scores + 1) * sizeof *lens);
        uint64_t *codes = malloc((ch->n_scores + 1) * sizeof *codes);
        if (!lens || !codes)
            abort();
        for (size_t i = 0; i < ch->n_scores; i++) {
            lens[i] = ch->scores[i]->board ? strlen(ch->scores[i]->board) : 0;
            codes[i] = gm__change_period_code(ch->scores[i]->period);
        }
        struct gm__change_known kn = {strlen(ch->user_id), ch->event_id ? strlen(ch->event_id) : 0,
                                      lens, codes};
        put_change(&w, ch, &kn);
        free(lens);
        free(codes);
    }
    return (size_t)(w.at - *buf);
}

size_t
gm__change_compact_size(const Gamify__Internal__Change *ch)
{
    uint8_t *buf = NULL;
    size_t cap = 0, n = gm__change_compact_encode(ch, false, NULL, &buf, &cap);
    free(buf);
    return n;
}

void
gm__change_compact_write(const Gamify__Internal__Change *ch, uint8_t *out)
{
    uint8_t *buf = NULL;
    size_t cap = 0, n = gm__change_compact_encode(ch, false, NULL, &buf, &cap);
    memcpy(out, buf, n);
    free(buf);
}

/* ---- reading ---- */

void
gm__change_reader_init(struct gm__change_reader *r)
{
    memset(r, 0, sizeof *r);
    gm_arena_init(&r->arena, 4096);
}

void
gm__change_reader_deinit(struct gm__change_reader *r)
{
    gm_arena_deinit(&r->arena);
}

struct rbuf {
    const uint8_t *p, *end;
    bool bad;
    struct gm_arena *arena;
};

static uint64_t
r_varint(struct rbuf *r)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            r->bad = true;
            return 0;
        }
        uint8_t b = *r->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t
r_sint(struct rbuf *r)
{
    uint64_t v = r_varint(r);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int32_t
r_sint32(struct rbuf *r)
{
    int64_t v = r_sint(r);
    if (v < INT32_MIN || v > INT32_MAX)
        r->bad = true;
    return (int32_t)v;
}

/* A string copied into the arena with its NUL ("" for none). */
static char *
r_str(struct rbuf *r)
{
    uint64_t n = r_varint(r);
    if (r->bad || n > (uint64_t)(r->end - r->p)) {
        r->bad = true;
        return "";
    }
    if (n == 0)
        return "";
    char *s = gm_arena_alloc(r->arena, n + 1);
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    return s;
}

/* An outbound event rebuilt from its compact bytes; NULL (r->bad) when they
 * are not one. */
static Gamification__V1__OutboundEvent *
r_outbound(struct rbuf *r, const struct gm_change *ch)
{
    struct {
        Gamification__V1__OutboundEvent oev;
        Google__Protobuf__Timestamp ts;
        union {
            Gamification__V1__LevelUp lu;
            Gamification__V1__BadgeEarned be;
            Gamification__V1__StreakUpdated su;
            Gamification__V1__RewardRedeemed rr;
            Gamification__V1__RedemptionRejected rj;
        } body;
        char id[GM_OUTBOUND_ID_MAX];
    } *b = gm_arena_alloc(r->arena, sizeof *b);
    gamification__v1__outbound_event__init(&b->oev);
    google__protobuf__timestamp__init(&b->ts);
    uint64_t field = r_varint(r);
    b->ts.seconds = ch->occurred_at;
    b->ts.nanos = r_sint32(r);
    b->oev.user_id = (char *)ch->user_id;
    b->oev.cause_event_id = (char *)ch->event_id;
    b->oev.occurred_at = &b->ts;
    b->oev.event_id = b->id;
    switch (field) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        gamification__v1__level_up__init(&b->body.lu);
        b->body.lu.new_level = r_sint32(r);
        b->body.lu.reward = r_sint32(r);
        b->body.lu.exp = r_sint(r);
        b->oev.level_up = &b->body.lu;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        gamification__v1__badge_earned__init(&b->body.be);
        b->body.be.badge_id = r_str(r);
        b->body.be.name = r_str(r);
        b->oev.badge_earned = &b->body.be;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        gamification__v1__streak_updated__init(&b->body.su);
        b->body.su.current_streak = r_sint32(r);
        b->body.su.longest_streak = r_sint32(r);
        b->body.su.freezes_used = r_sint32(r);
        b->oev.streak_updated = &b->body.su;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        gamification__v1__reward_redeemed__init(&b->body.rr);
        b->body.rr.redemption_id = r_str(r);
        b->body.rr.reward_id = r_str(r);
        b->body.rr.cost = r_sint32(r);
        b->body.rr.coins_after = r_sint(r);
        b->oev.reward_redeemed = &b->body.rr;
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        gamification__v1__redemption_rejected__init(&b->body.rj);
        b->body.rj.redemption_id = r_str(r);
        b->body.rj.reward_id = r_str(r);
        b->body.rj.reason = (Gamification__V1__RejectionReason)r_sint32(r);
        b->oev.redemption_rejected = &b->body.rj;
        break;
    default:
        r->bad = true;
        return NULL;
    }
    b->oev.body_case = (Gamification__V1__OutboundEvent__BodyCase)field;
    gm__outbound_id_of(ch->event_id, &b->oev, b->id);
    return &b->oev;
}

static int
decode_compact(struct gm_arena *a, const uint8_t *data, size_t len, struct gm_change *ch)
{
    struct rbuf r = {data + 2, data + len, false, a};
    if (data[1] != 1)
        return GM_ECORRUPT; /* a later version of this form */
    uint64_t flags = r_varint(&r);
    ch->user_id = r_str(&r);
    ch->event_id = r_str(&r);
    ch->occurred_at = r_sint(&r);
    ch->ledger_first = r_sint(&r);
    ch->ledger_count = r_sint(&r);
    uint64_t n_scores = r_varint(&r), n_boards = r_varint(&r);
    /* every score takes at least 3 bytes: a bound before allocating */
    if (r.bad || n_scores > len / 3 || n_boards > n_scores)
        return GM_ECORRUPT;
    struct gm_score *scores = gm_arena_alloc(a, (n_scores ? n_scores : 1) * sizeof *scores);
    size_t at = 0;
    for (uint64_t b = 0; b < n_boards && !r.bad; b++) {
        const char *board = r_str(&r);
        uint64_t n = r_varint(&r);
        if (n > n_scores - at)
            return GM_ECORRUPT;
        for (uint64_t i = 0; i < n && !r.bad; i++, at++) {
            struct gm_score *sc = &scores[at];
            sc->board = board;
            uint64_t code = r_varint(&r);
            if (code == 0) {
                sc->period = r_str(&r);
            } else if (code == 1) {
                sc->period = "all";
            } else {
                uint64_t zz = (code - 2) >> 1;
                char *name = gm_arena_alloc(a, GM_PERIOD_KEY_MAX);
                gm_fold_period_name((code - 2) & 1, (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1), name);
                sc->period = name;
            }
            sc->score = r_sint(&r);
            sc->reached_at = ch->occurred_at + r_sint(&r);
        }
    }
    if (r.bad || at != n_scores)
        return GM_ECORRUPT;
    ch->scores = scores;
    ch->n_scores = n_scores;
    if (flags & 1) {
        struct gm_feed_redemption *red = gm_arena_alloc(a, sizeof *red);
        red->redemption_id = r_str(&r);
        red->reward_id = r_str(&r);
        red->completed = r_varint(&r) != 0;
        red->reason = (int)r_sint32(&r);
        red->seq = r_sint(&r);
        red->cost = r_sint(&r);
        uint64_t same = r_varint(&r);
        red->event_id = same & 1 ? ch->event_id : r_str(&r);
        if (!(same & 2))
            (void)r_str(&r); /* the learner: readers take the change's */
        red->occurred_at = same & 4 ? ch->occurred_at : r_sint(&r);
        ch->redemption = red;
    }
    uint64_t n_out = r_varint(&r);
    if (r.bad || n_out > len / 2)
        return GM_ECORRUPT;
    Gamification__V1__OutboundEvent **out = gm_arena_alloc(a, (n_out ? n_out : 1) * sizeof *out);
    for (uint64_t i = 0; i < n_out && !r.bad; i++)
        out[i] = r_outbound(&r, ch);
    if (r.bad || r.p != r.end)
        return GM_ECORRUPT;
    ch->outbound = (const Gamification__V1__OutboundEvent *const *)out;
    ch->n_outbound = n_out;
    return 0;
}

/* A protobuf Change (every state's form before the compact one). */
static int
decode_protobuf(struct gm_arena *a, const uint8_t *data, size_t len, struct gm_change *ch)
{
    Gamify__Internal__Change *pc =
        gamify__internal__change__unpack(gm_arena_protobuf(a), len, data);
    if (!pc)
        return GM_ECORRUPT;
    struct gm_score *scores = gm_arena_alloc(a, (pc->n_scores ? pc->n_scores : 1) * sizeof *scores);
    for (size_t i = 0; i < pc->n_scores; i++)
        scores[i] = (struct gm_score){pc->scores[i]->board, pc->scores[i]->period,
                                      pc->scores[i]->score, pc->scores[i]->reached_at};
    if (pc->redemption) {
        const Gamify__Internal__Redemption *r = pc->redemption;
        struct gm_feed_redemption *red = gm_arena_alloc(a, sizeof *red);
        *red = (struct gm_feed_redemption){r->redemption_id, r->reward_id,   r->event_id,
                                           r->completed,     (int)r->reason, r->cost,
                                           r->seq,           r->occurred_at};
        ch->redemption = red;
    }
    ch->user_id = pc->user_id && pc->user_id[0] ? pc->user_id : NULL;
    ch->event_id = pc->event_id;
    ch->occurred_at = pc->occurred_at;
    ch->scores = scores;
    ch->n_scores = pc->n_scores;
    ch->ledger_first = pc->ledger_first;
    ch->ledger_count = pc->ledger_count;
    ch->outbound = (const Gamification__V1__OutboundEvent *const *)pc->outbound;
    ch->n_outbound = pc->n_outbound;
    ch->pruned_periods = (const char *const *)pc->pruned_periods;
    ch->n_pruned_periods = pc->n_pruned_periods;
    return 0;
}

int
gm__change_decode_into(struct gm_arena *a, int64_t seq, const void *data, size_t len,
                       struct gm_change *ch)
{
    *ch = (struct gm_change){.seq = seq};
    const uint8_t *d = data;
    if (len >= 2 && d[0] == 0)
        return decode_compact(a, d, len, ch);
    return decode_protobuf(a, d, len, ch);
}

int
gm__change_decode(struct gm__change_reader *r, int64_t seq, const void *data, size_t len,
                  struct gm_change *ch)
{
    gm_arena_reset(&r->arena);
    return gm__change_decode_into(&r->arena, seq, data, len, ch);
}
