/*
 * outbound.c: the outbound events of one fold (level up, badge earned, streak,
 * reward redeemed, redemption rejected) as protobuf messages in the
 * event arena, each with its deterministic id "EVENT:KIND[:DETAIL]", named
 * only when a record keeps it (a compact change record does not: its
 * reader rebuilds the id).
 */
#include "state_int.h"

#include <string.h>

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

/*
 * Writes "EVENT:SUFFIX" and, when tail is not NULL, ":TAIL" into buf (cap
 * bytes), cut short as snprintf would; an outbound event's id. By hand: one
 * per outbound event, where snprintf showed in profiles.
 */
static void
outbound_id(char *buf, size_t cap, const char *event_id, const char *suffix, const char *tail)
{
    const char *parts[5] = {event_id, ":", suffix, tail ? ":" : "", tail ? tail : ""};
    size_t at = 0;
    for (size_t i = 0; i < 5; i++) {
        size_t n = strlen(parts[i]);
        if (n > cap - 1 - at)
            n = cap - 1 - at;
        memcpy(buf + at, parts[i], n);
        at += n;
    }
    buf[at] = '\0';
}

/* The decimal text of v in buf (at least 21 bytes). */
static const char *
decimal(char buf[21], long long v)
{
    char *p = buf + 20;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    *p = '\0';
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    return p;
}

void
gm__build_outbound(const Gamification__V1__Event *ev, const struct gm_fold_out *fo,
                   struct gm_arena *arena, struct outbound_set *set)
{
    google__protobuf__timestamp__init(&set->ts);
    set->ts.seconds = ev->occurred_at->seconds;
    set->ts.nanos = ev->occurred_at->nanos;
    set->n = fo->n_outbound;
    set->ids_derived = true;
    set->items = gm_arena_alloc(arena, (fo->n_outbound ? fo->n_outbound : 1) * sizeof *set->items);
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
            char id[GM_OUTBOUND_ID_MAX];
        } *b = gm_arena_alloc(arena, sizeof *b);
        memset(b, 0, sizeof *b);
        gamification__v1__outbound_event__init(&b->oev);
        b->oev.user_id = ev->user_id;
        b->oev.cause_event_id = ev->event_id;
        b->oev.occurred_at = &set->ts;
        b->oev.event_id = b->id;
        switch (o->kind) {
        case GM_OUT_LEVEL_UP:
            gamification__v1__level_up__init(&b->lu);
            b->lu.new_level = (int32_t)o->a;
            b->lu.reward = (int32_t)o->b;
            b->lu.exp = o->c;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP;
            b->oev.level_up = &b->lu;
            if ((int64_t)b->lu.new_level != o->a)
                set->ids_derived = false;
            break;
        case GM_OUT_BADGE_EARNED:
            gamification__v1__badge_earned__init(&b->be);
            b->be.badge_id = (char *)o->id;
            b->be.name = (char *)o->name;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED;
            b->oev.badge_earned = &b->be;
            break;
        case GM_OUT_STREAK_UPDATED:
            gamification__v1__streak_updated__init(&b->su);
            b->su.current_streak = (int32_t)o->a;
            b->su.longest_streak = (int32_t)o->b;
            b->su.freezes_used = (int32_t)o->c;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED;
            b->oev.streak_updated = &b->su;
            break;
        case GM_OUT_REWARD_REDEEMED:
            gamification__v1__reward_redeemed__init(&b->rr);
            b->rr.redemption_id = (char *)o->id;
            b->rr.reward_id = (char *)o->name;
            b->rr.cost = (int32_t)o->a;
            b->rr.coins_after = o->b;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED;
            b->oev.reward_redeemed = &b->rr;
            break;
        case GM_OUT_REDEMPTION_REJECTED:
            gamification__v1__redemption_rejected__init(&b->rj);
            b->rj.redemption_id = (char *)o->id;
            b->rj.reward_id = (char *)o->name;
            b->rj.reason = (Gamification__V1__RejectionReason)o->a;
            b->oev.body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED;
            b->oev.redemption_rejected = &b->rj;
            break;
        }
        set->items[i] = &b->oev;
    }
}

void
gm__name_outbound(const Gamification__V1__Event *ev, const struct gm_fold_out *fo,
                  struct outbound_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        const struct gm_outbound *o = &fo->outbound[i];
        char *id = set->items[i]->event_id, num[21];
        const char *tail = NULL;
        if (o->kind == GM_OUT_LEVEL_UP)
            tail = decimal(num, (long long)o->a); /* the level before any cut to int32 */
        else if (o->kind == GM_OUT_BADGE_EARNED)
            tail = o->id;
        outbound_id(id, GM_OUTBOUND_ID_MAX, ev->event_id, outbound_suffix(o->kind), tail);
    }
}

void
gm__outbound_id_of(const char *event_id, const Gamification__V1__OutboundEvent *o, char *buf)
{
    char num[21];
    switch (o->body_case) {
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP:
        outbound_id(buf, GM_OUTBOUND_ID_MAX, event_id, outbound_suffix(GM_OUT_LEVEL_UP),
                    decimal(num, (long long)o->level_up->new_level));
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED:
        outbound_id(buf, GM_OUTBOUND_ID_MAX, event_id, outbound_suffix(GM_OUT_BADGE_EARNED),
                    o->badge_earned->badge_id);
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED:
        outbound_id(buf, GM_OUTBOUND_ID_MAX, event_id, outbound_suffix(GM_OUT_STREAK_UPDATED),
                    NULL);
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED:
        outbound_id(buf, GM_OUTBOUND_ID_MAX, event_id, outbound_suffix(GM_OUT_REWARD_REDEEMED),
                    NULL);
        break;
    case GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED:
        outbound_id(buf, GM_OUTBOUND_ID_MAX, event_id, outbound_suffix(GM_OUT_REDEMPTION_REJECTED),
                    NULL);
        break;
    default:
        buf[0] = '\0';
        break;
    }
}
