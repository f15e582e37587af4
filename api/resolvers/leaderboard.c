/*
 * leaderboard.c: Query.leaderboard over the Redis sorted sets of the Redis
 * projector (PREFIXlb:BOARD:PERIOD, members user ids, sorted-set scores the
 * absolute scores with their reach times, common/lbscore.h;
 * docs/operations.md "Redis leaderboards").
 *
 * One request is one Redis round trip: a Lua script reads the board's size,
 * the caller's score, position and rank, and one ZREVRANGE of the page
 * (around the caller's position for `around`), with the rank of the page's
 * first entry. The page's learners who opted out are looked up in the
 * backend's list of opted-out learners (re-read from Postgres at most once a
 * second), so their ids are hidden from everyone but themselves (staff and
 * service see them).
 *
 * The page (not the caller's own entry, nor the board's size) may come from
 * the backend's page cache (lbcache.c: at most --page-cache-ms old, dropped
 * on a leaderboard-changed message); the script then reads no page. When
 * the HTTP layer hands the request a rate-limit check to carry
 * (gm_api_carry), the script call runs it too, in one Lua call.
 *
 * Ranks: 1 + how many rank above: a higher score, or an equal score reached
 * earlier. Learners share a rank only when their sorted-set scores are
 * equal (the same score reached in the same tick: second, or minute on
 * all-time boards); Redis orders those by id, descending. Clients see the
 * decoded integer score. Cursors are
 * positions ("o" + the position of the page's last entry), so a board that
 * changes between pages may shift entries by a place.
 */
#include "fmt.h"
#include "fold.h"
#include "internal.h"
#include "lbscore.h"
#include "tz.h"

#include <inttypes.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char gm__lb_script[] =
    "local key, start, count, me, around = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), "
    "ARGV[3], tonumber(ARGV[4])\n"
    "local total = redis.call('ZCARD', key)\n"
    "local known = 1\n"
    "if total == 0 then known = redis.call('SISMEMBER', KEYS[2], ARGV[5]) end\n"
    "local ms, mr, mp = '', 0, -1\n"
    "if me ~= '' then\n"
    "  local s = redis.call('ZSCORE', key, me)\n"
    "  if s then\n"
    "    ms = s\n"
    "    mp = redis.call('ZREVRANK', key, me)\n"
    "    mr = redis.call('ZCOUNT', key, '(' .. s, '+inf') + 1\n"
    "  end\n"
    "end\n"
    "if around >= 0 then\n"
    "  if mp < 0 then start, count = 0, 0 else\n"
    "    start = mp - around\n"
    "    if start < 0 then start = 0 end\n"
    "    count = mp + around - start + 1\n"
    "  end\n"
    "end\n"
    "local page, fr = {}, 0\n"
    "if count > 0 and start < total then\n"
    "  page = redis.call('ZREVRANGE', key, start, start + count - 1, 'WITHSCORES')\n"
    "  if #page > 0 then fr = redis.call('ZCOUNT', key, '(' .. page[2], '+inf') + 1 end\n"
    "end\n"
    "return {total, known, ms, mr, mp, start, fr, page}\n";

#define MAX_FIRST  100
#define MAX_AROUND 25

struct entry {
    int64_t rank;
    const char *user_id; /* NULL: anonymous */
    int64_t score;       /* decoded */
    int64_t encoded;     /* as Redis holds it: equal only for equal ranks */
};

struct me {
    int64_t rank, score;
};

struct board {
    const char *board, *period, *period_key;
    struct entry *entries;
    size_t n;
    bool has_me;
    struct me me;
    int64_t total;
    const char *end_cursor; /* NULL when the page is empty */
    bool has_next;
};

static const struct {
    const char *name;
    const char *kind; /* "" all, "W" week, "M" month */
} periods[] = {{"ALL_TIME", ""}, {"WEEKLY", "W"}, {"MONTHLY", "M"}};

static bool
digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Whether key has the shape of a period of kind: "2026-W07", "2026-11". */
static bool
period_key_ok(const char *kind, const char *key, size_t len)
{
    if (kind[0] == 'W')
        return len == 8 && digits(key, 4) && key[4] == '-' && key[5] == 'W' && digits(key + 6, 2) &&
               memcmp(key + 6, "00", 2) != 0 && memcmp(key + 6, "53", 2) <= 0;
    if (kind[0] == 'M')
        return len == 7 && digits(key, 4) && key[4] == '-' && digits(key + 5, 2) &&
               memcmp(key + 5, "01", 2) >= 0 && memcmp(key + 5, "12", 2) <= 0;
    return len == 3 && memcmp(key, "all", 3) == 0;
}

/* The current period key of kind in the rules' zone. */
static int
current_period(struct gm_gql_rctx *ctx, const char *kind, char out[GM_PERIOD_KEY_MAX])
{
    if (!kind[0]) {
        snprintf(out, GM_PERIOD_KEY_MAX, "all");
        return 0;
    }
    char tzname[128];
    if (gm__rules_tz(ctx->context, tzname, sizeof tzname))
        return gm__internal(ctx, "reading the rules' time zone");
    const struct gm_tz *tz;
    struct gm_err e;
    gm_err_clear(&e);
    if (gm_tz_get(tzname, &tz, &e))
        return gm__internal(ctx, "time zone %s: %s", tzname, e.msg);
    char week[GM_PERIOD_KEY_MAX], month[GM_PERIOD_KEY_MAX];
    int64_t wi, mi;
    gm_fold_periods(gm_tz_local_day(tz, (int64_t)time(NULL)), week, month, &wi, &mi);
    snprintf(out, GM_PERIOD_KEY_MAX, "%s", kind[0] == 'W' ? week : month);
    return 0;
}

static int64_t
reply_int(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

/* Score text s (NUL-terminated; a double, the encoding of lbscore.h) to
 * the integer score and, into *encoded (may be NULL), the encoding. */
static int64_t
score_text(const char *s, int64_t *encoded)
{
    int64_t score = 0, enc = 0;
    gm_lbscore_parse(s, &enc, &score);
    if (encoded)
        *encoded = enc;
    return score;
}

/* The same for a reply (0 unless a string). */
static int64_t
score_of(const redisReply *r, int64_t *encoded)
{
    if (r->type != REDIS_REPLY_STRING) {
        if (encoded)
            *encoded = 0;
        return 0;
    }
    return score_text(r->str, encoded);
}

/*
 * The leaderboard script carrying another (gm_api_carry): KEYS are the
 * carried call's then the page's, ARGV[1] and ARGV[2] how many keys and
 * args the carried call has, then its args, then the page's. Answers
 * {carried answer (nil when it failed), page answer}.
 */
static const char carry_head[] = "local function carried(KEYS, ARGV)\n";
static const char carry_mid[] = "\nend\nlocal function page(KEYS, ARGV)\n";
static const char carry_tail[] =
    "\nend\n"
    "local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local ck, ca, pk, pa = {}, {}, {}, {}\n"
    "for i = 1, #KEYS do if i <= nk then ck[i] = KEYS[i] else pk[i - nk] = KEYS[i] end end\n"
    "for i = 3, #ARGV do\n"
    "  if i - 2 <= na then ca[i - 2] = ARGV[i] else pa[i - 2 - na] = ARGV[i] end\n"
    "end\n"
    "local ok, c = pcall(carried, ck, ca)\n"
    "if not ok then c = false end\n"
    "return {c, page(pk, pa)}\n";

/* The combined script for the carried script of identity sha: text and SHA-1 (kept in b). */
static void
carry_script(struct gm_api_backend *b, const struct gm_api_carry *cy, const char **text,
             const char **sha)
{
    pthread_mutex_lock(&b->carry_mu);
    if (!b->carry_text || strcmp(b->carry_for, cy->sha) != 0) {
        size_t n = strlen(carry_head) + strlen(cy->script) + strlen(carry_mid) +
                   strlen(gm__lb_script) + strlen(carry_tail) + 1;
        char *t = malloc(n);
        if (!t)
            abort();
        snprintf(t, n, "%s%s%s%s%s", carry_head, cy->script, carry_mid, gm__lb_script, carry_tail);
        unsigned char md[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)t, strlen(t), md);
        for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
            snprintf(b->carry_sha + 2 * i, 3, "%02x", md[i]);
        snprintf(b->carry_for, sizeof b->carry_for, "%s", cy->sha);
        /* Requests of other threads may still read the old text: kept until close. */
        if (b->carry_text) {
            b->carry_old = realloc(b->carry_old, (b->n_carry_old + 1) * sizeof *b->carry_old);
            if (!b->carry_old)
                abort();
            b->carry_old[b->n_carry_old++] = b->carry_text;
        }
        b->carry_text = t;
    }
    *text = b->carry_text;
    *sha = b->carry_sha;
    pthread_mutex_unlock(&b->carry_mu);
}

#define PAGE_ARGC 7 /* key, boards; start, count, me, around, board */

/*
 * Runs the leaderboard script over page (PAGE_ARGC: its two keys, then its
 * five args), carrying req->carry when there is one not sent yet. Returns 0
 * and *top (freeReplyObject it) with *lb the script's answer within it, or
 * GM_EREDIS (logged; a carried call then has sent set and no reply).
 */
static int
run_script(struct gm_api_request *req, const char **page, redisReply **top, redisReply **lb)
{
    struct gm_api_backend *b = req->backend;
    /* A check over more keys than the argument vector below holds is left to its owner. */
    struct gm_api_carry *cy =
        req->carry && !req->carry->sent && req->carry->n_keys <= 16 && req->carry->n_args <= 16
            ? req->carry
            : NULL;
    *top = *lb = NULL;
    if (!cy) {
        const char *argv[3 + PAGE_ARGC] = {"EVALSHA", b->script_sha, "2"};
        memcpy(argv + 3, page, sizeof *page * PAGE_ARGC);
        redisReply *r;
        if (gm__redis_command(req, 3 + PAGE_ARGC, argv, NULL, &r))
            return GM_EREDIS;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            argv[0] = "EVAL";
            argv[1] = gm__lb_script;
            if (gm__redis_command(req, 3 + PAGE_ARGC, argv, NULL, &r))
                return GM_EREDIS;
        }
        *top = *lb = r;
        return 0;
    }
    cy->sent = true;
    cy->reply = NULL;
    const char *text, *sha;
    carry_script(b, cy, &text, &sha);
    const char *argv[5 + 16 + 16 + PAGE_ARGC];
    char nkeys[GM_FMT_I64_MAX], nk[GM_FMT_I64_MAX], na[GM_FMT_I64_MAX];
    gm_fmt_i64(nkeys, (int64_t)cy->n_keys + 2);
    gm_fmt_i64(nk, (int64_t)cy->n_keys);
    gm_fmt_i64(na, (int64_t)cy->n_args);
    size_t argc = 0;
    argv[argc++] = "EVALSHA";
    argv[argc++] = sha;
    argv[argc++] = nkeys;
    for (size_t i = 0; i < cy->n_keys; i++)
        argv[argc++] = cy->keys[i];
    argv[argc++] = page[0];
    argv[argc++] = page[1];
    argv[argc++] = nk;
    argv[argc++] = na;
    for (size_t i = 0; i < cy->n_args; i++)
        argv[argc++] = cy->args[i];
    for (size_t i = 2; i < PAGE_ARGC; i++)
        argv[argc++] = page[i];
    redisReply *r;
    if (gm__redis_command(req, (int)argc, argv, NULL, &r))
        return GM_EREDIS;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argv[1] = text;
        if (gm__redis_command(req, (int)argc, argv, NULL, &r))
            return GM_EREDIS;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        /* The carried answer changes owner: freeReplyObject skips NULL elements. */
        cy->reply = r->element[0];
        r->element[0] = NULL;
        *lb = r->element[1];
    } else {
        *lb = r; /* an error reply: reported by the caller */
    }
    *top = r;
    return 0;
}

/* Hides the ids of the page's opted-out learners (not the caller's own). */
static int
anonymise(struct gm_gql_rctx *ctx, struct board *bd)
{
    struct gm_api_request *req = ctx->context;
    if (bd->n == 0 || req->viewer.role != GM_API_ROLE_STUDENT)
        return 0;
    if (gm__optout_refresh(req))
        return gm__internal(ctx, "reading opt-outs");
    for (size_t i = 0; i < bd->n; i++) {
        const char *u = bd->entries[i].user_id;
        if (req->viewer.user_id && strcmp(u, req->viewer.user_id) == 0)
            continue;
        if (gm__optout_has(req->backend, u))
            bd->entries[i].user_id = NULL;
    }
    return 0;
}

/* The page's cursor and pageInfo, the opted-out hidden, then bd as the answer. */
static int
finish(struct gm_gql_rctx *ctx, struct board *bd, int64_t start, struct gm_gql_rval *out)
{
    if (bd->n) {
        char c[1 + GM_FMT_I64_MAX] = "o";
        size_t cl = 1 + gm_fmt_i64(c + 1, start + (int64_t)bd->n - 1);
        bd->end_cursor = gm_arena_strndup(ctx->arena, c, cl);
        if (!bd->end_cursor)
            return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    }
    bd->has_next = start + (int64_t)bd->n < bd->total;
    int rc = anonymise(ctx, bd);
    if (rc)
        return rc;
    gm_gql_rval_obj(out, bd, NULL);
    return 0;
}

/* The board from the mirror's answer (mirror.c): the same as from the script. */
static int
from_mirror(struct gm_gql_rctx *ctx, const char *board, const char *pname, const char *period,
            const struct gm__mirror_answer *ma, struct gm_gql_rval *out)
{
    struct board *bd = gm_arena_alloc(ctx->arena, sizeof *bd);
    if (!bd || ma->oom)
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    memset(bd, 0, sizeof *bd);
    bd->total = ma->total;
    bd->board = gm_arena_strndup(ctx->arena, board, strlen(board));
    bd->period = pname;
    bd->period_key = gm_arena_strndup(ctx->arena, period, strlen(period));
    bd->has_me = ma->has_me;
    if (ma->has_me) {
        bd->me.score = gm_lbscore_score(ma->me_score);
        bd->me.rank = ma->me_rank;
    }
    bd->n = ma->n;
    bd->entries = bd->n ? gm_arena_alloc(ctx->arena, bd->n * sizeof *bd->entries) : NULL;
    if (!bd->board || !bd->period_key || (bd->n && !bd->entries))
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    int64_t rank = ma->first_rank;
    for (size_t i = 0; i < bd->n; i++) {
        struct entry *en = &bd->entries[i];
        en->user_id = ma->members[i];
        en->encoded = ma->scores[i];
        en->score = gm_lbscore_score(en->encoded);
        if (i > 0 && en->encoded != bd->entries[i - 1].encoded)
            rank = ma->start + (int64_t)i + 1;
        en->rank = rank;
    }
    return finish(ctx, bd, ma->start, out);
}

static int
resolve_leaderboard(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    struct gm_api_request *req = ctx->context;
    const struct gm_gql_ival *a_board = gm_gql_arg(ctx, "board");
    const struct gm_gql_ival *a_period = gm_gql_arg(ctx, "period");
    const struct gm_gql_ival *a_key = gm_gql_arg(ctx, "periodKey");
    const struct gm_gql_ival *a_first = gm_gql_arg(ctx, "first");
    const struct gm_gql_ival *a_after = gm_gql_arg(ctx, "after");
    const struct gm_gql_ival *a_around = gm_gql_arg(ctx, "around");

    const char *board = a_board && a_board->kind == GM_GQL_I_STRING ? a_board->s : "global";
    size_t board_len = strlen(board);
    if (board_len == 0 || board_len > 128 || strchr(board, ':'))
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "board must be 1 to 128 bytes without ':'");
    const char *pname = a_period && a_period->kind == GM_GQL_I_ENUM ? a_period->s : "ALL_TIME";
    const char *kind = "";
    for (size_t i = 0; i < sizeof periods / sizeof periods[0]; i++)
        if (strcmp(periods[i].name, pname) == 0)
            kind = periods[i].kind, pname = periods[i].name;
    int64_t first = a_first && a_first->kind == GM_GQL_I_INT ? a_first->i : 10;
    if (first < 1 || first > MAX_FIRST)
        return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "first must be from 1 to %d", MAX_FIRST);
    int64_t around = -1;
    if (a_around && a_around->kind == GM_GQL_I_INT) {
        around = a_around->i;
        if (around < 0 || around > MAX_AROUND)
            return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "around must be from 0 to %d",
                                     MAX_AROUND);
    }
    int64_t start = 0;
    if (a_after && a_after->kind == GM_GQL_I_STRING) {
        if (around >= 0)
            return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "after and around exclude each other");
        char *end;
        long long pos = a_after->len > 1 && a_after->len < 12 && a_after->s[0] == 'o' &&
                                digits(a_after->s + 1, a_after->len - 1)
                            ? strtoll(a_after->s + 1, &end, 10)
                            : -1;
        if (pos < 0)
            return gm_gql_rctx_error(ctx, "BAD_USER_INPUT", "after: not a cursor of this API");
        start = pos + 1;
    }
    char period[GM_PERIOD_KEY_MAX];
    if (a_key && a_key->kind == GM_GQL_I_STRING) {
        if (!period_key_ok(kind, a_key->s, a_key->len))
            return gm_gql_rctx_error(ctx, "BAD_USER_INPUT",
                                     "periodKey '%.16s' is not a key of a %s period (%s)", a_key->s,
                                     pname,
                                     kind[0] == 'W'   ? "2026-W07"
                                     : kind[0] == 'M' ? "2026-11"
                                                      : "all");
        snprintf(period, sizeof period, "%s", a_key->s);
    } else {
        int rc = current_period(ctx, kind, period);
        if (rc)
            return rc;
    }
    bool current = !(a_key && a_key->kind == GM_GQL_I_STRING);
    if (!current) {
        char cur[GM_PERIOD_KEY_MAX];
        int rc = current_period(ctx, kind, cur);
        if (rc)
            return rc;
        current = strcmp(cur, period) == 0;
    }

    char key[GM__LBC_KEY_MAX], boards[96], s_start[GM_FMT_I64_MAX], s_count[GM_FMT_I64_MAX],
        s_around[GM_FMT_I64_MAX];
    const char *key_parts[] = {req->backend->prefix, "lb:", board, ":", period};
    gm_fmt_join(key, sizeof key, key_parts, 5);
    const char *boards_parts[] = {req->backend->prefix, "boards"};
    gm_fmt_join(boards, sizeof boards, boards_parts, 2);
    const char *me = req->viewer.user_id ? req->viewer.user_id : "";
    /* A board of a current period the mirror holds answers from memory. */
    struct gm__mirror_answer ma;
    if (current &&
        gm__mirror_read(req->backend->mirror, key, start, first, me, around, ctx->arena, &ma))
        return from_mirror(ctx, board, pname, period, &ma, out);
    /* A page by position (not around the caller) may come from the cache. */
    struct gm__lb_page cached;
    uint64_t gen = 0;
    int64_t read_ms = gm__now_ms();
    bool hit =
        around < 0 && gm__lbc_get(req->backend->lbc, key, start, first, ctx->arena, &cached, &gen);
    gm_fmt_i64(s_start, start);
    gm_fmt_i64(s_count, hit ? 0 : first);
    gm_fmt_i64(s_around, around);
    const char *page_argv[PAGE_ARGC] = {key, boards, s_start, s_count, me, s_around, board};
    redisReply *top, *r;
    if (run_script(req, page_argv, &top, &r))
        return gm__internal(ctx, "reading the leaderboard");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 8 ||
        r->element[7]->type != REDIS_REPLY_ARRAY) {
        int rc = gm__internal(ctx, "leaderboard script: %s",
                              r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(top);
        return rc;
    }
    redisReply **e = r->element;
    struct board *bd = gm_arena_alloc(ctx->arena, sizeof *bd);
    if (!bd)
        goto oom;
    bd->total = reply_int(e[0]);
    bool known = reply_int(e[1]) != 0;
    /* An empty board is shown for the current period of a board that exists;
     * an unknown board or a period not kept is null. */
    if (bd->total == 0 && (!known || !current)) {
        freeReplyObject(top);
        gm_gql_rval_null(out);
        return 0;
    }
    bd->board = gm_arena_strndup(ctx->arena, board, board_len);
    bd->period = pname;
    bd->period_key = gm_arena_strndup(ctx->arena, period, strlen(period));
    if (e[2]->type == REDIS_REPLY_STRING && e[2]->len > 0) {
        bd->has_me = true;
        bd->me.score = score_of(e[2], NULL);
        bd->me.rank = reply_int(e[3]);
    }
    struct gm__lb_page pg = cached;
    if (!hit) {
        /* The page as Redis gave it, kept for the next requests. */
        start = reply_int(e[5]);
        const redisReply *page = e[7];
        size_t n = page->elements / 2;
        const char **strs = n ? gm_arena_alloc(ctx->arena, 2 * n * sizeof *strs) : NULL;
        size_t *lens = n ? gm_arena_alloc(ctx->arena, 2 * n * sizeof *lens) : NULL;
        if (n && (!strs || !lens))
            goto oom;
        for (size_t i = 0; i < 2 * n; i++) {
            const redisReply *x = page->element[i];
            strs[i] = x->type == REDIS_REPLY_STRING && x->str ? x->str : "";
            lens[i] = x->type == REDIS_REPLY_STRING && x->str ? x->len : 0;
        }
        /* Members and scores alternate in the reply: split them. */
        const char **ms = n ? gm_arena_alloc(ctx->arena, 2 * n * sizeof *ms) : NULL;
        size_t *ml = n ? gm_arena_alloc(ctx->arena, 2 * n * sizeof *ml) : NULL;
        if (n && (!ms || !ml))
            goto oom;
        for (size_t i = 0; i < n; i++) {
            ms[i] = strs[2 * i], ml[i] = lens[2 * i];
            ms[n + i] = strs[2 * i + 1], ml[n + i] = lens[2 * i + 1];
        }
        pg = (struct gm__lb_page){.n = n,
                                  .first_rank = reply_int(e[6]),
                                  .members = ms,
                                  .member_lens = ml,
                                  .scores = n ? ms + n : NULL,
                                  .score_lens = n ? ml + n : NULL};
        if (around < 0)
            gm__lbc_put(req->backend->lbc, key, start, first, gen, read_ms, &pg);
    }
    int64_t rank = pg.first_rank;
    bd->n = pg.n;
    bd->entries = bd->n ? gm_arena_alloc(ctx->arena, bd->n * sizeof *bd->entries) : NULL;
    if (!bd->board || !bd->period_key || (bd->n && !bd->entries))
        goto oom;
    for (size_t i = 0; i < bd->n; i++) {
        struct entry *en = &bd->entries[i];
        en->user_id = gm_arena_strndup(ctx->arena, pg.members[i], pg.member_lens[i]);
        if (!en->user_id)
            goto oom;
        /* NUL-terminated, from Redis or the cache */
        en->score = score_text(pg.scores[i], &en->encoded);
        if (i > 0 && en->encoded != bd->entries[i - 1].encoded)
            rank = start + (int64_t)i + 1;
        en->rank = rank;
    }
    freeReplyObject(top);
    return finish(ctx, bd, start, out);
oom:
    freeReplyObject(top);
    return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
}

/* ---- the fields of Leaderboard, LeaderboardEntry, LeaderboardMe, PageInfo ---- */

/*
 * Subscription.leaderboardChanged: the page of Query.leaderboard (its
 * missing arguments take their defaults), and what it watches for the
 * stream (api/http/sse.c) to know which messages concern it.
 */
static int
resolve_leaderboard_changed(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    struct gm_api_request *req = ctx->context;
    if (req->watch) {
        const struct gm_gql_ival *a_board = gm_gql_arg(ctx, "board");
        const struct gm_gql_ival *a_period = gm_gql_arg(ctx, "period");
        snprintf(req->watch->board, sizeof req->watch->board, "%s",
                 a_board && a_board->kind == GM_GQL_I_STRING ? a_board->s : "global");
        snprintf(req->watch->period, sizeof req->watch->period, "%s",
                 a_period && a_period->kind == GM_GQL_I_ENUM ? a_period->s : "ALL_TIME");
        req->watch->set = true;
    }
    return resolve_leaderboard(ctx, out);
}

/*
 * One resolver per field, so that no field is found by comparing its name
 * (a page of 10 entries resolves 30 entry fields).
 */
static int
resolve_board_board(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    gm_gql_rval_str(out, bd->board, strlen(bd->board));
    return 0;
}

static int
resolve_board_period(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    gm_gql_rval_str(out, bd->period, strlen(bd->period));
    return 0;
}

static int
resolve_board_period_key(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    gm_gql_rval_str(out, bd->period_key, strlen(bd->period_key));
    return 0;
}

static int
resolve_board_total(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    gm_gql_rval_int(out, bd->total);
    return 0;
}

static int
resolve_board_page_info(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    /* PageInfo is shared with the pages of history.c (its resolvers are there). */
    struct gm__page_info *pi = gm_arena_alloc(ctx->arena, sizeof *pi);
    if (!pi)
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    *pi = (struct gm__page_info){bd->end_cursor, bd->has_next};
    gm_gql_rval_obj(out, pi, NULL);
    return 0;
}

static int
resolve_board_me(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    if (bd->has_me)
        gm_gql_rval_obj(out, &bd->me, NULL);
    else
        gm_gql_rval_null(out);
    return 0;
}

static int
resolve_board_entries(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct board *bd = ctx->parent;
    struct gm_gql_rval *items = gm_gql_rval_list(ctx, out, bd->n);
    if (bd->n && !items)
        return gm_gql_rctx_error(ctx, "QUERY_TOO_COMPLEX", "request memory exhausted");
    for (size_t i = 0; i < bd->n; i++)
        gm_gql_rval_obj(&items[i], &bd->entries[i], NULL);
    return 0;
}

static int
resolve_entry_rank(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_int(out, ((const struct entry *)ctx->parent)->rank);
    return 0;
}

static int
resolve_entry_score(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_int(out, ((const struct entry *)ctx->parent)->score);
    return 0;
}

static int
resolve_entry_user(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    const struct entry *en = ctx->parent;
    if (en->user_id)
        gm_gql_rval_str(out, en->user_id, strlen(en->user_id));
    else
        gm_gql_rval_null(out);
    return 0;
}

static int
resolve_me_rank(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_int(out, ((const struct me *)ctx->parent)->rank);
    return 0;
}

static int
resolve_me_score(struct gm_gql_rctx *ctx, struct gm_gql_rval *out)
{
    gm_gql_rval_int(out, ((const struct me *)ctx->parent)->score);
    return 0;
}

int
gm__bind_leaderboard(struct gm_gql_schema *s, struct gm_api_backend *b, struct gm_err *err)
{
    (void)b;
    static const struct {
        const char *coord;
        gm_gql_resolve_fn fn;
    } binds[] = {
        {"Query.leaderboard", resolve_leaderboard},
        {"Subscription.leaderboardChanged", resolve_leaderboard_changed},
        {"Leaderboard.board", resolve_board_board},
        {"Leaderboard.period", resolve_board_period},
        {"Leaderboard.periodKey", resolve_board_period_key},
        {"Leaderboard.entries", resolve_board_entries},
        {"Leaderboard.me", resolve_board_me},
        {"Leaderboard.totalCount", resolve_board_total},
        {"Leaderboard.pageInfo", resolve_board_page_info},
        {"LeaderboardEntry.rank", resolve_entry_rank},
        {"LeaderboardEntry.userId", resolve_entry_user},
        {"LeaderboardEntry.score", resolve_entry_score},
        {"LeaderboardMe.rank", resolve_me_rank},
        {"LeaderboardMe.score", resolve_me_score},
    };
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        int rc = gm_gql_schema_bind(s, binds[i].coord, binds[i].fn, NULL, err);
        if (rc)
            return rc;
    }
    return 0;
}
