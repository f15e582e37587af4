/*
 * mirror.c: the board mirror (--mirror-members): whole leaderboards of the
 * current periods held in this process, so that Query.leaderboard answers
 * from memory instead of a Redis round trip per request.
 *
 * A board (one sorted set, PREFIX lb:BOARD:PERIOD) is loaded the first time
 * a request asks for it, by one ZRANGE of the whole set, and from then on
 * follows the Redis projector's leaderboard-scores messages
 * (common/lbscores.h): every score the projector writes comes in the same
 * MULTI/EXEC as the write. One thread owns two connections: a subscriber
 * and one for loads and checks; it applies the messages and does the loads
 * in turn, so nothing a message says is ever lost between a load and the
 * next message:
 *
 *   - the subscription is in force before any load, so a write after a
 *     load's ZRANGE arrives as a message after it;
 *   - a write before the ZRANGE is in the load, and its message (maybe
 *     still unread) writes the same absolute score again.
 *
 * Anything else drops boards, which load again at the next request that
 * wants them: an R item (a prune, a rebuild, a reconcile's repair, the
 * memory guard), a malformed message, a lost subscriber connection. A check
 * every --mirror-check-ms compares each board's size with ZCARD, ordered
 * against the subscription by a PING on it (see check_* below), and drops a
 * board that differs: scores written by something that sends no message.
 * Only the current periods and all-time are mirrored (the resolver asks for
 * nothing else): their keys never reach their TTLs while current.
 *
 * Order within a board is Redis's for ZREVRANGE: higher score first, equal
 * scores by member bytes, greater first. Members sit in blocks of at most
 * BLOCK_MAX in that order, so an update moves a few kilobytes and a
 * position is the sizes of the blocks before it (a Fenwick tree over the
 * blocks: summing them one by one was a tenth of a request's CPU at 100,000
 * members) plus an index; a hash of the members gives each one's score.
 * Readers and the mirror thread share a board under its mutex; the table
 * of boards under a read-write lock that only the mirror thread takes for
 * writing.
 */
#include "internal.h"
#include "lbscore.h"
#include "lbscores.h"
#include "log.h"

#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define BLOCK_MAX     256
#define TABLE_MAX     4096   /* boards and remembered misses at most */
#define WANT_MAX      64     /* loads queued at most */
#define MISS_RETRY_MS 1000   /* an empty or missing board is asked again after this */
#define BIG_RETRY_MS  30000  /* a board past the budget is asked again after this */
#define IDLE_MS       600000 /* a board nobody read for this long is dropped */

struct mstr {
    uint32_t len;
    char s[]; /* NUL-terminated */
};

struct mel {
    int64_t score;
    struct mstr *m;
};

struct block {
    uint32_t n;
    struct mel e[BLOCK_MAX];
};

struct slot {
    struct mstr *m; /* NULL: empty */
    int64_t score;
    uint64_t h;
};

enum bstate { B_READY, B_MISS };

struct board {
    char *key;
    size_t key_len;
    uint64_t h;
    enum bstate state;
    int64_t retry_ms; /* B_MISS: a request may queue a load again from then on */
    pthread_mutex_t mu;
    struct block **blk;
    size_t n_blk, cap_blk;
    size_t n;
    /* Fenwick tree over the blocks' sizes (fen[1..n_blk]): the members
     * before block k in O(log blocks); rebuilt after a split or a block's
     * removal (fen_dirty), kept up by single inserts and erases. */
    int64_t *fen;
    size_t cap_fen;
    bool fen_dirty;
    struct slot *slots;
    size_t n_slots; /* a power of two, at least 2n */
    _Atomic int64_t used_ms;
    uint64_t gen;       /* the load that made it */
    int64_t check_card; /* the check's ZCARD (-1: none) */
    size_t check_local; /* its size when the check began (phase 1) */
};

struct gm__mirror {
    struct gm_api_backend *b;
    int64_t max_members;
    int check_ms;
    pthread_t thread;
    int wake_fd;
    _Atomic bool stop;

    pthread_rwlock_t table_mu;
    struct board **table; /* open addressing by key hash; NULL empty */
    size_t n_table, cap_table;
    _Atomic int64_t members;
    _Atomic size_t boards;

    pthread_mutex_t want_mu;
    char *want[WANT_MAX];
    size_t n_want;

    redisContext *sub, *cmd;
    bool live; /* subscribed: loads may begin */
    uint64_t gen;
    int check_phase; /* 0 none, 1 waiting for the PONG after ZCARDs, 2 for the PONG before */
    int check_turn;
    int64_t check_next_ms;
    int64_t retry_ms; /* reconnect no sooner */

    _Atomic uint64_t hits, misses, loads, resets, drift_drops, budget_drops;
};

static uint64_t
hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* Redis's member order (sdscmp): bytes, then the shorter first. */
static int
mcmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* Whether e comes before (score, m) in ZREVRANGE order; m NULL: before
 * every member of that score (e comes before only with a higher score). */
static bool
before(const struct mel *e, int64_t score, const char *m, size_t ml)
{
    if (e->score != score)
        return e->score > score;
    return m && mcmp(e->m->s, e->m->len, m, ml) > 0;
}

/* ---- a board's order ---- */

/* The block that holds (or would hold) (score, m): the last whose first
 * element does not come after it; 0 when none. */
static size_t
block_of(const struct board *bd, int64_t score, const char *m, size_t ml)
{
    size_t lo = 0, hi = bd->n_blk;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mel *f = &bd->blk[mid]->e[0];
        bool after = !before(f, score, m, ml) &&
                     !(f->score == score && m && mcmp(f->m->s, f->m->len, m, ml) == 0);
        if (after)
            hi = mid;
        else
            lo = mid;
    }
    return lo;
}

/* The first index in blk whose element does not come before (score, m). */
static uint32_t
index_in(const struct block *k, int64_t score, const char *m, size_t ml)
{
    uint32_t lo = 0, hi = k->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (before(&k->e[mid], score, m, ml))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
fen_build(struct board *bd)
{
    if (bd->cap_fen < bd->n_blk + 1) {
        bd->cap_fen = 2 * (bd->n_blk + 1);
        if (!(bd->fen = realloc(bd->fen, bd->cap_fen * sizeof *bd->fen)))
            abort();
    }
    size_t n = bd->n_blk;
    bd->fen[0] = 0;
    for (size_t i = 1; i <= n; i++)
        bd->fen[i] = bd->blk[i - 1]->n;
    for (size_t i = 1; i <= n; i++) {
        size_t j = i + (i & (~i + 1));
        if (j <= n)
            bd->fen[j] += bd->fen[i];
    }
    bd->fen_dirty = false;
}

/* Block k's size changed by d (nothing while the tree waits for a rebuild). */
static void
fen_add(struct board *bd, size_t k, int64_t d)
{
    if (bd->fen_dirty)
        return;
    for (size_t i = k + 1; i <= bd->n_blk; i += i & (~i + 1))
        bd->fen[i] += d;
}

/* How many members the blocks before block k hold. */
static int64_t
fen_before(struct board *bd, size_t k)
{
    if (bd->fen_dirty)
        fen_build(bd);
    int64_t sum = 0;
    for (size_t i = k; i > 0; i -= i & (~i + 1))
        sum += bd->fen[i];
    return sum;
}

/* The block holding position pos (< bd->n), and pos within it into *at. */
static size_t
fen_find(struct board *bd, int64_t pos, int64_t *at)
{
    if (bd->fen_dirty)
        fen_build(bd);
    size_t k = 0, step = 1;
    while (step * 2 <= bd->n_blk)
        step *= 2;
    for (; step; step /= 2)
        if (k + step <= bd->n_blk && bd->fen[k + step] <= pos) {
            k += step;
            pos -= bd->fen[k];
        }
    *at = pos;
    return k;
}

/* How many elements come before (score, m) on the board. */
static int64_t
position(struct board *bd, int64_t score, const char *m, size_t ml)
{
    if (bd->n == 0)
        return 0;
    size_t k;
    if (m) {
        k = block_of(bd, score, m, ml);
    } else {
        /* the first block that may hold an element not before (score, -) */
        size_t lo = 0, hi = bd->n_blk;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            const struct block *b = bd->blk[mid];
            if (before(&b->e[b->n - 1], score, NULL, 0))
                lo = mid + 1;
            else
                hi = mid;
        }
        k = lo < bd->n_blk ? lo : bd->n_blk - 1;
    }
    return fen_before(bd, k) + index_in(bd->blk[k], score, m, ml);
}

static void
insert(struct board *bd, int64_t score, struct mstr *m)
{
    if (bd->n_blk == 0) {
        bd->cap_blk = 16;
        if (!(bd->blk = malloc(bd->cap_blk * sizeof *bd->blk)) ||
            !(bd->blk[0] = malloc(sizeof **bd->blk)))
            abort();
        bd->blk[0]->n = 0;
        bd->n_blk = 1;
        bd->fen_dirty = true;
    }
    size_t k = block_of(bd, score, m->s, m->len);
    struct block *b = bd->blk[k];
    if (b->n == BLOCK_MAX) {
        /* split in halves */
        struct block *nb = malloc(sizeof *nb);
        if (!nb)
            abort();
        nb->n = BLOCK_MAX / 2;
        memcpy(nb->e, b->e + BLOCK_MAX / 2, nb->n * sizeof *nb->e);
        b->n = BLOCK_MAX / 2;
        if (bd->n_blk == bd->cap_blk) {
            bd->cap_blk *= 2;
            if (!(bd->blk = realloc(bd->blk, bd->cap_blk * sizeof *bd->blk)))
                abort();
        }
        memmove(bd->blk + k + 2, bd->blk + k + 1, (bd->n_blk - k - 1) * sizeof *bd->blk);
        bd->blk[k + 1] = nb;
        bd->n_blk++;
        bd->fen_dirty = true;
        if (before(&nb->e[0], score, m->s, m->len))
            b = nb;
    }
    uint32_t i = index_in(b, score, m->s, m->len);
    memmove(b->e + i + 1, b->e + i, (b->n - i) * sizeof *b->e);
    b->e[i] = (struct mel){score, m};
    b->n++;
    bd->n++;
    fen_add(bd, k, 1); /* a split made the tree dirty: k then does not matter */
}

static void
erase(struct board *bd, int64_t score, const struct mstr *m)
{
    size_t k = block_of(bd, score, m->s, m->len);
    struct block *b = bd->blk[k];
    uint32_t i = index_in(b, score, m->s, m->len);
    if (i >= b->n || b->e[i].m != m)
        abort(); /* the hash and the order disagree: a bug, never input */
    memmove(b->e + i, b->e + i + 1, (b->n - i - 1) * sizeof *b->e);
    b->n--;
    bd->n--;
    if (b->n == 0 && bd->n_blk > 1) {
        free(b);
        memmove(bd->blk + k, bd->blk + k + 1, (bd->n_blk - k - 1) * sizeof *bd->blk);
        bd->n_blk--;
        bd->fen_dirty = true;
    } else {
        fen_add(bd, k, -1);
    }
}

/* The member's slot: its own, or the empty one it would take. */
static struct slot *
slot_of(const struct board *bd, const char *m, size_t ml, uint64_t h)
{
    size_t mask = bd->n_slots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *s = &bd->slots[i];
        if (!s->m || (s->h == h && s->m->len == ml && memcmp(s->m->s, m, ml) == 0))
            return s;
    }
}

static void
grow_slots(struct board *bd)
{
    size_t n = bd->n_slots ? 2 * bd->n_slots : 64;
    struct slot *old = bd->slots;
    size_t n_old = bd->n_slots;
    if (!(bd->slots = calloc(n, sizeof *bd->slots)))
        abort();
    bd->n_slots = n;
    for (size_t i = 0; i < n_old; i++)
        if (old[i].m)
            *slot_of(bd, old[i].m->s, old[i].m->len, old[i].h) = old[i];
    free(old);
}

/* Sets member m's score (adds it when new). Returns 1 when it was new. */
static int
set_score(struct board *bd, const char *m, size_t ml, int64_t score)
{
    if (2 * (bd->n + 1) > bd->n_slots)
        grow_slots(bd);
    uint64_t h = hash_bytes(m, ml);
    struct slot *s = slot_of(bd, m, ml, h);
    if (s->m) {
        if (s->score == score)
            return 0;
        erase(bd, s->score, s->m);
        s->score = score;
        insert(bd, score, s->m);
        return 0;
    }
    struct mstr *x = malloc(sizeof *x + ml + 1);
    if (!x)
        abort();
    x->len = (uint32_t)ml;
    memcpy(x->s, m, ml);
    x->s[ml] = 0;
    *s = (struct slot){x, score, h};
    insert(bd, score, x);
    return 1;
}

static void
board_free(struct board *bd)
{
    if (!bd)
        return;
    for (size_t i = 0; i < bd->n_slots; i++)
        free(bd->slots[i].m);
    free(bd->slots);
    for (size_t i = 0; i < bd->n_blk; i++)
        free(bd->blk[i]);
    free(bd->blk);
    free(bd->fen);
    pthread_mutex_destroy(&bd->mu);
    free(bd->key);
    free(bd);
}

/* ---- the table ---- */

/* The table's slot for key (its board, or the empty slot it would take). */
static struct board **
table_slot(struct gm__mirror *mr, const char *key, size_t len, uint64_t h)
{
    size_t mask = mr->cap_table - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct board *bd = mr->table[i];
        if (!bd || (bd->h == h && bd->key_len == len && memcmp(bd->key, key, len) == 0))
            return &mr->table[i];
    }
}

static struct board *
find(struct gm__mirror *mr, const char *key, size_t len)
{
    return mr->cap_table ? *table_slot(mr, key, len, hash_bytes(key, len)) : NULL;
}

/* Rebuilds the table without the boards drop says to drop (freed). The
 * mirror thread only, holding nothing. */
static void
table_filter(struct gm__mirror *mr, bool (*drop)(struct gm__mirror *, struct board *, void *),
             void *ctx)
{
    size_t n_old = mr->cap_table, keep = 0;
    bool *gone = calloc(n_old ? n_old : 1, sizeof *gone);
    if (!gone)
        abort();
    for (size_t i = 0; i < n_old; i++)
        if (mr->table[i] && !(gone[i] = drop(mr, mr->table[i], ctx)))
            keep++;
    pthread_rwlock_wrlock(&mr->table_mu);
    struct board **old = mr->table;
    mr->cap_table = 64;
    while (mr->cap_table < 2 * (keep + 1))
        mr->cap_table *= 2;
    if (!(mr->table = calloc(mr->cap_table, sizeof *mr->table)))
        abort();
    mr->n_table = 0;
    int64_t members = 0;
    size_t boards = 0;
    for (size_t i = 0; i < n_old; i++) {
        struct board *bd = old[i];
        if (!bd || gone[i])
            continue;
        *table_slot(mr, bd->key, bd->key_len, bd->h) = bd;
        mr->n_table++;
        if (bd->state == B_READY) {
            members += (int64_t)bd->n;
            boards++;
        }
    }
    atomic_store(&mr->members, members);
    atomic_store(&mr->boards, boards);
    pthread_rwlock_unlock(&mr->table_mu);
    for (size_t i = 0; i < n_old; i++)
        if (gone[i])
            board_free(old[i]);
    free(gone);
    free(old);
}

/* Puts bd in the table (replacing a board of the same key, freed). */
static void
table_put(struct gm__mirror *mr, struct board *bd)
{
    pthread_rwlock_wrlock(&mr->table_mu);
    if (2 * (mr->n_table + 1) > mr->cap_table) {
        struct board **old = mr->table;
        size_t n_old = mr->cap_table;
        mr->cap_table = n_old ? 2 * n_old : 64;
        if (!(mr->table = calloc(mr->cap_table, sizeof *mr->table)))
            abort();
        for (size_t i = 0; i < n_old; i++)
            if (old[i])
                *table_slot(mr, old[i]->key, old[i]->key_len, old[i]->h) = old[i];
        free(old);
    }
    struct board **s = table_slot(mr, bd->key, bd->key_len, bd->h);
    struct board *was = *s;
    if (was && was->state == B_READY) {
        atomic_fetch_sub(&mr->members, (int64_t)was->n);
        atomic_fetch_sub(&mr->boards, 1);
    }
    if (!was)
        mr->n_table++;
    *s = bd;
    if (bd->state == B_READY) {
        atomic_fetch_add(&mr->members, (int64_t)bd->n);
        atomic_fetch_add(&mr->boards, 1);
    }
    pthread_rwlock_unlock(&mr->table_mu);
    board_free(was);
}

static struct board *
board_new(const char *key, size_t len, enum bstate state)
{
    struct board *bd = calloc(1, sizeof *bd);
    if (!bd || !(bd->key = malloc(len + 1)))
        abort();
    memcpy(bd->key, key, len);
    bd->key[len] = 0;
    bd->key_len = len;
    bd->h = hash_bytes(key, len);
    bd->state = state;
    bd->check_card = -1;
    pthread_mutex_init(&bd->mu, NULL);
    atomic_store(&bd->used_ms, gm__now_ms());
    return bd;
}

static bool
drop_all(struct gm__mirror *mr, struct board *bd, void *ctx)
{
    (void)mr, (void)bd, (void)ctx;
    return true;
}

/* Tells the backend's notify function (if any) that key's board changed;
 * key NULL: every board. Runs with no lock of the mirror held. */
static void
notify(struct gm__mirror *mr, const char *key, size_t len)
{
    struct gm_api_backend *b = mr->b;
    char board[GM__LBC_KEY_MAX], period[GM__LBC_KEY_MAX];
    const char *bp = NULL, *pp = NULL;
    if (key) {
        /* PREFIX lb: BOARD : PERIOD, the period after the last ':' */
        size_t pl = strlen(b->prefix);
        if (len >= sizeof board || len < pl + 3 || memcmp(key, b->prefix, pl) != 0 ||
            memcmp(key + pl, "lb:", 3) != 0)
            return;
        const char *rest = key + pl + 3, *end = key + len, *colon = NULL;
        for (const char *c = rest; c < end; c++)
            if (*c == ':')
                colon = c;
        if (!colon)
            return;
        memcpy(board, rest, (size_t)(colon - rest));
        board[colon - rest] = 0;
        memcpy(period, colon + 1, (size_t)(end - colon - 1));
        period[end - colon - 1] = 0;
        bp = board, pp = period;
    }
    pthread_mutex_lock(&b->notify_mu);
    if (b->notify)
        b->notify(b->notify_ctx, bp, pp);
    pthread_mutex_unlock(&b->notify_mu);
}

static void
reset(struct gm__mirror *mr, const char *why)
{
    if (mr->n_table == 0)
        return;
    atomic_fetch_add(&mr->resets, 1);
    gm_log(GM_LOG_DEBUG, "board mirror: dropping every board (%s)", why);
    table_filter(mr, drop_all, NULL);
    notify(mr, NULL, 0);
}

/* ---- messages ---- */

struct apply {
    struct gm__mirror *mr;
    struct board *bd; /* the board of the last key, locked; NULL: not mirrored */
    const char *key;
    size_t key_len;
    size_t run;           /* members applied under the lock */
    const char **touched; /* keys of held boards changed, borrowed from the message */
    size_t *touched_len, n_touched, cap_touched;
};

static void
apply_release(struct apply *ap)
{
    if (ap->bd)
        pthread_mutex_unlock(&ap->bd->mu);
    ap->bd = NULL;
    ap->key = NULL;
}

static void
on_score(void *ctx, const char *key, size_t key_len, const char *member, size_t member_len,
         int64_t score)
{
    struct apply *ap = ctx;
    /* readers wait at most one run of the lock */
    if (ap->key != key || ap->run >= 64) {
        apply_release(ap);
        ap->key = key;
        ap->key_len = key_len;
        ap->run = 0;
        struct board *bd = find(ap->mr, key, key_len);
        if (bd && bd->state == B_READY) {
            pthread_mutex_lock(&bd->mu);
            ap->bd = bd;
            size_t i = ap->n_touched;
            while (i > 0 && ap->touched[i - 1] != key)
                i--;
            if (i == 0) {
                if (ap->n_touched == ap->cap_touched) {
                    ap->cap_touched = ap->cap_touched ? 2 * ap->cap_touched : 8;
                    ap->touched = realloc(ap->touched, ap->cap_touched * sizeof *ap->touched);
                    ap->touched_len =
                        realloc(ap->touched_len, ap->cap_touched * sizeof *ap->touched_len);
                    if (!ap->touched || !ap->touched_len)
                        abort();
                }
                ap->touched[ap->n_touched] = key;
                ap->touched_len[ap->n_touched++] = key_len;
            }
        }
    }
    if (!ap->bd)
        return;
    ap->run++;
    if (set_score(ap->bd, member, member_len, score))
        atomic_fetch_add(&ap->mr->members, 1);
}

static void
on_reset(void *ctx)
{
    struct apply *ap = ctx;
    apply_release(ap);
    reset(ap->mr, "a reset in a leaderboard-scores message");
}

static void check_pong(struct gm__mirror *mr);

/* One reply of the subscriber connection. */
static void
on_sub_reply(struct gm__mirror *mr, redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "pong") == 0) {
        check_pong(mr);
        return;
    }
    if (strcmp(kind, "message") != 0 || r->elements != 3 ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    struct apply ap = {.mr = mr};
    struct gm_lbscores_cb cb = {on_score, on_reset, &ap};
    int rc = gm_lbscores_parse(r->element[2]->str, r->element[2]->len, &cb);
    apply_release(&ap);
    for (size_t i = 0; i < ap.n_touched; i++)
        notify(mr, ap.touched[i], ap.touched_len[i]);
    free(ap.touched);
    free(ap.touched_len);
    if (rc) {
        gm_log(GM_LOG_WARN, "board mirror: a malformed leaderboard-scores message (%zu bytes)",
               (size_t)r->element[2]->len);
        reset(mr, "a malformed message");
    }
}

/* ---- connections ---- */

static void
disconnect(struct gm__mirror *mr, const char *why)
{
    if (mr->sub || mr->cmd)
        gm_log(GM_LOG_WARN,
               "board mirror: Redis connection lost (%s); boards read from Redis "
               "until it is back",
               why);
    if (mr->sub)
        redisFree(mr->sub);
    if (mr->cmd)
        redisFree(mr->cmd);
    mr->sub = mr->cmd = NULL;
    mr->live = false;
    mr->check_phase = 0;
    reset(mr, why);
    mr->retry_ms = gm__now_ms() + 1000;
}

static int
connect_both(struct gm__mirror *mr)
{
    char why[256];
    if (gm__redis_open(mr->b, &mr->sub, why, sizeof why) ||
        gm__redis_open(mr->b, &mr->cmd, why, sizeof why)) {
        disconnect(mr, why);
        return -1;
    }
    char channel[96];
    snprintf(channel, sizeof channel, "%sleaderboard-scores", mr->b->prefix);
    redisReply *r = redisCommand(mr->sub, "SUBSCRIBE %s", channel);
    bool ok = r && r->type == REDIS_REPLY_ARRAY;
    freeReplyObject(r);
    if (!ok) {
        disconnect(mr, "SUBSCRIBE failed");
        return -1;
    }
    /* replies are read by poll and redisBufferRead from here on */
    struct timeval tv = {.tv_sec = mr->b->timeout_ms / 1000,
                         .tv_usec = (mr->b->timeout_ms % 1000) * 1000};
    redisSetTimeout(mr->cmd, tv);
    mr->live = true;
    mr->check_next_ms = gm__now_ms() + mr->check_ms;
    return 0;
}

/* Reads the subscriber's replies that are already in; -1 when the connection failed. */
static int
drain_sub(struct gm__mirror *mr)
{
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(mr->sub, &r) != REDIS_OK) {
            disconnect(mr, mr->sub->errstr[0] ? mr->sub->errstr : "protocol error");
            return -1;
        }
        if (!r)
            return 0;
        on_sub_reply(mr, r);
        freeReplyObject(r);
        if (!mr->sub)
            return -1;
    }
}

/* ---- loads ---- */

static int
load(struct gm__mirror *mr, const char *key)
{
    size_t len = strlen(key);
    struct board *was = find(mr, key, len);
    if (was && was->state == B_READY)
        return 0;
    redisReply *r = redisCommand(mr->cmd, "ZCARD %s", key);
    if (!r) {
        disconnect(mr, mr->cmd->errstr);
        return -1;
    }
    long long card = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (card <= 0 || atomic_load(&mr->members) + card > mr->max_members) {
        struct board *miss = board_new(key, len, B_MISS);
        miss->retry_ms = gm__now_ms() + (card > 0 ? BIG_RETRY_MS : MISS_RETRY_MS);
        if (card > 0)
            gm_log(GM_LOG_INFO,
                   "board mirror: %s has %lld members, past --mirror-members %lld with the "
                   "%lld held: read from Redis",
                   key, card, (long long)mr->max_members, (long long)atomic_load(&mr->members));
        table_put(mr, miss);
        return 0;
    }
    r = redisCommand(mr->cmd, "ZRANGE %s 0 -1 WITHSCORES", key);
    if (!r) {
        disconnect(mr, mr->cmd->errstr);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        gm_log(GM_LOG_WARN, "board mirror: ZRANGE %s: %s", key,
               r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        struct board *miss = board_new(key, len, B_MISS);
        miss->retry_ms = gm__now_ms() + BIG_RETRY_MS;
        table_put(mr, miss);
        return 0;
    }
    struct board *bd = board_new(key, len, B_READY);
    bd->gen = ++mr->gen;
    /* ZRANGE is ascending: from the end, each member goes last */
    for (size_t i = r->elements; i >= 2; i -= 2) {
        const redisReply *m = r->element[i - 2], *s = r->element[i - 1];
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
            continue;
        int64_t enc = 0;
        gm_lbscore_parse(s->str, &enc, NULL);
        set_score(bd, m->str, m->len, enc);
    }
    freeReplyObject(r);
    /* the reply (two objects per member) was as large as the board: give it back */
    malloc_trim(0);
    atomic_fetch_add(&mr->loads, 1);
    gm_log(GM_LOG_DEBUG, "board mirror: loaded %s (%zu members)", key, bd->n);
    table_put(mr, bd);
    return 0;
}

static void
do_loads(struct gm__mirror *mr)
{
    char *keys[WANT_MAX];
    pthread_mutex_lock(&mr->want_mu);
    size_t n = mr->n_want;
    memcpy(keys, mr->want, n * sizeof *keys);
    mr->n_want = 0;
    pthread_mutex_unlock(&mr->want_mu);
    for (size_t i = 0; i < n; i++) {
        if (mr->live && mr->n_table < TABLE_MAX)
            load(mr, keys[i]);
        free(keys[i]);
    }
}

/* ---- the size check ---- */

/*
 * Phase 1: ZCARD of every board, then a PING on the subscriber: at its
 * PONG every message published before the ZCARDs has been applied, so a
 * board smaller than its ZCARD misses members written without a message.
 * Phase 2: a PING first, and at its PONG the ZCARDs: a board larger than
 * its ZCARD holds members removed without a message (or a FLUSHALL).
 */
static int
zcards(struct gm__mirror *mr)
{
    size_t n = 0;
    for (size_t i = 0; i < mr->cap_table; i++) {
        struct board *bd = mr->table[i];
        if (bd && bd->state == B_READY) {
            redisAppendCommand(mr->cmd, "ZCARD %s", bd->key);
            n++;
        }
    }
    for (size_t i = 0; i < mr->cap_table && n > 0; i++) {
        struct board *bd = mr->table[i];
        if (!bd || bd->state != B_READY)
            continue;
        void *r = NULL;
        if (redisGetReply(mr->cmd, &r) != REDIS_OK) {
            disconnect(mr, mr->cmd->errstr);
            return -1;
        }
        redisReply *x = r;
        pthread_mutex_lock(&bd->mu);
        bd->check_card = x->type == REDIS_REPLY_INTEGER ? x->integer : -1;
        bd->check_local = bd->n;
        pthread_mutex_unlock(&bd->mu);
        freeReplyObject(x);
        n--;
    }
    return 0;
}

static bool
drop_drifted(struct gm__mirror *mr, struct board *bd, void *ctx)
{
    int phase = *(int *)ctx;
    if (bd->state == B_MISS)
        return gm__now_ms() >= bd->retry_ms + 10 * MISS_RETRY_MS; /* forget old misses */
    if (gm__now_ms() - atomic_load(&bd->used_ms) > IDLE_MS)
        return true;
    if (bd->check_card < 0)
        return false;
    bool drift =
        phase == 1 ? (int64_t)bd->n < bd->check_card : (int64_t)bd->check_local > bd->check_card;
    if (drift) {
        atomic_fetch_add(&mr->drift_drops, 1);
        gm_log(GM_LOG_WARN,
               "board mirror: %s holds %zu members, Redis %lld: written without a "
               "leaderboard-scores message; reading it again",
               bd->key, phase == 1 ? bd->n : bd->check_local, (long long)bd->check_card);
    }
    return drift;
}

static void
send_ping(struct gm__mirror *mr)
{
    redisAppendCommand(mr->sub, "PING");
    int done = 0;
    while (!done)
        if (redisBufferWrite(mr->sub, &done) != REDIS_OK) {
            disconnect(mr, mr->sub->errstr);
            return;
        }
}

static void
check_start(struct gm__mirror *mr)
{
    mr->check_next_ms = gm__now_ms() + mr->check_ms;
    for (size_t i = 0; i < mr->cap_table; i++)
        if (mr->table[i])
            mr->table[i]->check_card = -1;
    mr->check_turn ^= 1;
    if (mr->check_turn) {
        if (zcards(mr))
            return;
        mr->check_phase = 1;
    } else {
        mr->check_phase = 2;
    }
    send_ping(mr);
}

static bool
drop_victim(struct gm__mirror *mr, struct board *bd, void *ctx)
{
    (void)mr;
    return bd == ctx;
}

/*
 * Boards grow after their load as new members come by message: past the
 * budget, the board read longest ago goes, one per check, and is read from
 * Redis until it fits again (load() refuses it meanwhile). Returns whether
 * one went.
 */
static bool
over_budget(struct gm__mirror *mr)
{
    if (atomic_load(&mr->members) <= mr->max_members)
        return false;
    struct board *victim = NULL;
    for (size_t i = 0; i < mr->cap_table; i++) {
        struct board *bd = mr->table[i];
        if (bd && bd->state == B_READY &&
            (!victim || atomic_load(&bd->used_ms) < atomic_load(&victim->used_ms)))
            victim = bd;
    }
    if (!victim)
        return false;
    atomic_fetch_add(&mr->budget_drops, 1);
    gm_log(GM_LOG_WARN,
           "board mirror: %lld members held, past --mirror-members %lld: dropping %s (%zu "
           "members, the board read longest ago); it is read from Redis",
           (long long)atomic_load(&mr->members), (long long)mr->max_members, victim->key,
           victim->n);
    struct board *miss = board_new(victim->key, victim->key_len, B_MISS);
    miss->retry_ms = gm__now_ms() + BIG_RETRY_MS;
    table_filter(mr, drop_victim, victim);
    table_put(mr, miss);
    return true;
}

static void
check_pong(struct gm__mirror *mr)
{
    int phase = mr->check_phase;
    mr->check_phase = 0;
    if (phase == 0)
        return;
    if (phase == 2 && zcards(mr))
        return;
    uint64_t drops = atomic_load(&mr->drift_drops);
    table_filter(mr, drop_drifted, &phase);
    bool over = over_budget(mr);
    if (over || atomic_load(&mr->drift_drops) != drops)
        notify(mr, NULL, 0);
}

/* ---- the thread ---- */

static void *
run(void *arg)
{
    struct gm__mirror *mr = arg;
    while (!atomic_load(&mr->stop)) {
        int64_t now = gm__now_ms();
        if (!mr->sub && now >= mr->retry_ms)
            connect_both(mr);
        if (mr->sub && drain_sub(mr))
            continue;
        do_loads(mr);
        if (mr->live && mr->check_phase == 0 && gm__now_ms() >= mr->check_next_ms)
            check_start(mr);
        struct pollfd pf[2] = {{.fd = mr->wake_fd, .events = POLLIN},
                               {.fd = mr->sub ? mr->sub->fd : -1, .events = POLLIN}};
        int n = poll(pf, 2, 100);
        if (n < 0 && errno != EINTR)
            break;
        if (pf[0].revents & POLLIN) {
            uint64_t v;
            if (read(mr->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
                break;
        }
        if (mr->sub && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
            redisBufferRead(mr->sub) != REDIS_OK)
            disconnect(mr, mr->sub->errstr[0] ? mr->sub->errstr : "closed");
    }
    return NULL;
}

int
gm__mirror_start(struct gm_api_backend *b, int64_t max_members, int check_ms,
                 struct gm__mirror **out, struct gm_err *err)
{
    *out = NULL;
    if (max_members <= 0)
        return 0;
    struct gm__mirror *mr = calloc(1, sizeof *mr);
    if (!mr)
        abort();
    mr->b = b;
    mr->max_members = max_members;
    mr->check_ms = check_ms > 0 ? check_ms : 1000;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* the one writer applies messages between readers, not after all of them */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&mr->table_mu, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&mr->want_mu, NULL);
    mr->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (mr->wake_fd < 0) {
        int rc = gm_err_set(err, -errno, "board mirror: eventfd: %s", strerror(errno));
        pthread_rwlock_destroy(&mr->table_mu);
        pthread_mutex_destroy(&mr->want_mu);
        free(mr);
        return rc;
    }
    if (pthread_create(&mr->thread, NULL, run, mr) != 0)
        abort();
    *out = mr;
    return 0;
}

void
gm__mirror_stop(struct gm__mirror *mr)
{
    if (!mr)
        return;
    atomic_store(&mr->stop, true);
    uint64_t one = 1;
    if (write(mr->wake_fd, &one, sizeof one) < 0)
        gm_log(GM_LOG_WARN, "board mirror: waking the thread: %s", strerror(errno));
    pthread_join(mr->thread, NULL);
    if (mr->sub)
        redisFree(mr->sub);
    if (mr->cmd)
        redisFree(mr->cmd);
    for (size_t i = 0; i < mr->cap_table; i++)
        board_free(mr->table[i]);
    free(mr->table);
    for (size_t i = 0; i < mr->n_want; i++)
        free(mr->want[i]);
    close(mr->wake_fd);
    pthread_rwlock_destroy(&mr->table_mu);
    pthread_mutex_destroy(&mr->want_mu);
    free(mr);
}

/* Queues a load of key for the mirror thread (once; dropped when the queue is full). */
static void
want(struct gm__mirror *mr, const char *key)
{
    bool woke = false;
    pthread_mutex_lock(&mr->want_mu);
    size_t i = 0;
    while (i < mr->n_want && strcmp(mr->want[i], key) != 0)
        i++;
    if (i == mr->n_want && mr->n_want < WANT_MAX) {
        if (!(mr->want[mr->n_want++] = strdup(key)))
            abort();
        woke = true;
    }
    pthread_mutex_unlock(&mr->want_mu);
    uint64_t one = 1;
    if (woke && write(mr->wake_fd, &one, sizeof one) < 0)
        gm_log(GM_LOG_DEBUG, "board mirror: wake: %s", strerror(errno));
}

/* Copies count members from position start on into out (arena strings). */
static void
page(struct board *bd, int64_t start, int64_t count, struct gm_arena *a,
     struct gm__mirror_answer *out)
{
    int64_t skip;
    size_t k = fen_find(bd, start, &skip);
    size_t n = 0;
    for (size_t kk = k, i = (size_t)skip; kk < bd->n_blk && (int64_t)n < count; i = 0, kk++)
        for (; i < bd->blk[kk]->n && (int64_t)n < count; i++) {
            const struct mel *e = &bd->blk[kk]->e[i];
            char *s = gm_arena_alloc(a, e->m->len + 1);
            if (!s) {
                out->oom = true;
                return;
            }
            memcpy(s, e->m->s, e->m->len + 1);
            out->members[n] = s;
            out->member_lens[n] = e->m->len;
            out->scores[n] = e->score;
            n++;
        }
    out->n = n;
}

bool
gm__mirror_read(struct gm__mirror *mr, const char *key, int64_t start, int64_t count,
                const char *me, int64_t around, struct gm_arena *a, struct gm__mirror_answer *out)
{
    memset(out, 0, sizeof *out);
    if (!mr)
        return false;
    size_t len = strlen(key);
    pthread_rwlock_rdlock(&mr->table_mu);
    struct board *bd = find(mr, key, len);
    if (!bd || bd->state != B_READY) {
        bool ask = !bd || gm__now_ms() >= bd->retry_ms;
        pthread_rwlock_unlock(&mr->table_mu);
        atomic_fetch_add(&mr->misses, 1);
        if (ask)
            want(mr, key);
        return false;
    }
    int64_t count_max = count > around * 2 + 1 ? count : around * 2 + 1;
    if (count_max > 0) {
        out->members = gm_arena_alloc(a, (size_t)count_max * sizeof *out->members);
        out->member_lens = gm_arena_alloc(a, (size_t)count_max * sizeof *out->member_lens);
        out->scores = gm_arena_alloc(a, (size_t)count_max * sizeof *out->scores);
        if (!out->members || !out->member_lens || !out->scores)
            out->oom = true;
    }
    pthread_mutex_lock(&bd->mu);
    atomic_store(&bd->used_ms, gm__now_ms());
    out->total = (int64_t)bd->n;
    int64_t mp = -1;
    if (me && me[0] && bd->n_slots) {
        size_t ml = strlen(me);
        const struct slot *s = slot_of(bd, me, ml, hash_bytes(me, ml));
        if (s->m) {
            out->has_me = true;
            out->me_score = s->score;
            mp = position(bd, s->score, me, ml);
            out->me_rank = position(bd, s->score, NULL, 0) + 1;
        }
    }
    if (around >= 0) {
        if (mp < 0) {
            start = 0, count = 0;
        } else {
            start = mp - around < 0 ? 0 : mp - around;
            count = mp + around - start + 1;
        }
    }
    out->start = start;
    if (!out->oom && count > 0 && start < out->total) {
        page(bd, start, count, a, out);
        if (out->n > 0)
            out->first_rank = position(bd, out->scores[0], NULL, 0) + 1;
    }
    pthread_mutex_unlock(&bd->mu);
    pthread_rwlock_unlock(&mr->table_mu);
    atomic_fetch_add(&mr->hits, 1);
    return true;
}

bool
gm__mirror_holds(struct gm__mirror *mr, const char *key)
{
    if (!mr)
        return false;
    pthread_rwlock_rdlock(&mr->table_mu);
    struct board *bd = find(mr, key, strlen(key));
    bool held = bd && bd->state == B_READY;
    pthread_rwlock_unlock(&mr->table_mu);
    return held;
}

void
gm__mirror_stats(struct gm__mirror *mr, struct gm_api_backend_stats *out)
{
    if (!mr)
        return;
    out->mirror_hits = atomic_load(&mr->hits);
    out->mirror_misses = atomic_load(&mr->misses);
    out->mirror_loads = atomic_load(&mr->loads);
    out->mirror_resets = atomic_load(&mr->resets);
    out->mirror_drift_drops = atomic_load(&mr->drift_drops);
    out->mirror_budget_drops = atomic_load(&mr->budget_drops);
    out->mirror_boards = (uint64_t)atomic_load(&mr->boards);
    int64_t m = atomic_load(&mr->members);
    out->mirror_members = m > 0 ? (uint64_t)m : 0;
}
