/*
 * test_api_lbcache.c: the leaderboard page cache of the resolvers
 * (api/resolvers/lbcache.c): pages kept at most ttl_ms, dropped by board,
 * and a page read before a drop never stored.
 */
#include "internal.h"

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

static const char *members[] = {"ann", "bob"};
static const size_t member_lens[] = {3, 3};
static const char *scores[] = {"300", "200"};
static const size_t score_lens[] = {3, 3};
static const struct gm__lb_page page = {.n = 2,
                                        .first_rank = 4,
                                        .members = members,
                                        .member_lens = member_lens,
                                        .scores = scores,
                                        .score_lens = score_lens};

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

Test(api_lbcache, a_page_is_kept_then_expires)
{
    struct gm__lbcache *c;
    /* a second: the hits below must come before it ends on a loaded machine */
    gm__lbc_new(1000, &c);
    struct gm_arena a;
    gm_arena_init(&a, 1 << 16);
    struct gm__lb_page got;
    uint64_t gen;
    cr_assert(!gm__lbc_get(c, "p:lb:global:all", 0, 10, &a, &got, &gen));
    gm__lbc_put(c, "p:lb:global:all", 0, 10, gen, gm__now_ms(), &page);
    cr_assert(gm__lbc_get(c, "p:lb:global:all", 0, 10, &a, &got, &gen));
    cr_assert_eq(got.n, 2);
    cr_assert_eq(got.first_rank, 4);
    cr_assert_str_eq(got.members[1], "bob");
    cr_assert_str_eq(got.scores[0], "300");
    cr_assert_eq(got.score_lens[1], 3);
    /* Another start, count or board is another page. */
    cr_assert(!gm__lbc_get(c, "p:lb:global:all", 10, 10, &a, &got, &gen));
    cr_assert(!gm__lbc_get(c, "p:lb:global:all", 0, 5, &a, &got, &gen));
    cr_assert(!gm__lbc_get(c, "p:lb:other:all", 0, 10, &a, &got, &gen));
    sleep_ms(1100); /* past the bound */
    cr_assert(!gm__lbc_get(c, "p:lb:global:all", 0, 10, &a, &got, &gen), "served past ttl");
    gm_arena_deinit(&a);
    gm__lbc_free(c);
}

Test(api_lbcache, a_drop_removes_its_board_and_beats_a_slower_read)
{
    struct gm__lbcache *c;
    gm__lbc_new(60000, &c);
    struct gm_arena a;
    gm_arena_init(&a, 1 << 16);
    struct gm__lb_page got;
    uint64_t gen, gen2;
    gm__lbc_get(c, "p:lb:global:all", 0, 10, &a, &got, &gen);
    gm__lbc_put(c, "p:lb:global:all", 0, 10, gen, gm__now_ms(), &page);
    gm__lbc_get(c, "p:lb:other:all", 0, 10, &a, &got, &gen);
    gm__lbc_put(c, "p:lb:other:all", 0, 10, gen, gm__now_ms(), &page);
    gm__lbc_drop(c, "p:lb:global:all");
    cr_assert(!gm__lbc_get(c, "p:lb:global:all", 0, 10, &a, &got, &gen), "dropped page served");
    cr_assert(gm__lbc_get(c, "p:lb:other:all", 0, 10, &a, &got, &gen2), "other board dropped");
    /* A read that began before a drop (gen taken then) does not store its page. */
    int64_t t0 = gm__now_ms();
    gm__lbc_drop(c, "p:lb:global:all");
    gm__lbc_put(c, "p:lb:global:all", 0, 10, gen, t0, &page);
    cr_assert(!gm__lbc_get(c, "p:lb:global:all", 0, 10, &a, &got, &gen), "a stale read was kept");
    /* NULL drops every board. */
    gm__lbc_drop(c, NULL);
    cr_assert(!gm__lbc_get(c, "p:lb:other:all", 0, 10, &a, &got, &gen));
    /* Off (ttl 0): nothing kept. */
    struct gm__lbcache *off;
    gm__lbc_new(0, &off);
    cr_assert_null(off);
    gm__lbc_put(off, "p:lb:global:all", 0, 10, 0, gm__now_ms(), &page);
    cr_assert(!gm__lbc_get(off, "p:lb:global:all", 0, 10, &a, &got, &gen));
    gm_arena_deinit(&a);
    gm__lbc_free(c);
}
