/*
 * fuzz_lbscores.c: gm_lbscores_parse on the bytes as a leaderboard-scores
 * message (gamify-api's board mirror reads them off a Redis channel anyone
 * with access may PUBLISH to: a malformed one must be refused, never
 * overread). The items an accepted prefix yields, written again with
 * gm_lbscores_add and gm_lbscores_reset, must parse back to the same items.
 */
#include "fuzz.h"
#include "lbscores.h"

#include <string.h>

struct item {
    int reset;
    const char *key, *member;
    size_t key_len, member_len;
    int64_t score;
};

struct seen {
    struct item v[4096];
    size_t n, over;
};

static void
on_score(void *ctx, const char *key, size_t key_len, const char *member, size_t member_len,
         int64_t score)
{
    struct seen *s = ctx;
    GM_FUZZ_CHECK(key_len <= GM_LBSCORES_ITEM_MAX && member_len <= GM_LBSCORES_ITEM_MAX,
                  "items within the bound");
    if (s->n == sizeof s->v / sizeof s->v[0]) {
        s->over++;
        return;
    }
    s->v[s->n++] = (struct item){0, key, member, key_len, member_len, score};
}

static void
on_reset(void *ctx)
{
    struct seen *s = ctx;
    if (s->n == sizeof s->v / sizeof s->v[0]) {
        s->over++;
        return;
    }
    s->v[s->n++] = (struct item){.reset = 1};
}

static struct seen first, again;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(&first, 0, sizeof first);
    struct gm_lbscores_cb cb = {on_score, on_reset, &first};
    int rc = gm_lbscores_parse((const char *)data, size, &cb);
    GM_FUZZ_CHECK(rc == 0 || rc == -1, "0 or -1");
    if (first.over)
        return 0;
    struct gm_lbscores m = {0};
    for (size_t i = 0; i < first.n; i++) {
        const struct item *it = &first.v[i];
        if (it->reset)
            gm_lbscores_reset(&m);
        else
            gm_lbscores_add(&m, it->key, it->key_len, it->member, it->member_len, it->score);
    }
    memset(&again, 0, sizeof again);
    cb.ctx = &again;
    if (first.n) {
        GM_FUZZ_CHECK(gm_lbscores_parse(m.buf, m.len, &cb) == 0, "what was written parses");
        GM_FUZZ_CHECK(again.n == first.n, "as many items");
        for (size_t i = 0; i < first.n; i++) {
            const struct item *a = &first.v[i], *b = &again.v[i];
            GM_FUZZ_CHECK(a->reset == b->reset && a->score == b->score &&
                              a->key_len == b->key_len && a->member_len == b->member_len &&
                              (a->reset || (memcmp(a->key, b->key, a->key_len) == 0 &&
                                            memcmp(a->member, b->member, a->member_len) == 0)),
                          "the same items");
        }
    }
    gm_lbscores_deinit(&m);
    return 0;
}
