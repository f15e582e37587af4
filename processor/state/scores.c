/*
 * scores.c: the packed leaderboard scores of a learner record (see
 * proto/internal/state.proto): adding to one (board, period) entry, and
 * the sorted list of a learner's scores that dump and the feed show.
 * Reading an entry (gm__score_next) is inline in state_int.h.
 */
#include "state_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Adds delta to the learner's (board, period) score in its packed scores
 * (see state.proto) and returns the new score; blen and plen are the
 * lengths of board and period (the caller knows them once per event); *created tells whether the
 * entry is new. A new entry or a changed score takes at as its reach time;
 * *reached is the entry's reach time after the event. *cap is the size of
 * the buffer (0: exactly its len), kept by the caller (the learner's
 * slot): a new entry doubles it when full instead of a realloc per entry.
 */
int64_t
gm__add_score(Gamify__Internal__UserState *st, size_t *cap, const char *board, size_t blen,
              const char *period, size_t plen, int64_t delta, int64_t at, bool *created,
              int64_t *reached)
{
    struct gm__score_name bn, pn;
    gm__score_name_init(&bn, board, blen);
    gm__score_name_init(&pn, period, plen);
    return gm__add_score_named(st, cap, &bn, &pn, delta, at, created, reached);
}

/* The same with the names made once per event (gm__score_name_init). */
int64_t
gm__add_score_named(Gamify__Internal__UserState *st, size_t *cap, const struct gm__score_name *bn,
                    const struct gm__score_name *pn, int64_t delta, int64_t at, bool *created,
                    int64_t *reached)
{
    const char *board = bn->s, *period = pn->s;
    size_t blen = bn->len, plen = pn->len;
    *created = false;
    ProtobufCBinaryData *sp = &st->scores_packed;
    for (size_t r = 0; r < sp->len;) {
        struct score_entry e;
        size_t n = gm__score_next(sp->data + r, sp->len - r, &e);
        if (!n)
            break; /* a corrupt tail is replaced by the new entry below */
        if (e.board_len == blen && e.period_len == plen && gm__score_name_is(e.board, bn) &&
            gm__score_name_is(e.period, pn)) {
            /* saturated like every total of the fold (never wraps) */
            int64_t score, old = (int64_t)gm__get_be64(sp->data + r + SCORE_AT(n));
            if (__builtin_add_overflow(old, delta, &score))
                score = delta > 0 ? INT64_MAX : INT64_MIN;
            gm__put_be64(sp->data + r + SCORE_AT(n), (uint64_t)score);
            if (delta)
                gm__put_be64(sp->data + r + REACHED_AT(n), (uint64_t)at);
            *reached = (int64_t)gm__get_be64(sp->data + r + REACHED_AT(n));
            return score;
        }
        r += n;
    }
    *created = true;
    size_t add = 1 + blen + 1 + plen + SCORE_TAIL;
    uint8_t *data = sp->data;
    if (sp->len + add > (*cap > sp->len ? *cap : sp->len)) {
        size_t want = *cap > sp->len ? *cap : sp->len;
        want = want < 64 ? 64 : want * 2;
        while (want < sp->len + add)
            want *= 2;
        if (!(data = realloc(sp->data, want)))
            abort();
        *cap = want;
    }
    uint8_t *p = data + sp->len;
    *p++ = (uint8_t)blen;
    memcpy(p, board, blen);
    p += blen;
    *p++ = (uint8_t)plen;
    memcpy(p, period, plen);
    p += plen;
    gm__put_be64(p, (uint64_t)delta);
    gm__put_be64(p + 8, (uint64_t)at);
    *reached = at;
    sp->data = data;
    sp->len += add;
    return delta;
}

static int
score_cmp(const void *a, const void *b)
{
    const struct gm_score *x = a, *y = b;
    int c = strcmp(x->board, y->board);
    return c ? c : strcmp(x->period, y->period);
}

/*
 * Collects st's leaderboard scores without the periods expired by m's
 * floors (which pruning may not have reached yet), boards and periods in
 * byte order, into *out (reusing its memory; free with gm__score_list_free).
 */
void
gm__score_list_fill(struct score_list *out, const Gamify__Internal__UserState *st,
                    const struct meta *m)
{
    const ProtobufCBinaryData *sp = &st->scores_packed;
    size_t n = 0, bytes = 0;
    struct score_entry e;
    for (size_t r = 0, len; r < sp->len; r += len) {
        if (!(len = gm__score_next(sp->data + r, sp->len - r, &e)))
            break;
        n++;
        bytes += e.board_len + e.period_len + 2;
    }
    free(out->v);
    free(out->names);
    out->v = malloc((n ? n : 1) * sizeof *out->v);
    out->names = malloc(bytes ? bytes : 1);
    if (!out->v || !out->names)
        abort();
    out->n = 0;
    char *at = out->names;
    for (size_t r = 0, len; r < sp->len; r += len) {
        if (!(len = gm__score_next(sp->data + r, sp->len - r, &e)))
            break;
        if (gm__period_expired(m, e.period, e.period_len))
            continue;
        struct gm_score *sc = &out->v[out->n++];
        sc->board = at;
        memcpy(at, e.board, e.board_len);
        at[e.board_len] = '\0';
        at += e.board_len + 1;
        sc->period = at;
        memcpy(at, e.period, e.period_len);
        at[e.period_len] = '\0';
        at += e.period_len + 1;
        sc->score = (int64_t)gm__get_be64(sp->data + r + SCORE_AT(len));
        sc->reached_at = (int64_t)gm__get_be64(sp->data + r + REACHED_AT(len));
    }
    qsort(out->v, out->n, sizeof *out->v, score_cmp);
}

void
gm__score_list_free(struct score_list *l)
{
    free(l->v);
    free(l->names);
    memset(l, 0, sizeof *l);
}
