/*
 * test_changefmt.c: the compact change-feed record (processor/state/
 * changefmt.c): it reads back as the protobuf record of the same change
 * does, its outbound events pack to the same bytes, it is several times
 * smaller, it declines what it would not rebuild exactly, a damaged record
 * is refused, and a state whose feed holds protobuf records (every state
 * written before the compact form) reads as before and goes on growing in
 * the compact form.
 */
#include "changefmt.h"
#include "feed.h"
#include "state.h"

#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a change with every part ---- */

struct sample {
    Gamify__Internal__Change ch;
    Gamify__Internal__BoardScore sc[7];
    Gamify__Internal__BoardScore *scp[7];
    Gamify__Internal__Redemption red;
    Google__Protobuf__Timestamp ts;
    Gamification__V1__OutboundEvent ob[5];
    Gamification__V1__OutboundEvent *obp[5];
    Gamification__V1__LevelUp lu;
    Gamification__V1__BadgeEarned be;
    Gamification__V1__StreakUpdated su;
    Gamification__V1__RewardRedeemed rr;
    Gamification__V1__RedemptionRejected rj;
};

static void
sample_init(struct sample *s)
{
    memset(s, 0, sizeof *s);
    gamify__internal__change__init(&s->ch);
    s->ch.seq = 41;
    s->ch.user_id = "user-1561";
    s->ch.event_id = "g3-0";
    s->ch.occurred_at = 1793534400;
    static const char *const boards[] = {"global",    "global",    "global", "class-561",
                                         "class-561", "class-561", "odd"};
    static const char *const periods[] = {"all",      "2026-W44", "2026-11",     "all",
                                          "2026-W44", "2026-11",  "not-a-period"};
    for (int i = 0; i < 7; i++) {
        gamify__internal__board_score__init(&s->sc[i]);
        s->sc[i].board = (char *)boards[i];
        s->sc[i].period = (char *)periods[i];
        s->sc[i].score = i == 2 ? -5 : 1000 + i;
        s->sc[i].reached_at = i == 4 ? 1700000000 : s->ch.occurred_at;
        s->scp[i] = &s->sc[i];
    }
    s->ch.scores = s->scp;
    s->ch.n_scores = 7;
    gamify__internal__redemption__init(&s->red);
    s->red.redemption_id = "r1";
    s->red.reward_id = "mug";
    s->red.completed = true;
    s->red.seq = 3;
    s->red.cost = 10;
    s->red.event_id = "g3-0";
    s->red.user_id = "someone-else";
    s->red.occurred_at = 5;
    s->ch.redemption = &s->red;
    s->ch.ledger_first = 77;
    s->ch.ledger_count = 2;
    google__protobuf__timestamp__init(&s->ts);
    s->ts.seconds = s->ch.occurred_at;
    s->ts.nanos = 250000000;
    static const char *const ids[] = {"g3-0:level:3", "g3-0:badge:starter", "g3-0:streak",
                                      "g3-0:redeemed", "g3-0:rejected"};
    for (int i = 0; i < 5; i++) {
        gamification__v1__outbound_event__init(&s->ob[i]);
        s->ob[i].event_id = (char *)ids[i];
        s->ob[i].user_id = s->ch.user_id;
        s->ob[i].cause_event_id = s->ch.event_id;
        s->ob[i].occurred_at = &s->ts;
        s->obp[i] = &s->ob[i];
    }
    gamification__v1__level_up__init(&s->lu);
    s->lu.new_level = 3;
    s->lu.reward = 7;
    s->lu.exp = 1234;
    s->ob[0].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_LEVEL_UP;
    s->ob[0].level_up = &s->lu;
    gamification__v1__badge_earned__init(&s->be);
    s->be.badge_id = "starter";
    s->be.name = "Starter";
    s->ob[1].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_BADGE_EARNED;
    s->ob[1].badge_earned = &s->be;
    gamification__v1__streak_updated__init(&s->su);
    s->su.current_streak = 4;
    s->su.longest_streak = 9;
    s->su.freezes_used = -1;
    s->ob[2].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_STREAK_UPDATED;
    s->ob[2].streak_updated = &s->su;
    gamification__v1__reward_redeemed__init(&s->rr);
    s->rr.redemption_id = "r1";
    s->rr.reward_id = "mug";
    s->rr.cost = 10;
    s->rr.coins_after = 0;
    s->ob[3].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REWARD_REDEEMED;
    s->ob[3].reward_redeemed = &s->rr;
    gamification__v1__redemption_rejected__init(&s->rj);
    s->rj.redemption_id = "r2";
    s->rj.reward_id = "";
    s->rj.reason = GAMIFICATION__V1__REJECTION_REASON__INSUFFICIENT_COINS;
    s->ob[4].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY_REDEMPTION_REJECTED;
    s->ob[4].redemption_rejected = &s->rj;
    s->ch.outbound = s->obp;
    s->ch.n_outbound = 5;
}

/* ---- a change as text, every field a reader sees ---- */

static void
append(char **buf, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *part;
    cr_assert_geq(vasprintf(&part, fmt, ap), 0);
    va_end(ap);
    size_t n = strlen(part);
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, part, n + 1);
    *len += n;
    free(part);
}

/* returns new; free */
static char *
change_text(const struct gm_change *ch)
{
    char *b = NULL;
    size_t n = 0;
    append(&b, &n, "seq %lld user %s event %s at %lld ledger %lld+%lld\n", (long long)ch->seq,
           ch->user_id ? ch->user_id : "(none)", ch->event_id ? ch->event_id : "",
           (long long)ch->occurred_at, (long long)ch->ledger_first, (long long)ch->ledger_count);
    for (size_t i = 0; i < ch->n_scores; i++)
        append(&b, &n, " score %s %s %lld %lld\n", ch->scores[i].board, ch->scores[i].period,
               (long long)ch->scores[i].score, (long long)ch->scores[i].reached_at);
    if (ch->redemption) {
        const struct gm_feed_redemption *r = ch->redemption;
        append(&b, &n, " redemption %s %s %s %d %d %lld %lld %lld\n", r->redemption_id,
               r->reward_id, r->event_id, r->completed, r->reason, (long long)r->cost,
               (long long)r->seq, (long long)r->occurred_at);
    }
    for (size_t i = 0; i < ch->n_outbound; i++) {
        size_t len = gamification__v1__outbound_event__get_packed_size(ch->outbound[i]);
        uint8_t *p = malloc(len + 1);
        gamification__v1__outbound_event__pack(ch->outbound[i], p);
        append(&b, &n, " outbound");
        for (size_t j = 0; j < len; j++)
            append(&b, &n, "%02x", p[j]);
        append(&b, &n, "\n");
        free(p);
    }
    for (size_t i = 0; i < ch->n_pruned_periods; i++)
        append(&b, &n, " pruned %s\n", ch->pruned_periods[i]);
    return b;
}

/* the text of ch read back from its protobuf bytes */
static char *
protobuf_text(const Gamify__Internal__Change *ch, size_t *size)
{
    *size = gamify__internal__change__get_packed_size(ch);
    uint8_t *p = malloc(*size + 1);
    gamify__internal__change__pack(ch, p);
    struct gm__change_reader r;
    gm__change_reader_init(&r);
    struct gm_change c;
    cr_assert_eq(gm__change_decode(&r, ch->seq, p, *size, &c), 0);
    char *t = change_text(&c);
    gm__change_reader_deinit(&r);
    free(p);
    return t;
}

Test(changefmt, reads_back_as_the_protobuf_record_does)
{
    struct sample s;
    sample_init(&s);
    size_t pb_size;
    char *want = protobuf_text(&s.ch, &pb_size);
    size_t n = gm__change_compact_size(&s.ch);
    cr_assert_gt(n, 0);
    uint8_t *p = malloc(n);
    gm__change_compact_write(&s.ch, p);
    cr_assert_eq(p[0], 0);
    cr_assert_eq(p[1], 1);
    struct gm__change_reader r;
    gm__change_reader_init(&r);
    struct gm_change c;
    cr_assert_eq(gm__change_decode(&r, s.ch.seq, p, n, &c), 0);
    char *got = change_text(&c);
    /* the redemption's learner is not a reader's field; the rest is equal,
     * outbound events byte for byte */
    cr_assert_str_eq(got, want);
    cr_assert_str_eq(c.outbound[0]->event_id, "g3-0:level:3");
    cr_assert_str_eq(c.outbound[1]->event_id, "g3-0:badge:starter");
    cr_assert_str_eq(c.outbound[4]->event_id, "g3-0:rejected");
    /* several times smaller */
    cr_assert_lt(n * 2, pb_size, "compact %zu bytes, protobuf %zu", n, pb_size);
    free(got);
    free(want);
    free(p);
    gm__change_reader_deinit(&r);
}

Test(changefmt, a_plain_lesson_change)
{
    struct sample s;
    sample_init(&s);
    s.ch.redemption = NULL;
    s.ch.n_scores = 6;
    s.ch.n_outbound = 0;
    size_t pb_size;
    char *want = protobuf_text(&s.ch, &pb_size);
    size_t n = gm__change_compact_size(&s.ch);
    uint8_t *p = malloc(n);
    gm__change_compact_write(&s.ch, p);
    struct gm__change_reader r;
    gm__change_reader_init(&r);
    struct gm_change c;
    cr_assert_eq(gm__change_decode(&r, s.ch.seq, p, n, &c), 0);
    char *got = change_text(&c);
    cr_assert_str_eq(got, want);
    cr_assert_null(c.redemption);
    /* boards named once, periods and reach times as small numbers */
    cr_assert_lt(n * 2, pb_size, "%zu bytes (protobuf %zu)", n, pb_size);
    free(got);
    free(want);
    free(p);
    gm__change_reader_deinit(&r);
}

Test(changefmt, declines_what_it_would_not_rebuild)
{
    struct sample s;
    sample_init(&s);
    cr_assert_gt(gm__change_compact_size(&s.ch), 0);
    s.ob[2].event_id = "g3-0:streak:2"; /* not the id the fold gives */
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
    sample_init(&s);
    s.ob[1].cause_event_id = "another";
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
    sample_init(&s);
    s.ob[3].user_id = "another";
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
    sample_init(&s);
    s.ts.seconds++;
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
    sample_init(&s);
    s.ob[0].body_case = GAMIFICATION__V1__OUTBOUND_EVENT__BODY__NOT_SET;
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
    sample_init(&s);
    char *pruned[] = {"2026-W41"};
    s.ch.pruned_periods = pruned;
    s.ch.n_pruned_periods = 1;
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
    sample_init(&s);
    s.ch.user_id = "";
    cr_assert_eq(gm__change_compact_size(&s.ch), 0);
}

Test(changefmt, damaged_records_are_refused)
{
    struct sample s;
    sample_init(&s);
    size_t n = gm__change_compact_size(&s.ch);
    uint8_t *p = malloc(n + 1);
    gm__change_compact_write(&s.ch, p);
    struct gm__change_reader r;
    gm__change_reader_init(&r);
    struct gm_change c;
    /* every cut short, and one byte too many */
    for (size_t len = 2; len < n; len++)
        cr_assert_eq(gm__change_decode(&r, 1, p, len, &c), GM_ECORRUPT, "cut at %zu", len);
    p[n] = 0;
    cr_assert_eq(gm__change_decode(&r, 1, p, n + 1, &c), GM_ECORRUPT);
    /* a later version of the form */
    p[1] = 2;
    cr_assert_eq(gm__change_decode(&r, 1, p, n, &c), GM_ECORRUPT);
    /* an unknown outbound kind */
    p[1] = 1;
    uint8_t bad[] = {0, 1, 0, 1, 'u', 1, 'e', 2, 0, 0, 0, 0, 1, 9, 0};
    cr_assert_eq(gm__change_decode(&r, 1, bad, sizeof bad, &c), GM_ECORRUPT);
    /* counts far beyond the record */
    uint8_t big[] = {0, 1, 0, 1, 'u', 1, 'e', 2, 0, 0, 0xff, 0xff, 0x7f, 1};
    cr_assert_eq(gm__change_decode(&r, 1, big, sizeof big, &c), GM_ECORRUPT);
    free(p);
    gm__change_reader_deinit(&r);
}

/* ---- a state whose feed holds protobuf records ---- */

static char dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/gm-chfmt-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

static const char rules[] = "version: 1\n"
                            "timezone: UTC\n"
                            "levels:\n  thresholds: [0, 30, 1000]\n  level_up_coins: 7\n"
                            "activities:\n"
                            "  lesson_completed: { exp: 20, coins: 5 }\n"
                            "  tournament_result:\n"
                            "    win: { exp: 50, coins: 20 }\n"
                            "    draw: { exp: 20, coins: 5 }\n"
                            "    loss: { exp: 10, coins: 0 }\n"
                            "leaderboards:\n"
                            "  periods: [all_time, weekly, monthly]\n"
                            "  keep_weeks: 1\n"
                            "  keep_months: 1\n"
                            "badges:\n"
                            "  - { id: starter, name: Starter, icon: s.png, criteria: "
                            "\"lessons_completed >= 1\" }\n"
                            "rewards:\n"
                            "  - { id: mug, name: Mug, cost: 10, type: physical, stock: 5 }\n";

static const char *const events[] = {
    "{\"eventId\":\"e1\",\"userId\":\"ann\",\"occurredAt\":\"2026-10-05T09:00:00.5Z\","
    "\"groupIds\":[\"c1\"],\"lessonCompleted\":{\"lessonId\":\"l1\"}}",
    "{\"eventId\":\"e2\",\"userId\":\"ann\",\"occurredAt\":\"2026-10-06T10:00:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l2\"}}",
    "{\"eventId\":\"e3\",\"userId\":\"ann\",\"occurredAt\":\"2026-10-06T11:00:00Z\","
    "\"redeemReward\":{\"redemptionId\":\"r1\",\"rewardId\":\"mug\"}}",
    "{\"eventId\":\"e4\",\"userId\":\"bob\",\"occurredAt\":\"2026-11-02T09:00:00Z\","
    "\"redeemReward\":{\"redemptionId\":\"r2\",\"rewardId\":\"mug\"}}",
    "{\"eventId\":\"e5\",\"userId\":\"bob\",\"occurredAt\":\"2026-11-02T09:30:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l1\"}}",
};

static void
fold(size_t from, size_t to)
{
    struct gm_state_opts o = {.no_sync = true};
    struct gm_state *st;
    struct gm_err err;
    cr_assert_eq(gm_state_open(dir, &o, &st, &err), 0, "%s", err.msg);
    if (from == 0)
        cr_assert_eq(gm_state_seed_rules(st, rules, strlen(rules), &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (size_t i = from; i < to; i++)
        cr_assert_eq(
            gm_state_apply(st, (const uint8_t *)events[i], strlen(events[i]), true, i, 0, &err), 0,
            "%s", err.msg);
    cr_assert_eq(gm_state_commit(st, to, &err), 0, "%s", err.msg);
    gm_state_close(st);
}

struct texts {
    char *all;
    size_t len;
};

static int
collect(void *ctx, const struct gm_change *ch)
{
    struct texts *t = ctx;
    char *one = change_text(ch);
    append(&t->all, &t->len, "%s", one);
    free(one);
    return 0;
}

static int
collect_outbound(void *ctx, const Gamification__V1__OutboundEvent *oev)
{
    struct texts *t = ctx;
    append(&t->all, &t->len, "%s %s|", oev->event_id, oev->user_id);
    return 0;
}

/* the whole feed and the outbound walk as text; returns new */
static char *
read_all(void)
{
    struct gm_state_opts o = {.read_only = true};
    struct gm_state *st;
    struct gm_err err;
    cr_assert_eq(gm_state_open(dir, &o, &st, &err), 0, "%s", err.msg);
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    struct texts t = {0};
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 0, 1000, collect, &t, &next), 0);
    cr_assert_eq(next, gm_feed_end(f), "next %lld end %lld: %s", (long long)next,
                 (long long)gm_feed_end(f), t.all);
    gm_feed_close(f);
    int64_t seq = 0;
    cr_assert_eq(gm_state_outbound_foreach(st, &seq, collect_outbound, &t), 0);
    gm_state_close(st);
    return t.all;
}

/* Rewrites every compact record of the state's feed as the protobuf Change
 * main's build wrote; returns how many. */
static int
to_protobuf(void)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_cursor *cur;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_maxdbs(env, 16), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    cr_assert_eq(mdb_dbi_open(txn, "changes", 0, &dbi), 0);
    cr_assert_eq(mdb_cursor_open(txn, dbi, &cur), 0);
    struct gm__change_reader r;
    gm__change_reader_init(&r);
    MDB_val k, v;
    int n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (((uint8_t *)v.mv_data)[0] != 0)
            continue;
        struct gm_change c;
        uint64_t seq = 0;
        for (int i = 0; i < 8; i++)
            seq = seq << 8 | ((uint8_t *)k.mv_data)[i];
        cr_assert_eq(gm__change_decode(&r, (int64_t)seq, v.mv_data, v.mv_size, &c), 0);
        Gamify__Internal__Change pc = GAMIFY__INTERNAL__CHANGE__INIT;
        Gamify__Internal__BoardScore sc[16], *scp[16];
        Gamify__Internal__Redemption red = GAMIFY__INTERNAL__REDEMPTION__INIT;
        cr_assert_leq(c.n_scores, 16);
        pc.seq = c.seq;
        pc.user_id = (char *)c.user_id;
        pc.event_id = (char *)c.event_id;
        pc.occurred_at = c.occurred_at;
        for (size_t i = 0; i < c.n_scores; i++) {
            gamify__internal__board_score__init(&sc[i]);
            sc[i].board = (char *)c.scores[i].board;
            sc[i].period = (char *)c.scores[i].period;
            sc[i].score = c.scores[i].score;
            sc[i].reached_at = c.scores[i].reached_at;
            scp[i] = &sc[i];
        }
        pc.scores = scp;
        pc.n_scores = c.n_scores;
        if (c.redemption) {
            red.redemption_id = (char *)c.redemption->redemption_id;
            red.reward_id = (char *)c.redemption->reward_id;
            red.completed = c.redemption->completed;
            red.reason = c.redemption->reason;
            red.seq = c.redemption->seq;
            red.cost = c.redemption->cost;
            red.event_id = (char *)c.redemption->event_id;
            red.occurred_at = c.redemption->occurred_at;
            red.user_id = (char *)c.user_id;
            pc.redemption = &red;
        }
        pc.ledger_first = c.ledger_first;
        pc.ledger_count = c.ledger_count;
        pc.outbound = (Gamification__V1__OutboundEvent **)c.outbound;
        pc.n_outbound = c.n_outbound;
        size_t size = gamify__internal__change__get_packed_size(&pc);
        uint8_t *p = malloc(size);
        gamify__internal__change__pack(&pc, p);
        /* the key points into the page the put rewrites: a copy */
        uint8_t kb[8];
        memcpy(kb, k.mv_data, 8);
        MDB_val nk = {8, kb}, nv = {size, p};
        cr_assert_eq(mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT), 0);
        free(p);
        n++;
    }
    gm__change_reader_deinit(&r);
    mdb_cursor_close(cur);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    return n;
}

TestSuite(changefmt_state, .init = setup, .fini = teardown);

Test(changefmt_state, a_feed_of_protobuf_records_reads_as_before_and_grows_compact)
{
    fold(0, 3);
    char *compact = read_all();
    cr_assert_gt(to_protobuf(), 2);
    char *old = read_all();
    cr_assert_str_eq(old, compact);
    /* the old state goes on: new records in the compact form beside the old */
    fold(3, 5);
    char *mixed = read_all();
    cr_assert_not_null(strstr(mixed, "user bob event e5"));
    cr_assert_not_null(strstr(mixed, "e1:badge:starter ann|"));
    cr_assert_not_null(strstr(mixed, "e5:badge:starter bob|"));
    /* and the same state written in one form only reads the same */
    teardown();
    setup();
    fold(0, 3);
    fold(3, 5);
    char *fresh = read_all();
    cr_assert_str_eq(mixed, fresh);
    free(compact);
    free(old);
    free(mixed);
    free(fresh);
}

Test(changefmt, decoded_into_one_arena_changes_live_together)
{
    struct sample s;
    sample_init(&s);
    size_t n = gm__change_compact_size(&s.ch);
    uint8_t *p = malloc(n);
    gm__change_compact_write(&s.ch, p);
    size_t pb_size;
    char *want = protobuf_text(&s.ch, &pb_size);
    uint8_t *pb = malloc(pb_size);
    gamify__internal__change__pack(&s.ch, pb);
    struct gm_arena a;
    gm_arena_init(&a, 256);
    struct gm_change c1, c2;
    cr_assert_eq(gm__change_decode_into(&a, s.ch.seq, p, n, &c1), 0);
    cr_assert_eq(gm__change_decode_into(&a, s.ch.seq, pb, pb_size, &c2), 0);
    /* the first is still whole after the second (the redemption too) */
    char *t1 = change_text(&c1), *t2 = change_text(&c2);
    cr_assert_str_eq(t1, want);
    cr_assert_str_eq(t2, want);
    cr_assert_neq(c1.redemption, c2.redemption);
    free(t1);
    free(t2);
    free(want);
    free(pb);
    free(p);
    gm_arena_deinit(&a);
}

/* The writer's one walk into a buffer kept from record to record: a small
 * record, then one far past the buffer's first size (a long badge name),
 * then the small one again; each reads back as the protobuf record does. */
Test(changefmt, one_walk_into_a_buffer_that_grows)
{
    struct sample s;
    sample_init(&s);
    static char long_name[3000];
    memset(long_name, 'n', sizeof long_name - 1);
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (int round = 0; round < 3; round++) {
        s.be.name = round == 1 ? long_name : "Starter";
        s.ch.n_outbound = round == 1 ? 5 : 0;
        size_t pb_size;
        char *want = protobuf_text(&s.ch, &pb_size);
        size_t n = gm__change_compact_encode(&s.ch, false, NULL, &buf, &cap);
        cr_assert_gt(n, 0);
        cr_assert_geq(cap, n);
        if (round == 1)
            cr_assert_gt(n, sizeof long_name, "%zu bytes", n);
        struct gm__change_reader r;
        gm__change_reader_init(&r);
        struct gm_change c;
        cr_assert_eq(gm__change_decode(&r, s.ch.seq, buf, n, &c), 0);
        char *got = change_text(&c);
        cr_assert_str_eq(got, want);
        free(got);
        free(want);
        gm__change_reader_deinit(&r);
    }
    free(buf);
}

/* The header and the scores are written unchecked into room reserved for
 * their worst case. The widest record that case covers: every score a run
 * of its own board, the widest varints (saturated scores, reach times far
 * from the event's), periods as text and a long board name, from an empty
 * buffer, reads back exactly. (The sanitizers catch a reserve that is too
 * small only when it outgrows the buffer's doubling slack, so this checks
 * the values; put_change's comment argues the bound.) */
Test(changefmt, widest_scores_read_back)
{
    struct sample s;
    sample_init(&s);
    s.ch.redemption = NULL;
    s.ch.n_outbound = 0;
    static char long_board[600];
    memset(long_board, 'b', sizeof long_board - 1);
    static const char *const boards[] = {"global", "a", "global", long_board, "c", "d", "e"};
    for (int i = 0; i < 7; i++) {
        s.sc[i].board = (char *)boards[i];
        s.sc[i].period = "not-a-period";
        s.sc[i].score = i % 2 ? INT64_MAX : INT64_MIN;
        s.sc[i].reached_at = i % 2 ? 7258118399 : 946684800; /* 2199-12-31, 2000-01-01 */
    }
    size_t pb_size;
    char *want = protobuf_text(&s.ch, &pb_size);
    uint8_t *buf = NULL;
    size_t cap = 0;
    size_t n = gm__change_compact_encode(&s.ch, false, NULL, &buf, &cap);
    cr_assert_gt(n, 0);
    cr_assert_geq(cap, n);
    cr_assert_gt(n, sizeof long_board, "%zu bytes", n);
    struct gm__change_reader r;
    gm__change_reader_init(&r);
    struct gm_change c;
    cr_assert_eq(gm__change_decode(&r, s.ch.seq, buf, n, &c), 0);
    char *got = change_text(&c);
    cr_assert_str_eq(got, want);
    free(got);
    free(want);
    free(buf);
    gm__change_reader_deinit(&r);
}
