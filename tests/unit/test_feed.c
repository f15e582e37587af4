/*
 * test_feed.c: reading a state as projectors do (feed.h): the change feed
 * with its scores, redemptions, ledger ranges, outbound events and pruned
 * periods; learners as plain structs (kept periods only); the ledger, whose
 * sums equal every learner's exp and coins; stock; trimming; the pass
 * shared by several readers (feedshare.h).
 */
#include "feed.h"
#include "feedshare.h"
#include "state.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[64];

static void
setup(void)
{
    strcpy(dir, "/tmp/gm-feed-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(feed, .init = setup, .fini = teardown);

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
    "{\"eventId\":\"e1\",\"userId\":\"ann\",\"occurredAt\":\"2026-10-05T09:00:00Z\","
    "\"groupIds\":[\"c1\"],\"lessonCompleted\":{\"lessonId\":\"l1\"}}",
    "{\"eventId\":\"e2\",\"userId\":\"ann\",\"occurredAt\":\"2026-10-05T10:00:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l2\"}}",
    "{\"eventId\":\"e3\",\"userId\":\"ann\",\"occurredAt\":\"2026-10-05T11:00:00Z\","
    "\"redeemReward\":{\"redemptionId\":\"r1\",\"rewardId\":\"mug\"}}",
    "{\"eventId\":\"e4\",\"userId\":\"bob\",\"occurredAt\":\"2026-11-02T09:00:00Z\","
    "\"lessonCompleted\":{\"lessonId\":\"l1\"}}",
};

static struct gm_state *
fold_all(void)
{
    struct gm_state_opts o = {.no_sync = true};
    struct gm_state *st;
    struct gm_err err;
    cr_assert_eq(gm_state_open(dir, &o, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_seed_rules(st, rules, strlen(rules), &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        cr_assert_eq(
            gm_state_apply(st, (const uint8_t *)events[i], strlen(events[i]), true, i, 0, &err), 0,
            "%s", err.msg);
    cr_assert_eq(gm_state_commit(st, 4, &err), 0, "%s", err.msg);
    return st;
}

struct seen {
    int changes, pruned, redemptions, outbound, scores_c1;
    int64_t last_seq;
    char pruned_names[256];
};

static int
on_change(void *ctx, const struct gm_change *ch)
{
    struct seen *s = ctx;
    cr_assert_gt(ch->seq, s->last_seq);
    s->last_seq = ch->seq;
    s->changes++;
    s->outbound += (int)ch->n_outbound;
    if (!ch->user_id) {
        for (size_t i = 0; i < ch->n_pruned_periods; i++) {
            strcat(s->pruned_names, ch->pruned_periods[i]);
            strcat(s->pruned_names, " ");
        }
        s->pruned++;
    }
    if (ch->redemption) {
        cr_assert_str_eq(ch->redemption->redemption_id, "r1");
        cr_assert(ch->redemption->completed);
        cr_assert_eq(ch->redemption->cost, 10);
        s->redemptions++;
    }
    for (size_t i = 0; i < ch->n_scores; i++) {
        if (strcmp(ch->scores[i].board, "c1") == 0 && strcmp(ch->scores[i].period, "all") == 0) {
            cr_assert_eq(ch->scores[i].score, 20);
            s->scores_c1++;
        }
    }
    return 0;
}

Test(feed, changes_in_order_with_what_projectors_need)
{
    struct gm_state *st = fold_all();
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_start(f), 0);
    struct seen s = {.last_seq = -1};
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 0, 1000, on_change, &s, &next), 0);
    /* e1, e2, e3, e4 and the pruning of week 41 (bob's event is in week 45
     * of November: keep_weeks 1 keeps week 44; keep_months 1 keeps October) */
    cr_assert_eq(s.changes, 5);
    cr_assert_eq(s.pruned, 1);
    cr_assert_str_eq(s.pruned_names, "2026-W41 ");
    cr_assert_eq(s.redemptions, 1);
    cr_assert_eq(s.scores_c1, 1);
    cr_assert_gt(s.outbound, 0);
    cr_assert_eq(next, gm_feed_end(f));
    /* in pieces: the same changes */
    struct seen t = {.last_seq = -1};
    int64_t at = 0;
    for (int i = 0; i < 10 && at < gm_feed_end(f); i++)
        cr_assert_eq(gm_feed_changes(f, at, 2, on_change, &t, &at), 0);
    cr_assert_eq(t.changes, 5);
    gm_feed_close(f);
    gm_state_close(st);
}

static int
sum_ledger(void *ctx, const struct gm_ledger_entry *e)
{
    int64_t *sums = ctx;
    sums[0] += e->exp_delta;
    sums[1] += e->coins_delta;
    sums[2] = e->coins_after;
    return 0;
}

Test(feed, learners_and_their_ledger)
{
    struct gm_state *st = fold_all();
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    struct gm_learner l;
    cr_assert_eq(gm_feed_learner(f, "ann", &l), 0);
    /* 20 + 20 exp: level 2 at 30 (+7 coins); 5 + 5 + 7 - 10 coins */
    cr_assert_eq(l.exp, 40);
    cr_assert_eq(l.level, 2);
    cr_assert_eq(l.coins, 7);
    cr_assert_eq(l.coins_spent, 10);
    cr_assert_eq(l.redemptions, 1);
    cr_assert_eq(l.n_badges, 1);
    cr_assert_str_eq(l.badges[0].id, "starter");
    /* week 41 is expired, October is kept; board then period in byte order */
    cr_assert_eq(l.n_scores, 4);
    const char *want[4][2] = {
        {"c1", "2026-10"}, {"c1", "all"}, {"global", "2026-10"}, {"global", "all"}};
    int64_t score[4] = {20, 20, 40, 40};
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(l.scores[i].board, want[i][0]);
        cr_assert_str_eq(l.scores[i].period, want[i][1]);
        cr_assert_eq(l.scores[i].score, score[i]);
    }
    cr_assert_eq(gm_feed_learner(f, "nobody", &l), GM_ENOTFOUND);
    /* the whole ledger sums to the learners' exp and coins */
    int64_t sums[3] = {0};
    cr_assert_eq(gm_feed_ledger(f, 0, 1000, sum_ledger, sums), 0);
    cr_assert_eq(sums[0], 40 + 20);
    cr_assert_eq(sums[1], 7 + 5);
    int64_t used;
    cr_assert_eq(gm_feed_stock_used(f, "mug", &used), 0);
    cr_assert_eq(used, 1);
    const struct gm_rules *r = gm_feed_rules(f);
    cr_assert_not_null(r);
    cr_assert_eq(r->n_rewards, 1);
    gm_feed_close(f);
    gm_state_close(st);
}

Test(feed, trimmed_changes_are_refused)
{
    struct gm_state *st = fold_all();
    struct gm_err err;
    uint64_t n;
    cr_assert_eq(gm_state_trim_changes(st, 3, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_start(f), 3);
    struct seen s = {.last_seq = -1};
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 2, 10, on_change, &s, &next), GM_ENOTFOUND);
    cr_assert_eq(gm_feed_changes(f, 3, 10, on_change, &s, &next), 0);
    cr_assert_eq(s.changes, 2);
    gm_feed_close(f);
    gm_state_close(st);
}

/* A reader thread keeps opening feeds and reading every learner while the
 * writer's map grows from 64 KiB several times (the resize must wait for
 * the reader's transaction; without that it unmaps pages being read). */
struct reader_arg {
    struct gm_state *st;
    volatile int stop;
    long reads;
};

static int
count_learner(void *ctx, const struct gm_learner *l)
{
    (void)l;
    ((struct reader_arg *)ctx)->reads++;
    return 0;
}

static void *
reader_main(void *p)
{
    struct reader_arg *a = p;
    while (!a->stop) {
        struct gm_feed *f;
        if (gm_feed_open(a->st, &f) == 0) {
            cr_assert_eq(gm_feed_learners(f, count_learner, a), 0);
            gm_feed_close(f);
        }
    }
    return NULL;
}

Test(feed, readers_beside_a_growing_map)
{
    struct gm_state_opts o = {.no_sync = true, .map_size = 64 << 10};
    struct gm_state *st;
    struct gm_err err;
    cr_assert_eq(gm_state_open(dir, &o, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_seed_rules(st, rules, strlen(rules), &err), 0, "%s", err.msg);
    struct reader_arg a = {.st = st};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, reader_main, &a), 0);
    for (int b = 0; b < 20; b++) {
        cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
        for (int i = 0; i < 200; i++) {
            char js[256];
            int n = snprintf(js, sizeof js,
                             "{\"eventId\":\"g%d-%d\",\"userId\":\"user-%d\",\"occurredAt\":"
                             "\"2026-11-02T09:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l%d\"}}",
                             b, i, b * 200 + i, i);
            cr_assert_eq(gm_state_apply(st, (const uint8_t *)js, (size_t)n, true,
                                        (uint64_t)(b * 200 + i), 0, &err),
                         0, "%s", err.msg);
        }
        cr_assert_eq(gm_state_commit(st, (uint64_t)(b + 1) * 200, &err), 0, "%s", err.msg);
    }
    a.stop = 1;
    pthread_join(t, NULL);
    cr_assert_gt(gm_state_stats(st)->map_resizes, 2);
    cr_assert_gt(a.reads, 0);
    gm_state_close(st);
}

Test(feed, rules_parsed_once_while_their_text_stays)
{
    struct gm_state *st = fold_all();
    struct gm_feed_rules_cache c = {0};
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    const struct gm_rules *r1 = gm_feed_rules_cached(f, &c);
    cr_assert_not_null(r1);
    cr_assert_eq(r1->thresholds[2], 1000);
    gm_feed_close(f);
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_rules_cached(f, &c), r1, "the same rules, not parsed again");
    gm_feed_close(f);

    /* other rules published: parsed anew */
    char ev[2 * sizeof rules + 256], *w = ev;
    w += sprintf(w, "{\"eventId\":\"p2\",\"userId\":\"admin\",\"occurredAt\":"
                    "\"2026-11-03T00:00:00Z\",\"source\":\"admin\",\"rulesPublished\":"
                    "{\"rulesYaml\":\"");
    for (const char *r = rules; *r; r++) {
        if (r == strstr(rules, "1000]")) {
            *w++ = '2'; /* thresholds [0, 30, 2000] */
            continue;
        }
        if (*r == '\n' || *r == '"')
            *w++ = '\\';
        *w++ = *r == '\n' ? 'n' : *r;
    }
    w += sprintf(w, "\"}}");
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)ev, strlen(ev), true, 4, 0, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(gm_state_commit(st, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_feed_open(st, &f), 0);
    const struct gm_rules *r2 = gm_feed_rules_cached(f, &c);
    cr_assert_not_null(r2);
    cr_assert_eq(r2->thresholds[2], 2000);
    gm_feed_close(f);
    gm_feed_rules_cache_deinit(&c);
    gm_feed_rules_cache_deinit(&c); /* twice is fine */
    gm_state_close(st);
}

Test(feed, learners_without_scores)
{
    struct gm_state *st = fold_all();
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    gm_feed_without_scores(f);
    struct gm_learner l;
    cr_assert_eq(gm_feed_learner(f, "ann", &l), 0);
    cr_assert_eq(l.exp, 40);
    cr_assert_eq(l.n_badges, 1);
    cr_assert_eq(l.n_scores, 0);
    cr_assert_null(l.scores);
    gm_feed_close(f);
    gm_state_close(st);
}

/* Every field a reader sees of a change, as text. */
static int
render(void *ctx, const struct gm_change *ch)
{
    char *out = ctx, line[512];
    int n =
        snprintf(line, sizeof line, "%lld %s %s %lld r=%s l=%lld+%lld o=%zu:", (long long)ch->seq,
                 ch->user_id ? ch->user_id : "-", ch->event_id, (long long)ch->occurred_at,
                 ch->redemption ? ch->redemption->redemption_id : "-", (long long)ch->ledger_first,
                 (long long)ch->ledger_count, ch->n_outbound);
    for (size_t i = 0; i < ch->n_scores; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s/%s=%lld@%lld", ch->scores[i].board,
                      ch->scores[i].period, (long long)ch->scores[i].score,
                      (long long)ch->scores[i].reached_at);
    for (size_t i = 0; i < ch->n_pruned_periods; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " -%s", ch->pruned_periods[i]);
    cr_assert_lt((size_t)n, sizeof line);
    strcat(out, line);
    strcat(out, "\n");
    return 0;
}

Test(feed, a_shared_pass_decodes_once_for_two_readers)
{
    struct gm_state *st = fold_all();
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    static char alone[8192], first[8192], second[8192];
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 0, 1000, render, alone, &next), 0);
    struct gm_feedshare *sh = gm_feedshare_new(1000);
    cr_assert_eq(gm_feedshare_changes(sh, f, 0, 1000, render, first, &next), 0);
    cr_assert_eq(next, gm_feed_end(f));
    cr_assert_eq(gm_feedshare_changes(sh, f, 0, 1000, render, second, &next), 0);
    cr_assert_str_eq(first, alone);
    cr_assert_str_eq(second, alone);
    struct gm_feedshare_stats ss;
    gm_feedshare_stats(sh, &ss);
    /* the second reader decoded nothing: it read the first one's pass */
    cr_assert_eq(ss.decoded, 5);
    cr_assert_eq(ss.shared, 5);
    cr_assert_eq(ss.alone, 0);
    gm_feed_close(f);
    gm_feedshare_free(sh);
    gm_state_close(st);
}

Test(feed, a_shared_pass_in_pieces_behind_and_past_the_share)
{
    struct gm_state *st = fold_all();
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    static char alone[8192], lead[8192], behind[8192];
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, 0, 1000, render, alone, &next), 0);
    /* keeps about 1 change: each pass drops the one before */
    struct gm_feedshare *sh = gm_feedshare_new(1);
    int64_t at = 0;
    for (int i = 0; i < 10 && at < gm_feed_end(f); i++)
        cr_assert_eq(gm_feedshare_changes(sh, f, at, 2, render, lead, &at), 0);
    cr_assert_eq(at, gm_feed_end(f));
    cr_assert_str_eq(lead, alone);
    /* a reader from the start is behind the share: it decodes alone up to
     * what the share holds, then reads the share */
    cr_assert_eq(gm_feedshare_changes(sh, f, 0, 1000, render, behind, &next), 0);
    cr_assert_str_eq(behind, alone);
    cr_assert_eq(next, gm_feed_end(f));
    struct gm_feedshare_stats ss;
    gm_feedshare_stats(sh, &ss);
    cr_assert_eq(ss.decoded, 5);
    cr_assert_eq(ss.alone, 4);
    cr_assert_eq(ss.shared, 1);
    gm_feed_close(f);
    gm_feedshare_free(sh);
    gm_state_close(st);
}

Test(feed, a_shared_pass_stops_at_the_end_of_each_snapshot)
{
    struct gm_state *st = fold_all();
    struct gm_feed *old;
    cr_assert_eq(gm_feed_open(st, &old), 0);
    int64_t old_end = gm_feed_end(old);
    /* one more change after the old snapshot */
    struct gm_err err;
    const char *ev = "{\"eventId\":\"e5\",\"userId\":\"cy\",\"occurredAt\":"
                     "\"2026-11-02T10:00:00Z\",\"lessonCompleted\":{\"lessonId\":\"l1\"}}";
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)ev, strlen(ev), true, 4, 0, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(gm_state_commit(st, 5, &err), 0, "%s", err.msg);
    struct gm_feed *cur;
    cr_assert_eq(gm_feed_open(st, &cur), 0);
    cr_assert_gt(gm_feed_end(cur), old_end);
    struct gm_feedshare *sh = gm_feedshare_new(1000);
    static char now[8192], before[8192], want[8192];
    int64_t next;
    /* the newer reader decodes everything into the share ... */
    cr_assert_eq(gm_feedshare_changes(sh, cur, 0, 1000, render, now, &next), 0);
    cr_assert_eq(next, gm_feed_end(cur));
    /* ... and the older one sees only what its snapshot holds */
    cr_assert_eq(gm_feed_changes(old, 0, 1000, render, want, &next), 0);
    cr_assert_eq(gm_feedshare_changes(sh, old, 0, 1000, render, before, &next), 0);
    cr_assert_str_eq(before, want);
    cr_assert_eq(next, old_end);
    cr_assert(strstr(now, " cy ") && !strstr(before, " cy "));
    gm_feed_close(old);
    gm_feed_close(cur);
    gm_feedshare_free(sh);
    gm_state_close(st);
}

/* The early hand-over (gamify-processor --redis-early): a batch's changes
 * offered before its commit, read early, then read from the committed
 * feed, or dropped when the batch does not commit. */
struct offer_ctx {
    struct gm_feedshare *sh;
    char *early;
    int64_t next;
    uint64_t gen;
    int calls;
};

static void
offer_and_read(void *ctx, struct gm_state *st)
{
    struct offer_ctx *o = ctx;
    o->calls++;
    cr_assert_eq(gm_feedshare_offer(o->sh, st), 0);
    /* nothing of this batch is committed yet */
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_end(f), gm_state_change_end(st));
    cr_assert_gt(gm_state_pending_end(st), gm_feed_end(f));
    gm_feed_close(f);
    cr_assert(gm_feedshare_offered(o->sh, gm_state_change_end(st)));
    cr_assert_eq(gm_feedshare_early(o->sh, gm_state_change_end(st), 1000, render, o->early,
                                    &o->next, &o->gen),
                 0);
    cr_assert_eq(o->next, gm_state_pending_end(st));
}

static void
apply_two(struct gm_state *st, const char *a, const char *b, uint64_t offset)
{
    char ev[2][256];
    snprintf(ev[0], sizeof ev[0],
             "{\"eventId\":\"%s-1\",\"userId\":\"%s\",\"occurredAt\":\"2026-11-02T10:00:00Z\","
             "\"lessonCompleted\":{\"lessonId\":\"l1\"}}",
             a, a);
    snprintf(ev[1], sizeof ev[1],
             "{\"eventId\":\"%s-1\",\"userId\":\"%s\",\"occurredAt\":\"2026-11-02T11:00:00Z\","
             "\"tournamentResult\":{\"tournamentId\":\"t1\",\"outcome\":\"WIN\"}}",
             b, b);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(
            gm_state_apply(st, (const uint8_t *)ev[i], strlen(ev[i]), true, offset + i, 0, &err), 0,
            "%s", err.msg);
}

Test(feed, changes_offered_before_the_commit_are_those_it_commits)
{
    struct gm_state *st = fold_all();
    int64_t from = gm_state_change_end(st);
    static char early[8192], after[8192], want[8192];
    struct offer_ctx o = {.sh = gm_feedshare_new(1000), .early = early};
    gm_state_set_precommit(st, offer_and_read, &o);
    apply_two(st, "cy", "dan", 4);
    struct gm_err err;
    cr_assert_eq(gm_state_commit(st, 6, &err), 0, "%s", err.msg);
    cr_assert_eq(o.calls, 1);
    gm_feedshare_settle(o.sh, gm_state_change_end(st));
    cr_assert_eq(gm_feedshare_gen(o.sh), o.gen, "a committed offer keeps its generation");
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    int64_t next;
    cr_assert_eq(gm_feed_changes(f, from, 1000, render, want, &next), 0);
    cr_assert(strstr(want, " cy ") && strstr(want, " dan "));
    cr_assert_str_eq(early, want);
    /* the committed feed's reader takes what the early reader decoded */
    cr_assert_eq(gm_feedshare_changes(o.sh, f, from, 1000, render, after, &next), 0);
    cr_assert_str_eq(after, want);
    struct gm_feedshare_stats ss;
    gm_feedshare_stats(o.sh, &ss);
    cr_assert_eq(ss.alone, 0);
    cr_assert_eq(ss.shared, (uint64_t)(gm_feed_end(f) - from));
    gm_feed_close(f);
    /* a commit of no changes offers nothing */
    gm_state_set_precommit(st, NULL, NULL);
    gm_feedshare_free(o.sh);
    gm_state_close(st);
}

Test(feed, changes_offered_then_rolled_back_are_dropped)
{
    struct gm_state *st = fold_all();
    int64_t from = gm_state_change_end(st);
    static char early[8192], after[8192], want[8192], none[8192];
    struct offer_ctx o = {.sh = gm_feedshare_new(1000), .early = early};
    /* offered from an open batch (as the precommit callback does), read
     * early, then the batch does not commit */
    apply_two(st, "cy", "dan", 4);
    offer_and_read(&o, st);
    cr_assert(strstr(early, " cy "));
    gm_state_abort(st);
    gm_feedshare_settle(o.sh, gm_state_change_end(st));
    cr_assert_neq(gm_feedshare_gen(o.sh), o.gen, "a rolled back offer moves the generation");
    cr_assert_not(gm_feedshare_offered(o.sh, from));
    int64_t next;
    uint64_t gen;
    cr_assert_eq(gm_feedshare_early(o.sh, from, 1000, render, none, &next, &gen), 0);
    cr_assert_eq(next, from);
    cr_assert_str_eq(none, "");
    /* other changes get the same sequence numbers: readers see those */
    apply_two(st, "eve", "fay", 4);
    struct gm_err err;
    cr_assert_eq(gm_state_commit(st, 6, &err), 0, "%s", err.msg);
    gm_feedshare_settle(o.sh, gm_state_change_end(st));
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_changes(f, from, 1000, render, want, &next), 0);
    cr_assert_eq(gm_feedshare_changes(o.sh, f, from, 1000, render, after, &next), 0);
    cr_assert_str_eq(after, want);
    cr_assert(strstr(after, " eve ") && !strstr(after, " cy "));
    gm_feed_close(f);
    gm_feedshare_free(o.sh);
    gm_state_close(st);
}

/* A long batch offered as it goes (gamify-processor
 * --redis-early-every-ms), then at its commit: each offer holds only what
 * is new, a reader that missed an offer still gets every change from
 * where it stands, and the parts read early are what the commit keeps. */
static void
apply_one(struct gm_state *st, const char *user, uint64_t offset)
{
    char ev[256];
    snprintf(ev, sizeof ev,
             "{\"eventId\":\"%s-1\",\"userId\":\"%s\",\"occurredAt\":\"2026-11-02T10:00:00Z\","
             "\"lessonCompleted\":{\"lessonId\":\"l1\"}}",
             user, user);
    struct gm_err err;
    cr_assert_eq(gm_state_apply(st, (const uint8_t *)ev, strlen(ev), true, offset, 0, &err), 0,
                 "%s", err.msg);
}

Test(feed, a_batch_offered_as_it_goes_is_read_in_parts)
{
    struct gm_state *st = fold_all();
    int64_t from = gm_state_change_end(st), next, mid;
    uint64_t gen;
    static char part1[8192], part2[8192], part3[8192], whole[8192], want[8192], none[8192];
    struct gm_feedshare *sh = gm_feedshare_new(1000), *missed = gm_feedshare_new(1000);
    struct gm_err err;
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    apply_one(st, "cy", 4);
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    cr_assert_eq(gm_feedshare_offer(missed, st), 0);
    cr_assert_eq(gm_feedshare_early(sh, from, 1000, render, part1, &mid, &gen), 0);
    cr_assert_eq(mid, gm_state_pending_end(st));
    cr_assert(strstr(part1, " cy "));
    /* an offer with nothing new changes nothing */
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    cr_assert_eq(gm_feedshare_early(sh, mid, 1000, render, none, &next, &gen), 0);
    cr_assert_eq(next, mid);
    cr_assert_str_eq(none, "");
    apply_one(st, "dan", 5);
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    cr_assert_eq(gm_feedshare_offer(missed, st), 0);
    cr_assert(gm_feedshare_offered(sh, from), "the batch's first change is still offered");
    cr_assert_eq(gm_feedshare_early(sh, mid, 1000, render, part2, &next, &gen), 0);
    cr_assert(strstr(part2, " dan ") && !strstr(part2, " cy "));
    mid = next;
    apply_one(st, "eve", 6);
    /* the precommit offer: only eve is new */
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    cr_assert_eq(gm_feedshare_offer(missed, st), 0);
    cr_assert_eq(gm_feedshare_early(sh, mid, 1000, render, part3, &next, &gen), 0);
    cr_assert_eq(next, gm_state_pending_end(st));
    cr_assert(strstr(part3, " eve ") && !strstr(part3, " dan "));
    /* a reader that read none of the offers gets the three of them */
    cr_assert_eq(gm_feedshare_early(missed, from, 1000, render, whole, &next, &gen), 0);
    cr_assert_eq(next, gm_state_pending_end(st));
    cr_assert_eq(gm_state_commit(st, 7, &err), 0, "%s", err.msg);
    gm_feedshare_settle(sh, gm_state_change_end(st));
    gm_feedshare_settle(missed, gm_state_change_end(st));
    cr_assert_eq(gm_feedshare_gen(sh), gen, "a committed offer keeps its generation");
    struct gm_feed *f;
    cr_assert_eq(gm_feed_open(st, &f), 0);
    cr_assert_eq(gm_feed_changes(f, from, 1000, render, want, &next), 0);
    gm_feed_close(f);
    char parts[3 * 8192];
    snprintf(parts, sizeof parts, "%s%s%s", part1, part2, part3);
    cr_assert_str_eq(parts, want);
    cr_assert_str_eq(whole, want);
    gm_feedshare_free(sh);
    gm_feedshare_free(missed);
    gm_state_close(st);
}

Test(feed, a_batch_offered_as_it_goes_then_rolled_back_is_dropped)
{
    struct gm_state *st = fold_all();
    int64_t from = gm_state_change_end(st), next;
    uint64_t gen0 = 0, gen;
    static char got[8192];
    struct gm_feedshare *sh = gm_feedshare_new(1000);
    struct gm_err err;
    gen0 = gm_feedshare_gen(sh);
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    apply_one(st, "cy", 4);
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    apply_one(st, "dan", 5);
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    gm_state_abort(st);
    gm_feedshare_settle(sh, gm_state_change_end(st));
    cr_assert_neq(gm_feedshare_gen(sh), gen0, "a rolled back offer moves the generation");
    cr_assert_not(gm_feedshare_offered(sh, from));
    cr_assert_eq(gm_feedshare_early(sh, from, 1000, render, got, &next, &gen), 0);
    cr_assert_eq(next, from);
    cr_assert_str_eq(got, "");
    /* the next batch numbers its changes from the same place: a fresh
     * offer, not a part of the dropped one */
    cr_assert_eq(gm_state_begin(st, &err), 0, "%s", err.msg);
    apply_one(st, "eve", 4);
    cr_assert_eq(gm_feedshare_offer(sh, st), 0);
    cr_assert_eq(gm_feedshare_early(sh, from, 1000, render, got, &next, &gen), 0);
    cr_assert(strstr(got, " eve ") && !strstr(got, " cy ") && !strstr(got, " dan "));
    cr_assert_eq(gm_state_commit(st, 5, &err), 0, "%s", err.msg);
    gm_feedshare_free(sh);
    gm_state_close(st);
}
