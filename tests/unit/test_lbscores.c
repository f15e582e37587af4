/*
 * test_lbscores.c: the leaderboard-scores message (common/lbscores.h):
 * what the projector writes reads back item by item, a key is named once
 * for a run of its members, and malformed messages are refused.
 */
#include "lbscores.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

struct got {
    char text[1024];
    size_t len;
};

static void
on_score(void *ctx, const char *key, size_t key_len, const char *member, size_t member_len,
         int64_t score)
{
    struct got *g = ctx;
    g->len += (size_t)snprintf(g->text + g->len, sizeof g->text - g->len, "[%.*s %.*s %lld]",
                               (int)key_len, key, (int)member_len, member, (long long)score);
}

static void
on_reset(void *ctx)
{
    struct got *g = ctx;
    g->len += (size_t)snprintf(g->text + g->len, sizeof g->text - g->len, "[R]");
}

static int
parse(const char *msg, size_t len, struct got *g)
{
    memset(g, 0, sizeof *g);
    struct gm_lbscores_cb cb = {on_score, on_reset, g};
    return gm_lbscores_parse(msg, len, &cb);
}

Test(lbscores, written_then_read_item_by_item)
{
    struct gm_lbscores m = {0};
    gm_lbscores_add(&m, "p:lb:global:all", 15, "u1", 2, 5);
    gm_lbscores_add(&m, "p:lb:global:all", 15, "u;2", 3, -16777216);
    gm_lbscores_reset(&m);
    gm_lbscores_add(&m, "p:lb:global:all", 15, "u\0003", 3, 9007199254740991);
    gm_lbscores_add(&m, "p:lb:c1:2026-W49", 16, "", 0, 0);
    cr_assert_eq(m.members, 4);
    /* the key once for its run, again after the reset */
    cr_assert_eq(memcmp(m.buf, "Sk15:p:lb:global:allm2:u15;m3:u;2-16777216;Rk15:", 48), 0);
    struct got g;
    cr_assert_eq(parse(m.buf, m.len, &g), 0);
    cr_assert_str_eq(g.text, "[p:lb:global:all u1 5][p:lb:global:all u;2 -16777216][R]"
                             "[p:lb:global:all u 9007199254740991][p:lb:c1:2026-W49  0]");
    gm_lbscores_deinit(&m);
    cr_assert_null(m.buf);
}

Test(lbscores, malformed_messages_are_refused)
{
    static const char *bad[] = {
        "",                                /* empty */
        "X",                               /* not S */
        "Sm1:x1;",                         /* a member before any key */
        "Sk3:ab",                          /* a key past the end */
        "Sk3:abcm1:x",                     /* no score */
        "Sk3:abcm1:x12",                   /* no ';' */
        "Sk3:abcm1:x-;",                   /* no digits */
        "Sk3:abcm1:x1234567890123456789;", /* 19 digits */
        "Sk99999:x",                       /* past the item bound */
        "Sk:abc",                          /* no length */
        "Sk3abc",                          /* no ':' */
        "Sq",                              /* an unknown item */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct got g;
        cr_assert_eq(parse(bad[i], strlen(bad[i]), &g), -1, "accepted '%s'", bad[i]);
    }
    struct got g;
    /* items before the malformed one were seen */
    cr_assert_eq(parse("Sk1:am1:b2;Rq", 13, &g), -1);
    cr_assert_str_eq(g.text, "[a b 2][R]");
    cr_assert_eq(parse("S", 1, &g), 0);
    cr_assert_eq(g.len, 0);
}
